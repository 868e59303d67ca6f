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
    max_track_frames: int = 90  # on clips longer than split_above_frames, a track seen over more frames than this
    # is cut into pieces of this many (split_long_tracks): the frames' system stays banded and the solve linear in
    # the clip's length; below that the dense solve is faster and keeps each track whole
    split_above_frames: int = 300
    track_overlap_frames: int = 1  # frames two consecutive pieces of a cut track share
    rest_start_max_frames: int = 300  # longer clips: no 6-DoF start from rest (fit_6dof)
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
    ff: np.ndarray  # (M, 3) frames of the track's first-frame pose interpolation (``tf`` of its track)
    tf: np.ndarray  # (N, 3) per track: the frames of its first-frame pose interpolation
    tb: np.ndarray  # (N, 3) … base weights
    tv: np.ndarray  # (N, 3) … velocity weights, times the row offset of its first row
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
    tf, tb, tv = _interp_weights(first[idx], t_len)
    kv *= _row_offset(uv[:, 1], h)[:, None]
    tv *= _row_offset(p0[:, 1], h)[:, None]
    pd = np.asarray(prior_depth, np.float64)[idx]
    known = np.isfinite(pd) & (pd > 0) & (first[idx] == 0)
    if not known.any():
        raise ValueError("small-motion solver: no track in frame 0 has a prior depth (the scale is unknown)")
    eta_prior = np.full(len(idx), -np.log(np.median(pd[known])))
    eta_prior[known] = -np.log(pd[known])
    eta_sigma = np.where(known, cfg.depth_prior_sigma, cfg.free_depth_sigma)
    return _Problem(kk, nn, uv, kf, kb, kv, tf[nn], tf, tb, tv, rays, eta_prior, eta_sigma, t_len), used


def _residuals_and_jacobian(prob: _Problem, full: np.ndarray, eta: np.ndarray, rf: float, model: str,
                            pivot_m: float, intr: Intrinsics, want_jac: bool = True):  # fmt: skip
    """Pixel residuals (M, 2); Jacobians w.r.t. the frame parameters (:class:`_PoseJacobian`), η (M, 2) and the
    readout fraction (M, 2); the camera-frame points (M, 3). The reference pose is a track's, computed once per
    track (N) and spread to its observations."""
    kw, tw = prob.kb + rf * prob.kv, prob.tb + rf * prob.tv
    # interpolated parameters at the observation row and at the track's reference row
    pk = np.einsum("mj,mjq->mq", kw, full[prob.kf])
    pf = np.einsum("nj,njq->nq", tw, full[prob.tf])
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

    n = prob.n
    rk, drk, ck, dck = pose(pk)
    rf, drf, cf, dcf = pose(pf)  # per track
    rho = np.exp(eta)[n]
    ray_f = (rf @ prob.rays[:, :, None])[..., 0][n]  # R_f r
    cf = cf[n]
    wpt = ray_f + rho[:, None] * (cf - ck)  # R_f r + ρ (C_f − C_k)
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
    dd_af = rkt @ np.swapaxes((drf @ prob.rays[:, None, :, None])[..., 0], 1, 2)[n]
    dd_cf = rho[:, None, None] * rkt
    if model == "pivot":  # C follows the angles
        dd_ak = dd_ak + np.einsum("mbc,mjc->mbj", dd_ck, dck)
        dd_af = dd_af + np.einsum("mbc,mjc->mbj", dd_cf, dcf[n])
    if model == "6dof":
        dd_k, dd_f = np.concatenate([dd_ak, dd_ck], 2), np.concatenate([dd_af, dd_cf], 2)
    else:
        dd_k, dd_f = dd_ak, dd_af
    jk = dproj @ dd_k  # (M, 2, q)
    jf = dproj @ dd_f
    j_eta = (dproj @ (rkt @ (cf - ck)[:, :, None]))[..., 0] * rho[:, None]
    dpk = np.einsum("mj,mjq->mq", prob.kv, full[prob.kf])  # d(interpolated parameters)/d(readout fraction)
    dpf = np.einsum("nj,njq->nq", prob.tv, full[prob.tf])[n]
    j_rf = np.einsum("maq,mq->ma", jk, dpk) + np.einsum("maq,mq->ma", jf, dpf)
    return res, _PoseJacobian(jk, jf, kw, tw[n]), j_eta, j_rf, d


