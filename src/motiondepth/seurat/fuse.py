"""One depth over time per track: the camera path's prediction where the point is static, Seurat's where it moves.

Where the scene is rigid, the solved camera path predicts a static point's depth in every frame far better than
a network reading its track can (:mod:`motiondepth.trajectory.path_depth`; on real TUM clips it is 1.3–3× more
accurate than Seurat, docs/results.md). Seurat exists for points geometry cannot predict: things that move. The
evidence which one holds is how far the path's prediction lands from the 2D track, frame by frame:

- each frame's residual, smoothed by a running median over ``WINDOW`` frames of the track (one noisy frame
  decides nothing);
- under a static threshold the point is static (p = 1), over a moving one it moves (p = 0), in between p falls
  linearly (:func:`~motiondepth.trajectory.path_depth.residual_thresholds_px`: 3 and 8 px, or 3 and 8 times the
  clip's own tracking noise where that is larger: over 8 s a real clip's tracks drift 2–3 px from any one rigid
  path, TUM fr1_xyz);
- in between, the residual's weight p (the chance the point is static) is turned into a blend by how well each
  source does on this clip: Seurat's scatter ``σ_s`` is measured on the tracks that surely are static (its
  log depth ratios against the path's, each track's offset removed), the path's is ``PATH_RATIO_SIGMA``; the path
  gets ``p σ_s² / (p σ_s² + (1 − p) σ_p²)``, with p at least ``STATIC_FLOOR`` (a track far from the path may
  have failed rather than moved). Where Seurat drifts (long clips: its windows' ratios chain into
  errors of tens of percent), a point must clearly move before it leaves the path; where Seurat agrees with the
  path to a percent, the two share the doubt;
- where the two are blended, Seurat's depths are scaled, per track, to meet the path's in the frames where the
  path held (weight ≥ 0.5), so that the depth stays continuous.

Each track gets a source, ``path`` (every visible frame from the path), ``seurat`` (none) or ``fused`` (some),
saved in ``tracks3d.npz`` (``source``, with ``source_names``), with its median residual.
"""

from __future__ import annotations

import numpy as np

from motiondepth.trajectory.path_depth import nearest_valid, residual_thresholds_px
from motiondepth.types import Tracks3D

SOURCES = ("path", "seurat", "fused")  # a track's source code in tracks3d.npz's `source`
WINDOW = 9  # frames of the running median of the residual
STATIC_FLOOR = 0.3  # a track far off the path may still be static (a tracking failure): never quite 0; 0.02 until
# the eighth session, when Seurat's scatter on the static tracks was found to understate its error on the doubted
# ones (a lost track misleads both): docs/depth-over-time.md
PATH_RATIO_SIGMA = 0.01  # one σ of a static point's log depth ratio from the path (1–2 % on real 1-s clips)


def _running_median(x: np.ndarray, window: int) -> np.ndarray:
    """(T, N) running median over ``window`` frames of the finite values (NaN: no evidence, filled from the
    nearest frame that has some; a track with none stays NaN)."""
    t = len(x)
    half = window // 2
    pad = np.pad(x, ((half, half), (0, 0)), constant_values=np.nan)
    stack = np.stack([pad[i : i + t] for i in range(window)])
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            med = np.nanmedian(stack, 0)
    for j in np.flatnonzero(np.isnan(med).any(0) & np.isfinite(med).any(0)):
        med[:, j] = med[nearest_valid(np.isfinite(med[:, j])), j]
    return med


def path_weights(residual_px: np.ndarray, window: int = WINDOW) -> tuple[np.ndarray, float, float]:
    """(T, N) weight of the path's prediction per track and frame, 1 (static) … 0 (moving), from its residual;
    and the two thresholds used (pixels)."""
    static_px, moving_px = residual_thresholds_px(residual_px)
    med = _running_median(np.asarray(residual_px, np.float64), window)
    w = np.clip((moving_px - med) / (moving_px - static_px), 0.0, 1.0)
    return np.where(np.isfinite(w), w, 1.0), static_px, moving_px  # no frame but its query: nothing says it moves


