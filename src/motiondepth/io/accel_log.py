"""Accelerometer logs on disk, read beside the gyro logs (:mod:`motiondepth.io.gyro_log`): CSV ``time,ax,ay,az``
(header-less text too), TUM RGB-D ``accelerometer.txt`` (``# timestamp ax ay az``), Gyroflow ``.gcsv`` with
``ax,ay,az`` columns (``ascale``), and a camera's video file whose telemetry holds an accelerometer (GoPro
GPMF ``ACCL`` and what else telemetry-parser reads; the ``telemetry`` extra).

The unit is m/s² or g. Unless it is given, it is found from the log itself: a camera held by a hand feels
gravity plus at most a few m/s², so the median magnitude is near 9.8 in m/s² and near 1 in g; a log with a
median magnitude near neither is refused (:data:`UNIT_RULE`). Times are seconds on the log's clock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from motiondepth.errors import InputError
from motiondepth.io.gyro_log import _check_series, _read_table, read_gcsv_columns

STANDARD_GRAVITY = 9.80665  # m/s² in one g
UNIT_RULE = "median |a| within 7–13 → m/s², within 0.7–1.3 → g"
ACCEL_UNITS = ("auto", "m/s2", "g")
MIN_SAMPLES = 20


@dataclass
class AccelLog:
    """Specific force samples in the log's own axes."""

    times: np.ndarray  # (N,) float64 seconds, increasing
    values: np.ndarray  # (N, 3) m/s², the log's axes
    path: str
    unit: str  # the file's unit: "m/s2" or "g"
    unit_found: bool  # True: by UNIT_RULE; False: given
    warnings: tuple[str, ...] = ()

    @property
    def rate_hz(self) -> float:
        return float(1.0 / np.median(np.diff(self.times)))


def read_accel_log(path: str | Path, unit: str = "auto", time_unit: str = "auto") -> AccelLog:
    """Read an accelerometer log (module docstring for the formats).

    Raises:
        InputError: naming the file: unreadable, missing columns, too few samples, non-increasing time, a unit
        that is neither m/s² nor g, a constant log.
    """
    path = Path(path)
    if unit not in ACCEL_UNITS:
        raise InputError("--accel-unit", f"unknown unit {unit!r}; choose from {', '.join(ACCEL_UNITS)}")
    if not path.is_file():
        raise InputError(path, "accelerometer log not found")
    from motiondepth.io.telemetry import VIDEO_SUFFIXES, read_embedded_accel

    suffix = path.suffix.lower()
    if suffix in VIDEO_SUFFIXES:
        t, a, _ = read_embedded_accel(path)
    else:
        if not path.read_bytes().strip():
            raise InputError(path, "accelerometer log is empty")
        try:
            t, a = _read_gcsv_accel(path) if suffix == ".gcsv" else _read_accel_table(path, time_unit)
        except InputError:
            raise
        except (OSError, ValueError, KeyError, IndexError) as exc:
            raise InputError(path, f"cannot parse accelerometer log ({exc})") from None
    _check_series(path, t, a)
    if len(t) < MIN_SAMPLES:
        raise InputError(path, f"{len(t)} accelerometer samples; at least {MIN_SAMPLES} are needed")
    return _checked(path, t, a, unit)


# an accelerometer column of a logger's header: "Accelerometer X (g)" (x-io), "accel_x", "acc_x", "accX"
_HEADER_AXIS = re.compile(r"\bacc(?:el(?:erometer)?)?[ _]?([xyzXYZ])\b(?:\s*\([^)]*\))?", re.IGNORECASE)


def _read_accel_table(path: Path, time_unit: str) -> tuple[np.ndarray, np.ndarray]:
    """CSV or whitespace text; lines starting with ``#`` are comments (TUM's ``accelerometer.txt``)."""
    lines = [ln for ln in path.read_text().splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise InputError(path, "only comment lines, no samples")
    lines[0] = _HEADER_AXIS.sub(lambda m: "a" + m.group(1).lower(), lines[0])  # "Accelerometer X (g)" → ax
    return _read_table(path, time_unit, ("ax", "ay", "az"), None, "\n".join(lines))


def _read_gcsv_accel(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Gyroflow ``.gcsv``: ``ax,ay,az`` times ``ascale`` (g per count), axes as the file's ``orientation`` maps them
    (the same map as its gyro columns)."""
    return read_gcsv_columns(path, ("ax", "ay", "az"), "ascale")


def _checked(path: Path, t: np.ndarray, a: np.ndarray, unit: str) -> AccelLog:
    """The unit found or applied, and the checks no real log fails: constant (a stuck or missing sensor) and
    clipped (a range too small for the motion: warned, since the scale then reads low)."""
    a = np.asarray(a, np.float64)
    mag = float(np.median(np.linalg.norm(a, axis=1)))
    found = unit == "auto"
    if found:
        if 7.0 <= mag <= 13.0:
            unit = "m/s2"
        elif 0.7 <= mag <= 1.3:
            unit = "g"
        else:
            raise InputError(path, f"median |a| = {mag:.3g}: neither m/s² (≈ 9.8) nor g (≈ 1) at rest or in a hand "
                             f"({UNIT_RULE}); a wrong scale in the file? give --accel-unit if it is right")  # fmt: skip
    if unit == "g":
        a = a * STANDARD_GRAVITY
    if np.ptp(a, axis=0).max() < 1e-6:
        raise InputError(path, "every accelerometer sample is the same: a stuck or absent sensor")
    warnings = []
    mag_axes = np.abs(a)
    for i, limit in enumerate(mag_axes.max(0)):
        at_limit = np.isclose(mag_axes[:, i], limit, rtol=0, atol=1e-9)
        if limit > 1.5 * STANDARD_GRAVITY and at_limit.mean() > 0.01:
            warnings.append(f"{path}: axis {'xyz'[i]} sits at its limit ({limit:.3g} m/s²) in {at_limit.mean():.0%} "
                            "of the samples: a clipped accelerometer makes the scale read low")  # fmt: skip
    return AccelLog(t, a, str(path), unit, found, tuple(warnings))
