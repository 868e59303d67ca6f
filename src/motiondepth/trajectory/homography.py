"""Homography baseline (docs/design.md §8): per-frame homography from frame 0, decomposed as K R K⁻¹.

Under a pure rotation about the optical centre frame-0 pixels map to frame k by
``H ∝ K R_relᵀ K⁻¹``; the baseline fits ``H`` with OpenCV (RANSAC), takes the nearest rotation to
``K⁻¹ H K`` and reads off the angles. It ignores depth, so the parallax from a non-zero pivot
biases it; that is the point of comparison.
"""

from __future__ import annotations

import cv2
import numpy as np

from motiondepth.geometry.camera import Intrinsics
from motiondepth.geometry.rotations import matrix_to_euler
from motiondepth.types import Trajectory


def nearest_rotation(m: np.ndarray) -> np.ndarray:
    """Closest rotation (Frobenius norm) to each (..., 3, 3) matrix, via SVD."""
    u, _, vt = np.linalg.svd(m)
    d = np.sign(np.linalg.det(u @ vt))
    u = u.copy()
    u[..., :, -1] *= d[..., None]
    return u @ vt


def solve_homography(
    tracks: np.ndarray,
    visible: np.ndarray,
    intr: Intrinsics,
    times: np.ndarray | None = None,
    ransac_px: float = 1.0,
) -> Trajectory:
    """Rotation per frame from a frame-0 → frame-k homography fit (RANSAC, ``ransac_px``).

    Args:
        tracks: (T, N, 2) pixel tracks queried in frame 0.
        visible: (T, N) visibility.
        intr: intrinsics.
        times: (T,) frame times (default: indices).

    Returns:
        :class:`~motiondepth.types.Trajectory` (``method="homography"``) with per-frame RMS
        transfer error of the homography over visible points, pixels; NaN for a frame with fewer than
        4 points visible in it and in frame 0.

    Raises:
        ValueError: no frame after frame 0 can be solved.
    """
    t_len = len(tracks)
    k, k_inv = intr.K, intr.K_inv
    angles = np.zeros((t_len, 3))
    res = np.zeros(t_len)
    p0 = tracks[0].astype(np.float64)
    for i in range(1, t_len):  # one OpenCV call per frame
        m = visible[i] & visible[0]
        if m.sum() < 4:
            angles[i] = np.nan
            res[i] = np.nan
            continue
        h, _ = cv2.findHomography(p0[m], tracks[i, m].astype(np.float64), cv2.RANSAC, ransac_px)
        if h is None:
            angles[i] = np.nan
            res[i] = np.nan
            continue
        rel_t = k_inv @ h @ k
        rel_t /= np.cbrt(np.linalg.det(rel_t))
        angles[i] = matrix_to_euler(nearest_rotation(rel_t).T)
        ph = np.c_[p0[m], np.ones(m.sum())] @ h.T
        res[i] = np.sqrt(np.mean(np.sum((ph[:, :2] / ph[:, 2:] - tracks[i, m]) ** 2, axis=1)))
    if t_len > 1 and np.isnan(angles[1:]).all():  # as solve_trajectory: never a trajectory of frame 0 alone
        raise ValueError("too few tracked points to solve any frame after frame 0 (a homography needs 4 points "
                         "visible in the frame and in frame 0)")  # fmt: skip
    times = np.arange(t_len, dtype=np.float64) if times is None else np.asarray(times, dtype=np.float64)
    return Trajectory(angles, times, res, method="homography")
