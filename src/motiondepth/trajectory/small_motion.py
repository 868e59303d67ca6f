"""Small-motion bundle adjustment: per-frame rotation *and* translation with rolling shutter (beyond the papers).

Both papers model a handheld camera as rotating about a fixed pivot a few centimetres behind it,
so the camera centre moves only the millimetres the pivot implies. Real hands translate by
centimetres per second, and the pivot solvers then read that translation as rotation. This module
follows the small-motion structure-from-motion literature (Yu & Gallup, CVPR 2014; Im et al.,
ICCV 2015 for the rolling shutter) and solves, over the whole clip at once:

- per frame ``k``: the rotation ``R_k`` (``[roll, pitch, yaw]``, camera-to-reference, docs/design.md §2)
  and the camera centre ``C_k`` (metres, reference camera axes); frame 0 is the reference;
- per track ``n``: the log inverse depth ``η_n`` of its point along its ray ``r_n`` in the frame
  ``f_n`` where it was first seen (tracks may start late: re-seeded tracks cover the image).

A track's pixel in frame ``k`` is the projection of
``d = R_kᵀ (R_f r_n + ρ_n (C_f − C_k))`` with ``ρ_n = exp η_n``: written with the inverse depth so
far points (``ρ → 0``) stay well posed. **Rolling shutter**: a row ``y`` is read at
``s = readout_fraction · (y − (H − 1)/2) / H`` frame intervals from the frame's middle row, and the pose
there is the frame's pose plus ``s`` times its central-difference velocity, a continuous path
through the frames at no extra parameters.

**Scale.** Translation and inverse depth enter only as their product, so the scale comes from a
prior: the first-frame depth (network, ``--depth`` or ``--scene-distance``) at the tracks that start
in frame 0, a log-normal prior of width ``depth_prior_sigma``. It sets the overall scale; the
parallax sets the shape. Later tracks get a wide prior about the prior's median.

**Smoothness.** A hand's path is smooth at frame rate: an acceleration prior on the per-frame
angles and centres, expressed in pixels (a second difference of ``smooth_px`` pixels at the prior's
median depth is one standard deviation). It also holds frames with few tracks.

**Models** (``model``): ``6dof`` (free rotation and translation), ``pivot`` (the papers' model: the
centre follows the rotation, ``C = P − R P`` with ``P = (0, 0, −pivot_m)``), ``rotation`` (``C = 0``).
:func:`choose_motion_model` fits the three and picks by a penalised criterion (BIC on the robust
residuals).

**Solver.** Levenberg–Marquardt with an exact Jacobian, Huber weights (iteratively reweighted) and
the Schur complement on the inverse depths (each touches only its own rows), so a 30-frame clip
with a thousand tracks solves in well under a second per iteration on a laptop.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

from motiondepth.errors import InputError
from motiondepth.geometry.camera import Intrinsics
from motiondepth.geometry.pivot import DEFAULT_PIVOT_M
from motiondepth.geometry.rotations import euler_derivatives, euler_to_matrix
from motiondepth.types import Tracks, Trajectory

MODELS = ("6dof", "pivot", "rotation")


@dataclass
class SmallMotionConfig:
    """Settings of :func:`solve_small_motion`."""

    huber_px: float = 1.0  # Huber threshold of the robust loss, pixels
    depth_prior_sigma: float = 0.7  # log-depth std of the frame-0 depth prior (0.7: a factor of 2)
    free_depth_sigma: float = 2.0  # log-depth std about the prior's median, for tracks that start later
    smooth_px: float = 2.0  # acceleration prior: one std of a second difference, pixels (0: none)
    readout_sigma: float = 0.3  # rolling shutter: the readout fraction is fitted with a prior of this std about
    # the given value (0: held at the given value)
    iterations: int = 60  # Levenberg–Marquardt iterations (at most)
    tolerance: float = 1e-5  # stop when the cost falls by less than this fraction
    angle_tolerance_rad: float = 3e-6  # … or when no frame's angles moved more than this (0.01′) in the last step
    # (0: off); past that point the fit creeps along a flat valley of camera centres (docs/small-motion.md)
    min_track_frames: int = 3  # a track must be seen in this many frames to take part
    min_points: int = 8  # a frame with fewer observations than this is unsolved (NaN)


@dataclass
class SmallMotion:
    """What :func:`solve_small_motion` recovered."""

    angles: np.ndarray  # (T, 3) [roll, pitch, yaw] rad, camera-to-reference; NaN rows: unsolved
    centres: np.ndarray  # (T, 3) metres, each camera centre in the reference camera's axes
    depth: np.ndarray  # (N,) metres, each track's depth in its first frame (NaN: not solved)
    depth_sigma: np.ndarray  # (N,) one-sigma depth uncertainty from the fit's information, metres
    residual_px: np.ndarray  # (T,) per frame, RMS of its 80 % smallest reprojection residuals, pixels
    model: str  # 6dof | pivot | rotation
    cost: float  # final robust cost (sum of Huber losses, pixels²) of the reprojection terms
    observations: int  # number of 2D observations (each gives two residuals)
    parameters: int  # number of free motion parameters
    iterations: int
    used: np.ndarray  # (N,) bool: tracks that took part
    meta: dict = field(default_factory=dict)

    def trajectory(self, times: np.ndarray) -> Trajectory:
        return Trajectory(self.angles, times, self.residual_px, method=f"small-motion-{self.model}",
                          centres=self.centres)  # fmt: skip


class _Evaluation(NamedTuple):
    """The bundle adjustment's cost and linearisation at one point (``js``/``je``/``jr``: Jacobians of the
    residuals by pose, inverse depth and readout fraction; ``w``: the robust weights)."""

    cost: float  # the full cost: reprojection, depth priors, smoothness, readout prior
    cost_reproj: float  # the reprojection terms alone
    res: np.ndarray
    js: np.ndarray
    je: np.ndarray
    jr: np.ndarray
    w: np.ndarray


def _huber_weights(e: np.ndarray, delta: float) -> np.ndarray:
    """Iteratively reweighted least-squares weights of the Huber loss at residual norms ``e``."""
    return np.where(e <= delta, 1.0, delta / np.maximum(e, 1e-12))


def _huber_loss(e: np.ndarray, delta: float) -> np.ndarray:
    """The Huber loss of residual norms ``e`` (quadratic within ``delta``, linear beyond), pixels²."""
    return np.where(e <= delta, 0.5 * e**2, delta * (e - 0.5 * delta))


def _row_offset(y: np.ndarray, height: int) -> np.ndarray:
    """When row ``y`` is read, in readout times from the middle row (times the readout fraction: frames)."""
    return (y - 0.5 * (height - 1)) / height


def _interp_weights(k: np.ndarray, t_len: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Frames (M, 3), base weights (M, 3) and velocity weights (M, 3) of the pose at ``k + s``.

    The pose at ``k + s`` is ``Σ (base + s · velocity) · pose[frames]``: the frame's pose plus ``s`` times
    its central-difference velocity (one-sided at the ends).
    """
    frames = np.clip(np.stack([k - 1, k, k + 1], 1), 0, t_len - 1)
    base = np.zeros((len(k), 3))
    base[:, 1] = 1.0
    vel = np.tile([-0.5, 0.0, 0.5], (len(k), 1))
    vel[k == 0] = [0.0, -1.0, 1.0]
    vel[k == t_len - 1] = [-1.0, 1.0, 0.0]
    if t_len == 1:
        vel[:] = 0.0
    return frames, base, vel


