import cv2
import numpy as np
import pytest

from motiondepth.errors import InputError
from motiondepth.io import (
    atomic_path,
    load_depth,
    load_frames,
    load_rgbd,
    load_tracks,
    read_image_folder,
    read_trajectory_csv,
    read_video,
    save_tracks,
    staged_output_dir,
    write_trajectory_csv,
    write_video,
)
from motiondepth.types import Tracks, Trajectory


def test_depth_png_npz_and_scale(tmp_path):
    d = np.array([[1000, 0], [2500, 65535]], np.uint16)
    cv2.imwrite(str(tmp_path / "d.png"), d)
    np.testing.assert_allclose(load_depth(tmp_path / "d.png"), d * 1e-3, rtol=1e-6)
    np.testing.assert_allclose(load_depth(tmp_path / "d.png", scale=1 / 5000), d / 5000, rtol=1e-6)
    cv2.imwrite(str(tmp_path / "d.pgm"), d)
    np.testing.assert_allclose(load_depth(tmp_path / "d.pgm"), d * 1e-3, rtol=1e-6)
    np.savez(tmp_path / "d.npz", depth=np.array([[1.5, 0.0]]))
    np.testing.assert_allclose(load_depth(tmp_path / "d.npz"), [[1.5, 0.0]])


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: None, "not found"),
        (lambda p: p.write_text("garbage"), "not a readable"),
        (lambda p: cv2.imwrite(str(p), np.zeros((4, 4), np.uint16)), "all zero"),
        (lambda p: cv2.imwrite(str(p), np.full((4, 4), 9, np.uint8)), "8-bit"),
    ],
)
def test_bad_depth_png(tmp_path, make, message):
    p = tmp_path / "depth.png"
    make(p)
    with pytest.raises(InputError, match=message) as info:
        load_depth(p)
    assert "depth.png" in str(info.value)


def test_bad_depth_npz(tmp_path):
    np.savez(tmp_path / "nan.npz", depth=np.array([[1.0, np.nan]]))
    with pytest.raises(InputError, match="NaN"):
        load_depth(tmp_path / "nan.npz")
    np.savez(tmp_path / "neg.npz", depth=np.array([[1.0, -1.0]]))
    with pytest.raises(InputError, match="negative"):
        load_depth(tmp_path / "neg.npz")
    np.savez(tmp_path / "key.npz", other=np.ones((2, 2)))
    with pytest.raises(InputError, match=r"lacks key\(s\) \['depth'\]"):
        load_depth(tmp_path / "key.npz")


def test_rgbd_size_mismatch(tmp_path):
    cv2.imwrite(str(tmp_path / "rgb.png"), np.zeros((8, 10, 3), np.uint8))
    cv2.imwrite(str(tmp_path / "d.png"), np.full((8, 12), 1000, np.uint16))
    with pytest.raises(InputError, match="12x8 but image"):
        load_rgbd(tmp_path / "rgb.png", tmp_path / "d.png", default_focal_per_short_side=1.0)


def test_trajectory_csv_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    tr = Trajectory(rng.normal(0, 0.01, (5, 3)), np.arange(5) * 0.062, rng.random(5), "lsq")
    write_trajectory_csv(tmp_path / "t.csv", tr)
    back = read_trajectory_csv(tmp_path / "t.csv")
    np.testing.assert_allclose(back.angles, tr.angles, rtol=1e-8)
    np.testing.assert_allclose(back.times, tr.times, atol=1e-6)
    assert (tmp_path / "t.csv").read_text().splitlines()[0] == "frame,time_s,roll_rad,pitch_rad,yaw_rad,residual_px"
    assert back.readout_rotation is None
    # the rolling shutter's rotation over the readout travels in three optional columns
    tr.readout_rotation = rng.normal(0, 1e-3, (5, 3))
    write_trajectory_csv(tmp_path / "t.csv", tr)
    np.testing.assert_allclose(read_trajectory_csv(tmp_path / "t.csv").readout_rotation, tr.readout_rotation, rtol=1e-8)
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match="missing columns"):
        read_trajectory_csv(tmp_path / "bad.csv")


