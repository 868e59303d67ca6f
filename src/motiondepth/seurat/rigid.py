"""Depth ratios over time from rigid-scene geometry (a classical reference beside Seurat; beyond the papers).

Seurat learns depth ratios from how tracks move. Where the scene is static, two-view geometry
gives the same ratios in closed form, so this module solves it directly, window by window, as
a reference for the learned model and as a method of its own for mostly static footage:

1. **Camera motion per window.** The supporting tracks (the grid Seurat also sees) are assumed to
   lie mostly on the static scene. The camera motion of each frame w.r.t. the window's first
   frame (R_t, t_t) and each supporting point's inverse depth ρ are found by
   resection–intersection:
   - ρ per point on its first-frame ray, given the motion, in closed form (iterative linear
     triangulation, :func:`fit_inverse_depth`);
   - the motion per frame by PnP (OpenCV, iterative Levenberg–Marquardt) on the points that fit
     within ``inlier_px`` (or the best 30 %, whichever is more).

   Three starts are tried (the essential matrix between the first and the last frame, and between
   the first and the middle frame, spread linearly over the window; no motion), and the start
   with the lowest median reprojection residual wins. The scale is fixed by the median ρ = 1;
   the ratios below do not depend on it.
2. **Ratios of every query.** Each query is placed on its ray at its first visible frame f of the
   window, and its inverse depth is solved so that the rigid motion reproduces its track. Its
   depth ratio w.r.t. the window's first frame is then

       d_t / d_0 = (A_t x̂_f + b_t ρ)_z / (A_0 x̂_f + b_0 ρ)_z,   A_t = R_t R_fᵀ,  b_t = t_t − A_t t_f,

   which is free of the unknown scale. Its RMS reprojection residual says how well it fits the
   rigid motion: a point on an independently moving object does not, and its ratio is the
   static scene's (wrong) reading of its track.
3. Windows are chained like Seurat's (:func:`~motiondepth.seurat.inference.chain_log_ratios`) and
   scaled by the same metric depth source.

What it cannot do: independently moving objects (their ratios are wrong, flagged by the
residual), windows whose supporting tracks are mostly on moving objects (the residual of the
window says so), and pure rotation leaves ρ free but the ratio exact (it then depends on R_t only).
Depth may shrink at most to ``MIN_Z`` (0.3) of its reference-frame value within one window (8 frames
by default): the bound keeps points that the motion explains badly from landing at the camera, and
was the best of 0.1–0.5 on six tuning clips (exact and noisy tracks).
Measured against Seurat and the baselines in ``benchmarks/seurat.py``.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from motiondepth.errors import InputError
from motiondepth.geometry.camera import Intrinsics, project, unproject
from motiondepth.seurat.windows import fill_occluded, window_starts

#: Range of inverse depths (median of the supporting points = 1): slight negatives for far points
#: under noise, up to 40× the median for near objects.
RHO_MIN, RHO_MAX = -0.1, 40.0
MIN_Z = 0.3  # least depth ratio to the reference frame at any frame of the window ((a + b ρ)_z)
_PULL = 1e-6  # weight of the pull to ρ = 1 (see _triangulate)
MIN_POINTS = 8  # fewer fitting supporting points: the window's motion is not estimated further
SUPPORT_GRID = 12  # grid side when the support must be interpolated from the tracks (Seurat small's)


@dataclass
class RigidMotion:
    """Camera motion of one window w.r.t. its first frame (X_t = R_t X_0 + t_t, scale: median ρ = 1)."""

    rotation: np.ndarray  # (W, 3, 3)
    translation: np.ndarray  # (W, 3)
    residual_px: float  # median RMS reprojection residual of the supporting points
    degenerate_starts: int = 0  # essential-matrix starts that failed on degenerate geometry (the window then
    # rests on the others, the no-motion start among them): counted by the evaluation, never an exception


def _first_visible(visible: np.ndarray) -> np.ndarray:
    """(N,) first visible frame of each track (0 where never visible)."""
    return np.where(visible.any(0), visible.argmax(0), 0)


def fit_inverse_depth(
    tracks: np.ndarray, visible: np.ndarray, rotation: np.ndarray, translation: np.ndarray, intr: Intrinsics
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inverse depth of each track on its first visible frame's ray, given the window's motion.

    Args:
        tracks: (W, N, 2) positions (occluded ones filled), pixels.
        visible: (W, N) visibility.
        rotation, translation: (W, 3, 3), (W, 3) motion w.r.t. the window's first frame.
        intr: intrinsics of the tracks' pixels.

    Returns:
        ρ (N,) at the reference frame, RMS residual (N,) in pixels (inf when never visible), and
        (W, N) log depth ratios w.r.t. the window's first frame.
    """
    n = tracks.shape[1]
    ref = _first_visible(visible)
    cols = np.arange(n)
    xf = unproject(tracks[ref, cols], 1.0, intr)  # (N, 3) rays
    rf, tf = rotation[ref], translation[ref]  # (N, 3, 3), (N, 3)
    # A_t = R_t R_fᵀ applied to x̂_f and t_f: rotate back to the window's first frame, then to frame t
    a = np.einsum("tij,nj->tni", rotation, np.einsum("nji,nj->ni", rf, xf))  # (W, N, 3)
    b = translation[:, None] - np.einsum("tij,nj->tni", rotation, np.einsum("nji,nj->ni", rf, tf))  # (W, N, 3)
    rho, rms = _triangulate(a, b, tracks, visible, intr)
    rms[~visible.any(0)] = np.inf
    z = a[..., 2] + b[..., 2] * rho
    log_ratio = np.log(np.maximum(z, 1e-3)) - np.log(np.maximum(z[:1], 1e-3))
    return rho, rms, log_ratio