@dataclass
class _Problem:
    """Observations in flat arrays, fixed for one solve."""

    k: np.ndarray  # (M,) frame of each observation
    n: np.ndarray  # (M,) track
    uv: np.ndarray  # (M, 2) observed pixel
    kf: np.ndarray  # (M, 3) frames of the observation's pose interpolation
    kb: np.ndarray  # (M, 3) … base weights
    kv: np.ndarray  # (M, 3) … velocity weights, times the row offset (readout fraction 1)
    ff: np.ndarray  # (M, 3) frames of the track's first-frame pose interpolation
    fb: np.ndarray  # (M, 3)
    fv: np.ndarray  # (M, 3)
    rays: np.ndarray  # (N, 3) track rays in their first frame
    eta_prior: np.ndarray  # (N,) log inverse depth prior
    eta_sigma: np.ndarray  # (N,)
    t_len: int


def _build(
    tracks: Tracks, intr: Intrinsics, prior_depth: np.ndarray, cfg: SmallMotionConfig
) -> tuple[_Problem, np.ndarray]:
    vis = tracks.visible
    t_len = vis.shape[0]
    first = np.argmax(vis, axis=0)
    used = vis.any(0) & (vis.sum(0) >= cfg.min_track_frames)
    idx = np.flatnonzero(used)
    p0 = tracks.tracks[first[idx], idx].astype(np.float64)  # (N', 2)
    rays = np.stack([(p0[:, 0] - intr.cx) / intr.fx, (p0[:, 1] - intr.cy) / intr.fy, np.ones(len(idx))], 1)
    kk, nn = np.nonzero(vis[:, idx])
    keep = kk != first[idx][nn]
    kk, nn = kk[keep], nn[keep]
    uv = tracks.tracks[kk, idx[nn]].astype(np.float64)
    h = tracks.image_size[0]
    kf, kb, kv = _interp_weights(kk, t_len)
    f = first[idx][nn]
    ff, fb, fv = _interp_weights(f, t_len)
    kv *= _row_offset(uv[:, 1], h)[:, None]
    fv *= _row_offset(p0[nn, 1], h)[:, None]
    pd = np.asarray(prior_depth, np.float64)[idx]
    known = np.isfinite(pd) & (pd > 0) & (first[idx] == 0)
    if not known.any():
        raise ValueError("small-motion solver: no track in frame 0 has a prior depth (the scale is unknown)")
    eta_prior = np.full(len(idx), -np.log(np.median(pd[known])))
    eta_prior[known] = -np.log(pd[known])
    eta_sigma = np.where(known, cfg.depth_prior_sigma, cfg.free_depth_sigma)
    return _Problem(kk, nn, uv, kf, kb, kv, ff, fb, fv, rays, eta_prior, eta_sigma, t_len), used


