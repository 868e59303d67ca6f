"""Loading RGB images and metric depth maps with clear errors.

Depth files: 16-bit PNG / PGM (values × ``scale`` = metres; 0 = invalid) or ``.npz`` with key
``depth`` (metres) — also ``.npy``. Everything is validated here, so later stages can assume a
finite, non-negative float32 map with at least one valid pixel.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from motiondepth.errors import InputError
from motiondepth.geometry.camera import Intrinsics
from motiondepth.types import RGBDImage

DEFAULT_DEPTH_SCALE = 1e-3  # millimetres, the usual 16-bit PNG convention (NYU toolbox, SUN RGB-D, ICL-NUIM)


def load_image(path: str | Path) -> np.ndarray:
    """Read an RGB image (any format OpenCV reads) → (H, W, 3) uint8 RGB."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "image not found")
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise InputError(path, "not a readable image")
    if img.dtype == np.uint16:
        img = (img / 257.0).round().astype(np.uint8)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    elif img.shape[2] == 4:
        img = img[..., :3]
    if img.dtype != np.uint8:
        raise InputError(path, f"unsupported image type {img.dtype}")
    return np.ascontiguousarray(img[..., ::-1])


def load_depth(path: str | Path, scale: float | None = None, stack: bool = False) -> np.ndarray:
    """Read a metric depth map → (H, W) float32 metres, 0 = invalid.

    Args:
        path: ``.png``/``.pgm``/``.tif`` (integer units; metres = value × ``scale``) or
            ``.npz`` (key ``depth``) / ``.npy`` in metres.
        scale: metres per unit for integer images (default 1e-3, millimetres); ignored for
            ``.npz``/``.npy`` unless given.
        stack: also accept a (T, H, W) stack of per-frame maps from ``.npz``/``.npy``.

    Raises:
        InputError: missing/unreadable file, wrong shape, NaN/inf, negative values, or no valid
            pixel at all.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "depth file not found")
    suffix = path.suffix.lower()
    if suffix in (".npz", ".npy"):
        from motiondepth.io.npz import read_npz

        data = read_npz(path, ("depth",) if suffix == ".npz" else (), "depth file")
        depth = data["depth"] if suffix == ".npz" else data["arr_0"]
        depth = np.asarray(depth, dtype=np.float64) * (1.0 if scale is None else scale)
    else:
        raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if raw is None:
            raise InputError(path, "not a readable depth image")
        if raw.ndim != 2:
            raise InputError(path, f"depth image must have one channel, got shape {raw.shape}")
        if raw.dtype == np.uint8:
            raise InputError(path, "depth image is 8-bit; expected 16-bit integer depth")
        depth = raw.astype(np.float64) * (DEFAULT_DEPTH_SCALE if scale is None else scale)
    if depth.ndim != 2 and not (stack and depth.ndim == 3):
        want = "(H, W) or (T, H, W)" if stack else "a 2-D (H, W) array"
        raise InputError(path, f"depth must be {want}, got shape {depth.shape}")
    if not np.all(np.isfinite(depth)):
        raise InputError(path, f"depth has {int((~np.isfinite(depth)).sum())} NaN/inf values; mark holes with 0")
    if (depth < 0).any():
        raise InputError(path, "depth has negative values")
    if not (depth > 0).any():
        raise InputError(path, "depth is all zero (no valid pixel)")
    return depth.astype(np.float32)


def save_depth_png16(path: str | Path, depth: np.ndarray) -> None:
    """Write metric depth (H, W) metres as a 16-bit PNG in millimetres, the TUM/NYU convention (0 = invalid;
    beyond 65.535 m: 0 too), atomically. :func:`load_depth` reads it back with its default scale."""
    from motiondepth.io.atomic import atomic_path

    d = np.asarray(depth, np.float64)
    mm = np.where(np.isfinite(d) & (d > 0) & (d < 65.5355), np.round(d * 1000.0), 0).astype(np.uint16)
    with atomic_path(path) as tmp:
        if not cv2.imwrite(str(tmp), mm):
            raise OSError(f"{path}: could not write PNG")


DEPTH_FRAME_NAME = "{:06d}.png"  # every frame's depth in a run's depth/ folder: NNNNNN, the frame's index in the clip


def save_depth_frames(folder: str | Path, maps: np.ndarray) -> None:
    """Write (T, H, W) metric depth maps as ``folder/NNNNNN.png`` (:data:`DEPTH_FRAME_NAME`), 16-bit millimetres
    (0 = unknown), the folder whole: an earlier folder of that name is replaced, none is left half-written."""
    from motiondepth.io.atomic import replaced_folder

    with replaced_folder(folder) as tmp:
        for k, d in enumerate(maps):
            save_depth_png16(tmp / DEPTH_FRAME_NAME.format(k), d)


def load_depth_frames(folder: str | Path, count: int) -> np.ndarray:
    """(T, H, W) float32 metres from a folder written by :func:`save_depth_frames` (``count`` frames, all there)."""
    folder = Path(folder)
    maps = []
    for k in range(count):
        f = folder / DEPTH_FRAME_NAME.format(k)
        mm = cv2.imread(str(f), cv2.IMREAD_UNCHANGED) if f.is_file() else None
        if mm is None or mm.dtype != np.uint16 or mm.ndim != 2:
            raise InputError(f, f"missing or not a 16-bit depth PNG (the folder should hold {count} depth frames)")
        if maps and mm.shape != maps[0].shape:
            raise InputError(
                f, f"is {mm.shape[1]}x{mm.shape[0]}, the first frame {maps[0].shape[1]}x{maps[0].shape[0]}"
            )
        maps.append(mm)
    return np.stack(maps).astype(np.float32) / 1000.0


def load_rgbd(
    rgb_path: str | Path,
    depth_path: str | Path,
    depth_scale: float | None = None,
    intrinsics: Intrinsics | None = None,
    default_focal_per_short_side: float | None = None,
) -> RGBDImage:
    """Load a registered RGB + depth pair.

    Args:
        rgb_path: colour image.
        depth_path: depth map of the same size (see :func:`load_depth`).
        depth_scale: metres per depth unit for integer images.
        intrinsics: camera intrinsics of the pair; when None, a centred camera with
            focal length ``default_focal_per_short_side`` × the image's short side is assumed
            (the simulator passes its preset's field of view).

    Raises:
        InputError: either file bad, or the sizes differ.
    """
    rgb = load_image(rgb_path)
    depth = load_depth(depth_path, depth_scale)
    if rgb.shape[:2] != depth.shape:
        raise InputError(
            depth_path,
            f"depth is {depth.shape[1]}x{depth.shape[0]} but image {rgb_path} is {rgb.shape[1]}x{rgb.shape[0]}",
        )
    h, w = depth.shape
    if intrinsics is None:
        if default_focal_per_short_side is None:
            raise ValueError("give intrinsics or default_focal_per_short_side")
        intrinsics = Intrinsics.centred(default_focal_per_short_side * min(h, w), w, h)
    return RGBDImage(rgb, depth, intrinsics, source=f"{Path(rgb_path).name}+{Path(depth_path).name}")
