"""Coloured point clouds from a depth map, written as binary PLY (MeshLab, Open3D, CloudCompare, Blender)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from motiondepth.geometry.camera import Intrinsics, unproject_depth_map
from motiondepth.io.atomic import atomic_path


def depth_to_points(
    depth: np.ndarray, rgb: np.ndarray, intr: Intrinsics, max_points: int | None = 300_000
) -> tuple[np.ndarray, np.ndarray]:
    """Valid pixels of ``depth`` (H, W) metres → camera-frame points (N, 3) float32 and colours (N, 3) uint8.

    Invalid pixels (≤ 0 or non-finite) are dropped. With ``max_points``, the image is subsampled on
    a regular pixel stride (not at random, so the cloud is reproducible and evenly spread).
    """
    depth = np.asarray(depth, dtype=np.float32)
    if rgb.shape[:2] != depth.shape:
        raise ValueError(f"colour image {rgb.shape[:2]} and depth {depth.shape} differ in size")
    xyz = unproject_depth_map(depth, intr)
    step = 1
    if max_points is not None:
        step = max(1, int(np.ceil(np.sqrt(depth.size / max_points))))
    xyz, col, d = xyz[::step, ::step], rgb[::step, ::step], depth[::step, ::step]
    valid = np.isfinite(d) & (d > 0)
    return xyz[valid].astype(np.float32), col[valid].astype(np.uint8)


PLY_AXES = {
    "opencv": "x right, y down, z forward (OpenCV camera axes of frame 0), metres",
    "opengl": "x right, y up, z backward (OpenGL camera axes of frame 0: Blender, three.js, nerfstudio), metres",
}


def write_ply(path: str | Path, points: np.ndarray, colors: np.ndarray | None = None, axes: str = "opencv") -> None:
    """Binary little-endian PLY with ``x y z`` float32 (+ ``red green blue`` uint8), atomically. ``points`` are in
    OpenCV camera axes; ``axes="opengl"`` flips y and z. The header's comment states the axes."""
    if axes not in PLY_AXES:
        raise ValueError(f"unknown PLY axes {axes!r}; use {' or '.join(PLY_AXES)}")
    points = np.asarray(points, dtype=np.float64).reshape(-1, 3) * ([1.0, -1.0, -1.0] if axes == "opengl" else 1.0)
    points = np.asarray(points, dtype="<f4").reshape(-1, 3)
    fields = [("x", "<f4"), ("y", "<f4"), ("z", "<f4")]
    if colors is not None:
        fields += [("red", "u1"), ("green", "u1"), ("blue", "u1")]
    rec = np.empty(len(points), dtype=fields)
    rec["x"], rec["y"], rec["z"] = points.T
    props = "property float x\nproperty float y\nproperty float z\n"
    if colors is not None:
        colors = np.asarray(colors, dtype=np.uint8).reshape(-1, 3)
        rec["red"], rec["green"], rec["blue"] = colors.T
        props += "property uchar red\nproperty uchar green\nproperty uchar blue\n"
    comment = f"comment motiondepth point cloud; axes: {PLY_AXES[axes]}\n"
    header = f"ply\nformat binary_little_endian 1.0\n{comment}element vertex {len(points)}\n{props}end_header\n"
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(header.encode("ascii"))
        fh.write(rec.tobytes())


def read_ply(path: str | Path) -> tuple[np.ndarray, np.ndarray | None]:
    """Read a PLY written by :func:`write_ply` → (points (N, 3), colours (N, 3) or None)."""
    from motiondepth.errors import InputError

    path = Path(path)
    data = path.read_bytes()
    end = data.find(b"end_header\n")
    if not data.startswith(b"ply\n") or end < 0:
        raise InputError(path, "not a PLY file")
    header = data[:end].decode("ascii").splitlines()
    if "format binary_little_endian 1.0" not in header:
        raise InputError(path, "only binary little-endian PLY is supported")
    n = next(int(h.split()[-1]) for h in header if h.startswith("element vertex"))
    names = [h.split()[-1] for h in header if h.startswith("property")]
    types = {"x": "<f4", "y": "<f4", "z": "<f4", "red": "u1", "green": "u1", "blue": "u1"}
    try:
        rec = np.frombuffer(data[end + len(b"end_header\n") :], dtype=[(k, types[k]) for k in names], count=n)
    except (KeyError, ValueError) as exc:
        raise InputError(path, f"unsupported or truncated PLY ({exc})") from None
    pts = np.stack([rec["x"], rec["y"], rec["z"]], -1)
    cols = np.stack([rec["red"], rec["green"], rec["blue"]], -1) if "red" in names else None
    return pts, cols
