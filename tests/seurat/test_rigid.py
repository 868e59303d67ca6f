"""Rigid-geometry depth ratios (motiondepth.seurat.rigid)."""

import numpy as np
import pytest

from motiondepth.errors import InputError
from motiondepth.geometry.camera import Intrinsics
from motiondepth.seurat.rigid import (
    fit_inverse_depth,
    rigid_log_ratios,
    rigid_motion,
    rigid_window_log_ratios,
    window_priors,
)

K = np.array([200.0, 200.0, 128.0, 96.0])
INTR = Intrinsics(*K)
SIZE = (192, 256)


def _rotation(axis_angle):
    import cv2

    return cv2.Rodrigues(np.asarray(axis_angle, np.float64))[0]


def _scene(rng, n, frames=12):
    """Static points seen by a camera dollying forward and sideways while turning (exact projections)."""
    depth = rng.uniform(1.0, 6.0, n)
    xy = np.stack([rng.uniform(10, 246, n), rng.uniform(10, 182, n)], -1)
    world = np.stack([(xy[:, 0] - K[2]) / K[0], (xy[:, 1] - K[3]) / K[1], np.ones(n)], -1) * depth[:, None]
    rot = [_rotation([0.002 * f, -0.004 * f, 0.001 * f]) for f in range(frames)]
    tr = [np.array([0.03, -0.01, -0.05]) * f for f in range(frames)]  # camera moves forward: depth shrinks
    cam = np.stack([world @ r.T + t for r, t in zip(rot, tr, strict=True)])  # (T, N, 3) camera coordinates
    px = np.stack([K[0] * cam[..., 0] / cam[..., 2] + K[2], K[1] * cam[..., 1] / cam[..., 2] + K[3]], -1)
    return px, cam[..., 2]


def test_rigid_ratios_are_exact_on_a_static_scene():
    rng = np.random.default_rng(0)
    px, z = _scene(rng, 300)
    vis = np.ones(z.shape, bool)
    support_px, support_vis = px[:, :200], vis[:, :200]
    queries, qz = px[:, 200:], z[:, 200:]
    motion = rigid_motion(support_px[:8], support_vis[:8], INTR)
    assert motion.residual_px < 1e-2
    lr = rigid_log_ratios(queries, vis[:, 200:], INTR, 8, 4,
                          support=(np.stack([support_px[s : s + 8] for s in (0, 4)]),
                                   np.stack([support_vis[s : s + 8] for s in (0, 4)])))  # fmt: skip
    truth = np.log(qz / qz[:1])
    assert np.abs(truth).max() > 0.3  # the depth really changes
    np.testing.assert_allclose(lr, truth, atol=2e-3)


def test_a_query_seen_late_and_a_moving_point():
    rng = np.random.default_rng(1)
    px, z = _scene(rng, 160, frames=8)
    vis = np.ones(z.shape, bool)
    motion = rigid_motion(px[:, :150], vis[:, :150], INTR)
    q, qv = px[:, 150:].copy(), vis[:, 150:].copy()
    qv[:3, 0] = False  # first seen at frame 3: its ratio w.r.t. frame 0 still comes out
    q[:, 1] += np.arange(8)[:, None] * np.array([3.0, -2.0])  # moves on its own: large residual
    _, rms, lr = fit_inverse_depth(q, qv, motion.rotation, motion.translation, INTR)
    truth = np.log(z[:, 150:] / z[:1, 150:])
    assert abs(lr[-1, 0] - truth[-1, 0]) < 2e-3
    assert rms[1] > 1.0 and np.all(rms[[0, *range(2, 10)]] < 0.05)
    np.testing.assert_allclose(lr[:, 2:], truth[:, 2:], atol=2e-3)


def test_rigid_window_ratios_without_support_and_bad_intrinsics():
    rng = np.random.default_rng(2)
    px, z = _scene(rng, 120)
    vis = np.ones(z.shape, bool)
    wl, rms, starts, motions = rigid_window_log_ratios(px, vis, K, 8, 4)  # the queries support themselves
    assert wl.shape == (2, 8, 120) and list(starts) == [0, 4] and len(motions) == 2
    assert np.median(rms) < 0.05
    np.testing.assert_allclose(wl[1], np.log(z[4:12] / z[4:5]), atol=3e-3)
    with pytest.raises(InputError, match="intrinsics"):
        rigid_log_ratios(px, vis, [0.0, 200.0, 128.0, 96.0])
    with pytest.raises(InputError, match="fewer than one Seurat window"):
        rigid_log_ratios(px[:5], vis[:5], K)


