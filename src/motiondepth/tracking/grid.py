"""The query grid of the perspective-blur paper (§3.2; docs/design.md §4)."""

from __future__ import annotations

import numpy as np

from motiondepth.geometry.camera import Intrinsics
from motiondepth.types import Tracks


def query_grid(
    half_count: int, size: tuple[int, int], intr: Intrinsics | None = None, margin_px: float | None = None
) -> np.ndarray:
    """Uniform grid of ``(2i + 1)²`` query points with the on-axis point at the principal point.

    Args:
        half_count: half-width count ``i`` (paper default 12 → 25 × 25 = 625 points).
        size: (H, W) image size.
        intr: intrinsics; the principal point defaults to the image centre.
        margin_px: distance kept from the image border (default 6 % of the short side, at
            least 12 px, so tracker windows and shake stay inside the image).

    Returns:
        (N, 2) float32 (x, y) pixels, row-major: point ``(2i+1)·a + b`` is row a, column b;
        the centre point is index ``N // 2``.

    Example:
        >>> g = query_grid(1, (101, 201))
        >>> g.shape, g[4].tolist()
        ((9, 2), [100.0, 50.0])
    """
    if half_count < 1:
        raise ValueError(f"half_count must be ≥ 1, got {half_count}")
    return grid_points(2 * half_count + 1, size, intr, margin_px)


def grid_points(
    per_side: int, size: tuple[int, int], intr: Intrinsics | None = None, margin_px: float | None = None
) -> np.ndarray:
    """``per_side × per_side`` query points spread evenly over the same area as :func:`query_grid` (CoTracker's
    ``grid_size`` convention for the count). An odd count is :func:`query_grid` of half ``(per_side − 1) / 2``,
    with a point at the principal point; an even one straddles it.

    Example:
        >>> grid_points(3, (101, 201)).tolist() == query_grid(1, (101, 201)).tolist()
        True
    """
    if per_side < 2:
        raise ValueError(f"a grid needs at least 2 points per side, got {per_side}")
    h, w = size
    cx, cy = ((w - 1) / 2.0, (h - 1) / 2.0) if intr is None else (intr.cx, intr.cy)
    if margin_px is None:
        margin_px = max(12.0, 0.06 * min(h, w))
    reach_x = min(cx, w - 1 - cx) - margin_px
    reach_y = min(cy, h - 1 - cy) - margin_px
    if reach_x <= 0 or reach_y <= 0:
        raise ValueError(f"image {w}x{h} too small for a {margin_px:.0f} px margin around ({cx}, {cy})")
    steps = np.linspace(-1.0, 1.0, per_side)
    ys, xs = np.meshgrid(cy + steps * reach_y, cx + steps * reach_x, indexing="ij")
    return np.stack([xs.ravel(), ys.ravel()], -1).astype(np.float32)


def grid_queries(points_xy: np.ndarray, frame: int = 0) -> np.ndarray:
    """(N, 2) positions → (N, 3) queries ``(t, x, y)`` at ``frame``."""
    t = np.full((len(points_xy), 1), float(frame), dtype=np.float32)
    return np.concatenate([t, np.asarray(points_xy, dtype=np.float32)], 1)


def track_frames(
    frames: np.ndarray,
    grid_half: int = 12,
    intrinsics: Intrinsics | None = None,
    tracker: str = "klt",
    grid_size: int | None = None,
    **tracker_options: object,
) -> Tracks:
    """Track the paper's query grid (``(2·grid_half + 1)²`` points, or ``grid_size²`` when given, from frame 0)
    through ``frames``."""
    h, w = frames.shape[1:3]
    from motiondepth.tracking.base import make_tracker

    if grid_size is not None:
        grid = grid_points(grid_size, (h, w), intrinsics)
    else:
        grid = query_grid(grid_half, (h, w), intrinsics)
    return make_tracker(tracker, **tracker_options).track(frames, grid_queries(grid))