def test_tracks_round_trip(tmp_path):
    meta = {"tracker": "klt-cross-blur", "gyro": {"offset_s": np.float64(0.031), "used": True}}
    t = Tracks(np.ones((3, 4, 2), np.float32), np.ones((3, 4), bool), np.zeros((4, 3), np.float32), (20, 30), meta)
    save_tracks(tmp_path / "tr.npz", t)
    back, intr = load_tracks(tmp_path / "tr.npz")
    np.testing.assert_array_equal(back.tracks, t.tracks)
    assert back.image_size == (20, 30) and intr is None
    assert back.meta == {"tracker": "klt-cross-blur", "gyro": {"offset_s": 0.031, "used": True}}
    np.savez(tmp_path / "one.npz", tracks=np.ones((1, 4, 2)), visible=np.ones((1, 4)), queries=np.zeros((4, 3)))
    with pytest.raises(InputError, match="need at least 2"):
        load_tracks(tmp_path / "one.npz")


def test_video_round_trip_and_errors(tmp_path):
    frames = np.zeros((6, 48, 64, 3), np.uint8)
    frames[:, 10:30, 20:40] = 200
    write_video(tmp_path / "v.mp4", frames, fps=10)
    back, times = read_video(tmp_path / "v.mp4")
    assert back.shape == frames.shape
    assert np.abs(back.astype(int) - frames).mean() < 3
    np.testing.assert_allclose(np.diff(times), 0.1, atol=1e-3)
    (tmp_path / "broken.mp4").write_bytes(b"not a video at all")
    with pytest.raises(InputError, match=r"broken\.mp4"):
        read_video(tmp_path / "broken.mp4")
    with pytest.raises(InputError, match=r"neither images nor frames\.npz"):
        load_frames(tmp_path)


def test_frames_are_selected_and_resized_while_decoding_within_the_memory_budget(tmp_path, monkeypatch):
    from motiondepth.io import video

    frames = np.zeros((9, 48, 64, 3), np.uint8)
    for k in range(9):
        frames[k, :, 4 * k : 4 * k + 8] = 255  # a bar that moves: tells the frames apart
    write_video(tmp_path / "v.mp4", frames, fps=10)
    full, full_t, _ = load_frames(tmp_path / "v.mp4")
    sel = video.FrameSelection(start=2, stride=3, resize=32)
    got, times, info = load_frames(tmp_path / "v.mp4", 8, select=sel)  # frames 2 and 5 (8 and on not decoded)
    assert info["indices"].tolist() == [2, 5] and tuple(info["source_size"]) == (48, 64)
    assert got.shape == (2, 24, 32, 3)
    np.testing.assert_array_equal(got, [cv2.resize(f, (32, 24), interpolation=cv2.INTER_AREA) for f in full[[2, 5]]])
    np.testing.assert_allclose(times, full_t[[2, 5]])
    assert load_frames(tmp_path / "v.mp4", fps=5.0, select=sel)[1].tolist() == [0.4, 1.0, 1.6]
    with pytest.raises(InputError, match=r"v\.mp4: 1 frame\(s\) selected of 9 \(start=8, stride=1\)"):
        load_frames(tmp_path / "v.mp4", select=video.FrameSelection(start=8))
    # an image folder reads only the images it keeps: an unreadable one in between does no harm
    _image_folder(tmp_path / "imgs", [f"{k}.png" for k in range(5)])
    (tmp_path / "imgs" / "1.png").write_bytes(b"broken")
    got, _, info = load_frames(tmp_path / "imgs", select=video.FrameSelection(stride=2))
    assert info["indices"].tolist() == [0, 2, 4] and got[1, 10, 10, 0] == 20
    # more than the memory budget: a clear error that says what to do, at the first frame (the container says 9)
    monkeypatch.setattr(video, "frame_memory_budget", lambda: 5 * 48 * 64 * 3)
    offered = []
    real_offer = video._Kept.offer
    monkeypatch.setattr(video._Kept, "offer", lambda self, read: offered.append(1) or real_offer(self, read))
    with pytest.raises(InputError, match=r"v\.mp4: the run would hold 9 frames of 64x48, about .*--resize"):
        load_frames(tmp_path / "v.mp4")
    assert len(offered) == 1  # refused before decoding a second frame
    # a source that does not say its count: refused as the frames come, before the budget is passed
    kept = video._Kept(tmp_path, None)
    kept.budget = 5 * 48 * 64 * 3
    with pytest.raises(InputError, match=r"the run would hold 6 frames of 64x48 so far"):
        for _ in range(9):
            kept.offer(lambda: np.zeros((48, 64, 3), np.uint8))
    assert len(load_frames(tmp_path / "v.mp4", select=video.FrameSelection(resize=32))[0]) == 9
    # frames go into one buffer, grown when the source's count was missing or short
    monkeypatch.undo()
    kept = video._Kept(tmp_path, video.FrameSelection(stride=2), expected=10)
    for k in range(41):
        kept.offer(lambda k=k: np.full((4, 6, 3), k, np.uint8))
    assert kept.stacked()[:, 0, 0, 0].tolist() == list(range(0, 41, 2))
    kept.offer(lambda: np.zeros((4, 6, 3), np.uint8))  # 41: not kept, never read
    with pytest.raises(InputError, match=r"frame 42 is \(5, 6, 3\), the first \(4, 6, 3\)"):
        kept.offer(lambda: np.zeros((5, 6, 3), np.uint8))


