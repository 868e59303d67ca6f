import numpy as np
import pytest

from motiondepth.errors import InputError
from motiondepth.geometry import Intrinsics
from motiondepth.simulate import (
    RotationTrace,
    camera_preset,
    groundtruth_tracks,
    groundtruth_trajectory,
    mean_projection,
    simulate,
)
from motiondepth.simulate.simulator import fill_depth, prepare_rgbd
from motiondepth.types import RGBDImage


def _trace(duration: float, rate=(0.0, 0.0, 0.0), dt=0.002) -> RotationTrace:
    t = np.arange(0, duration + 2 * dt, dt)
    return RotationTrace(t, t[:, None] * np.asarray(rate)[None, :], "linear")


def _checker(h=96, w=96) -> np.ndarray:
    y, x = np.mgrid[:h, :w]
    img = (((x // 6) + (y // 6)) % 2 * 200 + 30).astype(np.uint8)
    return np.repeat(img[..., None], 3, axis=2)


def test_no_shake_reproduces_the_reference():
    cam = camera_preset("phone", width=96, height=96, num_frames=3)
    rgb = _checker()
    rgbd = RGBDImage(rgb, np.full((96, 96), 2.0, np.float32), cam.intrinsics)
    v = simulate(rgbd, cam, _trace(cam.duration_s))
    assert v.frames.shape == (3, 96, 96, 3)
    assert np.abs(v.frames.astype(int) - rgb).max() <= 1
    np.testing.assert_allclose(v.trajectory, 0.0)
    assert v.dense[15].shape == (3, 15, 3) and v.dense[30].shape == (3, 30, 3)


def test_groundtruth_trajectory_of_a_constant_rate():
    cam = camera_preset("phone", width=64, height=64, num_frames=5)
    rate = np.array([0.01, -0.02, 0.03])
    traj, dense = groundtruth_trajectory(_trace(cam.duration_s, rate), cam)
    # linear motion: the mean over each span is the value at its centre; minus frame 0's
    expect = (np.arange(5) * cam.interval_s)[:, None] * rate
    np.testing.assert_allclose(traj, expect, atol=1e-9)
    centres = (np.arange(15) + 0.5) / 15 * cam.frame_span_s - 0.5 * cam.frame_span_s
    np.testing.assert_allclose(dense[15][2], expect[2] + centres[:, None] * rate, atol=1e-9)
    np.testing.assert_allclose(dense[30].mean(axis=1), traj, atol=1e-9)


def test_blur_streak_length_matches_motion():
    """A constant yaw rate blurs a bright dot into a streak of length f·ω·τ_exp."""
    cam = camera_preset("phone", width=96, height=96, num_frames=2, pivot_m=0.0)
    rgb = np.zeros((96, 96, 3), np.uint8)
    rgb[46:50, 46:50] = 255
    rate = 0.3  # rad/s yaw
    v = simulate(
        RGBDImage(rgb, np.full((96, 96), 3.0, np.float32), cam.intrinsics), cam, _trace(cam.duration_s, (0, 0, rate))
    )
    row = v.frames[0, 48, :, 0].astype(float)
    lit = np.flatnonzero(row > 5)
    expected = cam.focal_px * rate * cam.exposure_s  # ≈ 8.7 px
    assert lit.max() - lit.min() == pytest.approx(expected + 4, abs=2.5)
    assert v.blur_px[0] == pytest.approx(expected, rel=0.02)


def test_depth_holes_do_not_spread():
    cam = camera_preset("phone", width=96, height=96, num_frames=3)
    rgb = _checker()
    depth = np.full((96, 96), 2.0, np.float32)
    holey = depth.copy()
    holey[30:50, 30:50] = 0.0
    tr = _trace(cam.duration_s, (0.02, 0.05, -0.04))
    full = simulate(RGBDImage(rgb, depth, cam.intrinsics), cam, tr)
    hole = simulate(RGBDImage(rgb, holey, cam.intrinsics), cam, tr)
    np.testing.assert_array_equal(full.frames, hole.frames)  # constant depth: filling is exact
    assert (hole.depth[30:50, 30:50] == 0).all() and (hole.depth[:30] > 0).all()
    assert np.isfinite(hole.frames).all()
    np.testing.assert_allclose(fill_depth(holey), depth)


def test_prepare_rgbd_crops_and_scales_intrinsics():
    cam = camera_preset("phone", width=100, height=100)
    rgbd = RGBDImage(
        np.zeros((120, 160, 3), np.uint8), np.ones((120, 160), np.float32), Intrinsics(200, 200, 79.5, 59.5)
    )
    out = prepare_rgbd(rgbd, cam)
    assert out.rgb.shape == (100, 100, 3)
    assert out.intrinsics.cx == pytest.approx(49.5) and out.intrinsics.fx == pytest.approx(200 * 100 / 120)
    with pytest.raises(InputError):
        prepare_rgbd(
            RGBDImage(np.zeros((10, 12, 3), np.uint8), np.ones((10, 10), np.float32), Intrinsics(1, 1, 1, 1)), cam
        )


def test_trace_too_short_and_empty_depth():
    cam = camera_preset("phone", width=64, height=64, num_frames=4)
    rgbd = RGBDImage(_checker(64, 64), np.full((64, 64), 2.0, np.float32), cam.intrinsics)
    with pytest.raises(InputError, match="needs"):
        simulate(rgbd, cam, _trace(0.05))
    with pytest.raises(InputError, match="no valid"):
        simulate(RGBDImage(rgbd.rgb, np.zeros((64, 64), np.float32), cam.intrinsics), cam, _trace(cam.duration_s))


def test_groundtruth_tracks_follow_the_imaging_model(small_video):
    v = small_video
    q = np.array([[80.0, 80.0], [40.0, 60.0], [120.0, 100.0]])
    tr = groundtruth_tracks(v, q)
    np.testing.assert_allclose(tr.tracks[0], q, atol=0.05)
    assert tr.tracks.shape == (len(v.frames), 3, 2)
    # tracks move with the recorded rotation: centre-point motion ≈ f·(−yaw, pitch)
    d = tr.tracks[-1, 0] - tr.tracks[0, 0]
    ang = v.trajectory[-1]
    f = v.intrinsics.fx
    assert d[0] == pytest.approx(-f * ang[2], abs=0.15 * abs(f * ang[2]) + 0.3)
    assert d[1] == pytest.approx(f * ang[1], abs=0.15 * abs(f * ang[1]) + 0.3)
    pts = np.array([[0.0, 0.0, 2.0]])
    assert mean_projection(v, pts).shape == (len(v.frames), 1, 2)


def test_translation_moves_near_points_more_and_reaches_the_groundtruth():
    """A camera-centre trace beyond the pivot's: rendered parallax, ground-truth centres and tracks agree."""
    cam = camera_preset("phone", width=96, height=96, num_frames=3, pivot_m=0.0)
    depth = np.full((96, 96), 4.0, np.float32)
    depth[:, :48] = 1.0  # left half near, right half far
    rgbd = RGBDImage(_checker(), depth, cam.intrinsics)
    tr = _trace(cam.duration_s)
    tr.positions = tr.times[:, None] * np.array([[0.05, 0.0, 0.0]])  # 5 cm/s to the right
    v = simulate(rgbd, cam, tr)
    np.testing.assert_allclose(v.trajectory, 0.0)
    span_mid = np.arange(3) * cam.interval_s + 0.5 * cam.frame_span_s
    np.testing.assert_allclose(v.centres[:, 0], 0.05 * (span_mid - span_mid[0]), rtol=1e-3, atol=1e-7)
    q = np.array([[24.0, 48.0], [72.0, 48.0]])
    g = groundtruth_tracks(v, q)
    shift = g.tracks[-1, :, 0] - g.tracks[0, :, 0]  # a camera moving right sees points move left, by f·ΔC/Z
    f = v.intrinsics.fx
    np.testing.assert_allclose(shift, -f * v.centres[-1, 0] / np.array([1.0, 4.0]), rtol=0.02)
    assert "centres" in v.groundtruth_arrays()
