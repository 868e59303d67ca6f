"""Gyroscope logs and angle traces on disk: CSV ``time_s,wx,wy,wz`` (and header-less text), Gyroflow
``.gcsv`` and original-Gyroflow ``.gyroflow`` projects; angle traces ``time_s,roll_rad,pitch_rad,yaw_rad``.

Every reader returns float64 seconds and (N, 3) values in the log's own axes, or raises one
:class:`~motiondepth.errors.InputError` naming the file and the problem.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np

from motiondepth.errors import InputError
from motiondepth.geometry.rotations import parse_axes


def _time_scale(t_raw: np.ndarray, unit: str) -> float:
    units = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}
    if unit != "auto":
        return units[unit]
    dt = float(np.median(np.diff(t_raw))) if len(t_raw) > 1 else 1.0
    # a gyroscope samples at 10 Hz – 10 kHz; pick the unit that puts dt in that range
    for name, lower in (("ns", 1e5), ("us", 50.0), ("ms", 0.5)):
        if dt > lower:
            return units[name]
    return 1.0


def read_gyro_log(path: str | Path, time_unit: str = "auto") -> tuple[np.ndarray, np.ndarray]:
    """Read angular velocity samples from a gyroscope log.

    Formats: CSV with a header ``time_s,wx,wy,wz`` (also ``time_ns``/``time_ms`` or ``gx,gy,gz``
    column names), header-less comma/whitespace text with the first four columns
    ``time wx wy wz`` (time unit guessed from the sampling interval unless ``time_unit`` is
    given), Gyroflow ``.gcsv`` (``tscale``/``gscale`` header fields), and Gyroflow project
    files ``.gyroflow`` (JSON with ``raw_imu``); and a camera's video file (``.mp4``, ``.mov``, …) whose
    telemetry holds its gyro (:mod:`motiondepth.io.telemetry`, the ``telemetry`` extra).

    Returns:
        ``(t, w)``: (N,) float64 seconds and (N, 3) rad/s in the log's axes.

    Raises:
        InputError: unreadable file, missing columns, NaNs, or non-increasing time.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "gyro log not found")
    suffix = path.suffix.lower()
    from motiondepth.io.telemetry import VIDEO_SUFFIXES, read_embedded_gyro

    if suffix in VIDEO_SUFFIXES:  # the gyro inside a camera's video file (GoPro GPMF, …)
        t, w, _ = read_embedded_gyro(path)
        _check_series(path, t, w)
        _check_rates(path, w)
        return t, w
    if not path.read_bytes().strip():
        raise InputError(path, "gyro log is empty")
    try:
        if suffix == ".gcsv":
            t, w = _read_gcsv(path)
        elif suffix == ".gyroflow":
            t, w = _read_gyroflow(path)
        else:
            t, w = _read_table(path, time_unit, ("wx", "wy", "wz"), ("gx", "gy", "gz"))
    except InputError:
        raise
    except (OSError, ValueError, KeyError, IndexError, json.JSONDecodeError) as exc:
        raise InputError(path, f"cannot parse gyro log ({exc})") from None
    _check_series(path, t, w)
    _check_rates(path, w)
    return t, w


MAX_RATE_RAD_S = np.radians(2000.0)  # the full range of consumer gyros (phones, action cameras): ±2000 °/s
MAX_MEDIAN_RATE_RAD_S = np.radians(500.0)  # no hand turns a camera this fast half of the time


def _check_rates(path: Path, w: np.ndarray) -> None:
    """Rates no camera gyro records, or no hand holds for long, mean another unit (deg/s read as rad/s is × 57)
    or a wrong ``gscale``: refused before they cost memory (blur kernels grow with the rate) or truth."""
    speed = np.linalg.norm(w, axis=1)
    p99, med = float(np.percentile(speed, 99)), float(np.median(speed))
    if p99 > MAX_RATE_RAD_S or med > MAX_MEDIAN_RATE_RAD_S:
        raise InputError(path, f"angular rates of {p99:.3g} rad/s (99th percentile; median {med:.3g}) are beyond "
                         f"any camera gyro ({MAX_RATE_RAD_S:.0f} rad/s = 2000 °/s) or hand: rates in deg/s "
                         "read as rad/s, or a wrong .gcsv gscale? the log must give rad/s")  # fmt: skip


