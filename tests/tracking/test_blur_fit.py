"""Blind exposure kernels: the rotation inside each exposure fitted to the blur (video alone)."""

from __future__ import annotations

import numpy as np
import pytest

from motiondepth.simulate import camera_preset
from motiondepth.simulate.scene import simulate_scene
from motiondepth.simulate.simulator import groundtruth_tracks
from motiondepth.tracking import KLTTracker, grid_queries, query_grid
from motiondepth.tracking.blur_fit import (
    BlurFitConfig,
    exposure_problem,
    fit_blur_trace,
    trace_from_frames,
    track_with_blur_fit,
)
from motiondepth.tracking.crossblur import first_solve


@pytest.fixture(scope="module")
def tele():
    """A 10-frame 256 × 256 telephoto clip (blur streaks of ~10–30 px), its KLT tracks and blur fit."""
    cam = camera_preset("telephoto", width=256, height=256, num_frames=10)
    video = simulate_scene(cam, scene_seed=2, shake_seed=2)
    g = query_grid(6, (256, 256), video.intrinsics)
    klt = KLTTracker().track(video.frames, grid_queries(g))
    depth = float(np.median(video.depth))
    tracks, fit = track_with_blur_fit(
        video.frames, grid_queries(g), video.timestamps, video.intrinsics, cam.exposure_s, cam.readout_s,
        cam.pivot_m, depth, init=klt, progress=False,
    )  # fmt: skip
    return {"cam": cam, "video": video, "gt": groundtruth_tracks(video, g), "klt": klt, "tracks": tracks, "fit": fit}


def _median_error(tr, gt):
    return float(np.median(np.linalg.norm(tr.tracks - gt.tracks, axis=-1)[1:][tr.visible[1:]]))


def _intra_frame(dense: np.ndarray) -> np.ndarray:
    return dense - dense.mean(axis=1, keepdims=True)


def test_trace_from_frames_keeps_every_frame_mean():
    rng = np.random.default_rng(0)
    angles = rng.normal(0, 1e-3, (12, 3))
    tr = trace_from_frames(angles, 0.062, 1e-4)
    t = np.arange(12)[:, None] * 0.062 + (np.arange(400) + 0.5) / 400 * 0.062
    np.testing.assert_allclose(tr(t).mean(axis=1), angles, atol=2e-3 * np.abs(angles).max())


@pytest.mark.slow
def test_the_blur_fit_recovers_the_motion_inside_each_exposure(tele):
    cam, video, fit = tele["cam"], tele["video"], tele["fit"]
    assert fit.loss_end < 0.2 * fit.loss_start
    starts = video.timestamps - video.timestamps[0]
    gt = _intra_frame(video.dense[15])
    fitted = _intra_frame(fit.dense(15))
    first_row = first_solve(tele["klt"], video.intrinsics, cam.pivot_m, float(np.median(video.depth))).angles
    interp = trace_from_frames(first_row, cam.interval_s, 1e-3, cam.frame_span_s)
    interpolated = _intra_frame(interp(starts[:, None] + (np.arange(15) + 0.5) / 15 * cam.frame_span_s))
    # per-frame RMS error of the intra-frame shape; median over frames, as an end frame, constrained
    # from one side only, can come out time reversed (a kernel does not know its path's direction)
    e_fit = np.median(np.sqrt(np.mean((fitted - gt) ** 2, axis=(1, 2))))
    e_interp = np.median(np.sqrt(np.mean((interpolated - gt) ** 2, axis=(1, 2))))
    assert e_fit < 0.5 * e_interp, (e_fit, e_interp)
    # the frame means are the rotation solve's
    np.testing.assert_allclose(fit.dense(64).mean(axis=1), first_row, atol=2e-6)


def test_blur_fit_kernels_remove_most_of_the_klt_blur_bias(tele):
    e_klt, e_fit = _median_error(tele["klt"], tele["gt"]), _median_error(tele["tracks"], tele["gt"])
    assert e_fit < 0.15 and e_fit < 0.3 * e_klt, (e_fit, e_klt)
    assert tele["tracks"].visible.mean() > 0.85
    assert tele["tracks"].meta["blur_fit"]["loss_end"] == pytest.approx(tele["fit"].loss_end)


def test_blur_fit_input_errors(tele):
    cam, video = tele["cam"], tele["video"]
    q = grid_queries(query_grid(2, (256, 256), video.intrinsics))
    with pytest.raises(ValueError, match="longer than the frame interval"):
        track_with_blur_fit(video.frames, q, video.timestamps, video.intrinsics, 0.5)
    assert exposure_problem(0.060, 0.0625) is None and exposure_problem(0.065, 0.0625) is None  # 5 % tolerance
    assert "positive" in exposure_problem(0.0, 0.0625)
    with pytest.raises(ValueError, match="frame times"):
        track_with_blur_fit(video.frames, q, video.timestamps[:-1], video.intrinsics, cam.exposure_s)
    with pytest.raises(ValueError, match="matching angles"):
        fit_blur_trace(video.frames, tele["klt"], np.zeros((3, 3)), cam, video.intrinsics, video.timestamps)
    with pytest.raises(ValueError, match="invalid blur-fit settings"):
        BlurFitConfig(knot_dt_s=0.0)


def test_the_fit_keeps_every_tensor_on_its_device(tele):
    """GPU readiness without a GPU: on the meta device the first loss evaluates only if every tensor was
    made there (a CPU one fails with a device error); it then stops where the loss is read out."""
    cam, video = tele["cam"], tele["video"]
    angles = first_solve(tele["klt"], video.intrinsics, cam.pivot_m, float(np.median(video.depth))).angles
    starts = video.timestamps - video.timestamps[0]
    with pytest.raises(RuntimeError, match=r"item\(\) cannot be called on meta tensors"):
        fit_blur_trace(video.frames, tele["klt"], np.nan_to_num(angles), cam, video.intrinsics, starts,
                       progress=False, device="meta")  # fmt: skip
