"""The small-motion bundle adjustment on synthetic clips with known rotation, translation, depth and readout."""

from __future__ import annotations

import numpy as np
import pytest

from motiondepth.geometry.camera import Intrinsics
from motiondepth.geometry.rotations import euler_to_matrix
from motiondepth.trajectory.small_motion import SmallMotionConfig, choose_motion_model, solve_small_motion
from motiondepth.types import Tracks

ARCMIN = 180 / np.pi * 60
INTR = Intrinsics(520.0, 520.0, 319.5, 239.5)
H, W = 480, 640


def _motion(t_len: int, translate: bool, pivot_m: float = 0.0):
    t = np.arange(t_len) / 30
    ang = np.stack([0.01 * np.sin(8 * t), 0.02 * np.sin(6 * t + 1), 0.015 * np.sin(4 * t + 2)], 1)
    ang -= ang[0]
    if translate:
        cen = np.stack([0.05 * np.sin(3 * t), 0.03 * np.sin(5 * t + 1), 0.04 * np.sin(2.5 * t)], 1)
        cen -= cen[0]
    else:
        p = np.array([0.0, 0.0, -pivot_m])
        cen = p - euler_to_matrix(ang) @ p
    return ang, cen


def _clip(rng, t_len=15, n=300, translate=True, pivot_m=0.0, readout_fraction=0.0, noise_px=0.2):
    """Tracks of random points seen by a rolling-shutter camera moving along ``_motion``."""
    ang, cen = _motion(t_len, translate, pivot_m)
    uv0 = np.stack([rng.uniform(20, W - 20, n), rng.uniform(20, H - 20, n)], 1)
    z = rng.uniform(0.8, 3.0, n)
    xyz = np.stack([(uv0[:, 0] - INTR.cx) / INTR.fx * z, (uv0[:, 1] - INTR.cy) / INTR.fy * z, z], 1)

    def pose(time):  # linear between frames, as a continuous path
        k = np.clip(np.floor(time).astype(int), 0, t_len - 2)
        a = time - k
        return ang[k] + a[:, None] * (ang[k + 1] - ang[k]), cen[k] + a[:, None] * (cen[k + 1] - cen[k])

    tracks = np.zeros((t_len, n, 2))
    for k in range(t_len):
        row = np.full(n, 0.5 * (H - 1))
        for _ in range(4):  # the row a point is seen at decides when it is read
            a, c = pose(k + readout_fraction * (row - 0.5 * (H - 1)) / H)
            d = np.einsum("nji,nj->ni", euler_to_matrix(a), xyz - c)
            uv = np.stack([INTR.fx * d[:, 0] / d[:, 2] + INTR.cx, INTR.fy * d[:, 1] / d[:, 2] + INTR.cy], 1)
            row = uv[:, 1]
        tracks[k] = uv
    # the frame-0 observations define the rays (noise on the others)
    tracks[1:] += rng.normal(0, noise_px, tracks[1:].shape)
    q = np.concatenate([np.zeros((n, 1)), tracks[0]], 1)
    tr = Tracks(tracks.astype(np.float32), np.ones((t_len, n), bool), q.astype(np.float32), (H, W))
    # the true frame-0 depth of each track (the ray through its frame-0 pixel, at its row's time)
    a0, c0 = pose(readout_fraction * (tracks[0, :, 1] - 0.5 * (H - 1)) / H)
    depth0 = np.einsum("nji,nj->ni", euler_to_matrix(a0), xyz - c0)[:, 2]
    return tr, ang, cen, depth0


def test_six_dof_motion_is_recovered(rng):
    tr, ang, cen, z = _clip(rng)
    prior = z * np.exp(rng.normal(0, 0.2, len(z)))  # an unbiased but noisy prior sets the scale
    sol = solve_small_motion(tr, INTR, prior, "6dof", config=SmallMotionConfig(readout_sigma=0))
    rms = np.sqrt(np.mean(ang[1:] ** 2))
    assert np.sqrt(np.mean((sol.angles - ang) ** 2)) < 0.02 * rms
    assert np.sqrt(np.mean((sol.centres - cen) ** 2)) < 0.05 * np.sqrt(np.mean(cen[1:] ** 2))
    assert np.median(np.abs(sol.depth - z) / z) < 0.05  # the parallax corrects the noisy prior
    assert np.nanmedian(sol.residual_px[1:]) < 0.5
    traj = sol.trajectory(np.arange(15) / 30)
    assert traj.method == "small-motion-6dof" and traj.centres.shape == (15, 3)


