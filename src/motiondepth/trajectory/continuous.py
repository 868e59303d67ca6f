"""One continuous path through a dense trajectory's per-frame pieces (docs/design.md §5).

The dense trajectory decoder (and the blur fit's :meth:`~motiondepth.tracking.blur_fit.BlurFit.dense`)
predicts each frame's sub-frame samples on their own, so consecutive frames need not meet: the step across a
frame boundary is several times the step between samples inside a frame. A camera turns continuously, and the
seams show up in the shake spectrum as a floor of high-frequency "shake" at the frame rate and its harmonics.

:func:`continuous_dense` replaces the pieces by one cubic B-spline over the clip (C² everywhere,
``knots_per_frame`` knot intervals per frame interval, aligned with the frame starts), fitted to the
samples by least squares with each frame's mean held exactly to the per-frame solve's angle: the
per-frame solve gives each frame's level, the pieces give the shape inside it.

It was chosen on six procedural scenes with the ``handheld`` shake (seeds 201–206) against the decoder's pieces,
interpolated per-frame angles, one or three knot intervals per frame and a smoothing penalty; the measurements,
held-out clips included, are in docs/results.md (*Dense trajectory: one continuous path*).
"""

from __future__ import annotations

import numpy as np
from scipy.interpolate import BSpline

KNOTS_PER_FRAME = 2
_RIDGE = 1e-9  # on the coefficients' second differences, relative to the normal matrix: keeps tiny S solvable


def _segments(ok: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) runs of consecutive True."""
    edges = np.flatnonzero(np.diff(np.r_[0, ok.astype(np.int8), 0]))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def _fit_run(dense: np.ndarray, anchors: np.ndarray, times: np.ndarray, knots_per_frame: int) -> np.ndarray:
    """The spline fit of one run of solved frames: dense (T, S, 3), anchors (T, 3), times (T, S) in frames."""
    t_len, s = times.shape
    lo, hi = float(times.min()), float(times.max())
    if t_len == 1 or hi <= lo:
        return dense - dense.mean(1, keepdims=True) + anchors[:, None]
    inner = np.linspace(lo, hi, knots_per_frame * t_len + 1)
    knots = np.r_[[lo] * 3, inner, [hi] * 3]
    basis = BSpline.design_matrix(times.ravel(), knots, 3).toarray()  # (T·S, nb)
    mean_rows = basis.reshape(t_len, s, -1).mean(1)  # (T, nb): each frame's mean of the spline
    nb = basis.shape[1]
    normal = basis.T @ basis
    d2 = np.diff(np.eye(nb), 2, axis=0)
    normal = normal + _RIDGE * np.trace(normal) / nb * (d2.T @ d2)
    # equality-constrained least squares: the KKT system [[BᵀB, Cᵀ], [C, 0]]
    kkt = np.block([[normal, mean_rows.T], [mean_rows, np.zeros((t_len, t_len))]])
    rhs = np.concatenate([basis.T @ dense.reshape(t_len * s, 3), anchors], axis=0)
    coef = np.linalg.lstsq(kkt, rhs, rcond=None)[0][:nb]
    return (basis @ coef).reshape(t_len, s, 3)


def continuous_dense(
    dense: np.ndarray, anchors: np.ndarray, times: np.ndarray | None = None, knots_per_frame: int = KNOTS_PER_FRAME
) -> np.ndarray:
    """One C²-continuous path (T, S, 3) through per-frame dense pieces, each frame's mean held to ``anchors``.

    Args:
        dense: (T, S, 3) sub-frame samples, each frame predicted on its own.
        anchors: (T, 3) each frame's mean angle (the per-frame solve). A frame with a NaN anchor is
            unsolved: it comes back NaN, and the runs of solved frames on either side are fitted apart.
        times: (T, S) sample times in frame intervals (default: samples tiling each frame interval,
            sample ``j`` of frame ``k`` at ``k + (j + 0.5) / S``).
        knots_per_frame: knot intervals of the cubic spline per frame interval.

    Example:
        >>> pieces = np.zeros((4, 5, 3)); pieces[1] += 1.0  # a step up and down
        >>> path = continuous_dense(pieces, pieces.mean(1))
        >>> bool(np.abs(np.diff(path.reshape(-1, 3), axis=0)).max() < 1.0), np.allclose(path.mean(1), pieces.mean(1))
        (True, True)
    """
    dense = np.asarray(dense, dtype=np.float64)
    anchors = np.asarray(anchors, dtype=np.float64)
    if dense.ndim != 3 or dense.shape[2] != 3 or anchors.shape != (len(dense), 3):
        raise ValueError(f"dense must be (T, S, 3) with anchors (T, 3); got {dense.shape}, {anchors.shape}")
    t_len, s = dense.shape[:2]
    if times is None:
        times = np.arange(t_len)[:, None] + (np.arange(s) + 0.5) / s
    times = np.asarray(times, dtype=np.float64)
    if times.shape != (t_len, s):
        raise ValueError(f"times must be (T, S) = {(t_len, s)}; got {times.shape}")
    ok = np.isfinite(anchors).all(1) & np.isfinite(dense).all((1, 2))
    out = np.full_like(dense, np.nan)
    for a, b in _segments(ok):
        out[a:b] = _fit_run(dense[a:b], anchors[a:b], times[a:b], knots_per_frame)
    return out


def boundary_steps(dense: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Angular steps (rad) between consecutive samples of a dense trajectory (T, S, 3): (across a frame
    boundary (T − 1,), inside a frame (T·(S − 1),)). A frame with a NaN gives NaN steps."""
    flat = np.asarray(dense, dtype=np.float64).reshape(-1, 3)
    step = np.linalg.norm(np.diff(flat, axis=0), axis=1)
    s = dense.shape[1]
    across = (np.arange(len(step)) % s) == s - 1
    return step[across], step[~across]


def seam_ratio(dense: np.ndarray) -> float:
    """Median over the frame boundaries of the step across the boundary over the mean of the two steps beside
    it (the last inside the frame before, the first inside the frame after): ≈ 1 for a continuous path,
    larger where the path jumps at the boundaries. NaN when S < 2 or no boundary has finite steps."""
    flat = np.asarray(dense, dtype=np.float64).reshape(-1, 3)
    step = np.linalg.norm(np.diff(flat, axis=0), axis=1)
    s = dense.shape[1]
    i = np.flatnonzero((np.arange(len(step)) % s) == s - 1)
    if s < 2 or not len(i):
        return float("nan")
    with np.errstate(invalid="ignore", divide="ignore"):
        r = step[i] / (0.5 * (step[i - 1] + step[i + 1]))
    r = r[np.isfinite(r)]
    return float(np.median(r)) if len(r) else float("nan")