def _residuals_and_jacobian(prob: _Problem, full: np.ndarray, eta: np.ndarray, rf: float, model: str,
                            pivot_m: float, intr: Intrinsics, want_jac: bool = True):  # fmt: skip
    """Pixel residuals (M, 2); Jacobians w.r.t. the frame parameters (M, 2, 6 slots, q), η (M, 2) and the
    readout fraction (M, 2); the camera-frame points (M, 3)."""
    kw, fw = prob.kb + rf * prob.kv, prob.fb + rf * prob.fv
    # interpolated parameters at the observation row and at the reference row
    pk = np.einsum("mj,mjq->mq", kw, full[prob.kf])
    pf = np.einsum("mj,mjq->mq", fw, full[prob.ff])
    piv = np.array([0.0, 0.0, -pivot_m])

    def pose(p):
        a = p[:, :3]
        r = euler_to_matrix(a)
        dr = euler_derivatives(a) if want_jac else None  # (M, 3, 3, 3)
        if model == "6dof":
            c, dc = p[:, 3:], None
        elif model == "pivot":
            c = piv - r @ piv
            dc = None if dr is None else -(dr @ piv)  # (M, 3 angles, 3)
        else:
            c, dc = np.zeros_like(a), None
        return r, dr, c, dc

    rk, drk, ck, dck = pose(pk)
    rf, drf, cf, dcf = pose(pf)
    rho = np.exp(eta)[prob.n]
    ray = prob.rays[prob.n]
    wpt = (rf @ ray[:, :, None])[..., 0] + rho[:, None] * (cf - ck)  # R_f r + ρ (C_f − C_k)
    rkt = np.transpose(rk, (0, 2, 1))
    d = (rkt @ wpt[:, :, None])[..., 0]  # R_kᵀ (…)
    iz = 1.0 / d[:, 2]
    pred = np.stack([intr.fx * d[:, 0] * iz + intr.cx, intr.fy * d[:, 1] * iz + intr.cy], 1)
    res = pred - prob.uv
    if not want_jac:
        return res, None, None, None, d
    m = len(d)
    dproj = np.zeros((m, 2, 3))
    dproj[:, 0, 0] = intr.fx * iz
    dproj[:, 0, 2] = -intr.fx * d[:, 0] * iz**2
    dproj[:, 1, 1] = intr.fy * iz
    dproj[:, 1, 2] = -intr.fy * d[:, 1] * iz**2
    # d(d)/d(angles of k): dR_kᵀ wpt ; d/d(C_k) = −ρ R_kᵀ ; d/d(angles of f): R_kᵀ dR_f r ; d/d(C_f) = ρ R_kᵀ
    dd_ak = np.swapaxes((np.swapaxes(drk, -1, -2) @ wpt[:, None, :, None])[..., 0], 1, 2)  # (M, 3 out, 3 angles)
    dd_ck = -rho[:, None, None] * rkt
    dd_af = rkt @ np.swapaxes((drf @ ray[:, None, :, None])[..., 0], 1, 2)
    dd_cf = rho[:, None, None] * rkt
    if model == "pivot":  # C follows the angles
        dd_ak = dd_ak + np.einsum("mbc,mjc->mbj", dd_ck, dck)
        dd_af = dd_af + np.einsum("mbc,mjc->mbj", dd_cf, dcf)
    if model == "6dof":
        dd_k, dd_f = np.concatenate([dd_ak, dd_ck], 2), np.concatenate([dd_af, dd_cf], 2)
    else:
        dd_k, dd_f = dd_ak, dd_af
    jk = dproj @ dd_k  # (M, 2, q)
    jf = dproj @ dd_f
    j_eta = (dproj @ (rkt @ (cf - ck)[:, :, None]))[..., 0] * rho[:, None]
    # spread over the 3 interpolation frames of each: (M, 2, 6 slots, q)
    j_slots = np.concatenate([kw[:, None, :, None] * jk[:, :, None, :],
                              fw[:, None, :, None] * jf[:, :, None, :]], 2)  # fmt: skip
    dpk = np.einsum("mj,mjq->mq", prob.kv, full[prob.kf])  # d(interpolated parameters)/d(readout fraction)
    dpf = np.einsum("mj,mjq->mq", prob.fv, full[prob.ff])
    j_rf = np.einsum("maq,mq->ma", jk, dpk) + np.einsum("maq,mq->ma", jf, dpf)
    return res, j_slots, j_eta, j_rf, d


def _sparse_pose_jacobian(prob: _Problem, j_slots: np.ndarray, q: int, w_sqrt: np.ndarray,
                          j_rf: np.ndarray | None = None) -> sp.csr_matrix:  # fmt: skip
    """Weighted Jacobian (2M, q·(T−1)) of the residuals w.r.t. the free frame parameters, and with ``j_rf`` (M, 2)
    one more column, the readout fraction's. Built in CSR form directly: the values come row by row (observation,
    then coordinate), so no sorting is needed (scipy's COO conversion took a tenth of a 240-frame solve)."""
    m = len(prob.k)
    frames = np.concatenate([prob.kf, prob.ff], 1)  # (M, 6)
    cols = (frames[:, None, :, None] - 1) * q + np.arange(q)[None, None, None, :]
    cols = np.broadcast_to(cols, (m, 2, 6, q)).reshape(2 * m, 6 * q)
    vals = (j_slots * w_sqrt[:, None, None, None]).reshape(2 * m, 6 * q)
    keep = np.broadcast_to(frames[:, None, :, None] > 0, (m, 2, 6, q)).reshape(2 * m, 6 * q)  # frame 0 is fixed
    n_p = q * (prob.t_len - 1)
    if j_rf is not None:
        cols = np.concatenate([cols, np.full((2 * m, 1), n_p)], 1)
        vals = np.concatenate([vals, (j_rf * w_sqrt[:, None]).reshape(2 * m, 1)], 1)
        keep = np.concatenate([keep, np.ones((2 * m, 1), bool)], 1)
    indptr = np.r_[0, np.cumsum(keep.sum(1))]
    shape = (2 * m, n_p + (j_rf is not None))
    return sp.csr_matrix((vals[keep], cols[keep], indptr), shape=shape)