def test_pivot_only_models_cannot_explain_translation_and_auto_says_so(rng):
    tr, _, _, z = _clip(rng)
    sol, why = choose_motion_model(tr, INTR, z, readout_fraction=0.0, config=SmallMotionConfig(readout_sigma=0))
    assert why["chosen"] == sol.model == "6dof"
    assert why["criterion"]["6dof"] < why["criterion"]["pivot"] < why["criterion"]["rotation"]
    assert why["residual_px"]["rotation"] > 10 * why["residual_px"]["6dof"]


def test_auto_keeps_the_pivot_model_on_a_pivot_clip(rng):
    """The papers' regime: rotation about a pivot 0.2 m behind the camera. The free model gains nothing the
    penalty does not outweigh, and the pivot fit is as accurate as the truth allows."""
    tr, ang, _, z = _clip(rng, translate=False, pivot_m=0.2)
    sol, why = choose_motion_model(tr, INTR, z, pivot_m=0.2, config=SmallMotionConfig(readout_sigma=0))
    assert why["chosen"] in ("pivot", "rotation")
    assert np.sqrt(np.mean((sol.angles - ang) ** 2)) < 0.02 * np.sqrt(np.mean(ang[1:] ** 2))


def test_rolling_shutter_readout_is_fitted(rng):
    tr, ang, _, z = _clip(rng, readout_fraction=0.7)
    held = solve_small_motion(tr, INTR, z, "6dof", readout_fraction=0.0, config=SmallMotionConfig(readout_sigma=0))
    fitted = solve_small_motion(tr, INTR, z, "6dof", readout_fraction=0.5, config=SmallMotionConfig())
    assert abs(fitted.meta["readout_fraction"] - 0.7) < 0.1
    err = lambda s: np.sqrt(np.mean((s.angles - ang) ** 2))
    assert fitted.cost < 0.7 * held.cost  # a global-shutter model cannot explain the rows' timing
    assert err(fitted) < 0.03 * np.sqrt(np.mean(ang[1:] ** 2))


def test_tracks_that_start_late_take_part(rng):
    tr, ang, _, z = _clip(rng, n=400)
    vis = tr.visible.copy()
    vis[:6, 200:] = False  # half the points appear only from frame 6 on (re-seeded tracks)
    late = Tracks(tr.tracks, vis, tr.queries, tr.image_size)
    prior = np.where(np.arange(400) < 200, z, np.nan)
    sol = solve_small_motion(late, INTR, prior, "6dof", config=SmallMotionConfig(readout_sigma=0))
    assert sol.used.all()
    assert np.sqrt(np.mean((sol.angles - ang) ** 2)) < 0.03 * np.sqrt(np.mean(ang[1:] ** 2))


def test_frames_without_enough_points_are_unsolved_and_bad_arguments_fail(rng):
    tr, _, _, z = _clip(rng, n=100)
    vis = tr.visible.copy()
    vis[7] = False
    vis[7, :3] = True
    sol = solve_small_motion(Tracks(tr.tracks, vis, tr.queries, tr.image_size), INTR, z, "rotation")
    assert np.isnan(sol.angles[7]).all() and np.isfinite(sol.angles[6]).all()
    with pytest.raises(ValueError, match="prior depth"):
        solve_small_motion(tr, INTR, np.full(100, np.nan), "6dof")
    with pytest.raises(ValueError, match="unknown motion model"):
        solve_small_motion(tr, INTR, z, "spline")


