"""Camera files: a ``motiondepth simulate`` folder's ``camera.json`` (any JSON with ``intrinsics`` and ``pivot_m``),
and calibration files of other tools read into the same kind of record (:func:`read_calibration_file`):
OpenCV ``cv::FileStorage`` YAML/XML and ROS ``camera_info`` YAML (``camera_matrix``, ``distortion_coefficients``,
``image_width``/``image_height``), and COLMAP ``cameras.txt`` (its first camera); Gyroflow lens profiles and
projects (:func:`calibration_record`). From such a record: the pinhole intrinsics (:func:`read_calibration`, with
the command line's ranges and a field of view a camera has), the lens distortion (:func:`read_lens_distortion`),
and the intrinsics of the decoded frames from every source at once (:func:`resolve_intrinsics`).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from motiondepth.errors import InputError
from motiondepth.geometry.camera import DEFAULT_HFOV_DEG, Intrinsics
from motiondepth.options import FOCAL_PX, HFOV, PRINCIPAL_PX
from motiondepth.types import RunWarning, note

if TYPE_CHECKING:
    from motiondepth.geometry.distortion import LensDistortion

FOCAL_AUTO = "estimated from the shake"  # intrinsics origin of --hfov auto (see estimate_focal_length)


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


def calibration_record(path: str | Path) -> dict:
    """The calibration JSON of ``path``, with a Gyroflow lens profile or project flattened to the common keys.

    Parse a file once with this and hand the record to :func:`read_calibration`,
    :func:`read_lens_distortion` and :func:`resolve_intrinsics` when more than one of them needs it.
    """
    rec = read_calibration_file(path)  # JSON, OpenCV/ROS YAML or XML, COLMAP cameras.txt
    rec = rec.get("calibration_data", rec)  # a .gyroflow project holds its lens profile here
    if isinstance(rec.get("fisheye_params"), dict) or "use_opencv_fisheye" in rec:  # a Gyroflow lens profile
        out = dict(rec)
        model = str(rec.get("distortion_model", "opencv_fisheye" if rec.get("use_opencv_fisheye") else "opencv"))
        params = rec.get("fisheye_params") if rec.get("use_opencv_fisheye") else rec.get("calib_params")
        if not isinstance(params, dict) or "camera_matrix" not in params:
            raise InputError(path, f"Gyroflow lens profile without the camera matrix of its {model!r} model")
        out |= {"camera_matrix": params["camera_matrix"], "distortion_model": model}
        out["distortion_coeffs"] = params.get("distortion_coeffs")
        dim = rec.get("calib_dimension") or {}
        if "w" in dim and "h" in dim:
            out |= {"width": dim["w"], "height": dim["h"]}
        return out
    return rec


def _numbers(value) -> np.ndarray:
    """A matrix or vector given as a list or a ROS/OpenCV-style ``{"data": [...]}``."""
    if isinstance(value, dict):
        value = value.get("data")
    return np.asarray(value, dtype=np.float64)


DISTORTION_KEYS = ("distortion_coeffs", "dist_coeffs", "distortion_coefficients", "distortion", "D")


def read_calibration(path: str | Path, record: dict | None = None) -> tuple[Intrinsics, tuple[int, int] | None]:
    """Intrinsics (and the (H, W) they were calibrated at, if stated) from a JSON file.

    Accepted layouts: ``{"fx", "fy", "cx", "cy"}``; ``{"intrinsics": [fx, fy, cx, cy]}`` (the
    ``camera.json`` of ``motiondepth simulate``); a 3 × 3 ``"K"`` or ``"camera_matrix"`` (row-major,
    OpenCV; a list or ``{"data": [...]}``); Open3D's ``{"intrinsic_matrix": [9 numbers, column-major]}``;
    a Gyroflow lens profile (``.json``) or project (``.gyroflow``). Optional ``width`` and ``height``
    (Gyroflow: ``calib_dimension``) say the resolution of the calibration, so it can be rescaled to the
    video. Lens distortion in the same file: :func:`read_lens_distortion`. ``record``: the file's
    :func:`calibration_record`, when already read (``path`` then only names it in errors).
    """
    rec = calibration_record(path) if record is None else record
    try:
        if "intrinsics" in rec:
            intr = Intrinsics.from_array(rec["intrinsics"])
        elif "fx" in rec:
            intr = Intrinsics.from_array([rec["fx"], rec.get("fy", rec["fx"]), rec["cx"], rec["cy"]])
        elif "K" in rec or "camera_matrix" in rec:
            k = _numbers(rec.get("K", rec.get("camera_matrix"))).reshape(3, 3)
            intr = Intrinsics.from_array([k[0, 0], k[1, 1], k[0, 2], k[1, 2]])
        elif "intrinsic_matrix" in rec:
            k = _numbers(rec["intrinsic_matrix"]).reshape(3, 3).T
            intr = Intrinsics.from_array([k[0, 0], k[1, 1], k[0, 2], k[1, 2]])
        else:
            raise KeyError("none of fx/fy/cx/cy, intrinsics, K, camera_matrix, intrinsic_matrix")
        size = None
        if "width" in rec and "height" in rec:
            dims = [float(rec["height"]), float(rec["width"])]
            if not all(np.isfinite(d) and 1 <= d <= MAX_SIDE_PX and d == round(d) for d in dims):
                raise InputError(path, f"the calibration's image size {rec['width']}x{rec['height']} is not a size "
                                 f"in pixels (whole numbers from 1 to {MAX_SIDE_PX})")  # fmt: skip
            size = (int(dims[0]), int(dims[1]))
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise InputError(path, f"cannot read intrinsics ({exc})") from None
    for name, value, limits in (("fx", intr.fx, FOCAL_PX), ("fy", intr.fy, FOCAL_PX), ("cx", intr.cx, PRINCIPAL_PX),
                                ("cy", intr.cy, PRINCIPAL_PX)):  # fmt: skip
        problem = limits.problem(value)
        if problem:
            raise InputError(path, f"{name}: {problem}")
    return intr, size


MAX_SIDE_PX = 100_000  # no image side is larger


def check_field_of_view(intr: Intrinsics, size: tuple[int, int], source: str | Path) -> None:
    """The focal lengths must give a field of view a camera has (the range of ``--hfov``) across ``size`` (H, W):
    fx = 1e30 or 1e-9 px is a typo or a wrong unit, whichever source it came from."""
    h, w = size
    for name, f, side, fov in (("fx", intr.fx, w, intr.hfov_deg(w)), ("fy", intr.fy, h, intr.vfov_deg(h))):
        if HFOV.problem(fov):
            raise InputError(source, f"{name} = {f:.4g} px gives a {fov:.3g}° field of view across {side} px; a camera "
                             f"has {HFOV.lo:g}–{HFOV.hi:g}° (is it in pixels of this resolution?)")  # fmt: skip


def read_lens_distortion(path: str | Path, record: dict | None = None) -> LensDistortion | None:
    """The lens distortion of a calibration JSON (:func:`read_calibration`'s layouts), or None without one.

    Coefficients under ``distortion_coeffs``, ``dist_coeffs``, ``distortion_coefficients``, ``distortion``
    or ``D`` (OpenCV order); the model under ``distortion_model`` or ``model`` (``opencv``/``plumb_bob``/
    ``radtan`` or ``fisheye``/``equidistant``/``opencv_fisheye``; default ``opencv``, or ``fisheye`` with
    ``"fisheye": true``). See :mod:`motiondepth.geometry.distortion`. ``record``: as for
    :func:`read_calibration`.
    """
    from motiondepth.geometry.distortion import LensDistortion

    rec = calibration_record(path) if record is None else record
    key = next((k for k in DISTORTION_KEYS if rec.get(k) is not None), None)
    if key is None:
        return None
    model = rec.get("distortion_model", rec.get("model", "fisheye" if rec.get("fisheye") else "opencv"))
    try:
        return LensDistortion(str(model), tuple(_numbers(rec[key]).ravel()))
    except (TypeError, ValueError) as exc:
        raise InputError(path, f"cannot read the lens distortion ({exc})") from None


def resolve_intrinsics(
    image_size: tuple[int, int],
    source_size: tuple[int, int] | None = None,
    fx: float | None = None,
    fy: float | None = None,
    cx: float | None = None,
    cy: float | None = None,
    calibration: str | Path | None = None,
    hfov: float | str | None = None,
    calibration_record: dict | None = None,
) -> tuple[Intrinsics, str, RunWarning | None]:
    """Intrinsics of the decoded frames → (intrinsics, where they came from, warning or None).

    Values are given for the *source* video (``source_size``, before any resize) and rescaled
    to ``image_size``. Precedence: calibration file, then ``hfov``, then ``fx``; the individual
    ``fx/fy/cx/cy`` flags override what the file or field of view gave. With nothing at all, a
    :data:`DEFAULT_HFOV_DEG` horizontal field of view is assumed and a warning returned.
    ``hfov="auto"`` returns that default as the start of :func:`estimate_focal_length`, which
    :func:`run` calls once the tracks are there. ``calibration_record``: the calibration file as
    already read by :func:`calibration_record` (else it is read here).
    """
    h, w = image_size
    sh, sw = source_size or image_size
    warning = None
    if hfov == "auto":
        clash = [k for k, v in (("--fx", fx), ("--fy", fy), ("--calibration", calibration)) if v is not None]
        if clash:
            raise InputError("--hfov", f"auto estimates the focal length, so it cannot be combined with {clash[0]}")
        base, origin = Intrinsics.from_hfov(DEFAULT_HFOV_DEG, sw, sh), FOCAL_AUTO
        hfov = None  # --cx/--cy still apply
    elif calibration is not None:
        base, calib_size = read_calibration(calibration, calibration_record)
        origin = f"calibration {calibration}"
        if calib_size is not None and calib_size != (sh, sw):
            ch, cw = calib_size
            if abs(cw / ch - sw / sh) > 0.01 * sw / sh:
                raise InputError(
                    calibration, f"calibrated at {cw}x{ch}, a different aspect ratio from the video's {sw}x{sh}"
                )
            base = base.scaled(sw / cw, sh / ch)
            origin += f" (rescaled from {cw}x{ch})"
    elif hfov is not None:
        if isinstance(hfov, str) or not 1.0 <= hfov < 179.0:
            raise InputError("--hfov", f"{hfov}° is not a field of view (1–179°)")
        base, origin = Intrinsics.from_hfov(hfov, sw, sh), f"{hfov:g}° horizontal field of view"
    elif fx is not None or fy is not None:
        f = float(fx if fx is not None else fy)
        base, origin = Intrinsics.centred(f, sw, sh), "flags"
    else:
        base = Intrinsics.from_hfov(DEFAULT_HFOV_DEG, sw, sh)
        origin = f"default ({DEFAULT_HFOV_DEG:g}° horizontal field of view)"
        warning = note(
            f"no intrinsics given: assumed a {DEFAULT_HFOV_DEG:g}° horizontal field of view; rotation "
            "angles scale with the focal length, so give --fx/--fy/--cx/--cy, --calibration or --hfov "
            "(--hfov auto estimates it from the shake)"
        )
    given = {k: v for k, v in (("fx", fx), ("fy", fy), ("cx", cx), ("cy", cy)) if v is not None}
    if given:
        vals = asdict(base) | given
        if "fx" in given and "fy" not in given and calibration is None and hfov is None:
            vals["fy"] = given["fx"]
        if "fy" in given and "fx" not in given and calibration is None and hfov is None:
            vals["fx"] = given["fy"]
        try:
            base = Intrinsics.from_array([vals["fx"], vals["fy"], vals["cx"], vals["cy"]])
        except ValueError as exc:
            raise InputError("--fx/--fy/--cx/--cy", str(exc)) from None
        if origin not in ("flags", FOCAL_AUTO):
            origin += " with " + ", ".join(given) + " from flags"
    named = "--fx/--fy" if {"fx", "fy"} & set(given) else (calibration or "--hfov")
    check_field_of_view(base, (sh, sw), named)
    for name, c, size in (("cx", base.cx, sw), ("cy", base.cy, sh)):  # the optical axis meets the sensor
        if not 0.0 <= c <= size - 1:
            where = f"--{name}" if name in given else (calibration or f"--{name}")
            raise InputError(where, f"principal point {name} = {c:g} px lies outside the {sw}x{sh} source frames "
                             f"(0–{size - 1} px)")  # fmt: skip
    if (h, w) != (sh, sw):
        base = base.scaled(w / sw, h / sh)
    return base, origin, warning
