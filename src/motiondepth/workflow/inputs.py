"""What a run starts from: the frames, the intrinsics, the camera timing and the solver's settings."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from motiondepth.errors import InputError
from motiondepth.geometry.camera import DEFAULT_HFOV_DEG, Intrinsics
from motiondepth.options import FOCAL_PX, HFOV, PRINCIPAL_PX
from motiondepth.workflow.config import FOCAL_AUTO, Clip, RunConfig

if TYPE_CHECKING:
    from motiondepth.geometry.distortion import LensDistortion
    from motiondepth.tracking.gyro_aided import GyroAid


def decode_video(
    path: str | Path,
    start: int = 0,
    end: int | None = None,
    stride: int = 1,
    resize: int | None = None,
    fps: float | None = None,
) -> Clip:
    """Frames ``start:end:stride`` of a video file, a folder of images or a ``motiondepth simulate`` folder.

    Args:
        resize: if given, scale so the longer side is ``resize`` pixels (aspect kept).
        fps: frame rate, for image folders without timestamps (see :func:`~motiondepth.io.video.image_times`);
            overrides the times of any input.

    Raises:
        InputError: missing, corrupt or empty video, bad range, or fewer than 2 frames selected.
    """
    from motiondepth.io.video import FrameSelection, load_frames

    path = Path(path)
    if start < 0 or stride < 1 or (end is not None and end <= start):
        raise InputError(
            path, f"bad frame range start={start} end={end} stride={stride} (need start ≥ 0, end > start, stride ≥ 1)"
        )
    if resize is not None and resize < 16:
        raise InputError("--resize", f"{resize} px is too small (the longer side, at least 16)")
    # only the frames used are decoded in full and kept, already resized: a long 4K clip fits in memory
    frames, times, camera = load_frames(path, end, fps, FrameSelection(start, stride, resize))
    times_source, origin = camera.pop("times_source"), camera.pop("time_origin_s", 0.0)
    rotation = int(camera.pop("display_rotation_deg", 0))
    idx, source_size = camera.pop("indices"), camera.pop("source_size")
    times, origin = times - times[0], origin + times[0]
    frames, times = np.ascontiguousarray(frames), times.astype(np.float64)
    notes = check_frame_times(path, times, np.asarray(idx), times_source, stride)
    return Clip(frames, times, idx, str(path), tuple(source_size), camera, times_source, float(origin), rotation,
                notes)  # fmt: skip


GAP_REFUSED = 10.0  # × the median frame interval (and over GAP_MIN_S): a clip across such a gap is refused
GAP_MIN_S = 0.5
GAP_WARNED = 2.5  # × the median: dropped frames, worth a warning


def check_frame_times(path: str | Path, times: np.ndarray, indices: np.ndarray, source: str, stride: int = 1
                      ) -> tuple[str, ...]:  # fmt: skip
    """Every frame interval, not only the median: a clip whose frames jump across a gap in the recording (the TUM
    folder in ../shared jumps 15 s from frame 239 to 700) is refused with the range to cut on either side, since
    every step after decoding assumes one continuous motion; smaller jumps (dropped frames) come back as warnings."""
    steps = np.diff(times)
    if len(steps) == 0:
        return ()
    if not np.isfinite(steps).all() or (steps <= 0).any():
        k = int(np.argmax(~np.isfinite(steps) | (steps <= 0)))
        raise InputError(path, f"frame times must increase; frames {indices[k]} and {indices[k + 1]} are at "
                         f"{times[k]:.6g} and {times[k + 1]:.6g} s (times from {source})")  # fmt: skip
    med = float(np.median(steps))
    big = np.flatnonzero(steps > max(GAP_REFUSED * med, GAP_MIN_S))
    if len(big):
        k = int(big[0])
        a, b = int(indices[k]), int(indices[k + 1])
        raise InputError(path, f"frames {a} and {b} are {steps[k]:.4g} s apart, {steps[k] / med:.0f} × the median "
                         f"frame interval ({1e3 * med:.3g} ms; times from {source}): a gap in the recording, across "
                         f"which no motion can be followed; run each side on its own (--end {a + 1}, or --start {b})"
                         )  # fmt: skip
    dropped = np.flatnonzero(steps > GAP_WARNED * med)
    if len(dropped):
        k = int(dropped[0])
        return (f"{len(dropped)} frame interval(s) are more than {GAP_WARNED:g} × the median "
                f"({1e3 * med:.3g} ms), the longest {1e3 * steps.max():.4g} ms (first after frame {indices[k]}): "
                "dropped frames? the motion across them is interpolated",)  # fmt: skip
    return ()


def calibration_record(path: str | Path) -> dict:
    """The calibration JSON of ``path``, with a Gyroflow lens profile or project flattened to the common keys.

    Parse a file once with this and hand the record to :func:`read_calibration`,
    :func:`read_lens_distortion` and :func:`resolve_intrinsics` when more than one of them needs it.
    """
    from motiondepth.io.camera import read_calibration_file

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
    for name, f, side in (("fx", intr.fx, w), ("fy", intr.fy, h)):
        fov = float(np.degrees(2 * np.arctan2(side / 2, f)))
        if not HFOV.lo <= fov <= HFOV.hi:
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
) -> tuple[Intrinsics, str, str | None]:
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
        warning = (
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


def exposure_timing(cfg: RunConfig, clip: Clip, what: str) -> tuple[float, float]:
    """Exposure and readout time of the clip, seconds: flags first, then a simulate folder's camera.json."""
    cam = clip.camera
    if cfg.exposure_ms is not None:
        exposure = cfg.exposure_ms / 1e3
    elif "exposure_s" in cam:
        exposure = float(cam["exposure_s"])
    else:
        raise InputError(
            "--exposure-ms",
            f"{what} needs the exposure time of the clip (the camera app or the file's metadata "
            "says it, e.g. 1/30 s = 33.3 ms)",
        )
    if cfg.readout_ms is not None:
        readout = cfg.readout_ms / 1e3
    elif "row_time_s" in cam and "height" in cam:
        readout = float(cam["row_time_s"]) * float(cam["height"])
    else:
        readout = 0.0
    return exposure, readout


