"""Camera telemetry inside a video file: the gyroscope a GoPro (GPMF), Sony, DJI, Insta360 or a phone logger
stored beside the frames, read with the ``telemetry-parser`` package (the ``telemetry`` extra; the parser
Gyroflow uses, a compiled wheel with no dependencies).

``read_embedded_gyro`` gives the gyro in the package's normalised camera axes, in rad/s, on the video's
clock (milliseconds from the first frame in the file). ``run`` and ``compare-gyro`` then find the axis
map and the residual clock offset themselves, as for any gyro log. A camera that stabilises its video
electronically (GoPro HyperSmooth, ``CORI``/``IORI`` quaternions in GPMF) delivers frames whose motion is
no longer the gyro's: :func:`embedded_orientations` reads those per-frame quaternions when present.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from motiondepth.errors import InputError

VIDEO_SUFFIXES = (".mp4", ".mov", ".360", ".insv", ".lrv", ".m4v")  # files whose gyro is looked for inside


def _parser(path: Path):
    try:
        import telemetry_parser
    except ImportError:
        raise InputError(
            path, "reading the gyro inside a video needs the telemetry extra: "
            "pip install -c constraints.txt 'motiondepth[telemetry]'"
        ) from None  # fmt: skip
    try:
        return telemetry_parser.Parser(str(path))
    except Exception as exc:  # the parser raises its own error types for files it does not know
        raise InputError(path, f"no camera telemetry found in the video ({exc})") from None


def read_embedded_gyro(path: str | Path) -> tuple[np.ndarray, np.ndarray, str]:
    """``(t, w, camera)``: (N,) seconds on the video's clock, (N, 3) rad/s, and the camera's make and model."""
    t, w, camera = _imu_series(path, "gyro", "gyroscope")
    return t, np.radians(w), camera  # the package gives deg/s


def read_embedded_accel(path: str | Path) -> tuple[np.ndarray, np.ndarray, str]:
    """``(t, a, camera)``: (N,) seconds on the video's clock, (N, 3) accelerometer samples in the package's
    normalised camera axes (the unit is checked by :func:`motiondepth.io.accel_log.read_accel_log`), and the
    camera's make and model."""
    return _imu_series(path, "accl", "accelerometer")


def _imu_series(path: str | Path, key: str, what: str) -> tuple[np.ndarray, np.ndarray, str]:
    """One sensor (``key`` of telemetry-parser's normalised IMU samples) of the video at ``path``: times in seconds,
    (N, 3) values as the package gives them, and the camera's make and model."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "video not found")
    p = _parser(path)
    try:
        imu = p.normalized_imu()
    except Exception as exc:
        raise InputError(path, f"cannot read the telemetry's IMU samples ({exc})") from None
    rows = [(s["timestamp_ms"], *s[key]) for s in imu if s.get(key) is not None]
    if len(rows) < 2:
        raise InputError(path, f"the video's telemetry ({p.camera} {p.model}) has no {what} samples")
    a = np.asarray(rows, np.float64)
    return a[:, 0] / 1000.0, a[:, 1:4], f"{p.camera} {p.model}".strip()


def embedded_orientations(path: str | Path) -> dict[str, np.ndarray]:
    """Per-frame orientation quaternions ``[w, x, y, z]`` (F, 4) the telemetry stores, by name:
    ``CameraOrientation`` (GoPro CORI, the camera body) and ``ImageOrientation`` (IORI, the stabiliser's
    correction); empty when the file has none."""
    p = _parser(Path(path))
    out: dict[str, list] = {}
    for group in p.telemetry():  # one dict per telemetry payload (≈ 1 s): tag name → {"Data", "Scale", …}
        for name in ("CameraOrientation", "ImageOrientation"):
            tag = group.get(name) if isinstance(group, dict) else None
            data = tag.get("Data") if isinstance(tag, dict) else None
            if isinstance(data, list):
                scale = float(tag.get("Scale") or 1.0)
                out.setdefault(name, []).extend([q["w"] / scale, q["x"] / scale, q["y"] / scale, q["z"] / scale]
                                                for q in data)  # fmt: skip
    return {k: np.asarray(v, np.float64) for k, v in out.items()}


def embedded_exposure(path: str | Path) -> np.ndarray | None:
    """Per-frame exposure times in seconds from the video's telemetry (GoPro ``SHUT``, telemetry-parser's
    ``Exposure``), or None where the file has none or the ``telemetry`` extra is missing."""
    try:
        import telemetry_parser

        groups = telemetry_parser.Parser(str(path)).telemetry()
    except Exception:  # no extra, or a file the parser does not know: the caller falls back
        return None
    out: list[float] = []
    for group in groups:
        tag = group.get("Exposure") if isinstance(group, dict) else None
        data = tag.get("Data") if isinstance(tag, dict) else None
        if isinstance(data, list):
            out.extend(float(x) for x in data if isinstance(x, (int, float)))
    v = np.asarray(out, np.float64)
    v = v[np.isfinite(v) & (v > 0) & (v < 1.0)]
    return v if len(v) else None