def _second_difference(t_len: int, q: int) -> sp.csr_matrix:
    """(q(T−2), q(T−1)) second differences of the frame parameters, frame 0 fixed at zero."""
    if t_len < 3:
        return sp.csr_matrix((0, q * (t_len - 1)))
    d = sp.diags([1.0, -2.0, 1.0], [0, 1, 2], shape=(t_len - 2, t_len)).tocsc()[:, 1:]
    return sp.kron(d, sp.eye(q)).tocsr()


def _solution(prob: _Problem, cur: _Evaluation, full: np.ndarray, eta: np.ndarray, rf: float, used: np.ndarray,
              inv_var: np.ndarray, model: str, pivot_m: float, readout_fraction: float, it: int,
              cfg: SmallMotionConfig) -> SmallMotion:  # fmt: skip
    """The fit's end point as a :class:`SmallMotion`: each frame's angles and camera centre (the model's), its
    robust residual, frames with too few observations unsolved (NaN), and each track's depth with its one-sigma
    uncertainty from the fit's information (pose held fixed)."""
    cost_reproj, res, je, w = cur.cost_reproj, cur.res, cur.je, cur.w
    t_len, n_all, q = full.shape[0], len(used), full.shape[1]
    angles = full[:, :3].copy()
    if model == "6dof":
        centres = full[:, 3:].copy()
    elif model == "pivot":
        piv = np.array([0.0, 0.0, -pivot_m])
        centres = piv - euler_to_matrix(angles) @ piv
    else:
        centres = np.zeros((t_len, 3))
    # per frame: the RMS of its 80 % smallest residuals (the robust loss lets the rest be outliers)
    e = np.linalg.norm(res, axis=1)
    counts = np.bincount(prob.k, minlength=t_len)
    resid = np.zeros(t_len)
    for k in range(1, t_len):
        ek = np.sort(e[prob.k == k])[: max(1, int(np.ceil(0.8 * counts[k])))]
        resid[k] = np.sqrt(np.mean(ek**2)) if counts[k] else np.nan
    unsolved = counts < cfg.min_points
    unsolved[0] = False
    angles[unsolved] = np.nan
    centres[unsolved] = np.nan
    resid[unsolved] = np.nan
    # depth and its sigma (from the η information, pose held fixed)
    depth = np.full(n_all, np.nan)
    sigma = np.full(n_all, np.nan)
    info = np.bincount(prob.n, weights=(w[:, None] * je**2).sum(1), minlength=len(eta)) + inv_var
    depth[used] = np.exp(-eta)
    sigma[used] = np.exp(-eta) / np.sqrt(info)  # d(depth) = depth · dη
    return SmallMotion(
        angles=angles,
        centres=centres,
        depth=depth,
        depth_sigma=sigma,
        residual_px=resid,
        model=model,
        cost=cost_reproj,
        observations=len(prob.n),
        parameters=q * (t_len - 1),
        iterations=it,
        used=used,
        meta={"readout_fraction": rf, "readout_fraction_prior": readout_fraction, "pivot_m": pivot_m, **asdict(cfg)},
    )


