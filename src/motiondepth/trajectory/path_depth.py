"""What a solved camera path predicts for static points: each track's depth in every frame, and per-frame depth maps.

A point that does not move is fixed by its position in one frame and its depth there. Its 3D point in the
reference camera (frame 0) is ``X = R_q · z · K⁻¹[x, y, 1] + C_q`` (``R_q``, ``C_q``: frame q's rotation, camera to
reference, and camera centre, :class:`~motiondepth.types.Trajectory`), and in frame k it sits at
``X_k = R_kᵀ (X − C_k)``. With the inverse depth ``w = 1/z`` that is ``X_k ∝ a_k + w · d_k``, ``a_k = R_kᵀ R_q b``,
``d_k = R_kᵀ (C_q − C_k)``, ``b = K⁻¹[x, y, 1]``: one unknown per track. :func:`path_tracks` fits it to the
track's own 2D positions in every frame (robust Gauss–Newton, with the depth map's value as a prior, so a track
without parallax keeps the map's depth), then gives its depth in every frame and how far the prediction lands
from the track (the evidence :func:`motiondepth.seurat.fuse.fuse_depth_over_time` uses to tell a static point
from one that moves).

A rolling shutter reads row y at ``k + ρ · (y − (H − 1)/2) / H`` frames (ρ the readout fraction); the pose there
is the frame's pose plus that offset times its central-difference velocity, as the small-motion bundle
adjustment models it (:mod:`motiondepth.trajectory.small_motion`).

:func:`warp_depth` moves a whole frame-0 depth map along the path into every frame (forward splatting with a
depth test), marking what frame 0 never saw.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from motiondepth.geometry.camera import Intrinsics
from motiondepth.geometry.rotations import euler_to_matrix
from motiondepth.trajectory.small_motion import _row_offset

TRACK_NOISE_PX = 1.0  # one σ of a track's position: the scale of the reprojection residuals
DEPTH_PRIOR_LOG_SIGMA = 0.5  # one σ of the depth map's value at a track, in log depth (≈ ×1.6)
HUBER_PX = 2.0
STATIC_PX = 3.0  # below this smoothed residual a track is a static point (real tracks scatter by 1–2 px)
MOVING_PX = 8.0  # above it, a moving one (or a track that failed)
STATIC_NOISE, MOVING_NOISE = 3.0, 8.0  # … or these multiples of the clip's tracking noise, when larger


@dataclass
class PathTracks:
    """What the path predicts for every track as a static point (:func:`path_tracks`)."""

    depth: np.ndarray  # (T, N) metres, each frame's z of the track's 3D point (NaN where it is behind the camera)
    xy: np.ndarray  # (T, N, 2) pixels, where the 3D point projects in every frame (also where the track is hidden)
    residual_px: np.ndarray  # (T, N) |prediction − track| where the track is visible (not its query frame), else NaN
    reference_depth: np.ndarray  # (N,) metres, the fitted depth in each track's query frame
    reference_sigma: np.ndarray | None = None  # (N,) metres, its one σ from the fit's information (prior included)


def _poses_at(angles: np.ndarray, centres: np.ndarray, frame: np.ndarray, rows: np.ndarray, readout_fraction: float,
              readout_rotation: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Rotation matrices (..., 3, 3) and centres (..., 3) in frame ``frame`` when row offset ``rows`` (readout times
    from the middle row, ``small_motion._row_offset``) is read: the frame's pose plus the offset times its velocity (the
    ``readout_rotation`` of a solver that gives one, else the central difference times the readout fraction)."""
    if len(angles) > 1:
        va, vc = np.gradient(angles, axis=0), np.gradient(centres, axis=0)
    else:
        va, vc = np.zeros_like(angles), np.zeros_like(centres)
    rate = readout_fraction * va if readout_rotation is None else np.nan_to_num(readout_rotation)
    a = angles[frame] + rows[..., None] * rate[frame]
    c = centres[frame] + rows[..., None] * readout_fraction * vc[frame]
    return euler_to_matrix(a), c


