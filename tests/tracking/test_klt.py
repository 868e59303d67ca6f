import numpy as np
import pytest

from motiondepth.geometry import Intrinsics
from motiondepth.simulate import camera_preset, groundtruth_tracks
from motiondepth.simulate.scene import simulate_scene
from motiondepth.tracking import (
    KLTTracker,
    available_trackers,
    exposure_kernels,
    grid_queries,
    make_tracker,
    query_grid,
    track_cross_blur,
)


def test_query_grid_counts_and_centre():
    for i in (1, 4, 12):
        g = query_grid(i, (518, 518))
        assert g.shape == ((2 * i + 1) ** 2, 2)
        np.testing.assert_allclose(g[len(g) // 2], [258.5, 258.5])
    intr = Intrinsics(500, 500, 300.0, 200.0)
    g = query_grid(3, (480, 640), intr)
    np.testing.assert_allclose(g[len(g) // 2], [300.0, 200.0])
    assert g[:, 0].min() >= 0 and g[:, 1].max() <= 479
    # uniform spacing in x and y
    xs = np.unique(g[:, 0])
    np.testing.assert_allclose(np.diff(xs), np.diff(xs)[0], rtol=1e-5)
    with pytest.raises(ValueError):
        query_grid(0, (100, 100))
    q = grid_queries(g, 2)
    assert q.shape == (49, 3) and (q[:, 0] == 2).all()


def _textured(h, w, seed=0):
    rng = np.random.default_rng(seed)
    import cv2

    img = cv2.GaussianBlur(rng.uniform(0, 255, (h, w)).astype(np.float32), (0, 0), 2.0)
    img = (img - img.min()) / (img.max() - img.min()) * 255
    return np.repeat(img.astype(np.uint8)[..., None], 3, axis=2)


def test_klt_recovers_integer_shifts():
    base = _textured(160, 160)
    shifts = [(0, 0), (3, -2), (-5, 4), (7, 6)]
    frames = np.stack([np.roll(base, (dy, dx), axis=(0, 1)) for dx, dy in shifts])
    g = query_grid(3, (160, 160), margin_px=30)  # np.roll wraps: keep windows off the seam
    tr = KLTTracker(smooth_sigma_px=0.0).track(frames, grid_queries(g))
    assert tr.visible.all()
    for k, (dx, dy) in enumerate(shifts):
        np.testing.assert_allclose(tr.tracks[k] - g, np.tile([dx, dy], (len(g), 1)), atol=0.05)
    assert tr.tracks.shape == (4, 49, 2) and tr.image_size == (160, 160)


def test_klt_flags_occluded_points_invisible():
    base = _textured(160, 160)
    frames = np.stack([base, base.copy()])
    frames[1, 40:120, 40:120] = 128  # a flat patch covers the middle
    g = query_grid(3, (160, 160))
    tr = KLTTracker().track(frames, grid_queries(g))
    inside = (np.abs(g[:, 0] - 80) < 30) & (np.abs(g[:, 1] - 80) < 30)
    assert not tr.visible[1, inside].any()
    assert tr.visible[1, ~inside].mean() > 0.8


def test_klt_on_simulated_blur_is_close_to_groundtruth(small_video):
    g = query_grid(6, small_video.frames.shape[1:3], small_video.intrinsics)
    gt = groundtruth_tracks(small_video, g)
    tr = make_tracker("klt").track(small_video.frames, grid_queries(g))
    err = np.linalg.norm(tr.tracks - gt.tracks, axis=-1)[tr.visible]
    assert tr.visible.mean() > 0.8
    assert np.median(err) < 0.3
    # the per-frame mean error (what the solver sees) is much smaller still
    bias = np.nanmean(np.where(tr.visible[..., None], tr.tracks - gt.tracks, np.nan), axis=1)
    assert np.nanmax(np.linalg.norm(bias, axis=-1)) < 0.15


def test_tracker_registry_and_bad_input():
    assert "klt" in available_trackers()
    with pytest.raises(ValueError, match="unknown tracker"):
        make_tracker("nope")
    t = KLTTracker()
    with pytest.raises(ValueError, match="at least 2 frames"):
        t.track(np.zeros((1, 32, 32, 3), np.uint8), np.zeros((1, 3), np.float32))
    with pytest.raises(ValueError, match="uint8"):
        t.track(np.zeros((2, 32, 32, 3), np.float32), np.zeros((1, 3), np.float32))


def test_cross_blur_tracking_removes_the_blur_lobe_bias():
    """With the exposure kernels known, tracks land on the streak centroids (docs/design.md §4)."""
    cam = camera_preset("telephoto", width=256, height=256, num_frames=6)
    video = simulate_scene(cam, scene_seed=1, shake_seed=1)
    g = query_grid(6, (256, 256), video.intrinsics)
    gt = groundtruth_tracks(video, g)
    kernels = exposure_kernels(
        video.trace, cam, video.intrinsics, video.timestamps, depth_m=float(np.median(video.depth))
    )
    assert np.allclose([k.sum() for row in kernels.kernels[3] for k in row], 1.0, atol=1e-5)
    plain = KLTTracker().track(video.frames, grid_queries(g))
    cross = track_cross_blur(video.frames, grid_queries(g), kernels)

    def errors(tr):
        err = np.linalg.norm(tr.tracks - gt.tracks, axis=-1)[1:][tr.visible[1:]]
        bias = np.nanmean(np.where(tr.visible[..., None], tr.tracks - gt.tracks, np.nan), axis=1)
        return np.median(err), np.nanmax(np.linalg.norm(bias, axis=-1))

    (e_plain, b_plain), (e_cross, b_cross) = errors(plain), errors(cross)
    assert cross.visible.mean() > 0.85
    assert e_cross < 0.1 < e_plain
    assert b_cross < 0.3 * b_plain
    with pytest.raises(ValueError, match="kernels are for"):
        track_cross_blur(video.frames[:4], grid_queries(g), kernels)


def test_grid_size_counts_points_per_side_like_cotracker():
    from motiondepth.tracking import grid_points, query_grid

    np.testing.assert_array_equal(grid_points(25, (240, 320)), query_grid(12, (240, 320)))  # odd: the paper's
    even = grid_points(4, (240, 320))
    assert even.shape == (16, 2)
    assert np.allclose(even.reshape(4, 4, 2)[:, :, 0].mean(), (320 - 1) / 2)  # straddles the centre
    with pytest.raises(ValueError, match="at least 2"):
        grid_points(1, (240, 320))


def test_track_command_takes_a_grid_size(tmp_path):
    from motiondepth.cli import main
    from motiondepth.io.tracks import load_tracks

    sim = tmp_path / "sim"
    assert main(["simulate", "--procedural", "--frames", "3", "--out", str(sim)]) == 0
    assert main(["track", str(sim), "--grid-size", "6", "--out", str(tmp_path / "t.npz")]) == 0
    assert load_tracks(tmp_path / "t.npz")[0].num_points == 36
    both = ["track", str(sim), "--grid-size", "6", "--grid-half", "2", "--out", str(tmp_path / "u.npz")]
    assert main(both) == 2 and not (tmp_path / "u.npz").exists()  # one or the other