def solve_small_motion(
    tracks: Tracks,
    intr: Intrinsics,
    prior_depth: np.ndarray,
    model: str = "6dof",
    pivot_m: float = DEFAULT_PIVOT_M,
    readout_fraction: float = 0.0,
    config: SmallMotionConfig | None = None,
    init: SmallMotion | None = None,
) -> SmallMotion:
    """Bundle-adjust the clip's camera motion and the tracks' depths (module docstring).

    Args:
        tracks: (T, N) tracks in undistorted pixels; a track's reference is its first visible frame.
        intr: pinhole intrinsics.
        prior_depth: (N,) metres, prior depth of each track in frame 0 (NaN where unknown); it fixes
            the scale, so at least some tracks that start in frame 0 need one.
        model: ``6dof``, ``pivot`` or ``rotation``.
        pivot_m: pivot distance of the ``pivot`` model.
        readout_fraction: rolling-shutter readout time over the frame interval (0: global shutter).
        init: a previous solution to start from (its angles, and centres when the model has them).
    """
    if model not in MODELS:
        raise ValueError(f"unknown motion model {model!r}; choose from {', '.join(MODELS)}")
    cfg = config or SmallMotionConfig()
    t_len = tracks.visible.shape[0]
    if t_len < 2:
        raise InputError("tracks", "the small-motion solver needs at least 2 frames")
    prob, used = _build(tracks, intr, prior_depth, cfg)
    q = 6 if model == "6dof" else 3
    full = np.zeros((t_len, q))
    if init is not None:
        full[:, :3] = np.nan_to_num(init.angles)
        if q == 6:
            full[:, 3:] = np.nan_to_num(init.centres)
    eta = prob.eta_prior.copy()
    rho_med = float(np.exp(np.median(prob.eta_prior)))
    # smoothness: second differences in pixels (per radian: fx; per metre: fx at the median depth)
    dsec = _second_difference(t_len, q)
    scale = np.array([intr.fx] * 3 + [intr.fx * rho_med] * 3)[:q]
    smooth = None
    if cfg.smooth_px > 0 and dsec.shape[0]:
        smooth = (sp.diags(np.tile(scale, t_len - 2) / cfg.smooth_px) @ dsec).tocsr()
    inv_var = 1.0 / prob.eta_sigma**2
    free_rf = cfg.readout_sigma > 0
    rf_prior = float(readout_fraction)

    def evaluate(full, eta, rf, want_jac=True):
        res, js, je, jr, d = _residuals_and_jacobian(prob, full, eta, rf, model, pivot_m, intr, want_jac)
        e = np.linalg.norm(res, axis=1)
        behind = d[:, 2] <= 1e-6
        w = _huber_weights(e, cfg.huber_px)
        w[behind] = 0.0
        cost_reproj = float(_huber_loss(e, cfg.huber_px)[~behind].sum())
        cost = cost_reproj + 0.5 * float(((eta - prob.eta_prior) ** 2 * inv_var).sum())
        if smooth is not None:
            cost += 0.5 * float(np.sum((smooth @ full[1:].ravel()) ** 2))
        if free_rf:
            cost += 0.5 * ((rf - rf_prior) / cfg.readout_sigma) ** 2
        return _Evaluation(cost, cost_reproj, res, js, je, jr, w)

    rf = rf_prior
    lam = 1e-3
    cur = evaluate(full, eta, rf)
    n_p = q * (t_len - 1)
    it = 0
    for it in range(1, cfg.iterations + 1):  # noqa: B007 (the count is reported)
        cost = cur.cost
        neq = _normal_equations(prob, cur, q, full, eta, rf, inv_var, smooth, (rf_prior, cfg.readout_sigma))
        improved, rel = False, 0.0
        for _ in range(10):
            step = _damped_step(neq, lam)
            if step is None:  # singular at this damping
                lam *= 10
                continue
            dp, de = step
            new_full = full.copy()
            new_full[1:] += dp[:n_p].reshape(t_len - 1, q)
            new_rf = float(np.clip(rf + dp[n_p], 0.0, 1.5)) if free_rf else rf
            new_eta = eta + np.clip(de, -2.0, 2.0)
            trial = evaluate(new_full, new_eta, new_rf)  # with its Jacobian: most trials are taken
            if trial.cost < cost:
                rel = (cost - trial.cost) / max(cost, 1e-12)
                full, eta, rf = new_full, new_eta, new_rf
                cur = trial
                lam = max(lam / 3, 1e-9)
                improved = True
                break
            lam *= 10
        if not improved or rel < cfg.tolerance:
            break
        moved = np.abs(dp[:n_p].reshape(t_len - 1, q)[:, :3]).max()  # the largest angle step of any frame
        if cfg.angle_tolerance_rad > 0 and moved < cfg.angle_tolerance_rad:
            break
    return _solution(prob, cur, full, eta, rf, used, inv_var, model, pivot_m, readout_fraction, it, cfg)


class _Normal(NamedTuple):
    """The Gauss–Newton normal equations at one point, the depths kept apart for their Schur complement: the pose
    block ``h_pp`` (P, P) and gradient ``g_p`` (P,) (the readout fraction last, when fitted), the depths' diagonal
    ``h_ee`` (N,) and gradient ``g_e``, and their coupling ``h_pe`` (P, N)."""

    h_pp: np.ndarray
    g_p: np.ndarray
    h_pe: np.ndarray
    h_ee: np.ndarray
    g_e: np.ndarray
    coupled: np.ndarray  # (P, P) h_pe h_ee⁻¹ h_peᵀ, the depths' share of the Schur complement at no damping


def _normal_equations(prob: _Problem, cur: _Evaluation, q: int, full: np.ndarray, eta: np.ndarray, rf: float,
                      inv_var: np.ndarray, smooth, readout_prior: tuple[float, float]) -> _Normal:  # fmt: skip
    """:class:`_Normal` of the robustly weighted residuals of ``cur``, with the depth priors (``inv_var``), the
    smoothness prior (``smooth``, sparse, or None) and the readout fraction's prior ``(value, sigma)`` (sigma 0:
    the readout fraction is held)."""
    rf_prior, rf_sigma = readout_prior
    n_p = q * (len(full) - 1)
    ws = np.sqrt(cur.w)
    jp = _sparse_pose_jacobian(prob, cur.js, q, ws, cur.jr if rf_sigma > 0 else None)  # (2M, P)
    r = (cur.res * ws[:, None]).ravel()
    rows = np.arange(2 * len(prob.n))
    je_mat = sp.csr_matrix(((cur.je * ws[:, None]).ravel(), (rows, np.repeat(prob.n, 2))),
                           shape=(2 * len(prob.n), len(eta)))  # fmt: skip
    h_pp = (jp.T @ jp).toarray()
    g_p = jp.T @ r
    h_pe = (jp.T @ je_mat).toarray()  # (P, N)
    h_ee = np.asarray(je_mat.multiply(je_mat).sum(0)).ravel() + inv_var
    g_e = je_mat.T @ r + (eta - prob.eta_prior) * inv_var
    if smooth is not None:
        h_pp[:n_p, :n_p] += (smooth.T @ smooth).toarray()
        g_p[:n_p] += smooth.T @ (smooth @ full[1:].ravel())
    if rf_sigma > 0:
        h_pp[-1, -1] += rf_sigma**-2
        g_p[-1] += (rf - rf_prior) / rf_sigma**2
    return _Normal(h_pp, g_p, h_pe, h_ee, g_e, (h_pe / h_ee) @ h_pe.T)