def test_more_tracks_are_triangulated_with_the_motion_held_fixed(rng):
    """triangulate_tracks: depths of tracks the solve never saw, from its motion; and track_fit's loss prefers
    the true motion to a wrong one on them."""
    from motiondepth.trajectory.small_motion import track_fit, triangulate_tracks

    tr, _, _, z = _clip(np.random.default_rng(7), n=400)
    fit, held = slice(0, 200), slice(200, 400)

    def part(s):
        return Tracks(tr.tracks[:, s], tr.visible[:, s], tr.queries[s], tr.image_size)

    prior = z * np.exp(rng.normal(0, 0.2, len(z)))
    sol = solve_small_motion(part(fit), INTR, prior[fit], "6dof", config=SmallMotionConfig(readout_sigma=0))
    depth, sigma, resid = triangulate_tracks(sol, part(held), INTR, prior[held])
    assert np.median(np.abs(depth - z[held]) / z[held]) < 0.05  # the noisy prior was 20 % off
    assert np.all(sigma > 0) and np.nanmedian(resid) < 0.5
    rotation = solve_small_motion(part(fit), INTR, prior[fit], "rotation", config=SmallMotionConfig(readout_sigma=0))
    right = track_fit(sol, part(held), INTR, prior[held])
    wrong = track_fit(rotation, part(held), INTR, prior[held])
    assert right.observations == 14 * 200 and right.loss < 0.2 * wrong.loss


def test_the_fit_stops_once_no_angle_moves(rng):
    """The angle stop ends the fit earlier and leaves the rotation where the full fit puts it (to 0.01′ a step)."""
    tr, ang, _, depth0 = _clip(rng)
    prior = depth0 * np.exp(rng.normal(0, 0.1, len(depth0)))
    full = solve_small_motion(tr, INTR, prior, "6dof", config=SmallMotionConfig(angle_tolerance_rad=0.0))
    stop = solve_small_motion(tr, INTR, prior, "6dof", config=SmallMotionConfig(angle_tolerance_rad=1e-4))
    assert stop.iterations < full.iterations
    assert np.abs(stop.angles - full.angles).max() * ARCMIN < 0.5
    assert np.abs(full.angles - ang).max() * ARCMIN < 2.0


def test_the_essential_start_recovers_a_large_sweep_and_scales_it_by_the_depth_prior():
    """A sideways sweep of tens of centimetres (what the bundle adjustment cannot reach from rest, TUM 180–209):
    the five-point start gives the rotation to well under a degree (5–30′ per frame, RANSAC on 0.2 px noise) and
    the centres at the prior's scale, and the bundle adjustment from it ends where the one from rest does here."""
    from motiondepth.trajectory.small_motion import essential_start

    tr, ang, cen, depth0 = _sweep(np.random.default_rng(4))
    start = essential_start(tr, INTR, depth0)
    assert start is not None
    moved = np.linalg.norm(cen, axis=1) > 0.05
    err = np.abs(start.angles[moved] - ang[moved]).max() * ARCMIN
    assert err < 45.0, err
    rel = np.linalg.norm(start.centres[moved] - cen[moved], axis=1) / np.linalg.norm(cen[moved], axis=1)
    assert np.median(rel) < 0.1, rel
    cfg = SmallMotionConfig(readout_sigma=0.0)
    fits = [solve_small_motion(tr, INTR, depth0, "6dof", 0.2, 0.0, cfg, init) for init in (None, start)]
    assert all(np.abs(f.angles - ang).max() * ARCMIN < 1.0 for f in fits)
    assert fits[1].cost <= 1.001 * fits[0].cost
    # too little motion to tell: no start
    small, *_ = _clip(np.random.default_rng(5), t_len=8, translate=False)
    assert essential_start(small, INTR, np.full(small.num_points, 2.0)) is None


def _sweep(rng, t_len=12, n=300):
    """Tracks of a camera sliding 30 cm sideways while turning 4° (global shutter, 0.2 px noise)."""
    s = np.linspace(0, 1, t_len)
    ang = np.stack([0.01 * s, 0.02 * s, -0.07 * s], 1)
    cen = np.stack([0.30 * s, 0.03 * s, 0.08 * s], 1)
    uv0 = np.stack([rng.uniform(20, W - 20, n), rng.uniform(20, H - 20, n)], 1)
    z = rng.uniform(1.5, 4.0, n)
    xyz = np.stack([(uv0[:, 0] - INTR.cx) / INTR.fx * z, (uv0[:, 1] - INTR.cy) / INTR.fy * z, z], 1)
    d = np.einsum("tji,tnj->tni", euler_to_matrix(ang), xyz[None] - cen[:, None])
    uv = np.stack([INTR.fx * d[..., 0] / d[..., 2] + INTR.cx, INTR.fy * d[..., 1] / d[..., 2] + INTR.cy], -1)
    uv[1:] += rng.normal(0, 0.2, uv[1:].shape)
    q = np.concatenate([np.zeros((n, 1)), uv[0]], 1)
    tr = Tracks(uv.astype(np.float32), np.ones((t_len, n), bool), q.astype(np.float32), (H, W))
    return tr, ang, cen, z