class _PoseJacobian(NamedTuple):
    """An observation's residual depends on two interpolated poses: its own frame's at its row (``jk``, (M, 2, q))
    and its track's first frame's at the first row (``jf``); each pose is a weighted sum of three frames' parameters
    (``kw``, ``fw`` (M, 3), over ``_Problem.kf`` / ``ff``)."""

    jk: np.ndarray
    jf: np.ndarray
    kw: np.ndarray
    fw: np.ndarray


class _Scatter(NamedTuple):
    """A fixed sum of per-observation values into destinations: destination ``d`` gets ``Σ w[m, s] v[m]`` over the
    (observation ``m``, slot ``s``) pairs whose key is ``keys[d]``. The pairs are sorted by key once per solve;
    :meth:`apply` is then one sparse-by-dense product with the weights of the moment."""

    order: np.ndarray  # (M·S,) the pairs, flat, sorted by key
    obs: np.ndarray  # (M·S,) their observation
    indptr: np.ndarray  # (D + 1,)
    keys: np.ndarray  # (D,) the distinct keys, ascending

    @classmethod
    def of(cls, keys: np.ndarray) -> _Scatter:
        order = np.argsort(keys.ravel(), kind="stable")
        uniq, counts = np.unique(keys.ravel()[order], return_counts=True)
        return cls(order, order // keys.shape[1], np.r_[0, np.cumsum(counts)], uniq)

    def apply(self, w: np.ndarray, v: np.ndarray) -> np.ndarray:
        """(D, K): the sums of weights ``w`` (M, S) times values ``v`` (M, K)."""
        x = sp.csr_matrix((w.ravel()[self.order], self.obs, self.indptr), shape=(len(self.keys), len(v)))
        return np.asarray(x @ v)


class _Merge(NamedTuple):
    """Values that come with ``keys`` (K,) summed per distinct key (``keys`` here: those, ascending); the order is
    found once per solve, :meth:`apply` sums the values of the moment."""

    order: np.ndarray
    start: np.ndarray
    keys: np.ndarray

    @classmethod
    def of(cls, keys: np.ndarray) -> _Merge:
        order = np.argsort(keys, kind="stable")
        uniq, start = np.unique(keys[order], return_index=True)
        return cls(order, start, uniq)

    def apply(self, values: np.ndarray) -> np.ndarray:
        """(distinct keys, ...) the sums of ``values`` (K, ...), in the order of the keys they came with."""
        return np.add.reduceat(values[self.order], self.start, axis=0)


class _Groups(NamedTuple):
    """How the observations' Jacobians sum into the normal equations, fixed for one solve. An observation's row
    touches six frames (three interpolation frames of its own pose, ``_Problem.kf``, three of its track's first,
    ``ff``), so its products fall into q × q blocks of frame pairs: ``kk``, ``ff`` and ``kf`` sum them by frame pair
    (key ``row · T + column``); ``k`` and ``f`` sum a frame's share of a vector (key: the frame); ``pe_k`` and
    ``pe_f`` the depths' coupling by frame and track (key ``frame · N + track``). ``blocks`` merges the frame-pair
    sums (``kk``, ``ff``, ``kf`` and ``kf`` transposed) that fall on the same pair, ``pe`` the two couplings."""

    kk: _Scatter
    ff: _Scatter
    kf: _Scatter
    k: _Scatter
    f: _Scatter
    pe_k: _Scatter
    pe_f: _Scatter
    blocks: _Merge
    pe: _Merge

    @classmethod
    def of(cls, prob: _Problem) -> _Groups:
        t, n = prob.t_len, len(prob.eta_prior)
        kf, ff = prob.kf, prob.ff

        def pairs(r, c):
            return _Scatter.of((r[:, :, None] * t + c[:, None, :]).reshape(len(r), 9))

        kk, fff, kfp = pairs(kf, kf), pairs(ff, ff), pairs(kf, ff)
        pe_k, pe_f = _Scatter.of(kf * n + prob.n[:, None]), _Scatter.of(ff * n + prob.n[:, None])
        turned = kfp.keys % t * t + kfp.keys // t  # (row, column) → (column, row)
        blocks = _Merge.of(np.concatenate([kk.keys, fff.keys, kfp.keys, turned]))
        return cls(kk, fff, kfp, _Scatter.of(kf), _Scatter.of(ff), pe_k, pe_f, blocks,
                   _Merge.of(np.concatenate([pe_k.keys, pe_f.keys])))  # fmt: skip


def _products(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(M, q·q) each observation's ``aᵀ b`` of Jacobians (M, 2, q)."""
    return np.matmul(a.transpose(0, 2, 1), b).reshape(len(a), -1)


def _outer(wa: np.ndarray, wb: np.ndarray) -> np.ndarray:
    """(M, 9) the products of two observations' interpolation weights (M, 3)."""
    return (wa[:, :, None] * wb[:, None, :]).reshape(len(wa), 9)


def _frame_rows(sc: _Scatter, sums: np.ndarray, t_len: int) -> np.ndarray:
    """(q (T − 1),) a frame-keyed scatter's sums (D, q) as parameter rows, frame 0 (held) left out."""
    out = np.zeros((t_len, sums.shape[1]))
    out[sc.keys] = sums
    return out[1:].ravel()


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
    progress: bool = False,
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
        progress: a bar over the iterations, with the cost.
    """
    from tqdm.auto import tqdm

    if model not in MODELS:
        raise ValueError(f"unknown motion model {model!r}; choose from {', '.join(MODELS)}")
    cfg = config or SmallMotionConfig()
    t_len = tracks.visible.shape[0]
    if t_len < 2:
        raise InputError("tracks", "the small-motion solver needs at least 2 frames")
    n_tracks, origin = tracks.num_points, None
    if cfg.max_track_frames and t_len > max(cfg.max_track_frames, cfg.split_above_frames):
        tracks, prior_depth, origin = split_long_tracks(tracks, prior_depth, cfg.max_track_frames,
                                                        cfg.track_overlap_frames)  # fmt: skip
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
    groups = _Groups.of(prob)
    cur = evaluate(full, eta, rf)
    n_p = q * (t_len - 1)
    it = 0
    bar = tqdm(total=cfg.iterations, desc=f"bundle adjustment ({model})", disable=not progress, leave=False)
    for it in range(1, cfg.iterations + 1):  # noqa: B007 (the count is reported)
        bar.update()
        bar.set_postfix_str(f"cost {cur.cost:.4g}")
        cost = cur.cost
        neq = _normal_equations(prob, cur, q, full, eta, rf, inv_var, smooth, (rf_prior, cfg.readout_sigma), groups)
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
    bar.close()
    sol = _solution(prob, cur, full, eta, rf, used, inv_var, model, pivot_m, readout_fraction, it, cfg)
    return sol if origin is None else _per_track(sol, origin, n_tracks)


def split_long_tracks(tracks: Tracks, prior_depth: np.ndarray, max_frames: int, overlap: int = 1
                      ) -> tuple[Tracks, np.ndarray, np.ndarray]:  # fmt: skip
    """Tracks seen over more than ``max_frames`` frames (first to last) cut into pieces of that many: piece ``p``
    covers frames ``first + p (L − 1)`` to ``first + (p + 1)(L − 1)``, so consecutive pieces share a frame (the
    previous piece's last observation, the next one's reference ray). Each piece gets a depth of its own.

    A track's depth couples every frame it is seen in, so a point seen through a whole clip makes the frames'
    Schur complement dense, and the solve cubic in the clip's length. Cut, a frame couples only to frames
    ``max_frames`` around it (:func:`_normal_equations` solves the band), and frames far apart are tied by the
    chain of pieces instead of by one depth.

    Returns:
        the pieces as tracks (T, N'), each piece's prior depth (N',) (the track's for its first piece, NaN for
        the others: they start later than frame 0), and each piece's track (N',).
    """
    vis = tracks.visible
    t_len, n = vis.shape
    seen = vis.any(0)
    first = np.where(seen, np.argmax(vis, 0), 0)
    last = np.where(seen, t_len - 1 - np.argmax(vis[::-1], 0), 0)
    step = max_frames - max(1, min(overlap, max_frames - 1))  # from one piece's first frame to the next's
    pieces = 1 + np.maximum(0, -(-(last - first + 1 - max_frames) // step))  # the last piece reaches the last frame
    origin = np.repeat(np.arange(n), pieces)
    index = np.arange(len(origin)) - np.repeat(np.cumsum(pieces) - pieces, pieces)
    lo = first[origin] + index * step
    frames = np.arange(t_len)[:, None]
    pv = vis[:, origin] & (frames >= lo) & (frames < lo + max_frames)
    pt = tracks.tracks[:, origin]
    start = np.argmax(pv, 0)
    queries = np.c_[start, pt[start, np.arange(len(origin))]].astype(np.float32)
    prior = np.where(index == 0, np.asarray(prior_depth, np.float64)[origin], np.nan)
    meta = tracks.meta | {"split_from": n}
    return Tracks(pt, pv, queries, tracks.image_size, meta), prior, origin


def _per_track(sol: SmallMotion, origin: np.ndarray, n: int) -> SmallMotion:
    """A solution over the pieces of :func:`split_long_tracks` given back per track: each track's depth (and σ) is
    its first piece's, in its first frame, and it took part when any of its pieces did."""
    first = np.r_[True, origin[1:] != origin[:-1]]  # pieces come in order, the first of each track first
    used = np.zeros(n, bool)
    np.logical_or.at(used, origin, sol.used)
    depth, sigma = np.full(n, np.nan), np.full(n, np.nan)
    depth[origin[first]], sigma[origin[first]] = sol.depth[first], sol.depth_sigma[first]
    sol.used, sol.depth, sol.depth_sigma = used, depth, sigma
    sol.meta["track_pieces"] = len(origin)
    return sol


class _Normal(NamedTuple):
    """The Gauss–Newton normal equations at one point, the depths kept apart for their Schur complement: the pose
    block ``h_pp`` (P, P) and gradient ``g_p`` (P,) (the readout fraction last, when fitted), the depths' diagonal
    ``h_ee`` (N,) and gradient ``g_e``, and their coupling ``h_pe`` (P, N).

    Dense (``band`` None): ``h_pp``, ``h_pe`` and ``coupled`` are arrays. Banded (``band``: the half-bandwidth of
    the frames' block): ``h_pe`` is sparse and ``h_pp``, ``coupled`` are :class:`_Banded`."""

    h_pp: np.ndarray | _Banded
    g_p: np.ndarray
    h_pe: np.ndarray | sp.csr_matrix
    h_ee: np.ndarray
    g_e: np.ndarray
    coupled: np.ndarray | _Banded  # h_pe h_ee⁻¹ h_peᵀ, the depths' share of the Schur complement at no damping
    band: int | None = None


class _Banded(NamedTuple):
    """A symmetric (P, P) matrix whose first ``n`` rows and columns are banded and whose last ``P − n`` (0 or 1: the
    readout fraction) are dense: the band in LAPACK's lower form ``ab`` (band + 1, n), the border ``b`` (n, P − n)
    and its corner ``c`` (P − n, P − n)."""

    ab: np.ndarray
    b: np.ndarray
    c: np.ndarray

    @classmethod
    def from_sparse(cls, m: sp.spmatrix, n: int, band: int) -> _Banded:
        coo = m.tocoo()
        r, c, v = coo.row, coo.col, coo.data
        inner = (r < n) & (c < n) & (r >= c)
        ab = np.zeros((band + 1, n))
        np.add.at(ab, (r[inner] - c[inner], c[inner]), v[inner])
        dense_tail = np.asarray(m.tocsc()[:, n:].todense())  # (P, P − n)
        return cls(ab, dense_tail[:n], dense_tail[n:])


BANDED_MIN_FRAMES = 90  # clips this long or longer may take the banded solve …
BANDED_MAX_FRACTION = 1 / 3  # … when the frames' block is banded within this fraction of its size


def _track_band(h_pe: sp.csc_matrix, n: int) -> int:
    """The widest span of frame parameter rows (of the first ``n``) that one track's depth couples: the half-bandwidth
    its elimination adds to the frames' Schur complement."""
    csc = h_pe[:n].tocsc()
    csc.sum_duplicates()
    have = np.diff(csc.indptr) > 0
    if not have.any():
        return 0
    lo = csc.indices[csc.indptr[:-1][have]]
    hi = csc.indices[csc.indptr[1:][have] - 1]
    return int((hi - lo).max())


def _normal_equations(prob: _Problem, cur: _Evaluation, q: int, full: np.ndarray, eta: np.ndarray, rf: float,
                      inv_var: np.ndarray, smooth, readout_prior: tuple[float, float], groups: _Groups
                      ) -> _Normal:  # fmt: skip
    """:class:`_Normal` of the robustly weighted residuals of ``cur``, with the depth priors (``inv_var``), the
    smoothness prior (``smooth``, sparse, or None) and the readout fraction's prior ``(value, sigma)`` (sigma 0:
    the readout fraction is held).

    JᵀJ is summed in q × q blocks of frame pairs (:class:`_Groups`), each a weighted sum of the observations' small
    products ``jkᵀ jk``, ``jfᵀ jf``, ``jkᵀ jf``; multiplying out the (2M, P) Jacobian with scipy took twice as long.

    On a long clip whose tracks each span a part of it, the frames' Schur complement is banded (a frame couples only
    to frames that share a track with it): it is then kept banded, and solved in time linear in the clip's length
    (:func:`_damped_step`), instead of as a dense matrix whose solve grows with the cube of the length."""
    rf_prior, rf_sigma = readout_prior
    t_len, n_eta, g, pj = len(full), len(eta), groups, cur.js
    n_p, n_rf = q * (t_len - 1), int(rf_sigma > 0)
    ws = np.sqrt(cur.w)
    jk, jf = pj.jk * ws[:, None, None], pj.jf * ws[:, None, None]
    r, je = cur.res * ws[:, None], cur.je * ws[:, None]
    # the frames' block, by frame pair: (row frame, column frame, q × q block), the pairs' blocks also transposed
    kf_sums = g.kf.apply(_outer(pj.kw, pj.fw), _products(jk, jf)).reshape(-1, q, q)
    blocks = g.blocks.apply(np.concatenate([
        g.kk.apply(_outer(pj.kw, pj.kw), _products(jk, jk)).reshape(-1, q, q),
        g.ff.apply(_outer(pj.fw, pj.fw), _products(jf, jf)).reshape(-1, q, q),
        kf_sums, kf_sums.transpose(0, 2, 1)]))  # fmt: skip
    bi, bj = g.blocks.keys // t_len, g.blocks.keys % t_len
    held = (bi > 0) & (bj > 0)  # frame 0 is held
    bi, bj, blocks = bi[held] - 1, bj[held] - 1, blocks[held]
    # the gradient, the depths' own terms and their coupling to the frames (h_pe, (P, N))
    g_p = (_frame_rows(g.k, g.k.apply(pj.kw, np.einsum("mci,mc->mi", jk, r)), t_len)
           + _frame_rows(g.f, g.f.apply(pj.fw, np.einsum("mci,mc->mi", jf, r)), t_len))  # fmt: skip
    h_ee = np.bincount(prob.n, (je**2).sum(1), minlength=n_eta) + inv_var
    g_e = np.bincount(prob.n, (je * r).sum(1), minlength=n_eta) + (eta - prob.eta_prior) * inv_var
    pe_k = g.pe_k.apply(pj.kw, np.einsum("mci,mc->mi", jk, je))
    pe_f = g.pe_f.apply(pj.fw, np.einsum("mci,mc->mi", jf, je))
    pe = g.pe.apply(np.concatenate([pe_k, pe_f]))
    frame, track = g.pe.keys // n_eta, g.pe.keys % n_eta
    moving = frame > 0
    pr = ((frame[moving] - 1)[:, None] * q + np.arange(q)).ravel()
    pc = np.repeat(track[moving], q)
    pv = pe[moving].ravel()
    border = np.zeros((n_p + n_rf, n_rf))
    if n_rf:  # the readout fraction's row and column: its coupling to every frame and depth, its own term
        jr = cur.jr * ws[:, None]
        border[:n_p, 0] = (_frame_rows(g.k, g.k.apply(pj.kw, np.einsum("mci,mc->mi", jk, jr)), t_len)
                           + _frame_rows(g.f, g.f.apply(pj.fw, np.einsum("mci,mc->mi", jf, jr)), t_len))  # fmt: skip
        border[n_p, 0] = float((jr**2).sum()) + rf_sigma**-2
        g_p = np.r_[g_p, float((jr * r).sum()) + (rf - rf_prior) / rf_sigma**2]
        pr, pc = np.r_[pr, np.full(n_eta, n_p)], np.r_[pc, np.arange(n_eta)]
        pv = np.r_[pv, np.bincount(prob.n, (je * jr).sum(1), minlength=n_eta)]
    ss = None
    if smooth is not None:
        ss = (smooth.T @ smooth).tocoo()
        g_p[:n_p] += smooth.T @ (smooth @ full[1:].ravel())
    band = n_p
    if prob.t_len >= BANDED_MIN_FRAMES:
        h_pe_sp = sp.csr_matrix((pv, (pr, pc)), shape=(n_p + n_rf, n_eta))
        span = int(np.abs(bi - bj).max() + 1) * q if len(bi) else 0
        band = max(span, _track_band(h_pe_sp, n_p), 3 * q)
    if band >= BANDED_MAX_FRACTION * n_p:
        h4 = np.zeros((t_len - 1, t_len - 1, q, q))
        h4[bi, bj] = blocks
        h_pp = h4.transpose(0, 2, 1, 3).reshape(n_p, n_p)
        if ss is not None:
            h_pp[ss.row, ss.col] += ss.data  # (each entry once)
        h_pp = np.block([[h_pp, border[:n_p]], [border[:n_p].T, border[n_p:]]]) if n_rf else h_pp
        h_pe = np.zeros((n_p + n_rf, n_eta))
        h_pe[pr, pc] = pv  # (each entry once)
        return _Normal(h_pp, g_p, h_pe, h_ee, g_e, (h_pe / h_ee) @ h_pe.T)
    ri = (bi[:, None, None] * q + np.arange(q)[:, None]).repeat(q, 2)
    ci = (bj[:, None, None] * q + np.arange(q)).repeat(q, 1)
    lower = ri >= ci
    ab = np.zeros((band + 1, n_p))
    ab[(ri - ci)[lower], ci[lower]] = blocks[lower]  # (each entry once: the blocks are distinct frame pairs)
    if ss is not None:
        low = ss.row >= ss.col
        ab[ss.row[low] - ss.col[low], ss.col[low]] += ss.data[low]
    coupled = h_pe_sp @ sp.diags(1.0 / h_ee) @ h_pe_sp.T
    return _Normal(_Banded(ab, border[:n_p], border[n_p:]), g_p, h_pe_sp, h_ee, g_e,
                   _Banded.from_sparse(coupled, n_p, band), band)  # fmt: skip


def _damped_step(neq: _Normal, lam: float) -> tuple[np.ndarray, np.ndarray] | None:
    """The Levenberg–Marquardt step at damping ``lam``: (pose step (P,), depth step (N,)), the depths eliminated by
    their Schur complement; None where the damped system is singular (or, banded, not positive definite)."""
    h_ee_d = neq.h_ee * (1 + lam)
    rhs = -(neq.g_p - neq.h_pe @ (neq.g_e / h_ee_d))
    if neq.band is None:
        schur = neq.h_pp + lam * np.diag(np.diag(neq.h_pp) + 1e-12) - neq.coupled / (1 + lam)  # (damping scales h_ee)
        try:
            dp = np.linalg.solve(schur, rhs)
        except np.linalg.LinAlgError:
            return None
    else:
        dp = _banded_solve(neq.h_pp, neq.coupled, lam, rhs)
        if dp is None:
            return None
    return dp, -(neq.g_e + neq.h_pe.T @ dp) / h_ee_d


def _banded_solve(h: _Banded, coupled: _Banded, lam: float, rhs: np.ndarray) -> np.ndarray | None:
    """The damped Schur system of :func:`_damped_step` solved by a banded Cholesky factorisation, the readout
    fraction's dense row and column (when fitted) by block elimination."""
    from scipy.linalg import solveh_banded

    n = h.ab.shape[1]
    ab = h.ab - coupled.ab / (1 + lam)
    ab[0] += lam * (h.ab[0] + 1e-12)
    b = h.b - coupled.b / (1 + lam)
    c = h.c - coupled.c / (1 + lam)
    c = c + lam * np.diag(np.diag(h.c) + 1e-12)
    try:
        sol = solveh_banded(ab, np.column_stack([rhs[:n], b]), lower=True)
    except (np.linalg.LinAlgError, ValueError):
        return None
    z, y = sol[:, 0], sol[:, 1:]
    if not y.shape[1]:
        return z
    try:
        tail = np.linalg.solve(c - b.T @ y, rhs[n:] - b.T @ z)
    except np.linalg.LinAlgError:
        return None
    return np.concatenate([z - y @ tail, tail])


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
    depth[used], sigma[used], resid[used] = np.exp(-eta), np.exp(-eta) / np.sqrt(h), _track_medians(prob.n, e, len(eta))
    return depth, sigma, resid


def _track_medians(n: np.ndarray, e: np.ndarray, count: int) -> np.ndarray:
    """(count,) the median of ``e`` (M,) over each track's observations (``n`` (M,) its index), NaN for none."""
    order = np.argsort(n, kind="stable")
    starts = np.searchsorted(n[order], np.arange(count))
    return np.array([np.median(c) if len(c) else np.nan for c in np.split(e[order], starts[1:])])


class TrackFit(NamedTuple):
    """How well a motion held fixed explains some tracks (:func:`track_fit`)."""

    loss: float  # mean Huber loss per observation (pixels²); NaN when no track took part
    observations: int
    residual_px: np.ndarray  # (N,) each track's median reprojection residual; inf when it lies behind the camera
    # in half its frames or more, NaN for tracks that took no part


def track_fit(sol: SmallMotion, tracks: Tracks, intr: Intrinsics, prior_depth: np.ndarray,
              config: SmallMotionConfig | None = None, iterations: int = 6) -> TrackFit:  # fmt: skip
    """How well a motion explains ``tracks``: each track's depth fitted with the motion held fixed (as
    :func:`triangulate_tracks`), then the mean Huber loss per observation and each track's median residual."""
    cfg = config or SmallMotionConfig()
    per_track = np.full(tracks.num_points, np.nan)
    fit = _fit_depths(sol, tracks, intr, prior_depth, cfg, iterations)
    if fit is None:
        return TrackFit(float("nan"), 0, per_track)
    prob, used, eta, e, _, front = fit
    huber = np.where(front, _huber_loss(e, cfg.huber_px), 10.0 * cfg.huber_px)  # a point pushed behind the camera
    per_track[used] = _track_medians(prob.n, np.where(front, e, np.inf), len(eta))
    return TrackFit(float(huber.mean()), len(e), per_track)


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
    cfg: SmallMotionConfig, rotation: SmallMotion | None = None, progress: bool = False,
) -> tuple[SmallMotion, dict[str, float]]:  # fmt: skip
    """The 6-DoF fit from several starts, the lowest final cost kept: from the rotation-only fit ``rotation``
    (fitted here when None) and, on clips up to ``cfg.rest_start_max_frames`` frames, from rest; when the better
    is far from fitting (median residual over :data:`FAR_FROM_FITTING_PX`) also from the essential matrices
    (:func:`essential_start`: motion too large to start from rest). Returns the fit and each start's final cost.

    Longer clips skip the start from rest: over many seconds the camera wanders far from it, and on TUM fr1_xyz
    played back and forth to 16 and 24 s it ended 26 % and 27 % above the rotation fit's start in cost, with
    rotation errors of 1.7 and 1.5 × the true RMS, after a quarter to a third of the fitting time
    (docs/small-motion.md, *Long clips*).

    A sideways slide and a turn move the image alike over a second, and a fit can settle where the wrong one
    explains it. From which start depends on the clip: on TUM fr1_xyz the rotation fit's start lost on 180–209
    (cost 18 388 against 7 235 from rest, rotation 1.71 against 0.10 × the true RMS) and rest's on 45–74 and
    60–89; the lower cost had the better rotation on every clip where the two differed (docs/small-motion.md)."""
    if rotation is None:
        rotation = solve_small_motion(tracks, intr, prior_depth, "rotation", pivot_m, readout_fraction, cfg,
                                      progress=progress)  # fmt: skip

    def fit(init):
        return solve_small_motion(tracks, intr, prior_depth, "6dof", pivot_m, readout_fraction, cfg, init, progress)

    fits = {"rotation fit": fit(rotation)}
    if tracks.num_frames <= cfg.rest_start_max_frames:
        fits["rest"] = fit(None)
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
    rotation = solve_small_motion(tracks, intr, prior_depth, "rotation", pivot_m, readout_fraction, cfg,
                                  progress=progress)  # fmt: skip
    starts: dict[str, float] = {}
    for name in models:
        bar.set_postfix_str(name)
        if name == "rotation":
            fits[name] = rotation
        elif name == "6dof":
            fits[name], starts = fit_6dof(tracks, intr, prior_depth, pivot_m, readout_fraction, cfg, rotation, progress)
        else:
            fits[name] = solve_small_motion(tracks, intr, prior_depth, name, pivot_m, readout_fraction, cfg, rotation,
                                            progress)  # fmt: skip
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
GRID_RATIO_MAX = 0.8  # the bundle adjustment keeps the path where it explains the typical grid track this much better
GRID_MIN_EXPLAINED = 20  # fewer grid tracks explained by either motion: the mean loss decides (pivot_or_bundle)
ESSENTIAL_MIN_FLOW_PX = 2.0  # below this median image motion from frame 0 a frame's essential matrix is not tried


class EssentialPose(NamedTuple):
    """One frame's pose relative to frame 0 from :func:`essential_pose`."""

    angles: np.ndarray  # (3,) rad, camera-to-reference, the project's convention
    centre: np.ndarray  # (3,) the camera centre's direction (unit length: the essential matrix has no scale)
    r: np.ndarray  # (3, 3) and t (3,): OpenCV's x_f = R x_0 + t
    t: np.ndarray
    inliers: np.ndarray  # (N,) bool, the points ``recoverPose`` kept


def essential_pose(p0: np.ndarray, p1: np.ndarray, intr: Intrinsics) -> EssentialPose | None:
    """OpenCV's five-point essential matrix (RANSAC, 1 px) and ``recoverPose`` between pixel positions ``p0`` and
    ``p1`` (N, 2) of frame 0 and another frame; None where no matrix is found."""
    import cv2

    from motiondepth.geometry.rotations import matrix_to_euler

    k = intr.K
    e, mask = cv2.findEssentialMat(p0, p1, k, cv2.RANSAC, 0.999, 1.0)
    if e is None or e.shape != (3, 3):
        return None
    _, r, t, mask = cv2.recoverPose(e, p0, p1, k, mask=mask)
    # x_f = R x_0 + t: camera-to-reference is Rᵀ, the centre −Rᵀ t
    return EssentialPose(matrix_to_euler(r.T), -(r.T @ t).ravel(), r, t.ravel(), mask.ravel() > 0)


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
        pose = essential_pose(p0, p1, intr)
        if pose is None or pose.inliers.sum() < 8:
            continue
        # triangulate the inliers with a unit baseline; the scale makes their depths the prior's
        inl = pose.inliers
        pm0 = k @ np.c_[np.eye(3), np.zeros(3)]
        pm1 = k @ np.c_[pose.r, pose.t]
        x = cv2.triangulatePoints(pm0, pm1, p0[inl].T, p1[inl].T)
        z = x[2] / x[3]
        good = np.isfinite(z) & (z > 0)
        if good.sum() < 8:
            continue
        scale = float(np.median(prior[ok][inl][good]) / np.median(z[good]))
        angles[f], centres[f] = pose.angles, pose.centre * scale
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
    query grid's template tracks better: ``solver`` (``bundle adjustment`` or ``lsq``) and ``grid_check``.

    With a pivot or rotation-only choice, the papers' regime: lsq. With 6-DoF, both motions are held fixed
    and each grid track's depth fitted (:func:`track_fit`). The evidence is the typical track: over the grid
    tracks that at least one motion explains (median residual within the Huber threshold), the median of each
    track's residual under the bundle adjustment over its residual under lsq (``residual_ratio``). Comparing
    each track with itself cancels how well it was tracked; leaving out the tracks neither motion explains
    (the template tracker lost them) keeps them from deciding. lsq was fitted to these tracks and the bundle
    adjustment was not, and in a tie the simpler model wins: the bundle adjustment keeps the path only where
    the ratio is at most :data:`GRID_RATIO_MAX`. Where fewer than :data:`GRID_MIN_EXPLAINED` tracks are
    explained, the mean Huber loss per observation decides (kept in ``grid_check`` either way).

    lsq keeps the path in the papers' long-exposure regime: heavy blur puts a bias into frame-to-frame tracks
    that the free camera centres absorb (a simulated 60 ms-exposure clip of the pipeline benchmark: rotation
    AbsRel 0.64 by the bundle adjustment, 0.10 by lsq), while the template tracker's blur-aware smoothing keeps
    the grid tracks true. The mean loss alone failed where half the grid's tracks are lost (a ray-cast room
    the camera crosses 47 cm of in a second: lsq, fitted to the lost tracks too, absorbed them best, and its
    rotation scored 0.83 × the true RMS against the bundle adjustment's 0.03; docs/small-motion.md).
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
    ba, pv = (track_fit(motion, tracks, intrinsics, grid_prior, cfg) for motion in (sol, as_pivot))
    check = {
        name: round(fit.loss, 4) if fit.observations and np.isfinite(fit.loss) else None
        for name, fit in (("bundle adjustment", ba), ("lsq", pv))
    }
    with np.errstate(invalid="ignore"):
        explained = (ba.residual_px <= cfg.huber_px) | (pv.residual_px <= cfg.huber_px)
    check |= {"explained_tracks": int(explained.sum()), "tracks": int((~np.isnan(ba.residual_px)).sum())}
    if explained.sum() >= GRID_MIN_EXPLAINED:
        ratio = float(np.median(ba.residual_px[explained] / np.maximum(pv.residual_px[explained], 1e-2)))
        check["residual_ratio"] = round(ratio, 3)
        return {"solver": "bundle adjustment" if ratio <= GRID_RATIO_MAX else "lsq", "grid_check": check}
    if check["lsq"] is not None and (check["bundle adjustment"] is None or check["lsq"] < check["bundle adjustment"]):
        return {"solver": "lsq", "grid_check": check}
    return {"solver": "bundle adjustment", "grid_check": check}
