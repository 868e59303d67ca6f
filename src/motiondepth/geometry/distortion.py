"""Lens distortion: calibrated cameras whose image is not a pinhole projection (beyond the papers).

Both papers, and every solver here, assume a pinhole camera. Real lenses bend straight lines:
mildly for a phone's main camera (whose video is often corrected in the camera), strongly for
action cameras (a GoPro's wide mode is a fisheye). A calibrated lens is made pinhole by
resampling each frame: the undistorted frame keeps the calibration's ``K``, so a pixel ``p`` of it
shows the ray ``K⁻¹ p`` and the rest of the pipeline runs unchanged. Barrel and fisheye lenses map
the undistorted frame inside the source frame (no empty border); the source's outer field of view
is cropped away.

Models (OpenCV's conventions and coefficient order, so calibrations from ``cv2.calibrateCamera``,
``cv2.fisheye.calibrate``, ROS or Gyroflow lens profiles are used as they are):

- ``opencv``: Brown–Conrady radial-tangential, ``k1 k2 p1 p2 [k3 [k4 k5 k6 [s1 s2 s3 s4 [τx τy]]]]``
  (4, 5, 8, 12 or 14 coefficients; ROS ``plumb_bob``/``rational_polynomial``).
- ``fisheye``: Kannala–Brandt equidistant, ``k1 k2 k3 k4`` (``cv2.fisheye``; ROS ``equidistant``).

Coefficients act on normalised coordinates, so one calibration serves every resolution of the same
sensor crop once ``K`` is scaled (:meth:`Intrinsics.scaled`).

Example:
    >>> import numpy as np
    >>> from motiondepth.geometry.camera import Intrinsics, unproject
    >>> lens = LensDistortion("opencv", (-0.2, 0.05, 0.0, 0.0))
    >>> k = Intrinsics(500.0, 500.0, 320.0, 240.0)
    >>> p = np.array([[600.0, 400.0]])
    >>> bool(np.allclose(lens.undistort_points(lens.distort_points(p, k), k), p, atol=1e-3))
    True
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from motiondepth.geometry.camera import Intrinsics, unproject

OPENCV_COEFF_COUNTS = (4, 5, 8, 12, 14)
# names calibration files use for each model
MODEL_ALIASES = {
    "opencv": "opencv", "radtan": "opencv", "plumb_bob": "opencv", "rational_polynomial": "opencv",
    "brown_conrady": "opencv", "opencv_standard": "opencv",
    "fisheye": "fisheye", "opencv_fisheye": "fisheye", "equidistant": "fisheye", "kannala_brandt": "fisheye",
}  # fmt: skip


@dataclass(frozen=True)
class LensDistortion:
    """A lens's distortion model and coefficients (OpenCV order; see the module docstring)."""

    model: str  # "opencv" or "fisheye"
    coeffs: tuple[float, ...]

    def __post_init__(self) -> None:
        model = MODEL_ALIASES.get(str(self.model).lower())
        if model is None:
            raise ValueError(f"unknown distortion model {self.model!r}; use one of {sorted(set(MODEL_ALIASES))}")
        coeffs = tuple(float(c) for c in np.asarray(self.coeffs, dtype=np.float64).ravel())
        if not all(np.isfinite(coeffs)):
            raise ValueError(f"distortion coefficients must be finite, got {coeffs}")
        if model == "fisheye" and len(coeffs) != 4:
            raise ValueError(f"the fisheye model has 4 coefficients (k1 k2 k3 k4), got {len(coeffs)}")
        if model == "opencv" and len(coeffs) not in OPENCV_COEFF_COUNTS:
            raise ValueError(
                f"OpenCV's model has {', '.join(map(str, OPENCV_COEFF_COUNTS))} coefficients "
                f"(k1 k2 p1 p2 [k3 ...]), got {len(coeffs)}"
            )
        object.__setattr__(self, "model", model)
        object.__setattr__(self, "coeffs", coeffs)

    @property
    def is_identity(self) -> bool:
        """All coefficients zero: the lens is already a pinhole."""
        return not any(self.coeffs)

    def describe(self) -> str:
        return f"{self.model} model, " + " ".join(f"{c:.4g}" for c in self.coeffs)

    def as_dict(self) -> dict:
        return {"model": self.model, "coeffs": list(self.coeffs)}

    def _d(self) -> np.ndarray:
        return np.asarray(self.coeffs, dtype=np.float64)

    def undistort_points(self, xy: np.ndarray, intr: Intrinsics) -> np.ndarray:
        """Pixels (..., 2) of the distorted image → pixels of the pinhole image with the same ``K``."""
        pts = np.asarray(xy, dtype=np.float64).reshape(-1, 1, 2)
        k = intr.K
        if self.model == "fisheye":
            out = cv2.fisheye.undistortPoints(pts, k, self._d(), P=k)
        else:
            criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 40, 1e-10)  # the default 5 steps are coarse
            out = cv2.undistortPoints(pts, k, self._d(), R=None, P=k, criteria=criteria)
        return out.reshape(np.shape(xy))

    def distort_points(self, xy: np.ndarray, intr: Intrinsics) -> np.ndarray:
        """Pixels (..., 2) of the pinhole image with ``K`` → pixels of the distorted image."""
        pts = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        rays = unproject(pts, 1.0, intr)
        k, zero = intr.K, np.zeros(3)
        if self.model == "fisheye":
            out, _ = cv2.fisheye.projectPoints(rays.reshape(-1, 1, 3), zero, zero, k, self._d())
        else:
            out, _ = cv2.projectPoints(rays, zero, zero, k, self._d())
        return out.reshape(np.shape(xy))

    def undistort_maps(self, intr: Intrinsics, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """``cv2.remap`` maps (H, W) float32 from the pinhole image of ``size`` (H, W) into the distorted one."""
        h, w = size
        k = intr.K
        if self.model == "fisheye":
            return cv2.fisheye.initUndistortRectifyMap(k, self._d(), np.eye(3), k, (w, h), cv2.CV_32FC1)
        return cv2.initUndistortRectifyMap(k, self._d(), None, k, (w, h), cv2.CV_32FC1)

    def coverage(self, intr: Intrinsics, size: tuple[int, int], step: int = 8) -> float:
        """Share of the pinhole image of ``size`` (H, W) whose rays land inside the recorded frame: near 1 for a
        real lens, near 0 for coefficients no lens has (k1 = 1e10 sends every ray off the sensor)."""
        h, w = size
        ys, xs = np.mgrid[0:h:step, 0:w:step].astype(np.float64)
        with np.errstate(all="ignore"):
            src = self.distort_points(np.stack([xs, ys], -1).reshape(-1, 2), intr)
        ok = np.isfinite(src).all(1) & (src[:, 0] >= -0.5) & (src[:, 0] <= w - 0.5)
        ok &= (src[:, 1] >= -0.5) & (src[:, 1] <= h - 0.5)
        return float(ok.mean())


def recorded_area(intr: Intrinsics, lens: LensDistortion, size: tuple[int, int]) -> np.ndarray:
    """(H, W) bool: the pixels of :func:`undistort_frames`' output of ``size`` whose ray lands inside the recorded
    frame; the rest are the black margin the undistortion leaves (8 rows at the top of TUM fr1's frames)."""
    h, w = size
    mx, my = lens.undistort_maps(intr, size)
    return (mx >= 0) & (mx <= w - 1) & (my >= 0) & (my <= h - 1)


def undistort_frames(frames: np.ndarray, intr: Intrinsics, lens: LensDistortion) -> np.ndarray:
    """Resample frames (T, H, W, C) of a distorted lens into pinhole frames with the same ``intr``.

    Pixels whose ray falls outside the source frame are black (:func:`recorded_area` says which).
    """
    if lens.is_identity:
        return frames
    mx, my = lens.undistort_maps(intr, frames.shape[1:3])
    return np.stack(
        [cv2.remap(f, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0) for f in frames]
    )


def distort_frames(frames: np.ndarray, intr: Intrinsics, lens: LensDistortion) -> np.ndarray:
    """What the lens records of pinhole frames (T, H, W, C) with ``intr``: the inverse of :func:`undistort_frames`
    (to simulate a lens). Recorded pixels whose ray leaves the pinhole frame are black (barrel lenses' corners)."""
    if lens.is_identity:
        return frames
    h, w = frames.shape[1:3]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    src = lens.undistort_points(np.stack([xs, ys], -1).reshape(-1, 2), intr).reshape(h, w, 2).astype(np.float32)
    return np.stack(
        [cv2.remap(f, src[..., 0], src[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT) for f in frames]
    )