def test_portrait_video_keeps_its_stored_frames_and_reports_the_display_rotation(tmp_path):
    frames = np.zeros((4, 48, 64, 3), np.uint8)
    frames[:, :10, :20] = 250  # top-left marker of the stored frame
    for rot in (90, 270):
        write_video(tmp_path / f"p{rot}.mp4", frames, fps=30, rotation_deg=rot)
        back, _, info = load_frames(tmp_path / f"p{rot}.mp4")
        assert back.shape == frames.shape and back[:, :10, :20].mean() > 200  # as stored, not turned
        assert info["display_rotation_deg"] == rot
    write_video(tmp_path / "l.mp4", frames, fps=30)
    assert "display_rotation_deg" not in load_frames(tmp_path / "l.mp4")[2]


def test_atomic_writes_leave_nothing_on_failure(tmp_path):
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "x.txt") as tmp:
        tmp.write_text("half")
        raise RuntimeError
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(RuntimeError), staged_output_dir(tmp_path / "out") as stage:
        (stage / "a.txt").write_text("a")
        raise RuntimeError
    assert list(tmp_path.iterdir()) == []


def _image_folder(folder, names, size=(24, 32)):
    """Write one PNG per name, frame k filled with grey level 10·k; returns the frames."""
    folder.mkdir(exist_ok=True)
    frames = np.zeros((len(names), *size, 3), np.uint8)
    for k, name in enumerate(names):
        frames[k] = 10 * k
        frames[k, 2:5, 3:9] = (255, 0, 0)  # red in RGB: catches a BGR mix-up
        cv2.imwrite(str(folder / name), cv2.cvtColor(frames[k], cv2.COLOR_RGB2BGR))
    return frames