def seurat_scatter(log_path: np.ndarray, log_seurat: np.ndarray, ok: np.ndarray, static: np.ndarray) -> float:
    """Seurat's scatter on this clip: the median |log depth ratio| between Seurat and the path over the ``static``
    tracks' ``ok`` frames, each track's median offset removed (NaN with fewer than 3 such tracks)."""
    d = np.where(ok, log_seurat - log_path, np.nan)[:, static]
    d = d[:, np.isfinite(d).sum(0) >= 2]
    if d.shape[1] < 3:
        return float("nan")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        dev = d - np.nanmedian(d, 0)
    return float(np.nanmedian(np.abs(dev)) * 1.4826)


def fuse_depth_over_time(seurat: Tracks3D, path_depth: np.ndarray, residual_px: np.ndarray, xy: np.ndarray,
                         tracks: np.ndarray, weights: tuple[np.ndarray, float, float] | None = None
                         ) -> Tracks3D:  # fmt: skip
    """The tracks' depth over time from Seurat's (``seurat``) and the path's prediction (``path_depth`` (T, N)
    metres, ``residual_px`` (T, N), ``xy`` (T, N, 2) where the path puts each point), as the module docstring says.
    Visible frames keep the track's observed position (``tracks`` (T, N, 2)); hidden ones take the path's.
    ``weights``: :func:`path_weights` of ``residual_px`` where the caller has them already."""
    from motiondepth.geometry.camera import unproject

    vis = seurat.visible
    w, static_px, moving_px = path_weights(residual_px) if weights is None else weights
    zp = np.asarray(path_depth, np.float64)
    zs = np.asarray(seurat.depth, np.float64)
    ok_p = np.isfinite(zp) & (zp > 0)
    ok_s = np.isfinite(zs) & (zs > 0)
    w = np.where(ok_p, np.where(ok_s, w, 1.0), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        lp, ls = np.log(np.where(ok_p, zp, 1.0)), np.log(np.where(ok_s, zs, 1.0))
    sigma_s = seurat_scatter(lp, ls, vis & ok_p & ok_s, (w >= 1.0).all(0))
    if np.isfinite(sigma_s):
        p = np.maximum(w, STATIC_FLOOR)
        ps, pp = p * sigma_s**2, (1 - p) * PATH_RATIO_SIGMA**2
        w = np.where(ps + pp > 0, ps / np.maximum(ps + pp, 1e-30), w)
    with np.errstate(divide="ignore", invalid="ignore"):
        held = (w >= 0.5) & ok_p & ok_s & vis
        # per track, Seurat's depths scaled to meet the path's where it held
        shift = np.array([np.median((lp - ls)[held[:, j], j]) if held[:, j].any() else 0.0 for j in range(w.shape[1])])
    log_z = w * lp + (1 - w) * (ls + shift[None])
    depth = np.exp(log_z)
    both_bad = ~ok_p & ~ok_s
    depth[both_bad] = np.nan
    pos = np.where(vis[..., None], tracks, xy)
    xyz = unproject(pos.astype(np.float64), depth, seurat.intrinsics).astype(np.float32)
    wv = np.where(vis, w, np.nan)
    with np.errstate(invalid="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            lo, hi = np.nanmin(wv, 0), np.nanmax(wv, 0)
            resid = np.nanmedian(residual_px, 0)
    source = np.where(np.nan_to_num(lo, nan=1.0) >= 1.0, 0, np.where(np.nan_to_num(hi, nan=1.0) <= 0.0, 1, 2))
    meta = dict(seurat.meta) | {
        "source": source.astype(np.uint8),
        "source_names": SOURCES,
        "path_residual_px": resid.astype(np.float32),
        "path_thresholds_px": (round(static_px, 2), round(moving_px, 2)),
        "seurat_scatter": round(float(sigma_s), 4) if np.isfinite(sigma_s) else None,
        "path_weight": w.astype(np.float32),
        "path_depth": zp.astype(np.float32),
        "seurat_depth": zs.astype(np.float32),
    }
    return Tracks3D(xyz, vis, seurat.intrinsics, seurat.queries, depth.astype(np.float32), meta)
