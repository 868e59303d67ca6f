"""Seurat inference maths: window chaining (Eq. 9), runs, scale matching (Eq. 10-11), baselines, input checks."""

from __future__ import annotations

import numpy as np
import pytest

from motiondepth.errors import InputError
from motiondepth.seurat.baselines import gaussian_smooth_depth, handcrafted_window, per_frame_depth
from motiondepth.seurat.depth_source import DepthMaps, FlickeringDepth, load_depth_source
from motiondepth.seurat.inference import scale_match
from motiondepth.seurat.windows import chain_log_ratios, check_tracks, support_from_tracks, visible_runs, window_starts


@pytest.mark.parametrize("mode", ["last", "average"])
@pytest.mark.parametrize("frames,stride", [(8, 4), (20, 4), (23, 5), (30, 7)])
def test_chaining_recovers_log_depth_for_any_length(frames, stride, mode):
    rng = np.random.default_rng(frames)
    log_d = np.cumsum(rng.normal(0, 0.05, (frames, 3)), 0)  # true log depth per frame, 3 tracks
    starts = window_starts(frames, 8, stride)
    windows = np.stack([log_d[s : s + 8] - log_d[s] for s in starts])  # exact window-wise ratios (Eq. 7)
    np.testing.assert_allclose(chain_log_ratios(windows, starts, frames, mode), log_d - log_d[0], atol=1e-12)


def test_average_chaining_hand_case_and_noise():
    # two windows of 4, stride 2; window 0 is exact, window 1 is off by +0.1 at its frame 0 only
    log_d = np.array([0.0, 0.1, 0.2, 0.3, 0.4, 0.5])[:, None]
    starts = np.array([0, 2])
    windows = np.stack([log_d[s : s + 4] - log_d[s] for s in starts])
    windows[1, 1:] -= 0.1  # i.e. relative to a first-frame value 0.1 too high
    # Eq. 9 links at frame 2 only: frames 3-5 inherit the error; averaging links over frames 2-3
    last = chain_log_ratios(windows, starts, 6, "last")[:, 0]
    avg = chain_log_ratios(windows, starts, 6, "average")[:, 0]
    np.testing.assert_allclose(last, [0.0, 0.1, 0.2, 0.2, 0.3, 0.4], atol=1e-12)
    # base = mean(0.2 - 0, 0.3 - 0.0) = 0.25; frames 2, 3 average the two windows' estimates
    np.testing.assert_allclose(avg, [0.0, 0.1, 0.225, 0.275, 0.35, 0.45], atol=1e-12)
    assert np.abs(avg - log_d[:, 0]).max() < np.abs(last - log_d[:, 0]).max()
    with pytest.raises(ValueError, match="chaining mode"):
        chain_log_ratios(windows, starts, 6, "median")


def test_visible_runs_labels():
    v = np.array([[1, 0, 1, 1, 0, 0, 1]], dtype=bool).T
    assert visible_runs(v)[:, 0].tolist() == [0, -1, 1, 1, -1, -1, 2]


def test_scale_match_hand_case():
    # ratio doubles over the clip; the depth source says 3 m at frame 0, flickers ×1.1 at frame 1
    lr = np.log(np.array([[1.0], [1.5], [2.0]]))
    tracks = np.zeros((3, 1, 2))
    vis = np.ones((3, 1), bool)
    maps = np.stack([np.full((4, 4), 3.0), np.full((4, 4), 4.5 * 1.1), np.full((4, 4), 6.0)])
    depth, own = scale_match(lr, tracks, vis, DepthMaps.per_frame(maps))
    # scale = median(3, 4.95, 6) / median(1, 1.5, 2) = 4.95 / 1.5 = 3.3
    np.testing.assert_allclose(depth[:, 0], [3.3, 4.95, 6.6])
    assert own.all()


def test_scale_match_per_run_and_occluded_frames():
    lr = np.zeros((5, 1))
    vis = np.array([[1, 1, 0, 1, 1]], bool).T
    maps = np.stack([np.full((3, 3), v) for v in (2.0, 2.0, 9.0, 4.0, 4.0)])
    depth, _ = scale_match(lr, np.ones((5, 1, 2)), vis, DepthMaps.per_frame(maps))
    np.testing.assert_allclose(depth[:, 0], [2.0, 2.0, 2.0, 4.0, 4.0])  # occluded frame keeps the previous run


def test_scale_match_first_frame_source_and_fallback():
    lr = np.log(np.array([[1.0, 1.0], [1.2, 1.0]]))
    vis = np.array([[True, False], [True, True]])
    depth, own = scale_match(lr, np.ones((2, 2, 2)), vis, DepthMaps.first_frame(np.full((3, 3), 2.0)))
    np.testing.assert_allclose(depth[:, 0], [2.0, 2.4])
    assert own.tolist() == [True, False]  # track 1 is not visible at frame 0: median scale of the others
    np.testing.assert_allclose(depth[:, 1], [2.0, 2.0])