def test_the_6dof_fit_keeps_the_cheapest_of_its_starts_and_records_each():
    """fit_6dof runs from the rotation fit and from rest (and the essential matrices when both are far from
    fitting) and keeps the lowest final cost; on a clean sweep both starts end at the truth."""
    from motiondepth.trajectory.small_motion import fit_6dof

    tr, ang, _, depth0 = _sweep(np.random.default_rng(4))
    cfg = SmallMotionConfig(readout_sigma=0.0)
    best, starts = fit_6dof(tr, INTR, depth0, 0.2, 0.0, cfg)
    assert set(starts) >= {"rotation fit", "rest"} and best.model == "6dof"
    assert best.cost == pytest.approx(min(starts.values()), abs=0.1)
    assert np.abs(best.angles - ang).max() * ARCMIN < 1.0
    # a clip longer than rest_start_max_frames starts from the rotation fit alone (docs/small-motion.md, Long clips)
    short_cfg = SmallMotionConfig(readout_sigma=0.0, rest_start_max_frames=tr.num_frames - 1)
    long_best, long_starts = fit_6dof(tr, INTR, depth0, 0.2, 0.0, short_cfg)
    assert "rest" not in long_starts and long_starts["rotation fit"] == pytest.approx(starts["rotation fit"], rel=1e-9)
    assert np.abs(long_best.angles - ang).max() * ARCMIN < 1.0


def _reference_normal(prob, cur, q, full, eta, rf, inv_var, smooth, rf_sigma, rf_prior):
    """The normal equations the plain way: the (2M, P) pose Jacobian (six interpolation frames per row, frame 0
    held, the readout fraction last) multiplied out by scipy."""
    import scipy.sparse as sp

    m, t_len = len(prob.n), len(full)
    n_p = q * (t_len - 1)
    ws = np.sqrt(cur.w)
    pj = cur.js
    slots = np.concatenate([pj.kw[:, None, :, None] * pj.jk[:, :, None, :],
                            pj.fw[:, None, :, None] * pj.jf[:, :, None, :]], 2) * ws[:, None, None, None]  # fmt: skip
    frames = np.concatenate([prob.kf, prob.ff], 1)
    rows = np.broadcast_to(np.arange(2 * m).reshape(m, 2)[:, :, None, None], slots.shape)
    cols = np.broadcast_to(((frames - 1) * q)[:, None, :, None] + np.arange(q), slots.shape)
    keep = np.broadcast_to((frames > 0)[:, None, :, None], slots.shape)
    jp = sp.csr_matrix((slots[keep], (rows[keep], cols[keep])), shape=(2 * m, n_p + 1))
    jp = sp.hstack([jp[:, :n_p], sp.csr_matrix((cur.jr * ws[:, None]).reshape(-1, 1))]).tocsr()
    je = sp.csr_matrix(((cur.je * ws[:, None]).ravel(), (np.arange(2 * m), np.repeat(prob.n, 2))),
                       shape=(2 * m, len(eta)))  # fmt: skip
    r = (cur.res * ws[:, None]).ravel()
    h_pp = (jp.T @ jp).toarray()
    h_pp[:n_p, :n_p] += (smooth.T @ smooth).toarray()
    h_pp[-1, -1] += rf_sigma**-2
    g_p = jp.T @ r
    g_p[:n_p] += smooth.T @ (smooth @ full[1:].ravel())
    g_p[-1] += (rf - rf_prior) / rf_sigma**2
    h_pe = (jp.T @ je).toarray()
    h_ee = np.asarray(je.multiply(je).sum(0)).ravel() + inv_var
    g_e = je.T @ r + (eta - prob.eta_prior) * inv_var
    return h_pp, g_p, h_pe, h_ee, g_e


