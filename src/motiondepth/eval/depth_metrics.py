"""Monocular depth metrics (docs/design.md §7), per image, on valid ground truth within a range.

``abs_rel = mean |d̂ − d| / d``, ``sq_rel = mean (d̂ − d)² / d``, ``rmse``, ``rmse_log``,
``log10 = mean |log10 d̂ − log10 d|``, ``delta_k`` = share of pixels with
``max(d̂/d, d/d̂) < 1.25^k``. Alignment before scoring: ``none`` (metric depth), ``median``
(scale by the ratio of medians) or ``lstsq`` (least-squares scale and shift). Standard crops:
``eigen`` (NYU, 1e-3–10 m) and ``garg`` (KITTI, 1e-3–80 m), defined on 480 × 640 and
375 × 1242 and scaled proportionally to other sizes.
"""

from __future__ import annotations

import numpy as np

RANGES = {"nyu": (1e-3, 10.0), "kitti": (1e-3, 80.0)}


def crop_mask(shape: tuple[int, int], crop: str | None) -> np.ndarray:
    """Boolean (H, W) mask of an evaluation crop: ``eigen``, ``garg`` or None (whole image)."""
    h, w = shape
    m = np.zeros((h, w), dtype=bool)
    if crop is None:
        m[:] = True
    elif crop == "eigen":  # rows 45:471, cols 41:601 of 480 × 640
        m[round(45 / 480 * h) : round(471 / 480 * h), round(41 / 640 * w) : round(601 / 640 * w)] = True
    elif crop == "garg":  # fractions of Garg et al. (2016)
        m[int(0.40810811 * h) : int(0.99189189 * h), int(0.03594771 * w) : int(0.96405229 * w)] = True
    else:
        raise ValueError(f"unknown crop {crop!r}; use 'eigen', 'garg' or None")
    return m


def align_depth(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray, mode: str) -> np.ndarray:
    """Align ``pred`` to ``gt`` on ``mask``: ``none``, ``median`` or ``lstsq`` (scale + shift)."""
    if mode == "none":
        return pred
    p, g = pred[mask], gt[mask]
    if mode == "median":
        return pred * (np.median(g) / np.median(p))
    if mode == "lstsq":
        a = np.stack([p, np.ones_like(p)], 1)
        (s, t), *_ = np.linalg.lstsq(a, g, rcond=None)
        return pred * s + t
    raise ValueError(f"unknown alignment {mode!r}; use 'none', 'median' or 'lstsq'")


def depth_metrics(
    pred: np.ndarray,
    gt: np.ndarray,
    min_depth: float = 1e-3,
    max_depth: float = 10.0,
    crop: str | None = None,
    align: str = "none",
) -> dict:
    """Metrics of one predicted depth map against ground truth (both (H, W), metres).

    Ground truth ≤ 0, non-finite, or outside ``[min_depth, max_depth]`` is ignored, as are
    pixels outside ``crop``. Predictions are clipped to the same range after alignment.

    Example:
        >>> gt = np.full((4, 4), 2.0); m = depth_metrics(gt * 1.1, gt)
        >>> round(m["abs_rel"], 6), m["delta1"]
        (0.1, 1.0)
    """
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    if pred.shape != gt.shape or pred.ndim != 2:
        raise ValueError(f"pred and gt must be (H, W) of the same size; got {pred.shape} and {gt.shape}")
    mask = np.isfinite(gt) & (gt > min_depth) & (gt < max_depth) & crop_mask(gt.shape, crop) & np.isfinite(pred)
    if not mask.any():
        raise ValueError("no valid ground-truth pixel in range")
    p = np.clip(align_depth(pred, gt, mask, align)[mask], min_depth, max_depth)
    g = gt[mask]
    ratio = np.maximum(p / g, g / p)
    return {
        "abs_rel": float(np.mean(np.abs(p - g) / g)),
        "sq_rel": float(np.mean((p - g) ** 2 / g)),
        "rmse": float(np.sqrt(np.mean((p - g) ** 2))),
        "rmse_log": float(np.sqrt(np.mean((np.log(p) - np.log(g)) ** 2))),
        "log10": float(np.mean(np.abs(np.log10(p) - np.log10(g)))),
        "delta1": float(np.mean(ratio < 1.25)),
        "delta2": float(np.mean(ratio < 1.25**2)),
        "delta3": float(np.mean(ratio < 1.25**3)),
        "num_pixels": int(mask.sum()),
    }


def mean_depth_metrics(per_image: list[dict]) -> dict:
    """Average per-image metric dicts (the standard: metrics are averaged per image)."""
    if not per_image:
        raise ValueError("no images to average")
    keys = [k for k in per_image[0] if k != "num_pixels"]
    return {k: float(np.mean([m[k] for m in per_image])) for k in keys} | {"num_images": len(per_image)}
