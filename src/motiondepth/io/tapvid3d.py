"""TAPVid-3D ``.npz`` files (docs/design.md §6): ground truth and predictions, read without running any code.

Ground truth keys: ``images_jpeg_bytes`` (object array of JPEG frames), ``queries_xyt`` (N, 3),
``tracks_XYZ`` (T, N, 3) metres, ``visibility`` (T, N), ``fx_fy_cx_cy`` (4,), optionally ``image_size``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from motiondepth.errors import InputError

JPEG_KEY = "images_jpeg_bytes"


def read_tapvid3d_npz(path: Path, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The numeric arrays of a TAPVid-3D ``.npz`` (checked keys), read without pickle; ``images_jpeg_bytes``,
    the one object array real files hold, is read by :func:`~motiondepth.io.npz.read_bytes_array`, which can
    build nothing but an array of bytes."""
    from motiondepth.io.npz import read_bytes_array, read_npz

    data = read_npz(path, keys, "TAPVid-3D .npz", skip=(JPEG_KEY,))
    jpegs = read_bytes_array(path, JPEG_KEY, "TAPVid-3D .npz")
    if jpegs is not None:
        data[JPEG_KEY] = jpegs
    return data


def _image_size(path: Path, data: dict[str, np.ndarray]) -> tuple[int, int]:
    import cv2

    if "image_size" in data:
        size = np.asarray(data["image_size"])
        if size.shape != (2,) or not np.all(np.isfinite(size)) or (size < 1).any():
            raise InputError(path, f"'image_size' must be (height, width) in pixels, got {size.tolist()}")
        return int(size[0]), int(size[1])
    frames = data.get("images_jpeg_bytes")
    if frames is None or len(frames) == 0:
        raise InputError(path, "needs 'images_jpeg_bytes' (or 'image_size') to rescale the intrinsics")
    img = cv2.imdecode(np.frombuffer(bytes(frames[0]), np.uint8), cv2.IMREAD_GRAYSCALE)
    if img is None:
        raise InputError(path, "first entry of 'images_jpeg_bytes' is not a decodable JPEG")
    return img.shape[0], img.shape[1]


def read_ground_truth(path: str | Path) -> tuple[dict[str, np.ndarray], tuple[int, int]]:
    """Arrays of a TAPVid-3D ground-truth file (checked keys) and its image size (H, W).

    Nothing in the file can run code: the JPEG array (an object array) is read by an unpickler that
    builds only arrays of bytes, every other key without pickle.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "ground-truth file not found")
    gt = read_tapvid3d_npz(path, ("queries_xyt", "tracks_XYZ", "visibility", "fx_fy_cx_cy"))
    t, n = gt["visibility"].shape if gt["visibility"].ndim == 2 else (-1, -1)
    if gt["tracks_XYZ"].shape != (t, n, 3):
        raise InputError(path, f"tracks_XYZ {gt['tracks_XYZ'].shape} and visibility {gt['visibility'].shape} differ")
    if gt["queries_xyt"].shape != (n, 3):
        raise InputError(path, f"queries_xyt must be (N, 3) for the {n} tracks, got {gt['queries_xyt'].shape}")
    k = np.asarray(gt["fx_fy_cx_cy"], dtype=np.float64)
    if k.shape != (4,) or not np.all(np.isfinite(k)) or (k[:2] <= 0).any():
        raise InputError(path, f"fx_fy_cx_cy must be 4 finite numbers with fx, fy > 0, got {k.tolist()}")
    return gt, _image_size(path, gt)