def _linearised(rng, t_len, n=120, span=None):
    """A 6-DoF problem linearised away from its solution (tracks of ``span`` frames at most, re-seeded)."""
    import motiondepth.trajectory.small_motion as sm

    tr, ang, cen, z = _clip(rng, t_len=t_len, n=n, readout_fraction=0.6)
    vis = tr.visible.copy()
    if span is not None:  # each track seen for `span` frames from a random start
        start = rng.integers(0, t_len - span + 1, n)
        start[: n // 4] = 0
        frames = np.arange(t_len)[:, None]
        vis = (frames >= start) & (frames < start + span)
    tr = Tracks(tr.tracks, vis, tr.queries, tr.image_size)
    prior = np.where(vis[0], z, np.nan)
    cfg = SmallMotionConfig(readout_sigma=0.3)
    prob, _ = sm._build(tr, INTR, prior, cfg)
    full = np.concatenate([ang, cen], 1) * 0.8
    full[0] = 0.0
    eta = prob.eta_prior + rng.normal(0, 0.1, len(prob.eta_prior))
    rf = 0.5
    res, js, je, jr, _ = sm._residuals_and_jacobian(prob, full, eta, rf, "6dof", 0.2, INTR)
    w = sm._huber_weights(np.linalg.norm(res, axis=1), 1.0)
    cur = sm._Evaluation(0.0, 0.0, res, js, je, jr, w)
    smooth = (sm.sp.diags(np.full(6 * (t_len - 2), 3.0)) @ sm._second_difference(t_len, 6)).tocsr()
    inv_var = 1.0 / prob.eta_sigma**2
    return sm, prob, cur, full, eta, rf, inv_var, smooth


def test_the_block_summed_normal_equations_are_the_jacobians_products(rng):
    sm, prob, cur, full, eta, rf, inv_var, smooth = _linearised(rng, 9)
    neq = sm._normal_equations(prob, cur, 6, full, eta, rf, inv_var, smooth, (0.4, 0.3), sm._Groups.of(prob))
    h_pp, g_p, h_pe, h_ee, g_e = _reference_normal(prob, cur, 6, full, eta, rf, inv_var, smooth, 0.3, 0.4)
    assert neq.band is None
    for got, want in ((neq.h_pp, h_pp), (neq.g_p, g_p), (neq.h_pe, h_pe), (neq.h_ee, h_ee), (neq.g_e, g_e)):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9 * np.abs(want).max())
    np.testing.assert_allclose(neq.coupled, (h_pe / h_ee) @ h_pe.T, rtol=1e-9, atol=1e-9 * np.abs(h_pp).max())


def test_a_long_clip_of_short_tracks_is_solved_banded_with_the_dense_step(rng, monkeypatch):
    sm, prob, cur, full, eta, rf, inv_var, smooth = _linearised(rng, 40, n=400, span=6)
    groups = sm._Groups.of(prob)
    monkeypatch.setattr(sm, "BANDED_MIN_FRAMES", 10)
    banded = sm._normal_equations(prob, cur, 6, full, eta, rf, inv_var, smooth, (0.4, 0.3), groups)
    monkeypatch.setattr(sm, "BANDED_MIN_FRAMES", 10_000)
    dense = sm._normal_equations(prob, cur, 6, full, eta, rf, inv_var, smooth, (0.4, 0.3), groups)
    assert banded.band is not None and banded.band < 0.3 * 6 * 39 and dense.band is None
    for lam in (1e-3, 1.0):
        (dp_b, de_b), (dp_d, de_d) = sm._damped_step(banded, lam), sm._damped_step(dense, lam)
        np.testing.assert_allclose(dp_b, dp_d, rtol=1e-7, atol=1e-10 * np.abs(dp_d).max())
        np.testing.assert_allclose(de_b, de_d, rtol=1e-7, atol=1e-10 * np.abs(de_d).max())


