"""The handheld rotation model: the rig rotates about a pivot behind the camera (docs/design.md §3.2).

Pivot ``P = (0, 0, −d)`` in the reference camera frame, ``d ≥ 0`` metres (``d = 0``: rotation
about the optical centre). At orientation ``R`` (camera-to-reference) the camera centre is
``C = P − R·P`` and a reference-frame point ``X`` is seen at ``X_c = Rᵀ (X − C)``.

Under pure rotation image motion does not depend on depth; the pivot offset adds a translation
whose image shift relative to the rotational one is about ``d / Z``, which is what makes the
motion (and the blur) depth dependent.
"""

from __future__ import annotations

import numpy as np

from motiondepth.geometry.camera import Intrinsics, project

DEFAULT_PIVOT_M = 0.2  # rotation pivot behind the camera (the phone preset: wrist-to-phone distance)


def check_pivot(pivot_m: float, source: str = "--pivot") -> None:
    """:class:`InputError` (naming ``source``: the option, or the file it came from) unless the pivot
    distance is a number from 0 to 5 m."""
    from motiondepth.options import PIVOT, check_number

    check_number(pivot_m, source, PIVOT)


def camera_centre(r: np.ndarray, pivot_m: float) -> np.ndarray:
    """Camera centre ``C = P − R·P`` (..., 3) for rotations ``r`` (..., 3, 3)."""
    r = np.asarray(r, dtype=np.float64)
    p = np.array([0.0, 0.0, -pivot_m])
    return p - r @ p


def pivot_centres(angles: np.ndarray, pivot_m: float) -> np.ndarray:
    """(T, 3) camera centres the pivot model implies for per-frame ``[roll, pitch, yaw]`` (T, 3) rad
    (:func:`camera_centre`); NaN where a frame's angles are (unsolved frames)."""
    from motiondepth.geometry.rotations import euler_to_matrix

    angles = np.asarray(angles, dtype=np.float64)
    centres = camera_centre(euler_to_matrix(np.nan_to_num(angles)), pivot_m)
    return np.where(np.isfinite(angles).all(1, keepdims=True), centres, np.nan)


def transform_pivot(points: np.ndarray, r: np.ndarray, pivot_m: float) -> np.ndarray:
    """Reference-frame points → camera frame at orientation ``r``: ``Rᵀ (X − C)``.

    Args:
        points: (..., N, 3) points in the reference camera frame.
        r: (..., 3, 3) camera-to-reference rotations (broadcast against ``points``).
        pivot_m: pivot distance ``d`` behind the optical centre, metres.

    Returns:
        (..., N, 3) points in the rotated camera's frame.
    """
    r = np.asarray(r, dtype=np.float64)
    p = np.array([0.0, 0.0, -pivot_m])
    # Rᵀ (X − P + R P) = Rᵀ (X − P) + P
    rel = np.asarray(points, dtype=np.float64) - p
    return np.einsum("...ji,...nj->...ni", r, rel) + p


def project_pivot(points: np.ndarray, r: np.ndarray, pivot_m: float, intr: Intrinsics) -> np.ndarray:
    """Pixels of reference-frame points seen from orientation ``r`` (pivot model), (..., N, 2)."""
    return project(transform_pivot(points, r, pivot_m), intr)