def _read_gyroflow(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``raw_imu`` rows ``[t_s, gx, gy, gz, …]`` (rad/s) of a project file of the original (Python) Gyroflow."""
    doc = json.loads(path.read_text())
    if not isinstance(doc, dict) or "raw_imu" not in doc:
        what = "a JSON object" if isinstance(doc, dict) else f"a JSON {type(doc).__name__}"
        raise InputError(path, f"is {what} without 'raw_imu'; expected a Gyroflow project with raw_imu rows")
    rows = doc["raw_imu"]
    if not isinstance(rows, list) or not rows:
        raise InputError(path, "'raw_imu' is empty or not a list of samples")
    if any(not isinstance(r, list) or len(r) < 4 for r in rows):
        bad = next(r for r in rows if not isinstance(r, list) or len(r) < 4)
        kind = "objects" if isinstance(bad, dict) else f"{type(bad).__name__} entries"
        raise InputError(path, f"'raw_imu' holds {kind} (e.g. {str(bad)[:60]}); this reader takes the original "
                         "Gyroflow's [t_s, gx, gy, gz, …] rows in rad/s: export the gyro as .gcsv or CSV "
                         "time_s,wx,wy,wz instead")  # fmt: skip
    try:
        raw = np.array([r[:4] for r in rows], dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(path, "'raw_imu' rows must hold numbers [t_s, gx, gy, gz, …]") from None
    return raw[:, 0], raw[:, 1:4]


def _read_gcsv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    return read_gcsv_columns(path, ("gx", "gy", "gz"), "gscale")


def read_gcsv_columns(path: Path, names: tuple[str, str, str], scale_key: str) -> tuple[np.ndarray, np.ndarray]:
    """``(t, values)`` of a Gyroflow ``.gcsv``: ``t`` times ``tscale`` seconds, the columns ``names`` times the
    header's ``scale_key``, in the axes its ``orientation`` maps them to (:func:`gcsv_orientation`)."""
    meta: dict[str, str] = {}
    with open(path, newline="") as fh:
        lines = fh.read().splitlines()
    want = ",".join(("t", *names))
    for i, line in enumerate(lines):
        cells = [c.strip() for c in line.split(",")]
        if cells[0] == "t":
            cols = cells
            if not all(c in cols for c in names):
                raise InputError(path, f"its columns ({','.join(cols)}) lack {','.join(names)}")
            body = [[float(c) for c in ln.split(",")] for ln in lines[i + 1 :] if ln.strip()]
            if not body:
                raise InputError(path, f"has a '{','.join(cols)}' column line but no samples after it")
            if any(len(r) != len(cols) for r in body):
                raise InputError(path, f"every sample needs {len(cols)} values ({','.join(cols)})")
            body = np.array(body, dtype=np.float64)
            break
        if len(cells) >= 2:
            meta[cells[0]] = cells[1]
    else:
        raise InputError(path, f"no '{want}' column line in .gcsv")
    t = body[:, cols.index("t")] * float(meta.get("tscale", 1.0))
    v = body[:, [cols.index(c) for c in names]] * float(meta.get(scale_key, 1.0))
    if "orientation" in meta:
        idx, sign = gcsv_orientation(meta["orientation"], path)
        v = v[:, idx] * sign
    return t, v


def gcsv_orientation(text: str, path: Path | str = ".gcsv") -> tuple[np.ndarray, np.ndarray]:
    """A ``.gcsv`` ``orientation`` (``YxZ``) as Gyroflow and telemetry-parser read it: letter ``i`` is the file's
    column for axis ``i``, a *lowercase* letter negated (``XYZ`` is the file as it is; the opposite of
    ``--gyro-axes``, whose capitals negate). Returns (column of each axis, its sign)."""
    try:
        idx, sign = parse_axes(text.strip())
    except ValueError:
        raise InputError(path, f"orientation {text!r}: not a permutation of XYZ (a lowercase letter negated)") from None
    return idx, -sign


def _read_table(
    path: Path, time_unit: str, names: tuple[str, ...], alt: tuple[str, ...] | None = None, text: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``(t, values)`` of a CSV or whitespace table with a header naming ``names`` (or ``alt``) or none; ``text``:
    the file's text when the caller has read it already (comments dropped)."""
    text = path.read_text() if text is None else text
    first = text.lstrip().split("\n", 1)[0]
    delim = "," if "," in first else None
    has_header = any(ch.isalpha() for ch in first.replace("e-", "").replace("E-", "").replace("e+", ""))
    if has_header:
        rows = list(csv.reader(text.splitlines(), delimiter=delim or " ", skipinitialspace=True))
        header = [h.strip().lower() for h in rows[0]]
        tcol = next((c for c in header if c.startswith("time") or c in ("t", "timestamp")), None)
        if tcol is None:
            raise InputError(path, f"no time column in header {rows[0]}")
        want = names if all(n in header for n in names) else alt
        if want is None or not all(n in header for n in want):
            raise InputError(path, f"header must contain {', '.join(names)}; got {rows[0]}")
        body = [r for r in rows[1:] if r]
        if not body:
            raise InputError(path, f"has a header ({', '.join(rows[0])}) but no samples")
        short = next((k for k, r in enumerate(body, 2) if len(r) < len(header)), None)
        if short is not None:
            raise InputError(path, f"line {short} has {len(body[short - 2])} values, the header {len(header)}")
        data = np.array([[float(r[header.index(c)]) for c in (tcol, *want)] for r in body], dtype=np.float64)
        unit = {"time_ns": "ns", "time_ms": "ms", "time_us": "us", "time_s": "s"}.get(tcol, time_unit)
    else:
        data = np.loadtxt(io.StringIO(text), delimiter=delim, ndmin=2, dtype=np.float64)
        unit = time_unit
        if data.shape[1] < 1 + len(names):
            raise InputError(path, f"expected at least {1 + len(names)} columns, got {data.shape[1]}")
        data = _time_first(path, data, len(names))
    return data[:, 0] * _time_scale(data[:, 0], unit), data[:, 1:]


def _time_first(path: Path, data: np.ndarray, values: int) -> np.ndarray:
    """Header-less rows ``time v1 v2 v3 …`` or ``v1 v2 v3 time`` (phone loggers write the time last): the time is
    the first column when it increases, else the last of the first ``values + 1`` when that one does."""
    first, last = data[:, 0], data[:, values]
    if len(data) < 2 or np.all(np.diff(first) > 0):
        return data[:, : 1 + values]
    if np.all(np.diff(last) > 0):
        return np.column_stack([last, data[:, :values]])
    raise InputError(path, "neither the first nor the last column increases: no time column found (give a header "
                     "such as time_s,wx,wy,wz)")  # fmt: skip


def _check_series(path: Path, t: np.ndarray, v: np.ndarray) -> None:
    if len(t) < 2:
        raise InputError(path, f"need at least 2 samples, got {len(t)}")
    if not (np.all(np.isfinite(t)) and np.all(np.isfinite(v))):
        raise InputError(path, "contains NaN or infinite values")
    bad = np.flatnonzero(np.diff(t) <= 0)
    if len(bad):
        raise InputError(
            path, f"time is not strictly increasing (sample {bad[0] + 1}: {t[bad[0]]:.6f} → {t[bad[0] + 1]:.6f} s)"
        )


def write_gyro_log(path: str | Path, t: np.ndarray, w: np.ndarray) -> None:
    """Write a gyro log as CSV ``time_s,wx,wy,wz`` (rad/s), the format :func:`read_gyro_log` reads first."""
    from motiondepth.io.atomic import atomic_path

    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        f.write("time_s,wx,wy,wz\n")
        # times at full precision (absolute clocks such as TUM's 1.3e9 s need their nanoseconds), rates to 9 digits
        np.savetxt(f, np.column_stack([t, w]), fmt=["%.9f", "%.9g", "%.9g", "%.9g"], delimiter=",")


def read_angle_trace(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a CSV ``time_s,roll_rad,pitch_rad,yaw_rad`` → ((N,) s, (N, 3) rad)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "angle trace not found")
    try:
        t, a = _read_table(path, "s", ("roll_rad", "pitch_rad", "yaw_rad"), ("roll", "pitch", "yaw"))
    except InputError:
        raise
    except (OSError, ValueError, IndexError) as exc:
        raise InputError(path, f"cannot parse angle trace ({exc})") from None
    _check_series(path, t, a)
    return t, a


def _is_angle_trace(path: Path) -> bool:
    if path.suffix.lower() in (".gcsv", ".gyroflow"):
        return False
    try:
        with open(path) as fh:
            return "roll" in fh.readline().lower()
    except OSError:
        return False