def _damped_step(neq: _Normal, lam: float) -> tuple[np.ndarray, np.ndarray] | None:
    """The Levenberg–Marquardt step at damping ``lam``: (pose step (P,), depth step (N,)), the depths eliminated by
    their Schur complement; None where the damped system is singular."""
    h_ee_d = neq.h_ee * (1 + lam)
    schur = neq.h_pp + lam * np.diag(np.diag(neq.h_pp) + 1e-12) - neq.coupled / (1 + lam)  # (damping scales h_ee)
    try:
        dp = np.linalg.solve(schur, -(neq.g_p - neq.h_pe @ (neq.g_e / h_ee_d)))
    except np.linalg.LinAlgError:
        return None
    return dp, -(neq.g_e + neq.h_pe.T @ dp) / h_ee_d


def _fit_depths(sol: SmallMotion, tracks: Tracks, intr: Intrinsics, prior_depth: np.ndarray, cfg: SmallMotionConfig,
                iterations: int):  # fmt: skip
    """Each track's log inverse depth with ``sol``'s motion held fixed (robust Gauss–Newton, the depth prior as in
    the solve). Returns the problem, the tracks that took part, their η, and at the fitted η the residual norms
    (M,), the information per track (N,) and which observations lie in front of the camera (M,); None when no
    track took part."""
    prob, used = _build(tracks, intr, prior_depth, cfg)
    if len(prob.n) == 0:
        return None
    q = 6 if sol.model == "6dof" else 3
    full = np.nan_to_num(sol.angles if q == 3 else np.concatenate([sol.angles, sol.centres], 1))
    rf, pivot = float(sol.meta.get("readout_fraction", 0.0)), float(sol.meta.get("pivot_m", DEFAULT_PIVOT_M))
    eta, inv_var, n = prob.eta_prior.copy(), 1.0 / prob.eta_sigma**2, len(prob.eta_prior)

    def normal_equations(eta):
        res, _, je, _, d = _residuals_and_jacobian(prob, full, eta, rf, sol.model, pivot, intr)
        e = np.linalg.norm(res, axis=1)
        front = d[:, 2] > 1e-6
        w = _huber_weights(e, cfg.huber_px) * front
        h = np.bincount(prob.n, weights=w * (je**2).sum(1), minlength=n) + inv_var
        g = np.bincount(prob.n, weights=w * (je * res).sum(1), minlength=n) + (eta - prob.eta_prior) * inv_var
        return e, h, g, front

    for _ in range(iterations):
        _, h, g, _ = normal_equations(eta)
        eta = eta - np.clip(g / h, -1.0, 1.0)
    e, h, _, front = normal_equations(eta)
    return prob, used, eta, e, h, front