def path_arrays(angles: np.ndarray, centres: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """A trajectory's angles and centres with unsolved (NaN) frames held at the nearest solved one's pose, so that
    every frame has one; a path without centres (rotation only) has them at 0."""
    angles = np.asarray(angles, np.float64).copy()
    centres = np.zeros_like(angles) if centres is None else np.asarray(centres, np.float64).copy()
    bad = ~(np.isfinite(angles).all(1) & np.isfinite(centres).all(1))
    if bad.all():
        raise ValueError("no frame of the path is solved")
    if bad.any():
        near = nearest_valid(~bad)
        angles[bad], centres[bad] = angles[near[bad]], centres[near[bad]]
    return angles, centres


def nearest_valid(ok: np.ndarray) -> np.ndarray:
    """(T,) for each index, the nearest index where ``ok`` (T,) holds (at least one must)."""
    good = np.flatnonzero(ok)
    return good[np.abs(np.arange(len(ok))[:, None] - good[None]).argmin(1)]


def path_tracks(
    tracks: np.ndarray, visible: np.ndarray, queries: np.ndarray, prior_depth: np.ndarray, intr: Intrinsics,
    angles: np.ndarray, centres: np.ndarray | None, image_size: tuple[int, int], readout_fraction: float = 0.0,
    readout_rotation: np.ndarray | None = None, iterations: int = 8, fit_mask: np.ndarray | None = None,
    refit: bool = True,
) -> PathTracks:  # fmt: skip
    """Each track as a static point moved by the camera path (module docstring).

    Args:
        tracks: (T, N, 2) pixels; visible (T, N); queries (N, 3) (frame, x, y).
        prior_depth: (N,) metres, each track's depth in its query frame from a depth map (the prior; NaN or ≤ 0:
            the median of the others).
        angles, centres: the path, (T, 3) radians and (T, 3) metres (:func:`path_arrays`).
        readout_fraction: the rolling shutter's readout time over the frame interval (0: global shutter).
        readout_rotation: (T, 3) radians, the rotation from the top row to the bottom row of each frame, where the
            solver gives it (:attr:`~motiondepth.types.Trajectory.readout_rotation`); it replaces the angles'
            central difference times ``readout_fraction``.
        fit_mask: (T, N) the observations the depths are fitted to (default: every visible one; e.g. without the
            frames where a first fit missed the track by far); residuals are reported for every visible one.
        refit: fit again without the observations the first fit misses by more than the moving threshold
            (:func:`residual_thresholds_px`): a point that starts to move, or a track that jumps, would pull the
            depth of its static frames.
    """
    angles, centres = path_arrays(angles, centres)
    t, n = visible.shape
    h = image_size[0]
    q = np.clip(np.rint(queries[:, 0]).astype(np.int64), 0, t - 1)
    prior = np.asarray(prior_depth, np.float64).copy()
    fallback = np.nanmedian(np.where(prior > 0, prior, np.nan)) if np.any(prior > 0) else 1.0
    prior = np.where(np.isfinite(prior) & (prior > 0), prior, fallback)
    # the reference ray of each track in the reference camera's axes, at its query row's time
    kinv = np.linalg.inv(intr.K)
    qxy = np.asarray(queries[:, 1:], np.float64)
    b = np.c_[qxy, np.ones(n)] @ kinv.T  # (N, 3)
    rq, cq = _poses_at(angles, centres, q, _row_offset(qxy[:, 1], h), readout_fraction, readout_rotation)
    ray = np.einsum("nij,nj->ni", rq, b)
    # every frame's pose at the row the track is seen on (its predicted row where hidden: the query row)
    obs = np.asarray(tracks, np.float64)
    rows = np.where(visible, obs[..., 1], qxy[None, :, 1])
    frame = np.broadcast_to(np.arange(t)[:, None], (t, n))
    rk, ck = _poses_at(angles, centres, frame, _row_offset(rows, h), readout_fraction, readout_rotation)
    a = np.einsum("tnji,nj->tni", rk, ray)  # R_kᵀ R_q b
    d = np.einsum("tnji,tnj->tni", rk, cq[None] - ck)  # R_kᵀ (C_q − C_k)
    fx, fy = intr.fx, intr.fy
    w0 = 1.0 / prior
    w = w0.copy()
    wsig = DEPTH_PRIOR_LOG_SIGMA * w0  # one σ of the inverse depth's prior
    vis = np.asarray(visible, bool)
    use = vis if fit_mask is None else vis & np.asarray(fit_mask, bool)
    for _ in range(iterations):
        p = a + w[None, :, None] * d
        z = np.where(np.abs(p[..., 2]) > 1e-9, p[..., 2], 1e-9)
        u, v = fx * p[..., 0] / z + intr.cx, fy * p[..., 1] / z + intr.cy
        ru, rv = u - obs[..., 0], v - obs[..., 1]
        ju = fx * (d[..., 0] * z - p[..., 0] * d[..., 2]) / z**2
        jv = fy * (d[..., 1] * z - p[..., 1] * d[..., 2]) / z**2
        e = np.hypot(ru, rv)
        hw = np.where(use & (z > 0), np.where(e <= HUBER_PX, 1.0, HUBER_PX / np.maximum(e, 1e-12)), 0.0)
        hw = np.where(np.isfinite(e), hw, 0.0)
        ru, rv = np.nan_to_num(ru), np.nan_to_num(rv)
        g = (hw * (ju * ru + jv * rv)).sum(0) / TRACK_NOISE_PX**2 + (w - w0) / wsig**2
        hh = (hw * (ju**2 + jv**2)).sum(0) / TRACK_NOISE_PX**2 + 1.0 / wsig**2
        w = np.maximum(w - g / hh, 0.05 * w0)  # never behind the camera, never past 20× the prior's depth
    sigma = 1.0 / (np.sqrt(hh) * w**2)  # of the depth 1/w, from the last step's information (its one σ of w: 1/√hh)
    p = a + w[None, :, None] * d
    with np.errstate(divide="ignore", invalid="ignore"):
        xy = np.stack([fx * p[..., 0] / p[..., 2] + intr.cx, fy * p[..., 1] / p[..., 2] + intr.cy], -1)
        depth = np.where(p[..., 2] > 0, p[..., 2] / w[None], np.nan)
    resid = np.where(vis, np.hypot(*(xy - obs).transpose(2, 0, 1)), np.nan)
    resid[q, np.arange(n)] = np.nan  # the query frame fits by construction: no evidence
    out = PathTracks(depth, xy, resid, 1.0 / w, sigma)
    if not refit:
        return out
    far = resid > residual_thresholds_px(resid)[1]
    if not far.any():
        return out
    return path_tracks(tracks, visible, queries, prior_depth, intr, angles, centres, image_size, readout_fraction,
                       readout_rotation, iterations, use & ~far, refit=False)  # fmt: skip


def slipped_tracks(pred: PathTracks, tracks: np.ndarray, visible: np.ndarray, intr: Intrinsics, angles: np.ndarray,
                   centres: np.ndarray | None, image_size: tuple[int, int], readout_fraction: float = 0.0,
                   readout_rotation: np.ndarray | None = None) -> tuple[PathTracks, np.ndarray]:  # fmt: skip
    """Tracks that slipped onto another static point are static points whose tracker failed, not points that move.

    A template tracker on a repeating texture (tiles, a checked wall, a keyboard) slips by one period, and a track can
    latch onto another point nearby. After the slip it follows a static point again, so the path misses it by more
    than the moving threshold in every frame from then on: it looks like a point that moves, and Seurat, reading a
    track that jumps, gives it a depth that jumps. A track is taken to have slipped when the path misses it by more
    than the moving threshold from one frame on, for good (at least :data:`MIN_SLIP_FRAMES` frames, never back),
    after a frame where it missed it by less than the static threshold (a jump, where a point that starts to move
    drifts off gradually), and those frames, fitted as a static point of their own from the first of them, fit it
    to the static threshold (median).

    Its residuals in those frames become the new point's, so that the fusion keeps the path's depth of the track's
    own point (where it really is; on a textured surface a period away, the depth barely differs). Returns the
    prediction and (N,) which tracks slipped.
    """
    static_px, moving_px = residual_thresholds_px(pred.residual_px)
    vis = np.asarray(visible, bool)
    far = vis & (np.nan_to_num(pred.residual_px) > moving_px)
    frame = np.arange(len(far))[:, None]
    first = far.argmax(0)  # each track's first far frame: the new point's reference
    back = (vis & ~far & (frame > first[None])).any(0)
    # a slip is a jump: in the last frame before it, the track was still on its point (a point that starts to
    # move drifts off gradually)
    before = np.where(vis & (frame < first[None]), frame, -1).max(0)
    was_on = np.nan_to_num(pred.residual_px[np.maximum(before, 0), np.arange(len(first))]) < static_px
    cand = np.flatnonzero((far.sum(0) >= MIN_SLIP_FRAMES) & ~back & (before >= 0) & was_on)
    slipped = np.zeros(vis.shape[1], bool)
    if not len(cand):
        return pred, slipped
    f1 = first[cand]
    queries = np.c_[f1, np.asarray(tracks, np.float64)[f1, cand]]
    seg = path_tracks(tracks[:, cand], far[:, cand], queries, pred.depth[f1, cand], intr, angles, centres, image_size,
                      readout_fraction, readout_rotation, refit=False)  # fmt: skip
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        fits = np.nanmedian(seg.residual_px, 0) < static_px
    if not fits.any():
        return pred, slipped
    cols = cand[fits]
    after = np.arange(len(far))[:, None] >= f1[fits][None]
    resid = pred.residual_px.copy()
    resid[:, cols] = np.where(after, seg.residual_px[:, fits], resid[:, cols])
    slipped[cols] = True
    return PathTracks(pred.depth, pred.xy, resid, pred.reference_depth, pred.reference_sigma), slipped


MIN_SLIP_FRAMES = 3  # a track must be far off its point in this many frames before it counts as slipped


def recover_hidden(frames: np.ndarray, pred: PathTracks, tracks: np.ndarray, visible: np.ndarray,
                   queries: np.ndarray, static_px: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """Hidden frames of a track where its point is in view and where the path puts it: the tracker lost it.

    A template tracker loses many points that stay in view: over a second of handheld motion, on the ray-cast clips of
    ``benchmarks/rendered_depth.py``, it called 33–45 % of the (track, frame) pairs visible (the median of each draw
    of six clips) where 85 % are. Where a track is
    hidden but the path puts its static point inside the frame (``pred.xy``, :data:`RECOVER_MARGIN_PX` in), its
    query frame's patch is looked for there: Lucas–Kanade from the query position into the frame, started at the
    path's position (two pyramid levels), and back. The point is found where the way back lands within
    :data:`RECOVER_FB_PX` of the query, the way there within ``static_px`` of the path's position (the static
    threshold of :func:`residual_thresholds_px`), and the 7 × 7 patches there and at the query agree (zero-mean
    normalised cross-correlation at least :data:`RECOVER_NCC_MIN`).

    A point that moves is not where the path puts it, so its patch is not found there; visible frames are never
    changed (the tracker's position there is the evidence that a point moves). Returns the tracks (T, N, 2), their
    visibility (T, N) with the found frames added, and those frames (T, N) bool.
    """
    import cv2

    t, n = np.asarray(visible).shape
    h, w = frames.shape[1:3]
    xy = np.asarray(pred.xy, np.float64)
    m = RECOVER_MARGIN_PX
    with np.errstate(invalid="ignore"):
        inside = (np.isfinite(xy).all(-1) & (xy[..., 0] >= m) & (xy[..., 0] <= w - 1 - m) & (xy[..., 1] >= m)
                  & (xy[..., 1] <= h - 1 - m) & (np.nan_to_num(pred.depth) > 0))  # fmt: skip
    q = np.clip(np.rint(queries[:, 0]).astype(np.int64), 0, t - 1)
    wanted = ~np.asarray(visible, bool) & inside & (np.arange(t)[:, None] != q[None])
    out, vis = np.array(tracks, np.float32), np.array(visible, bool)
    found = np.zeros((t, n), bool)
    if not wanted.any():
        return out, vis, found
    gray: dict[int, np.ndarray] = {}

    def grey(k: int) -> np.ndarray:  # frames are converted once, when first needed
        if k not in gray:
            gray[k] = cv2.GaussianBlur(cv2.cvtColor(frames[k], cv2.COLOR_RGB2GRAY), (0, 0), 1.0)
        return gray[k]

    lk = {"winSize": (RECOVER_WINDOW_PX, RECOVER_WINDOW_PX), "maxLevel": 2, "flags": cv2.OPTFLOW_USE_INITIAL_FLOW,
          "criteria": (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 30, 0.01)}  # fmt: skip
    qxy = np.asarray(queries[:, 1:], np.float32)
    refs = set(q.tolist())
    for k, qf in sorted({(int(k), int(q[i])) for k, i in zip(*np.nonzero(wanted), strict=True)}):
        for done in [f for f in gray if f < k and f not in refs]:  # a long clip's frames are not all held at once
            del gray[done]
        sel = np.flatnonzero(wanted[k] & (q == qf))
        p0 = qxy[sel].reshape(-1, 1, 2)
        guess = xy[k, sel].astype(np.float32).reshape(-1, 1, 2)
        p1, st1, _ = cv2.calcOpticalFlowPyrLK(grey(qf), grey(k), p0, guess.copy(), **lk)
        pb, st2, _ = cv2.calcOpticalFlowPyrLK(grey(k), grey(qf), p1, p0.copy(), **lk)
        p0, p1, pb, guess = (a.reshape(-1, 2) for a in (p0, p1, pb, guess))
        ok = (st1.ravel() == 1) & (st2.ravel() == 1) & (np.linalg.norm(pb - p0, axis=1) < RECOVER_FB_PX)
        ok &= np.linalg.norm(p1 - guess, axis=1) < static_px
        ok[ok] &= _patch_ncc(grey(qf), p0[ok], grey(k), p1[ok]) >= RECOVER_NCC_MIN
        out[k, sel[ok]], vis[k, sel[ok]], found[k, sel[ok]] = p1[ok], True, True
    return out, vis, found


RECOVER_WINDOW_PX = 21  # the Lucas–Kanade window of recover_hidden's search …
RECOVER_FB_PX = 1.0  # … its forward–backward agreement …
RECOVER_NCC_MIN = 0.8  # … the least normalised cross-correlation of the 7 × 7 patches …
RECOVER_MARGIN_PX = 8.0  # … and how far inside the frame the path must put the point


def static_prediction(frames: np.ndarray | None, tracks: np.ndarray, visible: np.ndarray, queries: np.ndarray,
                      prior_depth: np.ndarray, intr: Intrinsics, angles: np.ndarray, centres: np.ndarray | None,
                      image_size: tuple[int, int], readout_fraction: float = 0.0,
                      readout_rotation: np.ndarray | None = None) -> StaticPrediction:  # fmt: skip
    """Each track as a static point, as the fusion reads it: :func:`path_tracks`; with ``frames``, the hidden frames
    found again (:func:`recover_hidden`) and the depths fitted again with them; then :func:`slipped_tracks`, judged
    on the tracker's own frames (a track that slipped, was lost and was found again on its point by the path is still
    a slip: the found frames are the path's, not the tracker coming back)."""
    path = (intr, angles, centres, image_size, readout_fraction, readout_rotation)
    pred = path_tracks(tracks, visible, queries, prior_depth, *path)
    seen, found = np.asarray(visible, bool), np.zeros(np.shape(visible), bool)
    if frames is not None:  # hidden frames where the path puts the point and its patch is there: the tracker lost it
        xy, vis, found = recover_hidden(frames, pred, tracks, visible, queries,
                                        residual_thresholds_px(pred.residual_px)[0])  # fmt: skip
        if found.any():
            tracks, seen = xy, vis
            pred = path_tracks(tracks, seen, queries, prior_depth, *path)
    pred, slipped = slipped_tracks(pred, tracks, visible, *path)
    return StaticPrediction(pred, np.asarray(tracks), seen, found, slipped)


@dataclass
class StaticPrediction:
    """What :func:`static_prediction` gives: the path's prediction (the slipped tracks' residuals their new points'),
    the tracks (T, N, 2) and their visibility (T, N) with the found frames, those frames (T, N), and which tracks
    slipped (N,)."""

    pred: PathTracks
    tracks: np.ndarray
    visible: np.ndarray
    recovered: np.ndarray
    slipped: np.ndarray


def _patch_ncc(img0: np.ndarray, xy0: np.ndarray, img1: np.ndarray, xy1: np.ndarray, radius: int = 3) -> np.ndarray:
    """(N,) zero-mean normalised cross-correlation of the (2r + 1)² patches around ``xy0`` in ``img0`` and ``xy1`` in
    ``img1`` (bilinear; 0 where either patch is flat)."""
    import cv2

    if not len(xy0):
        return np.zeros(0)
    o = np.arange(-radius, radius + 1, dtype=np.float32)
    size = 2 * radius + 1

    def patches(img, xy):
        mx = np.broadcast_to(xy[:, None, None, 0] + o[None, None, :], (len(xy), size, size)).reshape(-1, size)
        my = np.broadcast_to(xy[:, None, None, 1] + o[None, :, None], (len(xy), size, size)).reshape(-1, size)
        mx, my = (np.ascontiguousarray(m, np.float32) for m in (mx, my))
        p = cv2.remap(img.astype(np.float32), mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        p = p.reshape(len(xy), -1)
        return p - p.mean(1, keepdims=True)

    a, b = patches(img0, np.asarray(xy0, np.float32)), patches(img1, np.asarray(xy1, np.float32))
    den = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return np.where(den > 1e-6, (a * b).sum(1) / np.maximum(den, 1e-6), 0.0)


def tracking_noise_px(residual_px: np.ndarray) -> float:
    """The clip's tracking noise: the median over tracks of each track's median residual (0 when none has one)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        per_track = np.nanmedian(np.asarray(residual_px, np.float64), 0)
    per_track = per_track[np.isfinite(per_track)]
    return float(np.median(per_track)) if len(per_track) else 0.0


def residual_thresholds_px(residual_px: np.ndarray) -> tuple[float, float]:
    """The static and the moving threshold on a track's residual (pixels), from the clip's tracking noise."""
    noise = tracking_noise_px(residual_px)
    return max(STATIC_PX, STATIC_NOISE * noise), max(MOVING_PX, MOVING_NOISE * noise)


def warp_depth(depth0: np.ndarray, intr: Intrinsics, angles: np.ndarray, centres: np.ndarray | None,
               progress: bool = False) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Frame 0's depth map (H, W) moved by the path into each frame: ``(T, H, W)`` depths in metres (0: frame 0
    never saw it) and a ``(T, H, W)`` bool mask of the pixels frame 0 saw. The map is lifted once
    (:class:`DepthCloud`) and splatted into every frame."""
    from tqdm.auto import tqdm

    angles, centres = path_arrays(angles, centres)
    cloud = DepthCloud(depth0, intr, (angles[0], centres[0]))
    out = np.zeros((len(angles), *depth0.shape), np.float32)
    seen = np.zeros((len(angles), *depth0.shape), bool)
    for k in tqdm(range(len(angles)), desc="depth of every frame", disable=not progress, leave=False):
        out[k], seen[k] = cloud.into((angles[k], centres[k]))
    return out, seen


class DepthCloud:
    """One frame's depth map (H, W) lifted once into the reference frame's axes (``source``: that frame's angles and
    centre, :class:`~motiondepth.types.Trajectory`'s convention), to be splatted into other frames (:meth:`into`).
    """

    def __init__(self, depth: np.ndarray, intr: Intrinsics, source: tuple[np.ndarray, np.ndarray]) -> None:
        self.shape, self.intr = depth.shape, intr
        h, w = depth.shape
        ys, xs = np.mgrid[0:h, 0:w]
        z = depth.astype(np.float64).ravel()
        ok = np.isfinite(z) & (z > 0)
        b = np.c_[xs.ravel()[ok], ys.ravel()[ok], np.ones(ok.sum())] @ np.linalg.inv(intr.K).T
        rs = euler_to_matrix(np.asarray(source[0], np.float64))
        self.points = (b * z[ok, None]) @ rs.T + np.asarray(source[1], np.float64)  # the reference frame's axes

    def into(self, target: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """(H, W) depth in metres in the ``target`` frame (angles, centre), 0 where the source never saw it, and the
        (H, W) bool mask of what it saw. Each point is splatted to its nearest pixel with a depth test (the nearest
        surface wins); one-pixel cracks between splats (where the view magnifies: a hole with at least 5 of its 8
        neighbours splatted) take the nearest surface around them. The rolling shutter is left out (under a pixel
        for handheld motion at these depths)."""
        import cv2

        h, w = self.shape
        k = self.intr
        rt = euler_to_matrix(np.asarray(target[0], np.float64))
        # the projection and the depth in one product: [u·z, v·z, z] = K R_kᵀ (X − C_k)
        p = (self.points - np.asarray(target[1], np.float64)) @ (k.K @ rt.T).T
        z = p[:, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            u = np.rint(p[:, 0] / z)
            v = np.rint(p[:, 1] / z)
        keep = (z > 1e-6) & (u >= 0) & (u < w) & (v >= 0) & (v < h)
        buf = np.full(h * w, np.inf)
        np.minimum.at(buf, (v[keep] * w + u[keep]).astype(np.int64), z[keep])
        buf = buf.reshape(h, w)
        hit = np.isfinite(buf)
        if hit.any() and not hit.all():  # close one-pixel cracks (5 of 8 neighbours splatted) with the nearest
            # surface around them; the edge of what the source saw is not grown
            around = cv2.boxFilter(hit.astype(np.uint8), -1, (3, 3), normalize=False, borderType=cv2.BORDER_CONSTANT)
            crack = ~hit & (around >= 5)
            near = cv2.erode(np.where(hit, buf, np.inf).astype(np.float32), np.ones((3, 3), np.uint8))
            buf[crack] = near[crack]
            hit |= crack
        return np.where(hit, buf, 0.0).astype(np.float32), hit