def test_geometry_prior_of_a_window_and_the_predictor_that_starts_from_it():
    from dataclasses import replace

    from motiondepth.models.seurat import Seurat, config_from_preset
    from motiondepth.seurat.inference import SeuratPredictor
    from motiondepth.seurat.rigid import geometry_prior

    rng = np.random.default_rng(2)
    px, z = _scene(rng, 190, frames=12)
    vis = np.ones(z.shape, bool)
    q, qv = px[:, 150:].copy(), vis[:, 150:].copy()
    q[:, 0] += np.arange(12)[:, None] * np.array([3.0, -2.0])  # moves on its own
    prior = geometry_prior(px[:8, :150], vis[:8, :150], q[:8], qv[:8], INTR)
    np.testing.assert_allclose(prior.support_log_ratio, np.log(z[:8, :150] / z[:1, :150]), atol=2e-3)
    np.testing.assert_allclose(prior.query_log_ratio[:, 1:], np.log(z[:8, 151:] / z[:1, 151:]), atol=2e-3)
    assert prior.window_residual < 1e-2 and prior.query_residual[0] > 1.0 and prior.query_residual[1:].max() < 0.05
    # a geometry-prior model with untrained (zero) heads returns exactly the rigid ratios of every window
    model = Seurat(replace(config_from_preset("small"), grid=12, geometry_prior=True))
    pred = SeuratPredictor(model)
    support = (np.stack([px[s : s + 8, :144] for s in (0, 4)]), np.stack([vis[s : s + 8, :144] for s in (0, 4)]))
    with pytest.raises(InputError, match="intrinsics"):
        pred.window_log_ratios(q, qv, SIZE, support=support)
    wl, starts = pred.window_log_ratios(q, qv, SIZE, support=support, intrinsics=INTR)
    rigid, *_ = rigid_window_log_ratios(q, qv, INTR, 8, 4, support=support)
    np.testing.assert_allclose(wl, np.clip(rigid, -2, 2), atol=1e-5)
    # priors solved once (as `eval seurat` does for its rigid row) are taken instead of solved again
    priors = window_priors(q, qv, INTR, starts, 8, support)
    np.testing.assert_array_equal(pred.window_log_ratios(q, qv, SIZE, support=support, priors=priors)[0], wl)
    with pytest.raises(InputError, match="1 window priors for 2 windows"):
        pred.window_log_ratios(q, qv, SIZE, support=support, priors=priors[:1])


def test_the_predictor_moves_every_input_to_its_device():
    """On the meta device the model runs only if every input was moved there (a CPU tensor fails with a
    device error); the run then stops where the result is copied back out, which meta cannot do."""
    from dataclasses import replace

    from motiondepth.models.seurat import Seurat, config_from_preset
    from motiondepth.seurat.inference import SeuratPredictor

    rng = np.random.default_rng(2)
    px, _ = _scene(rng, 190, frames=12)
    vis = np.ones(px.shape[:2], bool)
    support = (np.stack([px[s : s + 8, :144] for s in (0, 4)]), np.stack([vis[s : s + 8, :144] for s in (0, 4)]))
    model = Seurat(replace(config_from_preset("small"), grid=12, geometry_prior=True))
    pred = SeuratPredictor(model, device="meta")
    assert next(pred.model.parameters()).device.type == "meta"
    with pytest.raises(NotImplementedError, match="meta"):
        pred.window_log_ratios(px[:, 150:], vis[:, 150:], SIZE, support=support, intrinsics=INTR)


def test_the_windows_in_batches_give_what_one_batch_gives():
    from motiondepth.seurat.inference import SeuratPredictor

    rng = np.random.default_rng(3)
    one = SeuratPredictor.from_pretrained("seurat-small")
    frames = 3 * one.cfg.window  # several windows
    px, z = _scene(rng, 190, frames=frames)
    vis = np.ones(z.shape, bool)
    wl, starts = one.window_log_ratios(px, vis, SIZE, intrinsics=INTR)
    few = SeuratPredictor.from_pretrained("seurat-small", window_batch=2, progress=True)
    assert len(starts) > 2
    np.testing.assert_allclose(few.window_log_ratios(px, vis, SIZE, intrinsics=INTR)[0], wl, atol=1e-5)
