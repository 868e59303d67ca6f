"""Trajectory metrics (perspective-blur paper §4.1; docs/design.md §7).

Every angle sample (per frame and per axis; or per sub-frame sample for dense trajectories)
is scored on its own:

- ``abs_rel``: mean of ``|θ̂ − θ| / |θ|`` over samples with ``|θ|`` above ``floor_rad``
  (relative error is meaningless for angles near zero; frame 0 is zero by definition);
- ``e1``, ``e2``: share of those samples with ``|θ̂ − θ| / |θ| < 1.25^k − 1``
  (thresholds 0.25 and 0.5625), the paper's accuracy;
- ``rmse_arcmin``: root mean square error over all samples except frame 0, arcminutes
  (no floor needed), also per axis.

Default floor: 1 mrad (≈ 0.057° ≈ 3.4′). Below it the image shift on the phone preset is under
half a pixel, where tracking noise, not the solver, decides the relative error.
"""

from __future__ import annotations

import numpy as np

DEFAULT_FLOOR_RAD = 1e-3
RAD_TO_ARCMIN = 180.0 / np.pi * 60.0
AXES = ("roll", "pitch", "yaw")


def _check(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    if pred.shape != gt.shape or pred.shape[-1] != 3 or pred.ndim not in (2, 3):
        raise ValueError(f"pred and gt must both be (T, 3) or (T, S, 3); got {pred.shape} and {gt.shape}")
    return pred, gt


def trajectory_metrics(pred: np.ndarray, gt: np.ndarray, floor_rad: float = DEFAULT_FLOOR_RAD) -> dict:
    """Score a sparse (T, 3) or dense (T, S, 3) trajectory against the ground truth.

    Args:
        pred: predicted ``[roll, pitch, yaw]`` radians; NaN (a failed frame) counts as a miss.
        gt: ground truth, same shape.
        floor_rad: samples with ``|gt| ≤ floor_rad`` are left out of ``abs_rel``, ``e1``, ``e2``.

    Returns:
        dict with ``abs_rel``, ``e1``, ``e2``, ``rmse_arcmin``, ``rmse_arcmin_<axis>``,
        ``num_samples`` (scored by the relative metrics), ``floor_rad``.

    Example:
        >>> gt = np.array([[0, 0, 0], [0.01, 0.02, -0.01]])
        >>> m = trajectory_metrics(gt * 1.1, gt)
        >>> round(m["abs_rel"], 6), m["e1"]
        (0.1, 1.0)
    """
    pred, gt = _check(pred, gt)
    p, g = pred[1:], gt[1:]  # frame 0 is the reference: zero by construction
    err = np.abs(p - g)
    err = np.where(np.isfinite(err), err, np.inf)
    mask = np.abs(g) > floor_rad
    rel = err[mask] / np.abs(g[mask])
    out = {
        "abs_rel": float(np.mean(rel)) if rel.size else float("nan"),
        "e1": float(np.mean(rel < 0.25)) if rel.size else float("nan"),
        "e2": float(np.mean(rel < 1.25**2 - 1)) if rel.size else float("nan"),
        "rmse_arcmin": float(np.sqrt(np.mean(err**2)) * RAD_TO_ARCMIN) if err.size else float("nan"),
        "num_samples": int(rel.size),
        "floor_rad": float(floor_rad),
    }
    for i, axis in enumerate(AXES):
        out[f"rmse_arcmin_{axis}"] = (
            float(np.sqrt(np.mean(err[..., i] ** 2)) * RAD_TO_ARCMIN) if err.size else float("nan")
        )
    return out


def direction_errors_deg(truth: np.ndarray, pred: np.ndarray, min_m: float) -> np.ndarray:
    """Angle (degrees) between true and recovered camera-centre directions (T, 3), for the frames whose true centre
    moved more than ``min_m`` from the reference and whose recovered one is finite: the translation's direction,
    which a monocular clip recovers without its scale.

    Example:
        >>> truth = np.array([[0.0, 0, 0], [0.1, 0, 0], [0, 0.1, 0]])
        >>> direction_errors_deg(truth, np.array([[0.0, 0, 0], [0.3, 0, 0], [0.1, 0.1, 0]]), 0.01).round(1).tolist()
        [0.0, 45.0]
    """
    n1 = np.linalg.norm(truth, axis=1)
    m = (n1 > min_m) & np.all(np.isfinite(pred), axis=1)
    n2 = np.maximum(np.linalg.norm(pred[m], axis=1), 1e-12)
    return np.degrees(np.arccos(np.clip(np.sum(truth[m] * pred[m], 1) / (n1[m] * n2), -1, 1)))
