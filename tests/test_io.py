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
    with pytest.raises(InputError, match="no 'depth'"):
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
    with pytest.raises(InputError, match=r"no frames\.npz"):
        load_frames(tmp_path)


def test_atomic_writes_leave_nothing_on_failure(tmp_path):
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "x.txt") as tmp:
        tmp.write_text("half")
        raise RuntimeError
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(RuntimeError), staged_output_dir(tmp_path / "out") as stage:
        (stage / "a.txt").write_text("a")
        raise RuntimeError
    assert list(tmp_path.iterdir()) == []
