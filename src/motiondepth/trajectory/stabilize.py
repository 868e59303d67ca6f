"""Rotation stabilisation: warp each frame to a steady camera with the recovered rotation.

Under the pivot model (DESIGN §3.2) a frame at orientation ``R_k`` (camera-to-reference, the
rotation of ``trajectory.csv`` relative to frame 0) sees a distant point where frame 0 sees it
moved by the homography ``K R_kᵀ K⁻¹``. Warping frame k by ``K S_kᵀ R_k K⁻¹`` moves it to a camera
at orientation ``S_k``:
- ``S_k = I`` (``sigma_s = 0``) locks every frame to frame 0's view;
- ``S_k`` = the rotation path smoothed by a Gaussian of ``sigma_s`` seconds keeps the slow,
  intended motion and removes the shake (the smoothing acts around the path's straight-line fit, so
  a steady pan is kept up to the clip's ends).

What stays in a stabilised clip is what the rotation does not explain: the pivot translation's
parallax (≈ d/Z of the rotational shift, small beyond arm's length), moving objects, the rolling
shutter's shear within a frame (one homography per frame), and the rotation's own error. Watching
the stabilised clip is therefore a direct check of a recovered trajectory. Pixels that come from
outside the source frame are black.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy.ndimage import gaussian_filter1d

from motiondepth.errors import InputError
from motiondepth.geometry.camera import Intrinsics
from motiondepth.geometry.rotations import euler_to_matrix


def _fill_gaps(angles: np.ndarray) -> np.ndarray:
    """Angles of frames the solver lost (NaN rows) interpolated in time; all lost → zeros."""
    a = np.array(angles, dtype=np.float64)
    ok = np.isfinite(a).all(1)
    if not ok.any():
        return np.zeros_like(a)
    idx = np.arange(len(a))
    for i in range(3):
        a[:, i] = np.interp(idx, idx[ok], a[ok, i])
    return a


def stabilizing_homographies(
    angles: np.ndarray, intr: Intrinsics, times: np.ndarray | None = None, sigma_s: float = 0.0
) -> np.ndarray:
    """(T, 3, 3) homographies that take frame k's pixels to the stabilised view (module docstring).

    Args:
        angles: (T, 3) roll, pitch, yaw of each frame relative to frame 0, rad (NaN rows are filled
            in from their neighbours).
        intr: intrinsics of the frames.
        times: (T,) frame times, s (for ``sigma_s``; default 30 fps).
        sigma_s: Gaussian smoothing of the kept camera path, seconds; 0 locks to frame 0.
    """
    a = _fill_gaps(angles)
    if not sigma_s >= 0:
        raise InputError("--stabilize-sigma", f"must be ≥ 0 seconds, got {sigma_s}")
    if sigma_s > 0:
        dt = float(np.median(np.diff(times))) if times is not None and len(times) > 1 else 1 / 30
        # smooth around the straight line through the path, so that a steady pan is kept to the clip's ends
        idx = np.arange(len(a), dtype=np.float64)
        trend = np.polyval(np.polyfit(idx, a, 1), idx[:, None]) if len(a) > 1 else a
        kept = trend + gaussian_filter1d(a - trend, sigma_s / dt, axis=0, mode="nearest")
        target = euler_to_matrix(kept)
    else:
        target = np.broadcast_to(np.eye(3), (len(a), 3, 3))
    r = euler_to_matrix(a)
    return intr.K @ np.swapaxes(target, -1, -2) @ r @ intr.K_inv


def stabilize_frames(
    frames: np.ndarray, angles: np.ndarray, intr: Intrinsics, times: np.ndarray | None = None, sigma_s: float = 0.0
) -> np.ndarray:
    """Frames (T, H, W, 3) uint8 warped to the stabilised camera (:func:`stabilizing_homographies`)."""
    frames = np.asarray(frames)
    if len(angles) != len(frames):
        raise InputError("trajectory", f"has {len(angles)} frames, the video {len(frames)}")
    h, w = frames.shape[1:3]
    hom = stabilizing_homographies(angles, intr, times, sigma_s)
    return np.stack([
        cv2.warpPerspective(f, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        for f, m in zip(frames, hom, strict=True)
    ])  # fmt: skip
