"""Camera files: a ``motiondepth simulate`` folder's ``camera.json`` (any JSON with ``intrinsics`` and ``pivot_m``),
and calibration files of other tools read into the same kind of record (:func:`read_calibration_file`):
OpenCV ``cv::FileStorage`` YAML/XML and ROS ``camera_info`` YAML (``camera_matrix``, ``distortion_coefficients``,
``image_width``/``image_height``), and COLMAP ``cameras.txt`` (its first camera).
"""

from __future__ import annotations

import json
from pathlib import Path

from motiondepth.errors import InputError
from motiondepth.geometry.camera import Intrinsics


def read_json_object(path: str | Path, what: str = "JSON file") -> dict:
    """A JSON object from ``path``; every failure an :class:`InputError` naming the file and ``what`` it is."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, f"{what} not found")
    try:
        rec = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(path, f"not valid JSON ({exc})") from None
    if not isinstance(rec, dict):
        raise InputError(path, f"a {what} is a JSON object, not a JSON {type(rec).__name__}")
    return rec


def read_camera_json(path: str | Path) -> dict:
    return read_json_object(path, "camera file")


# COLMAP camera models → (parameter names in order, distortion model); the params not named fx/fy/f/cx/cy
# are the distortion coefficients, in OpenCV order
COLMAP_MODELS = {
    "SIMPLE_PINHOLE": (("f", "cx", "cy"), None),
    "PINHOLE": (("fx", "fy", "cx", "cy"), None),
    "SIMPLE_RADIAL": (("f", "cx", "cy", "k1"), "opencv"),
    "RADIAL": (("f", "cx", "cy", "k1", "k2"), "opencv"),
    "OPENCV": (("fx", "fy", "cx", "cy", "k1", "k2", "p1", "p2"), "opencv"),
    "FULL_OPENCV": (("fx", "fy", "cx", "cy", "k1", "k2", "p1", "p2", "k3", "k4", "k5", "k6"), "opencv"),
    "OPENCV_FISHEYE": (("fx", "fy", "cx", "cy", "k1", "k2", "k3", "k4"), "fisheye"),
}


def _colmap_cameras(path: Path) -> dict:
    """The first camera of a COLMAP ``cameras.txt`` as a calibration record."""
    try:
        rows = [r.split() for r in path.read_text().splitlines() if r.strip() and not r.strip().startswith("#")]
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot read ({exc})") from None
    if not rows:
        raise InputError(path, "COLMAP cameras.txt lists no camera")
    row = rows[0]
    model = row[1] if len(row) > 1 else "?"
    if model not in COLMAP_MODELS:
        raise InputError(path, f"COLMAP camera model {model!r} is not read here; use one of {', '.join(COLMAP_MODELS)}")
    names, dist_model = COLMAP_MODELS[model]
    try:
        w, h, values = int(row[2]), int(row[3]), [float(v) for v in row[4:]]
    except (IndexError, ValueError, OverflowError) as exc:
        raise InputError(path, f"cannot read the camera line ({exc})") from None
    if len(values) != len(names):
        raise InputError(path, f"a {model} camera has {len(names)} parameters ({' '.join(names)}), got {len(values)}")
    p = dict(zip(names, values, strict=True))
    f = p.get("f")
    rec = {"fx": p.get("fx", f), "fy": p.get("fy", f), "cx": p["cx"], "cy": p["cy"], "width": w, "height": h}
    if dist_model is not None:
        k = [v for n, v in p.items() if n not in ("f", "fx", "fy", "cx", "cy")]
        if dist_model == "opencv":  # OpenCV order k1 k2 p1 p2 k3…, with the radial-only models' gaps as zeros
            k = {4: k[:1] + [0.0, 0.0, 0.0], 5: k[:2] + [0.0, 0.0]}.get(len(names), k)
        rec |= {"distortion_coefficients": k, "distortion_model": dist_model}
    return rec


def _filestorage(path: Path) -> dict:
    """An OpenCV ``FileStorage`` YAML/XML or ROS ``camera_info`` YAML as a calibration record."""
    import cv2

    try:
        fs = cv2.FileStorage(str(path), cv2.FILE_STORAGE_READ)
        ok = fs.isOpened()
    except (cv2.error, SystemError) as exc:  # a parse error surfaces as either
        why = str(exc).strip().splitlines()[-1] if isinstance(exc, cv2.error) else "it does not parse"
        raise InputError(path, f"not a YAML/XML calibration OpenCV can read ({why})") from None
    if not ok:
        raise InputError(path, "not a YAML/XML calibration OpenCV can read")

    def value(node):
        if node.isMap():  # an OpenCV matrix or a ROS {rows, cols, data}
            node = node.getNode("data")
        if node.isSeq():
            return [node.at(i).real() for i in range(node.size())]
        if node.isString():
            return node.string()
        return node.real()

    rec = {}
    names = {"image_width": "width", "image_height": "height"}
    try:
        for key in fs.root().keys():
            node = fs.getNode(key)
            if not node.empty():
                rec[names.get(key, key)] = value(node)
    except (cv2.error, SystemError) as exc:
        raise InputError(path, f"cannot read the calibration ({str(exc).strip().splitlines()[-1]})") from None
    finally:
        fs.release()
    if rec.get("distortion_model") == "plumb_bob":
        rec["distortion_model"] = "opencv"
    if "camera_matrix" not in rec and "K" not in rec:
        raise InputError(path, f"no camera_matrix in the calibration (keys: {', '.join(rec) or 'none'})")
    return rec


def read_calibration_file(path: str | Path) -> dict:
    """A calibration file as a record of the JSON layouts ``run --calibration`` reads: JSON as it is, OpenCV/ROS
    YAML or XML, or a COLMAP ``cameras.txt``."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "calibration file not found")
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml", ".xml"):
        return _filestorage(path)
    if suffix == ".txt":
        return _colmap_cameras(path)
    return read_camera_json(path)


def camera_from_record(rec: dict, source: str | Path) -> tuple[Intrinsics, float, int | None]:
    """(intrinsics, pivot_m, image height) from a camera.json dict."""
    try:
        intr = Intrinsics.from_array(rec["intrinsics"] if "intrinsics" in rec else rec["derived"]["intrinsics"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(source, f"camera file needs 'intrinsics' [fx, fy, cx, cy] and 'pivot_m' ({exc})") from None
    height = rec.get("height")
    return intr, pivot_from_record(rec, source, 0.0), None if height is None else int(height)


def pivot_from_record(rec: dict, source: str | Path, default: float) -> float:
    """A camera file's ``pivot_m`` (``default`` without one), checked like ``--pivot`` with the file named."""
    from motiondepth.geometry.pivot import check_pivot

    pivot = rec.get("pivot_m", default)
    try:
        pivot = float(pivot)
    except (TypeError, ValueError):
        raise InputError(source, f"pivot_m must be a number of metres, got {pivot!r}") from None
    check_pivot(pivot, f"{source} pivot_m")
    return pivot
