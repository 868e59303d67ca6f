"""Pinhole intrinsics, projection and the thin-lens focal length (docs/design.md §2, §3.1).

Conventions: OpenCV camera frame (x right, y down, z forward); pixel centres at integer
coordinates; depth is z in metres, not the distance along the ray.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

DEFAULT_HFOV_DEG = 60.0  # assumed horizontal field of view without calibration (a phone's main camera in
# 16:9 video is 60–70°; the lower end errs towards the narrower crops of stabilised video modes)


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole intrinsics in pixels."""

    fx: float  # focal length along x, pixels
    fy: float  # focal length along y, pixels
    cx: float  # principal point x (column), pixels
    cy: float  # principal point y (row), pixels

    @classmethod
    def from_array(cls, values: Sequence[float] | np.ndarray) -> Intrinsics:
        """Build from ``[fx, fy, cx, cy]``."""
        v = np.asarray(values, dtype=np.float64).reshape(-1)
        if v.shape != (4,) or not np.all(np.isfinite(v)) or v[0] <= 0 or v[1] <= 0:
            raise ValueError(f"intrinsics must be 4 finite numbers fx,fy,cx,cy with fx,fy > 0; got {values}")
        return cls(*map(float, v))

    @classmethod
    def centred(cls, focal_px: float, width: int, height: int) -> Intrinsics:
        """Square pixels, principal point at the image centre ((W-1)/2, (H-1)/2)."""
        return cls(focal_px, focal_px, (width - 1) / 2.0, (height - 1) / 2.0)

    @classmethod
    def from_hfov(cls, hfov_deg: float, width: int, height: int) -> Intrinsics:
        """Square pixels, centred principal point, focal length from a horizontal field of view.

        Example:
            >>> round(float(Intrinsics.from_hfov(90.0, 200, 100).fx), 6)
            100.0
        """
        return cls.centred((width / 2.0) / np.tan(np.deg2rad(hfov_deg) / 2.0), width, height)

    def hfov_deg(self, width: int) -> float:
        """Horizontal field of view of frames ``width`` pixels wide, degrees (the inverse of :meth:`from_hfov`).

        Example:
            >>> round(Intrinsics.from_hfov(70.0, 640, 480).hfov_deg(640), 6)
            70.0
        """
        return float(np.rad2deg(2.0 * np.arctan(width / 2.0 / self.fx)))

    def vfov_deg(self, height: int) -> float:
        """Vertical field of view of frames ``height`` pixels high, degrees (as :meth:`hfov_deg`, with ``fy``)."""
        return float(np.rad2deg(2.0 * np.arctan(height / 2.0 / self.fy)))

    def as_array(self) -> np.ndarray:
        """``[fx, fy, cx, cy]`` as float64 (4,)."""
        return np.array([self.fx, self.fy, self.cx, self.cy], dtype=np.float64)

    @property
    def K(self) -> np.ndarray:
        """3 × 3 calibration matrix."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    @property
    def K_inv(self) -> np.ndarray:
        """Inverse of :attr:`K`."""
        return np.array(
            [
                [1.0 / self.fx, 0.0, -self.cx / self.fx],
                [0.0, 1.0 / self.fy, -self.cy / self.fy],
                [0.0, 0.0, 1.0],
            ]
        )

    def scaled(self, sx: float, sy: float | None = None) -> Intrinsics:
        """Intrinsics after resizing the image by ``sx`` (and ``sy``), pixel-centre aware."""
        sy = sx if sy is None else sy
        return Intrinsics(self.fx * sx, self.fy * sy, (self.cx + 0.5) * sx - 0.5, (self.cy + 0.5) * sy - 0.5)


def project(points: np.ndarray, intr: Intrinsics) -> np.ndarray:
    """Project camera-frame points to pixels.

    Args:
        points: (..., 3) points in the camera frame, z > 0.
        intr: intrinsics.

    Returns:
        (..., 2) pixel coordinates (x, y).

    Example:
        >>> project(np.array([0.1, -0.2, 2.0]), Intrinsics(500, 500, 320, 240))
        array([345., 190.])
    """
    p = np.asarray(points, dtype=np.float64)
    inv_z = 1.0 / p[..., 2]
    return np.stack([intr.fx * p[..., 0] * inv_z + intr.cx, intr.fy * p[..., 1] * inv_z + intr.cy], -1)


def unproject(pixels: np.ndarray, depth: np.ndarray | float, intr: Intrinsics) -> np.ndarray:
    """Lift pixels with z-depth to camera-frame points, ``X = Z · K⁻¹ [u, v, 1]ᵀ``.

    Args:
        pixels: (..., 2) pixel coordinates (x, y).
        depth: (...) z-depth in metres (broadcast against ``pixels[..., 0]``).
        intr: intrinsics.

    Returns:
        (..., 3) points in the camera frame.

    Example:
        >>> unproject(np.array([345.0, 190.0]), 2.0, Intrinsics(500, 500, 320, 240))
        array([ 0.1, -0.2,  2. ])
    """
    uv = np.asarray(pixels, dtype=np.float64)
    z = np.broadcast_to(np.asarray(depth, dtype=np.float64), uv.shape[:-1])
    x = (uv[..., 0] - intr.cx) / intr.fx * z
    y = (uv[..., 1] - intr.cy) / intr.fy * z
    return np.stack([x, y, z], -1)


def in_image(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Whether pixel positions (..., 2) lie within an image of ``size`` (H, W), pixel centres inclusive."""
    h, w = size
    x, y = pixels[..., 0], pixels[..., 1]
    return (x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)


def unproject_depth_map(depth: np.ndarray, intr: Intrinsics) -> np.ndarray:
    """(H, W) z-depth → (H, W, 3) camera-frame points at every pixel centre."""
    h, w = depth.shape
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
    return unproject(np.stack([xs, ys], -1), depth, intr)


def image_distance(focal_length_m: float, focus_distance_m: float) -> float:
    """Thin-lens image distance ``v = F·s / (s − F)`` (docs/design.md §3.1), metres.

    This is the paper's lens factor ``l·f' / (l + f')`` with its sign convention.

    Example:
        >>> round(image_distance(0.005, 1.0) * 1e3, 6)
        5.025126
    """
    if focus_distance_m <= focal_length_m:
        raise ValueError(f"focus distance {focus_distance_m} m must exceed the focal length {focal_length_m} m")
    return focal_length_m * focus_distance_m / (focus_distance_m - focal_length_m)


def focal_length_px(focal_length_m: float, focus_distance_m: float, pixel_pitch_m: float) -> float:
    """Focal length in pixels of a thin lens focused at ``focus_distance_m``: ``v / pitch``."""
    return image_distance(focal_length_m, focus_distance_m) / pixel_pitch_m
