"""Rotation stabilisation: frames warped with the true rotation line up with frame 0; smoothing keeps a pan."""

from __future__ import annotations

import numpy as np
import pytest

from motiondepth.errors import InputError
from motiondepth.geometry.camera import Intrinsics
from motiondepth.pipeline import simulate_scene
from motiondepth.simulate import camera_preset
from motiondepth.trajectory.stabilize import stabilize_frames, stabilizing_homographies


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