def test_image_folder_order_and_times(tmp_path):
    # TUM RGB-D: seconds in the names, 30 Hz with jitter
    stamps = 1305031102.175304 + np.array([0.0, 0.0331, 0.0668, 0.1002])
    frames = _image_folder(tmp_path / "tum", [f"{t:.6f}.png" for t in stamps])
    got, times, cam = load_frames(tmp_path / "tum")
    np.testing.assert_array_equal(got, frames)
    np.testing.assert_allclose(times, stamps - stamps[0], atol=2e-6)
    assert cam == {"times_source": "file names (s)", "time_origin_s": stamps[0]}
    # EuRoC: nanoseconds in the names, 20 Hz
    ns = [1403636579763555584 + k * 50_000_000 for k in range(3)]
    _image_folder(tmp_path / "euroc", [f"{t}.png" for t in ns])
    _, times, cam = load_frames(tmp_path / "euroc")
    np.testing.assert_allclose(times, [0.0, 0.05, 0.1], atol=1e-6)
    assert cam["times_source"] == "file names (ns)"
    # frame counters in natural order (frame_2 before frame_10): not times, so 30 fps is assumed
    names = [f"frame_{k}.jpg" for k in range(1, 12)]
    frames = _image_folder(tmp_path / "count", names[::-1])
    got, times, cam = load_frames(tmp_path / "count")
    assert np.abs(got[:, 10:].astype(int) - frames[::-1, 10:]).max() < 6  # in name order (JPEG, away from the patch)
    np.testing.assert_allclose(times, np.arange(11) / 30.0)
    assert cam["times_source"].startswith("assumed 30 fps")
    _image_folder(tmp_path / "every10th", [f"{10 * k:06d}.png" for k in range(3)])  # counters in steps of 10
    assert load_frames(tmp_path / "every10th")[2]["times_source"].startswith("assumed")
    _, times, cam = load_frames(tmp_path / "count", fps=12.5)
    np.testing.assert_allclose(times, np.arange(11) / 12.5)
    assert cam["times_source"] == "--fps 12.5"
    # a timestamp file (KITTI raw date-times) beside the images wins over the names; max_frames stops early
    (tmp_path / "count" / "timestamps.txt").write_text(
        "".join(f"2011-09-26 13:02:25.{50_000_000 * k + 5:09d}\n" for k in range(11))
    )
    got, times, origin, source = read_image_folder(tmp_path / "count", max_frames=4)
    assert len(got) == 4 and source == "timestamps.txt (s)" and origin % 60 == pytest.approx(25.000000005, abs=1e-5)
    np.testing.assert_allclose(times, [0.0, 0.05, 0.1, 0.15], atol=1e-6)


def test_image_folder_errors(tmp_path):
    folder = tmp_path / "imgs"
    _image_folder(folder, ["a.png", "b.png", "c.png"])
    (folder / "timestamps.txt").write_text("0.0\n0.1\n")
    with pytest.raises(InputError, match=r"timestamps\.txt.*2 times for 3 images"):
        load_frames(folder)
    (folder / "timestamps.txt").write_text("0.0\n0.1\nsoon\n")
    with pytest.raises(InputError, match=r"timestamps\.txt.*'soon'"):
        load_frames(folder)
    (folder / "timestamps.txt").unlink()
    with pytest.raises(InputError, match="--fps"):
        load_frames(folder, fps=0.0)
    cv2.imwrite(str(folder / "d.png"), np.zeros((10, 10, 3), np.uint8))
    with pytest.raises(InputError, match=r"d\.png.*10x10, the first 32x24"):
        load_frames(folder)
    (folder / "d.png").write_bytes(b"not a png")
    with pytest.raises(InputError, match=r"d\.png.*cannot decode"):
        load_frames(folder)
    one = tmp_path / "one"
    _image_folder(one, ["only.png"])
    with pytest.raises(InputError, match="1 image"):
        load_frames(one)


def test_trajectory_csv_keeps_the_camera_centres(tmp_path):
    from motiondepth.io.trajectory import CENTRE_COLUMNS, read_trajectory_csv, write_trajectory_csv
    from motiondepth.types import Trajectory

    rng = np.random.default_rng(3)
    traj = Trajectory(rng.normal(0, 0.01, (5, 3)), np.arange(5) / 30, np.ones(5), centres=rng.normal(0, 0.05, (5, 3)))
    write_trajectory_csv(tmp_path / "t.csv", traj)
    assert all(c in (tmp_path / "t.csv").read_text().splitlines()[0] for c in CENTRE_COLUMNS)
    back = read_trajectory_csv(tmp_path / "t.csv")
    assert np.allclose(back.centres, traj.centres) and np.allclose(back.angles, traj.angles)
    traj.centres = None
    write_trajectory_csv(tmp_path / "r.csv", traj)
    assert read_trajectory_csv(tmp_path / "r.csv").centres is None