def gyro_aid(cfg: RunConfig, clip: Clip, video: str | Path | None = None) -> GyroAid | None:
    """The gyro log of ``cfg.gyro`` with the camera timing it needs (flags first, then camera.json);
    ``--gyro embedded``: the gyro in ``video``'s own telemetry (:mod:`motiondepth.io.telemetry`)."""
    from motiondepth.tracking.gyro_aided import GyroAid

    if cfg.gyro is None:
        return None
    log = cfg.gyro
    if cfg.gyro == "embedded":
        if video is None or not Path(video).is_file():
            raise InputError("--gyro", "'embedded' reads the gyro inside a video file; the input is not one")
        log = str(video)
    if not Path(log).is_file():
        raise InputError(log, "gyro log not found")
    if cfg.blur_fit:
        raise InputError("--blur-fit", "give either a gyro log or --blur-fit, not both (the gyro is the better source)")
    exposure, readout = exposure_timing(cfg, clip, "gyro-aided tracking")
    return GyroAid(log, exposure, readout, cfg.gyro_offset, cfg.gyro_axes)


def solver_config(cfg: RunConfig, clip: Clip):
    from motiondepth.trajectory.optics import ROLLING_SHUTTER_MODES, rolling_shutter_config

    if cfg.rolling_shutter not in ROLLING_SHUTTER_MODES:
        raise InputError("--rolling-shutter", f"unknown model {cfg.rolling_shutter!r}; use prior, free or off")
    try:
        readout = None if cfg.readout_ms is None else cfg.readout_ms / 1000.0
        return rolling_shutter_config(cfg.rolling_shutter, readout, clip.interval_s)
    except ValueError as exc:
        raise InputError("--readout-ms", str(exc)) from None
