"""TUM RGB-D sequences: frame lists, motion-capture poses, interpolation and relative motion."""

from __future__ import annotations

import numpy as np
import pytest

from motiondepth.errors import InputError
from motiondepth.geometry.rotations import euler_to_matrix, matrix_to_quat
from motiondepth.io.tum import TumSequence, read_tum_list, read_tum_trajectory


def _write_sequence(root, rate_rad_s=0.5, speed_m_s=(0.1, 0.0, 0.05)):
    """A synthetic sequence: the camera turns about its y axis (yaw) at a constant rate and moves at a constant
    velocity; colour frames at 30 fps between the 100 Hz motion-capture samples."""
    root.mkdir()
    t_gt = 1000.0 + np.arange(0, 2.0, 0.01)
    yaw = rate_rad_s * (t_gt - t_gt[0])
    quats = matrix_to_quat(euler_to_matrix(np.stack([0 * yaw, 0 * yaw, yaw], -1)))
    pos = np.asarray(speed_m_s) * (t_gt - t_gt[0])[:, None] + [1.0, 2.0, 3.0]
    rows = np.column_stack([t_gt, pos, quats])
    lines = ["# ground truth"] + [" ".join(f"{v:.9f}" for v in row) for row in rows]
    (root / "groundtruth.txt").write_text("\n".join(lines) + "\n")
    t_rgb = 1000.013 + np.arange(40) / 30
    (root / "rgb.txt").write_text("# colour\n" + "".join(f"{t:.6f} rgb/{t:.6f}.png\n" for t in t_rgb))
    (root / "depth.txt").write_text("".join(f"{t + 0.004:.6f} depth/{t:.6f}.png\n" for t in t_rgb[::2]))
    return t_rgb


def test_relative_motion_of_a_known_trajectory(tmp_path):
    t_rgb = _write_sequence(tmp_path / "seq")
    seq = TumSequence.open(tmp_path / "seq")
    assert len(seq.rgb_files) == 40 and seq.rgb_files[0].startswith("rgb/")
    frames = np.arange(5, 35)
    angles, centres = seq.relative_motion(frames)
    dt = t_rgb[frames] - t_rgb[frames[0]]
    np.testing.assert_allclose(angles[:, 2], 0.5 * dt, atol=1e-6)  # yaw at the true rate (slerp between samples)
    np.testing.assert_allclose(angles[:, :2], 0.0, atol=1e-9)
    # the centre's motion in frame 5's camera axes: the world velocity turned by frame 5's yaw
    r_ref = euler_to_matrix(np.array([0.0, 0.0, 0.5 * (t_rgb[5] - 1000.0)]))
    np.testing.assert_allclose(centres, (np.array([0.1, 0.0, 0.05]) * dt[:, None]) @ r_ref, atol=1e-6)
    assert np.all(angles[0] == 0) and np.allclose(centres[0], 0)
    depth = seq.depth_for(np.array([0, 1, 2]))
    assert depth[0] is not None and depth[1] is None and depth[2] is not None  # 4 ms away; 29 ms: beyond 20 ms


def test_poses_outside_the_trajectory_are_refused(tmp_path):
    _write_sequence(tmp_path / "seq")
    seq = TumSequence.open(tmp_path / "seq")
    with pytest.raises(InputError, match="no motion-capture pose"):
        seq.groundtruth.at(np.array([999.0]))
    with pytest.raises(InputError, match="no motion-capture pose"):
        seq.groundtruth.at(np.array([1003.0]))


@pytest.mark.parametrize(
    "name, text, needle",
    [
        ("rgb.txt", "", "no frames"),
        ("rgb.txt", "1.0\n", "timestamp filename"),
        ("rgb.txt", "2.0 a.png\n1.0 b.png\n", "increase"),
        ("groundtruth.txt", "1 0 0 0 0 0 0 1\n", "at least 2"),
        ("groundtruth.txt", "1 0 0 0 0 0 0 1\n2 0 0 0 0 0 0\n", "8 numbers"),
        ("groundtruth.txt", "1 0 0 0 0 0 0 1\n2 0 0 0 0 0 0 3\n", "unit norm"),
        ("groundtruth.txt", "1 0 0 0 0 0 0 1\n2 nan 0 0 0 0 0 1\n", "NaN"),
    ],
)
def test_bad_files_name_the_problem(name, text, needle, tmp_path):
    (tmp_path / name).write_text(text)
    reader = read_tum_list if name == "rgb.txt" else read_tum_trajectory
    with pytest.raises(InputError, match=needle) as exc:
        reader(tmp_path / name)
    assert name in str(exc.value)


@pytest.mark.realdata
def test_real_tum_fr1xyz(real_data):
    """The real sequence: its frames keep their sequence numbers, interpolated poses agree with the motion-capture
    samples they sit between, and a second of handheld motion is centimetres of translation and degrees of rotation
    (measured: 8–40 cm, 4–17°)."""
    seq = TumSequence.open(real_data / "video-rgbd-tum-fr1xyz")
    # frames 0–239 and 700–759 of the sequence (rgb.txt's header says so): clips are named by sequence frame
    numbers = seq.sequence_frames
    assert len(numbers) == 300 and all(p is not None for p in seq.depth_for(np.arange(300)))
    np.testing.assert_array_equal(numbers, np.r_[0:240, 700:760])
    assert "frames 0-239 and 700-759" in (real_data / "video-rgbd-tum-fr1xyz" / "rgb.txt").read_text().splitlines()[0]
    assert seq.positions(700, 730)[0] == 240 and seq.positions(60, 90)[0] == 60
    with pytest.raises(InputError, match="holds 0–239, 700–759"):
        seq.positions(230, 260)  # across the gap
    gt = seq.groundtruth
    pos, _ = gt.at(gt.times[100:110])
    np.testing.assert_allclose(pos, gt.positions[100:110], atol=1e-9)  # exact at the samples
    for start in (0, 30, 60, 90, 120, 150, 180, 210, 700, 730):
        frames = seq.positions(start, start + 30)
        angles, centres = seq.relative_motion(frames)
        travel = np.linalg.norm(centres, axis=1).max()
        t = seq.rgb_times[frames]
        inside = (gt.times >= t[0]) & (gt.times <= t[-1])
        raw = np.linalg.norm(gt.positions[inside] - gt.positions[inside][0], axis=1).max()
        assert abs(travel - raw) < 0.01 and 0.03 < travel < 0.5  # a second: centimetres to half a metre
        assert 0.5 < np.degrees(np.linalg.norm(angles, axis=1).max()) < 20  # and degrees


def test_tum_trajectory_written_and_read_side_by_side(tmp_path):
    """The writer beside the reader (evo's file_interface): poses written are the poses read."""
    from motiondepth.io.tum import PoseTrack, write_tum_trajectory

    rng = np.random.default_rng(0)
    q = rng.normal(size=(5, 4))
    poses = PoseTrack(100.0 + np.arange(5) * 0.1, rng.normal(size=(5, 3)), q / np.linalg.norm(q, axis=1)[:, None])
    write_tum_trajectory(tmp_path / "t.txt", poses, ["made here"])
    back = read_tum_trajectory(tmp_path / "t.txt")
    assert (tmp_path / "t.txt").read_text().startswith("# made here\n")
    np.testing.assert_allclose(back.times, poses.times, atol=1e-6)
    np.testing.assert_allclose(back.positions, poses.positions, atol=1e-8)
    np.testing.assert_allclose(back.quaternions, poses.quaternions, atol=1e-8)