def test_calibrations_of_other_tools_read_to_the_same_camera(tmp_path):
    """OpenCV FileStorage YAML and XML, ROS camera_info YAML and COLMAP cameras.txt: the same K, size, lens."""
    import cv2

    from motiondepth.io.camera import calibration_record, read_calibration, read_lens_distortion

    k = np.array([[517.3, 0, 318.6], [0, 516.5, 255.3], [0, 0, 1]])
    d = [0.2624, -0.9531, -0.0054, 0.0026, 1.1633]
    for name in ("cv.yaml", "cv.xml"):
        fs = cv2.FileStorage(str(tmp_path / name), cv2.FILE_STORAGE_WRITE)
        fs.write("image_width", 640)
        fs.write("image_height", 480)
        fs.write("camera_matrix", k)
        fs.write("distortion_coefficients", np.array([d]))
        fs.release()
    (tmp_path / "ros.yaml").write_text(
        "image_width: 640\nimage_height: 480\ncamera_name: cam\ncamera_matrix:\n  rows: 3\n  cols: 3\n"
        f"  data: {k.ravel().tolist()}\ndistortion_model: plumb_bob\ndistortion_coefficients:\n  rows: 1\n"
        f"  cols: 5\n  data: {d}\n"
    )
    (tmp_path / "cameras.txt").write_text(
        "# Camera list\n1 FULL_OPENCV 640 480 517.3 516.5 318.6 255.3 0.2624 -0.9531 -0.0054 0.0026 1.1633 0 0 0\n"
    )
    for name in ("cv.yaml", "cv.xml", "ros.yaml", "cameras.txt"):
        path = tmp_path / name
        rec = calibration_record(path)
        intr, size = read_calibration(path, rec)
        np.testing.assert_allclose(intr.as_array(), [517.3, 516.5, 318.6, 255.3], err_msg=name)
        assert size == (480, 640), name
        lens = read_lens_distortion(path, rec)
        assert lens.model == "opencv", name
        np.testing.assert_allclose(lens.coeffs[:5], d, err_msg=name)
    (tmp_path / "pin.txt").write_text("1 SIMPLE_PINHOLE 320 240 300 160 120\n")
    intr, _ = read_calibration(tmp_path / "pin.txt")
    assert intr.fx == intr.fy == 300 and read_lens_distortion(tmp_path / "pin.txt") is None
    (tmp_path / "odd.txt").write_text("1 THIN_PRISM_FISHEYE 320 240 1 2 3 4 5 6 7 8 9 10 11 12\n")
    with pytest.raises(InputError, match="THIN_PRISM_FISHEYE"):
        calibration_record(tmp_path / "odd.txt")
    (tmp_path / "bad.yaml").write_text("foo: [1, 2\n")
    with pytest.raises(InputError, match=r"bad\.yaml: not a YAML/XML calibration"):
        calibration_record(tmp_path / "bad.yaml")


def test_ply_states_its_axes_and_flips_to_opengl(tmp_path):
    from motiondepth.io.pointcloud import read_ply, write_ply

    pts = np.array([[0.1, 0.2, 1.5], [-0.3, 0.4, 2.0]], np.float32)
    write_ply(tmp_path / "cv.ply", pts, None)
    write_ply(tmp_path / "gl.ply", pts, None, axes="opengl")
    assert b"x right, y down, z forward" in (tmp_path / "cv.ply").read_bytes()[:300]
    assert b"y up, z backward" in (tmp_path / "gl.ply").read_bytes()[:300]
    np.testing.assert_allclose(read_ply(tmp_path / "cv.ply")[0], pts)
    np.testing.assert_allclose(read_ply(tmp_path / "gl.ply")[0], pts * [1, -1, -1])
    with pytest.raises(ValueError, match="axes"):
        write_ply(tmp_path / "x.ply", pts, None, axes="zup")


def test_video_encoding_is_reproducible_at_any_frame_size(tmp_path):
    """The same frames give the same file, also when the sides are not multiples of 16 (x264's macroblock tree
    made those differ from run to run, which put noise into every benchmark that simulates its clips)."""
    rng = np.random.default_rng(3)
    base = cv2.GaussianBlur((rng.random((142, 214)) * 255).astype(np.uint8), (0, 0), 1.5)
    moving = [np.roll(np.roll(base, 3 * k, axis=1), k, axis=0)[:102, :134] for k in range(12)]
    frames = np.ascontiguousarray(np.stack(moving)[..., None].repeat(3, -1))  # 102 × 134: no side a multiple of 16
    for name in "abcde":
        write_video(tmp_path / f"{name}.mp4", frames, fps=30)
    first = (tmp_path / "a.mp4").read_bytes()
    assert all((tmp_path / f"{name}.mp4").read_bytes() == first for name in "bcde")
