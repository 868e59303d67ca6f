"""Metric depth sources for Seurat's scale matching (Seurat §3.5, Eq. 10).

A depth source answers "what metric depth does some estimator give at pixel p in frame t?" for
the frames it covers. Implementations: :class:`DepthMaps` (one map for the first frame, or one per
frame: files, ground truth in evaluation, later the blur network) and :class:`FlickeringDepth`
(ground truth corrupted like a per-frame monocular estimator, for procedural comparisons).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from motiondepth.errors import InputError


class DepthSource(Protocol):
    """Metric depth at pixels of some frames."""

    def frames(self) -> np.ndarray:
        """Frame indices this source has depth for."""

    def sample(self, frame: int, xy: np.ndarray) -> np.ndarray:
        """(N, 2) pixels → (N,) metres, NaN where the source has no valid depth."""


def bilinear_sample(depth: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Bilinear interpolation of ``depth`` (H, W) at ``xy`` (N, 2) pixel centres.

    Invalid depth (≤ 0) is left out and the remaining weights renormalised, so a hole never
    drags a value towards zero; outside the image or with no valid neighbour → NaN.

    Example:
        >>> d = np.array([[1.0, 2.0], [3.0, 0.0]])
        >>> bilinear_sample(d, np.array([[0.5, 0.0], [0.5, 0.5], [5.0, 0.0]])).tolist()
        [1.5, 2.0, nan]
    """
    h, w = depth.shape
    xy = np.asarray(xy, dtype=np.float64)
    x, y = xy[:, 0], xy[:, 1]
    inside = np.isfinite(x) & np.isfinite(y) & (x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)
    xs = np.where(inside, x, 0.0)
    ys = np.where(inside, y, 0.0)
    x0 = np.clip(np.floor(xs).astype(np.int64), 0, max(w - 2, 0))
    y0 = np.clip(np.floor(ys).astype(np.int64), 0, max(h - 2, 0))
    x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
    fx, fy = xs - x0, ys - y0
    num = np.zeros(len(xy))
    den = np.zeros(len(xy))
    for yy, xx, wgt in ((y0, x0, (1 - fx) * (1 - fy)), (y0, x1, fx * (1 - fy)), (y1, x0, (1 - fx) * fy),
                        (y1, x1, fx * fy)):  # fmt: skip
        v = depth[yy, xx]
        ok = v > 0
        num += np.where(ok, wgt * v, 0.0)
        den += np.where(ok, wgt, 0.0)
    out = np.where(den > 1e-9, num / np.maximum(den, 1e-12), np.nan)
    return np.where(inside, out, np.nan)


@dataclass
class DepthMaps:
    """Depth maps for some frames: ``maps[k]`` is the map of frame ``frame_ids[k]``."""

    maps: np.ndarray  # (K, H, W) float32 metres, 0 = invalid
    frame_ids: np.ndarray  # (K,) int

    @classmethod
    def per_frame(cls, maps: np.ndarray) -> DepthMaps:
        return cls(np.asarray(maps, dtype=np.float32), np.arange(len(maps)))

    @classmethod
    def first_frame(cls, depth: np.ndarray) -> DepthMaps:
        return cls(np.asarray(depth, dtype=np.float32)[None], np.array([0]))

    @property
    def size(self) -> tuple[int, int]:
        return self.maps.shape[1], self.maps.shape[2]

    def frames(self) -> np.ndarray:
        return self.frame_ids

    def sample(self, frame: int, xy: np.ndarray) -> np.ndarray:
        k = np.flatnonzero(self.frame_ids == frame)
        if not len(k):
            return np.full(len(xy), np.nan)
        return bilinear_sample(self.maps[k[0]], xy)


@dataclass
class FlickeringDepth:
    """Ground truth made to behave like a per-frame monocular metric depth estimator.

    Each frame gets an independent global scale error exp(N(0, ``scale_jitter``)) — the flicker
    of per-frame estimators — and each pixel a multiplicative error exp(N(0, ``noise``)) drawn
    on a coarse grid of ``noise_cell`` px and bilinearly upsampled (estimators err in smooth
    blobs, not per pixel). Seeded per frame, so results are reproducible.
    Defaults give ≈ 5 % frame-to-frame scale flicker and ≈ 3 % local error.
    """

    truth: DepthMaps
    seed: int = 0
    scale_jitter: float = 0.05  # std of the per-frame log scale
    noise: float = 0.03  # std of the smooth per-pixel log error
    noise_cell: int = 16  # correlation length of the per-pixel error, pixels

    def frames(self) -> np.ndarray:
        return self.truth.frames()

    def _map(self, frame: int) -> np.ndarray:
        import cv2

        k = np.flatnonzero(self.truth.frame_ids == frame)[0]
        base = self.truth.maps[k]
        h, w = base.shape
        rng = np.random.default_rng([self.seed, int(frame)])
        coarse = rng.normal(0.0, self.noise, (max(2, h // self.noise_cell + 1), max(2, w // self.noise_cell + 1)))
        field = cv2.resize(coarse.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
        return base * np.exp(rng.normal(0.0, self.scale_jitter) + field)

    def sample(self, frame: int, xy: np.ndarray) -> np.ndarray:
        if frame not in set(self.truth.frame_ids.tolist()):
            return np.full(len(xy), np.nan)
        return bilinear_sample(self._map(frame), xy)


def load_depth_source(path: str | Path, image_size: tuple[int, int] | None = None, scale: float | None = None):
    """A :class:`DepthMaps` from a file or folder.

    Accepted: ``.npz`` with ``depth`` (H, W) for the first frame or (T, H, W) per frame (metres);
    ``.npy`` of the same shapes; a 16-bit depth image (first frame, × ``scale``); a folder of
    per-frame depth files (sorted by name).

    Raises:
        InputError: unreadable input, or a map size different from ``image_size`` (H, W).
    """
    from motiondepth.io.depth import load_depth

    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in (".png", ".npy", ".npz", ".tif", ".pgm"))
        if not files:
            raise InputError(path, "folder has no depth files (.png, .npy, .npz)")
        maps = np.stack([load_depth(p, scale) for p in files])
        src = DepthMaps.per_frame(maps)
    elif path.suffix.lower() in (".npz", ".npy"):
        arr = load_depth(path, scale, stack=True)
        src = DepthMaps.first_frame(arr) if arr.ndim == 2 else DepthMaps.per_frame(arr)
    else:
        src = DepthMaps.first_frame(load_depth(path, scale))
    if image_size is not None and tuple(src.size) != tuple(image_size):
        raise InputError(
            path, f"depth map is {src.size[1]}x{src.size[0]} but the tracks are for {image_size[1]}x{image_size[0]}"
        )
    return src