def test_long_tracks_are_cut_into_pieces_that_share_a_frame():
    from motiondepth.trajectory.small_motion import split_long_tracks

    t_len = 25
    vis = np.zeros((t_len, 3), bool)
    vis[:, 0] = True  # the whole clip: 25 frames → pieces 0–9, 9–18, 18–24
    vis[3:8, 1] = True  # short: one piece
    vis[5:15, 2] = True  # exactly 10 frames: one piece
    xy = np.random.default_rng(0).uniform(0, 100, (t_len, 3, 2)).astype(np.float32)
    q = np.c_[vis.argmax(0), xy[vis.argmax(0), np.arange(3)]].astype(np.float32)
    pieces, prior, origin = split_long_tracks(Tracks(xy, vis, q, (H, W)), np.array([2.0, 3.0, np.nan]), 10)
    np.testing.assert_array_equal(origin, [0, 0, 0, 1, 2])
    np.testing.assert_array_equal(pieces.queries[:, 0], [0, 9, 18, 3, 5])
    assert [np.flatnonzero(pieces.visible[:, i]).max() for i in range(3)] == [9, 18, 24]
    np.testing.assert_array_equal(pieces.tracks[9, 1], xy[9, 0])  # the shared frame is the next piece's reference
    assert prior[0] == 2.0 and np.isnan(prior[1:3]).all() and prior[3] == 3.0
    assert pieces.visible.sum() == vis.sum() + 2  # every observation kept; the two shared frames counted twice
    pieces, _, origin = split_long_tracks(Tracks(xy, vis, q, (H, W)), np.ones(3), 10, overlap=3)
    np.testing.assert_array_equal(pieces.queries[origin == 0, 0], [0, 7, 14, 21])  # 0–9, 7–16, 14–23, 21–24
    assert pieces.visible[:, origin == 0].sum() == 25 + 3 * 3


def test_a_clip_whose_tracks_are_cut_still_recovers_its_motion(rng):
    tr, ang, _, z = _clip(rng, t_len=30, n=300)
    cfg = SmallMotionConfig(readout_sigma=0, max_track_frames=10, split_above_frames=0)
    sol = solve_small_motion(tr, INTR, z, "6dof", config=cfg)
    assert sol.meta["track_pieces"] == 4 * 300 and sol.depth.shape == (300,) and sol.used.all()
    rms = np.sqrt(np.mean(ang[1:] ** 2))
    assert np.sqrt(np.mean((sol.angles - ang) ** 2)) < 0.03 * rms
    assert np.median(np.abs(sol.depth - z) / z) < 0.05


@pytest.mark.parametrize("model", ["6dof", "pivot", "rotation"])
@pytest.mark.parametrize("readout_sigma", [0.0, 0.3])
def test_the_banded_solve_finds_what_the_dense_one_finds(rng, monkeypatch, model, readout_sigma):
    import motiondepth.trajectory.small_motion as sm

    tr, _, _, z = _clip(rng, t_len=40, n=500, readout_fraction=0.5)
    start = rng.integers(0, 33, 500)
    start[:100] = 0
    frames = np.arange(40)[:, None]
    vis = (frames >= start) & (frames < start + 8)  # every track seen for 8 frames: the system is banded
    short = Tracks(tr.tracks, vis, tr.queries, tr.image_size)
    prior = np.where(vis[0], z, np.nan)
    cfg = SmallMotionConfig(readout_sigma=readout_sigma)
    calls, real = [], sm._banded_solve
    monkeypatch.setattr(sm, "_banded_solve", lambda *a: calls.append(1) or real(*a))
    monkeypatch.setattr(sm, "BANDED_MIN_FRAMES", 10)
    banded = solve_small_motion(short, INTR, prior, model, readout_fraction=0.5, config=cfg)
    assert calls  # the banded path was taken
    monkeypatch.setattr(sm, "BANDED_MIN_FRAMES", 10_000)
    dense = solve_small_motion(short, INTR, prior, model, readout_fraction=0.5, config=cfg)
    np.testing.assert_allclose(banded.angles, dense.angles, atol=1e-9)
    np.testing.assert_allclose(banded.centres, dense.centres, atol=1e-9)
    assert banded.iterations == dense.iterations and np.isclose(banded.cost, dense.cost, rtol=1e-9)