def _triangulate(a, b, tracks, visible, intr, rounds: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """ρ per track in closed form: (ρ, RMS px).

    The point at frame t is X_t = a_t + b_t ρ, so its cross product with the observed ray is linear
    in ρ. Each round solves that weighted least squares, the weights 1/z_t² of the previous round
    turning the algebraic error into the pixel error (Hartley & Zisserman's iterative triangulation).
    A weak pull (one part in 10⁶) to ρ = 1, the supporting points' median, keeps ρ defined when
    the window has no baseline (the ratios then do not depend on it). ρ stays in [RHO_MIN, RHO_MAX].
    """
    f = np.array([intr.fx, intr.fy])
    u = (tracks - np.array([intr.cx, intr.cy])) / f  # (W, N, 2) normalised image coordinates
    c = (a[..., :2] - u * a[..., 2:]) * f  # residual (pixels at unit depth) = c + d ρ
    d = (b[..., :2] - u * b[..., 2:]) * f
    vis = visible.astype(float)
    # (a + b ρ)_z is the depth ratio to the reference frame: keep it ≥ MIN_Z at every frame (bounds on ρ)
    with np.errstate(divide="ignore", invalid="ignore"):
        edge = (MIN_Z - a[..., 2]) / b[..., 2]
    lo = np.maximum(np.where(b[..., 2] > 1e-12, edge, -np.inf).max(0), RHO_MIN)
    hi = np.minimum(np.where(b[..., 2] < -1e-12, edge, np.inf).min(0), RHO_MAX)
    hi = np.maximum(hi, lo)
    rho = np.clip(np.ones(a.shape[1]), lo, hi)
    for _ in range(rounds):
        z = np.maximum(a[..., 2] + b[..., 2] * rho, 1e-3)
        w = vis / z**2
        num = -(w[..., None] * c * d).sum((0, 2)) + _PULL
        den = (w[..., None] * d * d).sum((0, 2)) + _PULL
        rho = np.clip(num / den, lo, hi)
    x = a + b * rho[None, :, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        e = ((project(x, intr) - tracks) ** 2).sum(-1)
    e = np.where(x[..., 2] > 1e-6, e, 1e8)  # behind the camera
    rms = np.sqrt((e * vis).sum(0) / np.maximum(vis.sum(0), 1))
    return rho, rms


def _essential_start(support, visible, intr, inlier_px, last) -> tuple[np.ndarray, np.ndarray] | None:
    """A start for the window's motion from the essential matrix between frames 0 and ``last``; None when the
    geometry is degenerate (OpenCV's five-point solver meets a degenerate polynomial, e.g. nearly coincident
    or collinear points), the identity when too few points are seen."""
    import cv2

    w = support.shape[0]
    rot, tr = np.repeat(np.eye(3)[None], w, 0), np.zeros((w, 3))
    m = visible[0] & visible[last]
    if m.sum() < MIN_POINTS:
        return rot, tr
    p0, p1 = unproject(support[0, m], 1.0, intr)[:, :2], unproject(support[last, m], 1.0, intr)[:, :2]
    cv2.setRNGSeed(0)  # RANSAC draws from a per-thread generator: seed it, so no result depends on earlier calls
    try:
        e, inl = cv2.findEssentialMat(p0, p1, np.eye(3), method=cv2.RANSAC, prob=0.999,
                                      threshold=inlier_px / intr.fx)  # fmt: skip
        if e is None or e.shape != (3, 3):
            return rot, tr
        _, r_last, t_last, _ = cv2.recoverPose(e, p0, p1, np.eye(3), mask=inl)
    except cv2.error:
        return None
    rv = cv2.Rodrigues(r_last)[0].ravel()
    for f in range(1, w):  # spread over the window; 0.3: a unit baseline is far too long at median ρ = 1
        rot[f] = cv2.Rodrigues(rv * f / last)[0]
        tr[f] = 0.3 * t_last.ravel() * f / last
    return rot, tr


def _resect_intersect(support, visible, intr, inlier_px, rot, tr, iterations) -> RigidMotion:
    import cv2

    w = support.shape[0]
    seen0 = visible[0]
    vis0 = visible & seen0[None]  # supporting points are placed on their first-frame rays
    rays0 = unproject(support[0], 1.0, intr)
    best = RigidMotion(rot.copy(), tr.copy(), np.inf)
    for it in range(iterations + 1):
        rho, rms, _ = fit_inverse_depth(support, vis0, rot, tr, intr)
        score = float(np.median(rms[seen0]))
        if score < best.residual_px:
            best = RigidMotion(rot.copy(), tr.copy(), score)
        if it == iterations:
            break
        fits = seen0 & (rms <= max(inlier_px, np.percentile(rms[seen0], 30))) & (rho > 0)
        if fits.sum() < MIN_POINTS:
            break
        scale = np.median(rho[fits])
        rho, tr = rho / scale, tr * scale
        points = rays0 / rho[:, None]
        for f in range(1, w):
            use = fits & visible[f]
            if use.sum() < 6:
                continue
            try:
                ok, rv, tv = cv2.solvePnP(points[use], support[f, use].astype(np.float64), intr.K, None,
                                          cv2.Rodrigues(rot[f])[0], tr[f].reshape(3, 1).copy(),
                                          useExtrinsicGuess=True, flags=cv2.SOLVEPNP_ITERATIVE)  # fmt: skip
            except cv2.error:  # degenerate points for this frame: keep its previous pose
                ok = False
            if ok and np.isfinite(rv).all() and np.isfinite(tv).all():
                rot[f], tr[f] = cv2.Rodrigues(rv)[0], tv.ravel()
    return best


#: Residual (pixels) under which a point counts as static: 2 px was best of 1, 2 and 4 on six
#: held-out clips outside the evaluation seeds, with exact and with tracker-like noisy tracks.
INLIER_PX = 2.0


def rigid_motion(
    support: np.ndarray, visible: np.ndarray, intr: Intrinsics, inlier_px: float = INLIER_PX, iterations: int = 20
) -> RigidMotion:
    """Camera motion of one window from its supporting tracks (module docstring, step 1).

    Args:
        support: (W, Ns, 2) supporting tracks seeded at the window's first frame, pixels.
        visible: (W, Ns) visibility.
        intr: intrinsics of the tracks' pixels.
        inlier_px: residual under which a point counts as static (raise it for noisy trackers).
        iterations: resection–intersection rounds per start.
    """
    visible = np.asarray(visible, bool)
    return _solve_motion(fill_occluded(support, visible), visible, intr, inlier_px, iterations)


def _solve_motion(support: np.ndarray, visible: np.ndarray, intr: Intrinsics, inlier_px: float = INLIER_PX,
                  iterations: int = 20) -> RigidMotion:  # fmt: skip
    """:func:`rigid_motion` of supporting tracks already filled (float64) with boolean visibility."""
    w = support.shape[0]
    tried = [_essential_start(support, visible, intr, inlier_px, last) for last in (w - 1, max(w // 2, 1))]
    starts = [s for s in tried if s is not None]
    starts.append((np.repeat(np.eye(3)[None], w, 0), np.zeros((w, 3))))  # no motion: always a start
    best = None
    for rot, tr in starts:
        fit = _resect_intersect(support, visible, intr, inlier_px, rot, tr, iterations)
        if best is None or fit.residual_px < best.residual_px:
            best = fit
        if best.residual_px < 0.05 * inlier_px:  # converged: the other starts cannot do better
            break
    best.degenerate_starts = sum(s is None for s in tried)
    return best


@dataclass
class GeometryPrior:
    """Rigid-geometry reading of one window, the input Seurat's ``geometry_prior`` models start from."""

    support_log_ratio: np.ndarray  # (W, Ns) log depth ratios w.r.t. the window's first frame
    support_residual: np.ndarray  # (Ns,) RMS reprojection residual, pixels (inf: never visible)
    query_log_ratio: np.ndarray  # (W, Nq)
    query_residual: np.ndarray  # (Nq,)
    motion: RigidMotion  # the window's camera motion

    @property
    def window_residual(self) -> float:
        """Median residual of the supporting points, pixels (``motion.residual_px``)."""
        return self.motion.residual_px


def geometry_prior(
    support: np.ndarray, support_visible: np.ndarray, queries: np.ndarray, query_visible: np.ndarray,
    intr: Intrinsics, inlier_px: float = INLIER_PX,
) -> GeometryPrior:  # fmt: skip
    """Camera motion of one window from its supporting tracks, then every track's ratios and residual.

    Args:
        support, support_visible: (W, Ns, 2) pixels and (W, Ns), as :func:`rigid_motion`.
        queries, query_visible: (W, Nq, 2) pixels and (W, Nq); occluded positions need not be filled.
        intr: intrinsics of the tracks' pixels.
    """
    sup_vis, q_vis = np.asarray(support_visible, bool), np.asarray(query_visible, bool)
    sup = fill_occluded(support, sup_vis)  # filled once: for the motion and for the supporting ratios
    motion = _solve_motion(sup, sup_vis, intr, inlier_px)
    parts = []
    for xy, vis in ((sup, sup_vis), (fill_occluded(queries, q_vis), q_vis)):
        _, rms, lr = fit_inverse_depth(xy, vis, motion.rotation, motion.translation, intr)
        parts += [lr, rms]
    return GeometryPrior(*parts, motion)


def window_priors(
    tracks: np.ndarray, visible: np.ndarray, intr: Intrinsics, starts: np.ndarray, window: int,
    support: tuple[np.ndarray, np.ndarray], inlier_px: float = INLIER_PX, progress: bool = False,
) -> list[GeometryPrior]:  # fmt: skip
    """:func:`geometry_prior` of every window (the windows of ``window`` frames at ``starts``; ``progress``: a bar).

    Each window sees its own slice of the tracks, as a training window does. The windows are
    solved in a thread pool (OpenCV and numpy release the GIL); RANSAC is seeded per call, so the
    result does not depend on the threads.
    """
    sup, sup_vis = support

    def solve(i: int) -> GeometryPrior:
        s = starts[i]
        return geometry_prior(sup[i], sup_vis[i], tracks[s : s + window], visible[s : s + window], intr, inlier_px)

    from tqdm.auto import tqdm

    with ThreadPoolExecutor(max(1, min(len(starts), os.cpu_count() or 1))) as pool:
        done = pool.map(solve, range(len(starts)))
        return list(tqdm(done, total=len(starts), desc="Seurat: windows' geometry", disable=not progress, leave=False))


def rigid_window_log_ratios(
    tracks: np.ndarray, visible: np.ndarray, intrinsics, window: int = 8, stride: int = 4,
    support: tuple[np.ndarray, np.ndarray] | None = None, inlier_px: float = INLIER_PX,
    image_size: tuple[int, int] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[RigidMotion]]:  # fmt: skip
    """Per-window log depth ratios from rigid geometry (module docstring).

    Args:
        tracks, visible: (T, N, 2) query tracks (pixels) and (T, N) visibility.
        intrinsics: :class:`~motiondepth.geometry.camera.Intrinsics` or (fx, fy, cx, cy) of the tracks.
        support: supporting tracks per window, (K, W, Ns, 2) and (K, W, Ns), as for Seurat; without
            them the query tracks visible at each window's first frame serve
            (:func:`~motiondepth.seurat.inference.support_from_tracks`).
        inlier_px: see :func:`rigid_motion`.
        image_size: (H, W), used only to build that support when too few tracks are visible;
            default: twice the principal point.

    Returns:
        (K, W, N) log ratios w.r.t. each window's first frame, (K, N) RMS residual of each query
        (pixels; inf where it is not visible in the window), the (K,) window starts and the
        per-window :class:`RigidMotion`.
    """
    from motiondepth.seurat.windows import check_support, check_tracks, support_from_tracks

    if isinstance(intrinsics, Intrinsics):
        intr = intrinsics
    else:
        try:
            intr = Intrinsics.from_array(intrinsics)
        except ValueError as exc:
            raise InputError("intrinsics", str(exc)) from None
    tracks = np.asarray(tracks, np.float64)
    visible = np.asarray(visible, bool)
    check_tracks(tracks, visible, window)
    starts = window_starts(len(tracks), window, stride)
    if support is None:
        size = image_size or (int(np.ceil(2 * intr.cy + 1)), int(np.ceil(2 * intr.cx + 1)))
        support = support_from_tracks(tracks, visible, starts, window, SUPPORT_GRID, size)
    check_support(support[0], starts, window)
    priors = window_priors(tracks, visible, intr, starts, window, support, inlier_px)
    out = np.stack([p.query_log_ratio for p in priors])
    rms = np.stack([p.query_residual for p in priors])
    return out, rms, starts, [p.motion for p in priors]


def rigid_log_ratios(
    tracks: np.ndarray, visible: np.ndarray, intrinsics, window: int = 8, stride: int = 4,
    support: tuple[np.ndarray, np.ndarray] | None = None, inlier_px: float = INLIER_PX, chain: str = "average",
) -> np.ndarray:  # fmt: skip
    """(T, N) chained log depth ratios w.r.t. frame 0 from rigid geometry (windows as Seurat's)."""
    from motiondepth.seurat.windows import chain_log_ratios

    wl, _, starts, _ = rigid_window_log_ratios(tracks, visible, intrinsics, window, stride, support, inlier_px)
    return chain_log_ratios(wl, starts, len(tracks), chain)