def triangulate_tracks(sol: SmallMotion, tracks: Tracks, intr: Intrinsics, prior_depth: np.ndarray,
                       config: SmallMotionConfig | None = None, iterations: int = 6
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """Depths of more tracks with a solved motion held fixed: each track's log inverse depth by robust
    Gauss–Newton (the depth prior as in the solve; every track is independent, so this is cheap for
    thousands). Returns per track (N,): depth in its first frame (metres), its one-σ uncertainty, and the
    median reprojection residual (pixels); NaN for tracks seen in too few frames."""
    n_all = tracks.num_points
    depth, sigma, resid = np.full(n_all, np.nan), np.full(n_all, np.nan), np.full(n_all, np.nan)
    fit = _fit_depths(sol, tracks, intr, prior_depth, config or SmallMotionConfig(), iterations)
    if fit is None:
        return depth, sigma, resid
    prob, used, eta, e, h, _ = fit
    order = np.argsort(prob.n, kind="stable")
    starts = np.searchsorted(prob.n[order], np.arange(len(eta)))
    med = np.array([np.median(c) if len(c) else np.nan for c in np.split(e[order], starts[1:])])
    depth[used], sigma[used], resid[used] = np.exp(-eta), np.exp(-eta) / np.sqrt(h), med
    return depth, sigma, resid


def track_fit_cost(sol: SmallMotion, tracks: Tracks, intr: Intrinsics, prior_depth: np.ndarray,
                   config: SmallMotionConfig | None = None, iterations: int = 6) -> tuple[float, int]:  # fmt: skip
    """How well a motion explains ``tracks``: each track's depth fitted with the motion held fixed (as
    :func:`triangulate_tracks`), then the mean Huber loss per observation (pixels²), and the count."""
    cfg = config or SmallMotionConfig()
    fit = _fit_depths(sol, tracks, intr, prior_depth, cfg, iterations)
    if fit is None:
        return float("nan"), 0
    *_, e, _, front = fit
    huber = np.where(front, _huber_loss(e, cfg.huber_px), 10.0 * cfg.huber_px)  # a point pushed behind the camera
    return float(huber.mean()), len(e)


def model_criterion(sol: SmallMotion, huber_px: float) -> float:
    """BIC-style criterion of a fit: ``2 · cost / σ² + k · ln(2M)``, σ the Huber threshold (lower is better).

    It counts every observation as an independent sample, so it needs tracks whose errors do not carry over
    from frame to frame: :func:`~motiondepth.tracking.chain.track_chained` anchors each step to the track's
    first frame for that reason: without the anchor, one blurred frame's shift carries through the rest of a
    chained track, and a 6-DoF fit absorbs it into spurious translation and wins (measured in
    docs/small-motion.md).
    """
    return 2.0 * sol.cost / huber_px**2 + sol.parameters * np.log(2 * max(sol.observations, 1))


def _median_or_none(x: np.ndarray) -> float | None:
    x = x[np.isfinite(x)]
    return round(float(np.median(x)), 3) if len(x) else None


def fit_6dof(
    tracks: Tracks, intr: Intrinsics, prior_depth: np.ndarray, pivot_m: float, readout_fraction: float,
    cfg: SmallMotionConfig, rotation: SmallMotion | None = None,
) -> tuple[SmallMotion, dict[str, float]]:  # fmt: skip
    """The 6-DoF fit from several starts, the lowest final cost kept: from the rotation-only fit ``rotation``
    (fitted here when None) and from rest; when the better of the two is far from fitting (median residual over
    :data:`FAR_FROM_FITTING_PX`) also from the essential matrices (:func:`essential_start`: motion too large to
    start from rest). Returns the fit and each start's final cost.

    A sideways slide and a turn move the image alike over a second, and a fit can settle where the wrong one
    explains it. From which start depends on the clip: on TUM fr1_xyz the rotation fit's start lost on 180–209
    (cost 18 388 against 7 235 from rest, rotation 1.71 against 0.10 × the true RMS) and rest's on 45–74 and
    60–89; the lower cost had the better rotation on every clip where the two differed (docs/small-motion.md)."""
    if rotation is None:
        rotation = solve_small_motion(tracks, intr, prior_depth, "rotation", pivot_m, readout_fraction, cfg)

    def fit(init):
        return solve_small_motion(tracks, intr, prior_depth, "6dof", pivot_m, readout_fraction, cfg, init)

    fits = {"rotation fit": fit(rotation), "rest": fit(None)}
    best = min(fits.values(), key=lambda f: f.cost)
    if (_median_or_none(best.residual_px[1:]) or 0.0) > FAR_FROM_FITTING_PX:
        start = essential_start(tracks, intr, prior_depth)
        if start is not None:
            fits["essential matrix"] = fit(start)
    best = min(fits.values(), key=lambda f: f.cost)
    return best, {k: round(float(f.cost), 1) for k, f in fits.items()}


def choose_motion_model(
    tracks: Tracks, intr: Intrinsics, prior_depth: np.ndarray, pivot_m: float = DEFAULT_PIVOT_M,
    readout_fraction: float = 0.0, config: SmallMotionConfig | None = None, models: tuple[str, ...] = MODELS,
    progress: bool = False,
) -> tuple[SmallMotion, dict]:  # fmt: skip
    """Fit each model and keep the one with the lowest :func:`model_criterion`; also return why. ``progress``: a
    bar over the fits (each takes seconds to a minute on long clips)."""
    from tqdm.auto import tqdm

    cfg = config or SmallMotionConfig()
    fits: dict[str, SmallMotion] = {}
    bar = tqdm(total=len(models), desc="motion models", disable=not progress, leave=False)
    # the rotation-only fit starts the pivot fit and one of the 6-DoF fit's starts
    rotation = solve_small_motion(tracks, intr, prior_depth, "rotation", pivot_m, readout_fraction, cfg)
    starts: dict[str, float] = {}
    for name in models:
        bar.set_postfix_str(name)
        if name == "rotation":
            fits[name] = rotation
        elif name == "6dof":
            fits[name], starts = fit_6dof(tracks, intr, prior_depth, pivot_m, readout_fraction, cfg, rotation)
        else:
            fits[name] = solve_small_motion(tracks, intr, prior_depth, name, pivot_m, readout_fraction, cfg, rotation)
        bar.update()
    bar.close()
    crit = {k: float(model_criterion(v, cfg.huber_px)) for k, v in fits.items()}
    best = min(crit, key=crit.get)
    why = {
        "chosen": best,
        "criterion": {k: round(v, 1) for k, v in crit.items()},
        "residual_px": {k: _median_or_none(v.residual_px[1:]) for k, v in fits.items()},
        "parameters": {k: v.parameters for k, v in fits.items()},
        "rule": "lowest 2·robust cost/σ² + parameters·ln(residuals), σ = Huber threshold",
    }
    if starts:  # the 6-DoF fit's starts, their final costs: the lowest was kept
        why["6dof_starts"] = starts
    return fits[best], why


class _Start(NamedTuple):
    """A starting point of :func:`solve_small_motion` (``init``): angles and centres (T, 3)."""

    angles: np.ndarray
    centres: np.ndarray


FAR_FROM_FITTING_PX = 2.0  # a better 6-DoF start with a larger median residual: a third from the essential matrices
ESSENTIAL_MIN_FLOW_PX = 2.0  # below this median image motion from frame 0 a frame's essential matrix is not tried


def essential_start(tracks: Tracks, intr: Intrinsics, prior: np.ndarray) -> _Start | None:
    """A start for the 6-DoF fit that does not assume small motion: OpenCV's five-point essential matrix and
    ``recoverPose`` from frame 0 to each frame that moved enough (RANSAC, 1 px), its translation scaled so the
    points it triangulates have the ``prior`` depths' median (the tracks' frame-0 depths, (N,)); frames without
    one are interpolated between their neighbours (frame 0 at rest). None where fewer than a third of the frames
    get one.

    The bundle adjustment starts from rest; when the camera sweeps several degrees and tens of centimetres in a
    second, it can settle where a turn explains the sideways motion (TUM fr1_xyz frames 180–209: 0.88 × the true
    rotation RMS from rest, 0.14 × for the essential matrix alone).
    """
    import cv2

    from motiondepth.geometry.rotations import matrix_to_euler

    t_len = tracks.num_frames
    angles, centres = np.full((t_len, 3), np.nan), np.full((t_len, 3), np.nan)
    angles[0], centres[0] = 0.0, 0.0
    k = intr.K
    at0 = tracks.visible[0] & np.isfinite(prior) & (prior > 0)
    for f in range(1, t_len):
        ok = at0 & tracks.visible[f]
        if ok.sum() < 12:
            continue
        p0, p1 = tracks.tracks[0, ok].astype(np.float64), tracks.tracks[f, ok].astype(np.float64)
        if np.median(np.linalg.norm(p1 - p0, axis=1)) < ESSENTIAL_MIN_FLOW_PX:
            continue
        e, mask = cv2.findEssentialMat(p0, p1, k, cv2.RANSAC, 0.999, 1.0)
        if e is None or e.shape != (3, 3):
            continue
        n_in, r, t, mask = cv2.recoverPose(e, p0, p1, k, mask=mask)
        inl = mask.ravel() > 0
        if n_in < 8:
            continue
        # triangulate the inliers with a unit baseline; the scale makes their depths the prior's
        pm0 = k @ np.c_[np.eye(3), np.zeros(3)]
        pm1 = k @ np.c_[r, t]
        x = cv2.triangulatePoints(pm0, pm1, p0[inl].T, p1[inl].T)
        z = x[2] / x[3]
        good = np.isfinite(z) & (z > 0)
        if good.sum() < 8:
            continue
        scale = float(np.median(prior[ok][inl][good]) / np.median(z[good]))
        angles[f] = matrix_to_euler(r.T)  # x_f = R x_0 + t: camera-to-reference is Rᵀ, the centre −Rᵀ t
        centres[f] = -(r.T @ t).ravel() * scale
    have = np.isfinite(angles).all(1)
    if have.sum() < max(2, t_len // 3):
        return None
    idx = np.flatnonzero(have)
    frames = np.arange(t_len)
    for arr in (angles, centres):
        for c in range(3):
            arr[:, c] = np.interp(frames, idx, arr[idx, c])
    return _Start(angles, centres)


def frame0_prior(tracks: Tracks, prior_depth: np.ndarray) -> np.ndarray:
    """(N,) the depth map at each track that starts in frame 0 (seen there), NaN for the others: the scale prior
    of the small-motion solver, which gives later tracks a wide prior of its own."""
    from motiondepth.trajectory.optics import sample_depth

    prior = np.full(tracks.num_points, np.nan)
    at0 = (tracks.queries[:, 0] == 0) & tracks.visible[0]
    prior[at0] = sample_depth(prior_depth, tracks.tracks[0, at0].astype(np.float64))
    return prior


def pivot_or_bundle(sol, tracks: Tracks, prior_depth: np.ndarray, intrinsics: Intrinsics, pivot_m: float,
                    times: np.ndarray | None, solver, cfg) -> dict:  # fmt: skip
    """Whether the bundle adjustment's motion or the papers' pivot model (the optics solver, lsq) explains the
    query grid's template tracks better: ``solver`` (``bundle adjustment`` or ``lsq``) and the two costs.

    With a pivot or rotation-only choice, the papers' regime: lsq. With 6-DoF, both motions are held fixed
    and each grid track's depth fitted (:func:`~motiondepth.trajectory.small_motion.track_fit_cost`); lsq
    was fitted to these tracks and the bundle adjustment was not, so lsq keeps the path only where the
    translation does not pay even then. That is the papers' long-exposure regime: heavy blur puts a bias
    into frame-to-frame tracks that the free camera centres absorb (a simulated 60 ms-exposure clip of the
    pipeline benchmark: rotation AbsRel 0.64 by the bundle adjustment, 0.10 by lsq), while the template
    tracker's blur-aware smoothing keeps the grid tracks true.
    """
    from motiondepth.geometry.pivot import pivot_centres
    from motiondepth.trajectory.optics import solve_trajectory

    if sol.model != "6dof":
        return {"solver": "lsq"}
    try:
        lsq = solve_trajectory(tracks.tracks.astype(np.float64), tracks.visible, prior_depth, intrinsics, pivot_m,
                               times, "lsq", config=solver, image_height=tracks.image_size[0])  # fmt: skip
    except ValueError:
        return {"solver": "bundle adjustment"}
    lsq.centres = pivot_centres(lsq.angles, pivot_m)  # as workflow.steps.solve_rotation gives them
    grid_prior = frame0_prior(tracks, prior_depth)
    as_pivot = SmallMotion(
        angles=lsq.angles, centres=lsq.centres, depth=np.zeros(0), depth_sigma=np.zeros(0),
        residual_px=lsq.residual_px, model="pivot", cost=0.0, observations=0, parameters=0, iterations=0,
        used=np.zeros(0, bool), meta={"readout_fraction": sol.meta["readout_fraction"], "pivot_m": pivot_m},
    )  # fmt: skip
    costs = {}
    for name, motion in (("bundle adjustment", sol), ("lsq", as_pivot)):
        cost, count = track_fit_cost(motion, tracks, intrinsics, grid_prior, cfg)
        costs[name] = round(cost, 4) if count and np.isfinite(cost) else None
    if costs["lsq"] is not None and (costs["bundle adjustment"] is None or costs["lsq"] < costs["bundle adjustment"]):
        return {"solver": "lsq", "grid_check": costs}
    return {"solver": "bundle adjustment", "grid_check": costs}
