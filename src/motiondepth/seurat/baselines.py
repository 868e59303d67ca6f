"""Baselines every Seurat comparison keeps (Seurat Table 4 and 6; docs/design.md §8).

* :func:`handcrafted_log_ratios` — Eq. 4 without the unknowable orientation term: the depth ratio
  is the square root of the local density ratio, with the density of a point measured by a
  Gaussian kernel density over its k nearest neighbours fixed in the window's first frame.
  Run window by window and chained exactly like the model (same inference path).
* :func:`per_frame_depth` — lift each visible track position with the depth source of that frame
  (a per-frame metric depth estimator); occluded frames hold the last sampled depth.
* :func:`gaussian_smooth_depth` — the same, smoothed over time per track (Table 6).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d

from motiondepth.seurat.depth_source import DepthSource
from motiondepth.seurat.windows import chain_log_ratios, fill_occluded, window_starts


def kernel_density(points: np.ndarray, neighbours: np.ndarray) -> np.ndarray:
    """Gaussian kernel density of each point from its fixed neighbours, per frame.

    The bandwidth of each point follows its neighbourhood's current RMS distance (a balloon
    estimator), so the density scales exactly as 1/area under a local similarity transform —
    the strongest reading of Eq. 4. A fixed bandwidth would saturate (all neighbours inside
    the kernel) and hide the density change.

    Args:
        points: (T, N, 2) positions.
        neighbours: (N, k) neighbour indices (fixed over time).

    Returns:
        (T, N) density: mean_j exp(−d_j²/2h²) / (2π h²).
    """
    diff = points[:, neighbours] - points[:, :, None]  # (T, N, k, 2)
    d2 = (diff**2).sum(-1)
    h2 = np.maximum(d2.mean(-1, keepdims=True), 1e-12)
    return np.exp(-0.5 * d2 / h2).mean(-1) / (2 * np.pi * h2[..., 0])


def handcrafted_window(tracks: np.ndarray, visible: np.ndarray, k: int = 8) -> np.ndarray:
    """Log depth ratios of one window (W, N) from the density change of fixed kNN neighbourhoods.

    Neighbours are the ``k`` nearest tracks visible at the window's first frame, kept for the
    whole window; ρ_t/ρ_0 → r_t = sqrt(ρ_t / ρ_0) (Eq. 4 with cos θ_t / cos θ_0 taken as 1,
    since the surface orientation is unknown).
    """
    w, n = visible.shape
    alive = np.flatnonzero(visible[0])
    if len(alive) < 2:
        return np.zeros((w, n))
    m = min(k, len(alive) - 1)
    p0 = tracks[0]
    d = np.linalg.norm(p0[:, None] - p0[alive][None], axis=-1)  # (N, M)
    d[alive, np.arange(len(alive))] = np.inf  # a point is not its own neighbour
    nn = alive[np.argpartition(d, m - 1, axis=1)[:, :m]]
    rho = np.maximum(kernel_density(tracks, nn), 1e-30)
    return 0.5 * np.log(rho / rho[:1])


def handcrafted_log_ratios(
    tracks: np.ndarray, visible: np.ndarray, window: int = 8, stride: int = 4, k: int = 8,
    support: tuple[np.ndarray, np.ndarray] | None = None, chain: str = "last",
) -> np.ndarray:  # fmt: skip
    """(T, N) chained log depth ratios from the hand-crafted density baseline.

    Args:
        tracks, visible: (T, N, 2) query tracks and (T, N) visibility.
        support: optional supporting grid tracks per window, (K, W, G², 2) and (K, W, G²) —
            the same extra tracks Seurat sees; they join the neighbour candidates, so the
            baseline works on the same semi-dense set of trajectories.
        chain: how windows are chained (:func:`~motiondepth.seurat.inference.chain_log_ratios`);
            the paper's ``"last"`` by default — averaging overlapping windows *raises* this
            baseline's TC (its windows disagree more than Seurat's; exact tracks 53 → 84 mm).
    """
    filled = fill_occluded(tracks, visible)
    starts = window_starts(len(tracks), window, stride)
    n = tracks.shape[1]
    out = []
    for i, s in enumerate(starts):
        tr, vis = filled[s : s + window], visible[s : s + window]
        if support is not None:
            tr = np.concatenate([tr, fill_occluded(support[0][i], support[1][i])], 1)
            vis = np.concatenate([vis, support[1][i]], 1)
        out.append(handcrafted_window(tr, vis, k)[:, :n])
    return chain_log_ratios(np.stack(out), starts, len(tracks), chain)


def per_frame_depth(tracks: np.ndarray, visible: np.ndarray, source: DepthSource) -> np.ndarray:
    """(T, N) depth read from the source at each frame; gaps hold the nearest sampled value."""
    t, n = visible.shape
    d = np.full((t, n), np.nan)
    for f in source.frames():
        if 0 <= f < t:
            d[f] = source.sample(int(f), tracks[f])
    ok = np.isfinite(d) & np.asarray(visible, bool)
    if not ok.any():
        ok = np.isfinite(d)
    filled = fill_occluded(np.stack([np.nan_to_num(d), np.zeros_like(d)], -1), ok)[..., 0]
    return filled


def gaussian_smooth_depth(depth: np.ndarray, sigma: float = 1.0, iterations: int = 1) -> np.ndarray:
    """Temporal Gaussian smoothing of per-frame depth, per track (Table 6: 1 or 3 passes)."""
    out = np.asarray(depth, dtype=np.float64)
    for _ in range(iterations):
        out = gaussian_filter1d(out, sigma, axis=0, mode="nearest")
    return out
