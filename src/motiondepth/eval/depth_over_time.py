"""Depth over time of point tracks against per-frame ground-truth depth maps (docs/design.md §7).

A track's *depth ratio* in frame k is its depth there over its depth in its reference frame (frame 0):
``r_k = z_k / z_0``. The error of a prediction is ``mean |r̂_k − r_k|`` over every (track, frame) pair where the
track is visible and the ground truth is valid in both frames. Assuming no depth change (``r̂ = 1``) is the bar
to beat: it scores ``mean |1 − r_k|``. The ratio cancels the unknown metric scale of a monocular prediction, so it
measures the shape of each track's depth over time, not its size.

Example:
    >>> truth = np.array([[2.0, 1.0], [2.2, 1.1], [2.4, 1.2]])          # two tracks, three frames
    >>> pred = np.array([[1.0, 3.0], [1.1, 3.3], [1.25, 3.3]])
    >>> e = depth_ratio_errors(pred, truth, np.ones((3, 2), bool))
    >>> round(e["mean"], 4), round(e["no_change"], 4)
    (0.0125, 0.1)
"""

from __future__ import annotations

import numpy as np


def sample_depth_maps(maps: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Depth at (T, N, 2) pixel positions in (T, H, W) maps, nearest pixel; 0 outside a map or where it is 0."""
    t, h, w = maps.shape
    col = np.rint(np.nan_to_num(xy[..., 0], nan=-1.0)).astype(np.int64)
    row = np.rint(np.nan_to_num(xy[..., 1], nan=-1.0)).astype(np.int64)
    inside = (col >= 0) & (col < w) & (row >= 0) & (row < h)
    out = np.zeros(xy.shape[:2], np.float64)
    k = np.broadcast_to(np.arange(t)[:, None], inside.shape)
    out[inside] = maps[k[inside], row[inside], col[inside]]
    return out


def depth_ratio_errors(pred: np.ndarray, truth: np.ndarray, visible: np.ndarray, reference: int = 0) -> dict:
    """Errors of predicted depth ratios (T, N) against true depths (T, N) (0 or NaN: unknown), where ``visible``.

    Returns ``mean`` and ``median`` |r̂ − r|, ``no_change`` (the same for r̂ = 1), ``pairs`` (how many (track,
    frame) pairs were scored, the reference frame left out), ``tracks`` and ``per_frame`` (mean per frame, NaN
    where none was scored), and ``true_change`` (mean |r − 1|, how much the depths changed at all).
    """
    pred, truth = np.asarray(pred, np.float64), np.asarray(truth, np.float64)
    vis = np.asarray(visible, bool)
    with np.errstate(invalid="ignore", divide="ignore"):
        ok = vis & vis[reference] & (truth > 0) & (truth[reference] > 0) & (pred > 0) & (pred[reference] > 0)
        ok &= np.isfinite(pred) & np.isfinite(pred[reference])
        ok[reference] = False
        r_true = truth / truth[reference]
        r_pred = pred / pred[reference]
    err = np.abs(r_pred - r_true)
    if not ok.any():
        return {"mean": float("nan"), "median": float("nan"), "no_change": float("nan"), "pairs": 0, "tracks": 0,
                "per_frame": np.full(len(pred), np.nan), "true_change": float("nan")}  # fmt: skip
    per_frame = np.array([err[k][ok[k]].mean() if ok[k].any() else np.nan for k in range(len(pred))])
    return {
        "mean": float(err[ok].mean()),
        "median": float(np.median(err[ok])),
        "no_change": float(np.abs(1.0 - r_true[ok]).mean()),
        "pairs": int(ok.sum()),
        "tracks": int(ok.any(0).sum()),
        "per_frame": per_frame,
        "true_change": float(np.abs(r_true[ok] - 1.0).mean()),
    }
