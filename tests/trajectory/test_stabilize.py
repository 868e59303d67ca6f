"""Rotation stabilisation: frames warped with the true rotation line up with frame 0; smoothing keeps a pan."""

from __future__ import annotations

import numpy as np
import pytest

from motiondepth.errors import InputError
from motiondepth.geometry.camera import Intrinsics
from motiondepth.simulate import camera_preset
from motiondepth.simulate.scene import simulate_scene
from motiondepth.tracking.grid import track_frames
from motiondepth.trajectory.optics import rolling_shutter_config, solve_trajectory
from motiondepth.trajectory.stabilize import (
    readout_row_angles,
    row_angles,
    stabilize_frames,
    stabilizing_homographies,
)


def _misalignment(frames: np.ndarray) -> float:
    """Mean absolute difference of the central half of frames 1… from frame 0 (grey levels)."""
    c = slice(frames.shape[1] // 4, 3 * frames.shape[1] // 4)
    f = frames[:, c, c].astype(np.float32)
    return float(np.abs(f[1:] - f[0]).mean())


def test_true_rotation_stabilizes_a_simulated_clip():
    """Pure rotation (pivot 0): the warp with the true angles removes most of the misalignment; the opposite
    sign makes it worse. What stays is the blur changing from frame to frame."""
    cam = camera_preset("phone", width=192, height=192, num_frames=12, pivot_m=0.0)
    video = simulate_scene(cam, scene_seed=5, shake_seed=5)
    raw = _misalignment(video.frames)
    good = _misalignment(stabilize_frames(video.frames, video.trajectory, video.intrinsics))
    wrong = _misalignment(stabilize_frames(video.frames, -video.trajectory, video.intrinsics))
    assert good < 0.7 * raw and wrong > 1.3 * raw, (raw, good, wrong)


def test_smoothing_keeps_a_slow_pan_and_removes_jitter():
    intr = Intrinsics(500.0, 500.0, 320.0, 240.0)
    times = np.arange(60) / 30.0
    pan = np.zeros((60, 3))
    pan[:, 2] = 0.1 * times  # yaw at 0.1 rad/s
    jitter = pan.copy()
    jitter[:, 1] = 2e-3 * np.sin(2 * np.pi * 8.0 * times)  # 8 Hz pitch shake
    h_pan = stabilizing_homographies(pan, intr, times, sigma_s=0.3)  # a steady pan is kept, ends included
    np.testing.assert_allclose(h_pan, np.broadcast_to(np.eye(3), h_pan.shape), atol=1e-9)
    mid = slice(15, 45)  # the jitter's edge frames are smoothed with a little of their own shake left
    h = stabilizing_homographies(jitter, intr, times, sigma_s=0.3)
    # what is removed is the shake alone: the vertical shift of the image centre is f · pitch
    centre = np.array([320.0, 240.0, 1.0])
    moved = h[mid] @ centre
    shift = moved[:, 1] / moved[:, 2] - 240.0
    np.testing.assert_allclose(np.abs(shift), 500.0 * np.abs(jitter[mid, 1]), atol=0.05)
    locked = stabilizing_homographies(pan, intr, times, sigma_s=0.0)
    assert np.abs(locked[-1] - np.eye(3)).max() > 10  # locking undoes the whole pan


def test_lost_frames_and_bad_options():
    intr = Intrinsics(100.0, 100.0, 32.0, 24.0)
    angles = np.zeros((5, 3))
    angles[:, 1] = [0.0, 0.01, np.nan, 0.03, 0.04]
    h = stabilizing_homographies(angles, intr)
    assert np.isfinite(h).all()
    np.testing.assert_allclose(h[2], stabilizing_homographies(np.array([[0.0, 0.02, 0.0]]), intr)[0])
    with pytest.raises(InputError, match="stabilize-sigma"):
        stabilizing_homographies(angles, intr, sigma_s=-1.0)
    with pytest.raises(InputError, match="5 frames, the video 4"):
        stabilize_frames(np.zeros((4, 48, 64, 3), np.uint8), angles, intr)


def test_row_angles_average_each_rows_exposure_window():
    span, exposure, readout, h = 0.040, 0.004, 0.030, 7
    s = 30
    t = (np.arange(s) + 0.5) / s * span
    dense = np.zeros((2, s, 3))
    dense[:, :, 2] = 0.5 * t  # yaw ramp at 0.5 rad/s
    dense[1, :, 0] = 0.01  # constant roll in frame 1
    rows = row_angles(dense, span, exposure, readout, h)
    # the rows' windows are centred in the span (3 ms in); a ramp's mean over a window is its middle
    row_mid = (span - exposure - readout) / 2 + np.arange(h) / (h - 1) * readout + exposure / 2
    np.testing.assert_allclose(rows[:, :, 2], np.broadcast_to(0.5 * row_mid, (2, h)), atol=1e-9)
    np.testing.assert_allclose(rows[1, :, 0], 0.01)
    # no readout: every row sees the same window
    flat = row_angles(dense, span, exposure, 0.0, h)
    np.testing.assert_allclose(flat[:, :, 2], np.broadcast_to(flat[:, :1, 2], (2, h)))
    with pytest.raises(InputError, match="rolling-shutter timing"):
        row_angles(dense, span, -1.0, readout, h)
    with pytest.raises(InputError, match="dense trajectory"):
        row_angles(dense[..., :2], span, exposure, readout, h)


def _rolling_shutter_clip(readout_s: float):
    h = 128
    cam = camera_preset("phone", width=h, height=h, num_frames=8, pivot_m=0.0).replace(
        exposure_s=0.004, row_time_s=readout_s / h, frame_interval_s=0.040
    )
    video = simulate_scene(cam, scene_seed=5, shake="handheld", shake_seed=5, shake_scale=2.0)
    rows = row_angles(video.dense[15], cam.frame_span_s, cam.exposure_s, cam.readout_s, h)
    return video, rows


def test_row_by_row_warp_removes_rolling_shutter_wobble():
    """A 30 ms readout with short exposures (a phone in daylight): one homography per frame leaves the
    shear, the per-row rotations from the true dense trajectory remove most of what it leaves."""
    video, rows = _rolling_shutter_clip(0.030)
    per_frame = _misalignment(stabilize_frames(video.frames, video.trajectory, video.intrinsics))
    per_row = _misalignment(stabilize_frames(video.frames, video.trajectory, video.intrinsics, rows=rows))
    flipped = _misalignment(stabilize_frames(video.frames, video.trajectory, video.intrinsics, rows=-rows))
    assert per_row < 0.5 * per_frame and flipped > 2 * per_frame, (per_frame, per_row, flipped)
    # a lost frame's rows fall back to its per-frame angle; a wrong shape is refused
    lost = rows.copy()
    lost[3] = np.nan
    out = stabilize_frames(video.frames, video.trajectory, video.intrinsics, rows=lost)
    ref = stabilize_frames(video.frames[3:4], video.trajectory[3:4], video.intrinsics)
    assert np.abs(out[3].astype(int) - ref[0]).mean() < 1.0
    with pytest.raises(InputError, match="row angles"):
        stabilize_frames(video.frames, video.trajectory, video.intrinsics, rows=rows[:, :-1])


def test_row_warp_map_on_a_coarse_grid_matches_the_map_at_every_pixel():
    """The interpolated map (every 8 px) against the map solved at every pixel, on the shaken 30 ms clip."""
    from motiondepth.geometry.rotations import euler_to_matrix
    from motiondepth.trajectory import stabilize

    video, rows = _rolling_shutter_clip(0.030)
    h, w = video.frames.shape[1:3]
    warp = stabilize._RowWarper(h, w, video.intrinsics)
    assert len(warp.xs) < w // 4
    for k in (2, 6):
        rot, target = euler_to_matrix(rows[k]), np.eye(3)
        every = np.arange(h, dtype=float), np.arange(w, dtype=float)
        full = stabilize._row_warp_map(rot, target, video.intrinsics, *every)
        coarse = stabilize._row_warp_map(rot, target, video.intrinsics, warp.ys, warp.xs)
        for f, c in zip(full, coarse, strict=True):
            err = np.abs(warp.upsample(c) - f)
            assert np.median(err) < 0.01 and err.max() < 0.06, (np.median(err), err.max())


def test_row_by_row_warp_without_readout_is_the_per_frame_warp():
    video, rows = _rolling_shutter_clip(0.0)
    a = stabilize_frames(video.frames, video.trajectory, video.intrinsics, rows=rows).astype(int)
    b = stabilize_frames(video.frames, video.trajectory, video.intrinsics).astype(int)
    assert np.abs(a - b).mean() < 0.2


def test_solver_readout_rotation_removes_the_wobble_from_tracks_alone():
    """The whole chain on a 30 ms readout: KLT tracks → lsq solve with the readout known → each frame's
    rotation from the top row to the bottom row (close to the truth's) → a row-by-row warp that beats the
    per-frame one; without the readout the frames keep frame 0's shear but still lose most of the wobble."""
    video, truth_rows = _rolling_shutter_clip(0.030)
    h = video.frames.shape[1]
    tracks = track_frames(video.frames, 6, video.intrinsics, "klt")
    per_frame = None
    for readout_s in (0.030, None):
        solver = rolling_shutter_config("prior", readout_s, video.camera.interval_s)
        traj = solve_trajectory(tracks.tracks.astype(np.float64), tracks.visible, video.depth, video.intrinsics, 0.0,
                                mode="lsq", config=solver, image_height=h)  # fmt: skip
        assert traj.readout_rotation.shape == (8, 3)
        if readout_s is not None:
            true_rot = (truth_rows[:, -1] - truth_rows[:, 0]) * h / (h - 1)
            big = np.abs(true_rot[:, 1:]) > 3e-4  # pitch and yaw (roll's shear is weak on a 128 px frame)
            err = np.abs(traj.readout_rotation[:, 1:] - true_rot[:, 1:])[big]
            assert np.median(err / np.abs(true_rot[:, 1:][big])) < 0.25, (traj.readout_rotation, true_rot)
        rows = readout_row_angles(traj.angles, traj.readout_rotation, h)
        per_frame = _misalignment(stabilize_frames(video.frames, traj.angles, video.intrinsics))
        per_row = _misalignment(stabilize_frames(video.frames, traj.angles, video.intrinsics, rows=rows))
        assert per_row < (0.75 if readout_s else 0.85) * per_frame, (readout_s, per_frame, per_row)
    with pytest.raises(InputError, match="readout rotation"):
        readout_row_angles(traj.angles, traj.readout_rotation[:-1], h)