def test_flickering_depth_is_seeded_and_flickers():
    truth = DepthMaps.per_frame(np.full((4, 32, 32), 2.0, np.float32))
    src = FlickeringDepth(truth, seed=3)
    xy = np.array([[5.0, 5.0], [20.0, 20.0]])
    a = np.stack([src.sample(f, xy) for f in range(4)])
    np.testing.assert_array_equal(a, np.stack([FlickeringDepth(truth, seed=3).sample(f, xy) for f in range(4)]))
    assert np.std(np.log(a[:, 0])) > 0.005 and np.all(np.abs(np.log(a / 2.0)) < 0.4)


def test_handcrafted_density_ratio_exact_for_fronto_parallel_zoom():
    # a planar grid receding from 2 m to 2.5 m: image spacing shrinks by 0.8, so density rises by 1/0.64
    g = np.stack(np.meshgrid(np.arange(-5, 6), np.arange(-5, 6)), -1).reshape(-1, 2) * 10.0
    scale = 2.0 / np.linspace(2.0, 2.5, 8)
    tracks = 100.0 + g[None] * scale[:, None, None]
    lr = handcrafted_window(tracks, np.ones((8, len(g)), bool))
    np.testing.assert_allclose(lr[:, 60], np.log(np.linspace(2.0, 2.5, 8) / 2.0), atol=0.03)


def test_gaussian_smoothing_and_per_frame_depth():
    d = np.array([[1.0], [3.0], [1.0], [3.0], [1.0]])
    s = gaussian_smooth_depth(d, 1.0, 3)
    assert s.std() < 0.3 * d.std()
    vis = np.array([[True], [False], [True], [True], [True]])
    maps = DepthMaps.per_frame(np.stack([np.full((2, 2), v) for v in (1.0, 9.0, 2.0, 3.0, 4.0)]))
    np.testing.assert_allclose(per_frame_depth(np.zeros((5, 1, 2)), vis, maps)[:, 0], [1, 1, 2, 3, 4])


def test_support_from_tracks_uses_the_visible_tracks_or_interpolates_a_grid():
    rng = np.random.default_rng(0)
    p0 = rng.uniform(0, 100, (50, 2))
    shift = np.arange(12)[:, None, None] * np.array([1.5, -0.5])
    tracks = p0[None] + shift
    visible = np.ones((12, 50), bool)
    visible[4:, :10] = False  # 40 visible at the second window's start
    sup, vis = support_from_tracks(tracks, visible, np.array([0, 4]), 8, 4, (100, 100))
    assert sup.shape == (2, 8, 40, 2)  # one count for both windows: the fewer visible
    np.testing.assert_array_equal(sup[1], tracks[4:12, 10:])  # the real tracks, not an interpolation
    assert vis[1].all() and not vis[0, 4:].all()
    # too few visible tracks: a 4 × 4 grid moved like its neighbours
    sup, vis = support_from_tracks(tracks[:, 10:22], visible[:, 10:22], np.array([0]), 8, 4, (100, 100))
    assert sup.shape == (1, 8, 16, 2)
    np.testing.assert_allclose(sup[0] - sup[0, :1], np.broadcast_to(shift[:8], (8, 16, 2)), atol=1e-9)


def test_bad_tracks_are_rejected_clearly():
    ok = np.zeros((8, 2, 2))
    vis = np.ones((8, 2), bool)
    with pytest.raises(InputError, match="NaN"):
        check_tracks(np.where(np.arange(2)[None, :, None] == 1, np.nan, ok), vis, 8)
    with pytest.raises(InputError, match="invisible"):
        check_tracks(ok, np.zeros_like(vis), 8)
    with pytest.raises(InputError, match="fewer than one Seurat window"):
        check_tracks(ok[:5], vis[:5], 8)


def test_depth_source_files_and_size_mismatch(tmp_path):
    np.savez(tmp_path / "d.npz", depth=np.full((3, 20, 30), 2.0, np.float32))
    src = load_depth_source(tmp_path / "d.npz", (20, 30))
    assert src.frames().tolist() == [0, 1, 2]
    with pytest.raises(InputError, match="30x20 but the tracks are for 40x20"):
        load_depth_source(tmp_path / "d.npz", (20, 40))
    np.save(tmp_path / "one.npy", np.full((20, 30), 2.0))
    assert load_depth_source(tmp_path / "one.npy").frames().tolist() == [0]
    with pytest.raises(InputError, match="not found"):
        load_depth_source(tmp_path / "missing.npz")


def test_support_from_video_retracks_the_grid(small_video):
    from motiondepth.seurat.windows import support_from_video

    frames = small_video.frames
    sup, vis = support_from_video(frames, np.array([0]), len(frames), 4)
    assert sup.shape == (1, len(frames), 16, 2) and vis.shape == (1, len(frames), 16)
    # hand shake moves the image by a few pixels at most
    assert np.abs(sup[0] - sup[0, :1])[vis[0]].max() < 15
