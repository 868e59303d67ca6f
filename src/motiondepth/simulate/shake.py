"""Camera-shake sources: synthetic handheld shake, gyroscope logs and angle traces (docs/design.md §3).

Every source ends as a :class:`RotationTrace`: uniformly sampled ``[roll, pitch, yaw]``
(radians, docs/design.md §2 convention) starting at ``t = 0`` with zero rotation, which the simulator
interpolates linearly at each row's sub-sample times.

Synthetic shake amplitudes (defaults of :class:`SyntheticShakeConfig`) model a person holding a
phone out: physiological tremor (6–12 Hz, 1 mrad ≈ 0.057° RMS per axis, i.e. about 3°/s RMS
angular velocity, roughly twice what the 1/focal-length rule of thumb tolerates) over slow
postural drift (0.1–2 Hz, 5 mrad ≈ 0.29° RMS), roll at 60 % of pitch/yaw. Over a 60 ms exposure
this gives blur streaks of a few pixels on the ``phone`` preset (f ≈ 484 px) and 10–30 pixels
on the ``telephoto`` preset (f ≈ 2400 px) — the range the perspective-blur paper studies. The
benchmark (``benchmarks/foundation.py``) reports the measured blur lengths; ``scale`` makes the
shake stronger or gentler.

``"handheld"`` (:data:`HANDHELD_SHAKE`) is a second synthetic model whose band energies follow two
real phone gyroscope logs (GyroDeblurNet's ``gyro_test.txt`` and ``gyro_train.txt``) at a quarter
of their amplitude, the scale the pipeline benchmark calls handheld. Measured angle RMS per axis
in mrad, averaged over axes (Welch, 2 ms samples): 2–4 Hz 3.2 / 4.6, 4–6 Hz 4.8 / 1.5, 6–9 Hz
2.3 / 0.8, 9–12 Hz 1.7 / 0.6, 12–18 Hz 0.4 / 0.2; the default model has 0.9, 0.2, 0.6, 0.6, 0.2
there. Real hands move far more between 2 and 12 Hz, which is what shapes the motion *inside* a
60 ms exposure: with the default model a frame's motion is close to the interpolation of the
frame means, with the real logs it is not (see ``motiondepth eval blur-depth --blur-fit-scenes``).
"""

from __future__ import annotations

import csv
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.signal import butter, sosfiltfilt

from motiondepth.errors import InputError
from motiondepth.geometry.rotations import (
    body_rates,
    quat_multiply,
    quat_to_euler,
    rotvec_to_quat,
)

log = logging.getLogger(__name__)


@dataclass
class RotationTrace:
    """Camera orientation over time, relative to ``t = 0``."""

    times: np.ndarray  # (N,) float64 seconds, uniform spacing, times[0] == 0
    angles: np.ndarray  # (N, 3) float64 [roll, pitch, yaw] rad, angles[0] == 0
    source: str = "unknown"  # description for camera.json

    @property
    def dt(self) -> float:
        return float(self.times[1] - self.times[0])

    @property
    def duration(self) -> float:
        return float(self.times[-1])

    def __call__(self, t: np.ndarray) -> np.ndarray:
        """Linearly interpolated angles at times ``t`` (...,) → (..., 3)."""
        t = np.asarray(t, dtype=np.float64)
        pos = np.clip(t / self.dt, 0.0, len(self.times) - 1.0)
        i0 = np.minimum(pos.astype(np.int64), len(self.times) - 2)
        frac = (pos - i0)[..., None]
        return self.angles[i0] * (1.0 - frac) + self.angles[i0 + 1] * frac


@dataclass
class SyntheticShakeConfig:
    """Band-limited random handheld shake; RMS values are per axis, before ``axis_gain``."""

    tremor_band_hz: tuple[float, float] = (6.0, 12.0)  # physiological hand tremor band
    tremor_rms_rad: float = 1e-3  # tremor angle RMS (≈ 0.057°)
    drift_band_hz: tuple[float, float] = (0.1, 2.0)  # slow postural sway / breathing band
    drift_rms_rad: float = 5e-3  # drift angle RMS (≈ 0.29°)
    axis_gain: tuple[float, float, float] = (0.6, 1.0, 1.0)  # roll, pitch, yaw multipliers
    stationary_s: float = 20.0  # length over which the RMS is normalised (clip-independent statistics)
    extra_bands: tuple[tuple[float, float, float], ...] = ()  # more (low Hz, high Hz, RMS rad) bands


HANDHELD_SHAKE = SyntheticShakeConfig(
    tremor_band_hz=(6.0, 12.0),
    tremor_rms_rad=2.0e-3,
    drift_band_hz=(0.1, 2.0),
    drift_rms_rad=8.0e-3,
    axis_gain=(0.7, 1.0, 1.0),
    extra_bands=((2.0, 6.0, 5.0e-3), (12.0, 25.0, 0.4e-3)),
)  # band RMS fitted to real phone gyro logs at 1/4 amplitude (module docstring)
SHAKE_MODELS = {"synthetic": None, "handheld": HANDHELD_SHAKE}  # named synthetic models → settings


def check_shake_spec(spec: str | Path) -> None:
    """Raise :class:`InputError` unless ``spec`` names a synthetic model or an existing file (before long work)."""
    if str(spec) not in SHAKE_MODELS and not Path(spec).is_file():
        raise InputError(spec, f"shake file not found (use {' or '.join(map(repr, SHAKE_MODELS))}, or a gyro/angle "
                         "CSV, .gcsv, .gyroflow)")  # fmt: skip


def _band_noise(n: int, dt: float, band: tuple[float, float], rng: np.random.Generator) -> np.ndarray:
    """Unit-RMS Gaussian noise (n, 3) with a flat spectrum inside ``band`` (cosine edges)."""
    freqs = np.fft.rfftfreq(n, dt)
    lo, hi = band
    edge = 0.15 * (hi - lo)
    gain = np.clip((freqs - (lo - edge)) / edge, 0, 1) * np.clip(((hi + edge) - freqs) / edge, 0, 1)
    gain = np.sin(0.5 * np.pi * gain) ** 2
    spec = (rng.standard_normal((len(freqs), 3)) + 1j * rng.standard_normal((len(freqs), 3))) * gain[:, None]
    x = np.fft.irfft(spec, n=n, axis=0)
    return x / np.sqrt(np.mean(x**2, axis=0, keepdims=True) + 1e-30)


def synthetic_shake(
    duration_s: float, dt: float = 0.002, seed: int = 0, config: SyntheticShakeConfig | None = None
) -> RotationTrace:
    """Seeded synthetic handheld shake covering ``[0, duration_s]``.

    Example:
        >>> tr = synthetic_shake(1.0, seed=3)
        >>> tr.angles.shape[1], float(abs(tr.angles[0]).max())
        (3, 0.0)
    """
    cfg = config or SyntheticShakeConfig()
    rng = np.random.default_rng(seed)
    n_out = int(np.ceil(duration_s / dt)) + 2
    n = max(n_out, int(cfg.stationary_s / dt))
    ang = cfg.tremor_rms_rad * _band_noise(n, dt, cfg.tremor_band_hz, rng)
    ang += cfg.drift_rms_rad * _band_noise(n, dt, cfg.drift_band_hz, rng)
    for lo, hi, rms in cfg.extra_bands:
        ang += rms * _band_noise(n, dt, (lo, hi), rng)
    ang = ang[:n_out] * np.asarray(cfg.axis_gain)
    ang -= ang[0]
    times = np.arange(n_out) * dt
    return RotationTrace(times, ang, f"synthetic(seed={seed})")


# ----------------------------------------------------------------------------- file sources


def _parse_axes(axes: str) -> tuple[np.ndarray, np.ndarray]:
    """``"xyz"``-style remap: letter i is the raw axis for camera axis i, uppercase negates."""
    if len(axes) != 3 or sorted(axes.lower()) != ["x", "y", "z"]:
        raise ValueError(f"axes must be a permutation of 'xyz' with optional capitals, got {axes!r}")
    idx = np.array(["xyz".index(c.lower()) for c in axes])
    sign = np.array([-1.0 if c.isupper() else 1.0 for c in axes])
    return idx, sign


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
    files ``.gyroflow`` (JSON with ``raw_imu``).

    Returns:
        ``(t, w)``: (N,) float64 seconds and (N, 3) rad/s in the log's axes.

    Raises:
        InputError: unreadable file, missing columns, NaNs, or non-increasing time.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "gyro log not found")
    if not path.read_bytes().strip():
        raise InputError(path, "gyro log is empty")
    suffix = path.suffix.lower()
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
    return t, w


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
    meta: dict[str, str] = {}
    with open(path, newline="") as fh:
        lines = fh.read().splitlines()
    for i, line in enumerate(lines):
        cells = [c.strip() for c in line.split(",")]
        if cells[0] == "t":
            cols = cells
            body = [[float(c) for c in ln.split(",")] for ln in lines[i + 1 :] if ln.strip()]
            if not body:
                raise InputError(path, "has a 't,gx,gy,gz' column line but no samples after it")
            if any(len(r) != len(cols) for r in body):
                raise InputError(path, f"every sample needs {len(cols)} values ({','.join(cols)})")
            body = np.array(body, dtype=np.float64)
            break
        if len(cells) >= 2:
            meta[cells[0]] = cells[1]
    else:
        raise InputError(path, "no 't,gx,gy,gz' column line in .gcsv")
    t = body[:, cols.index("t")] * float(meta.get("tscale", 1.0))
    w = body[:, [cols.index(c) for c in ("gx", "gy", "gz")]] * float(meta.get("gscale", 1.0))
    if "orientation" in meta:
        idx, sign = _parse_axes(meta["orientation"])
        w = w[:, idx] * sign
    return t, w


def _read_table(
    path: Path, time_unit: str, names: tuple[str, ...], alt: tuple[str, ...] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    text = path.read_text()
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
        data = np.loadtxt(path, delimiter=delim, ndmin=2, dtype=np.float64)[:, : 1 + len(names)]
        unit = time_unit
        if data.shape[1] < 1 + len(names):
            raise InputError(path, f"expected at least {1 + len(names)} columns, got {data.shape[1]}")
    return data[:, 0] * _time_scale(data[:, 0], unit), data[:, 1:]


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


def rate_integral(t: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Running integral (N, 3) of rates ``w`` (N, 3) sampled at ``t`` (N,), trapezoid rule, 0 at ``t[0]``.

    Per axis, with no rotation composition: the small-angle angles of a gyro log, and the integral
    whose differences give mean rates over intervals.
    """
    return np.concatenate([np.zeros((1, 3)), np.cumsum(0.5 * (w[1:] + w[:-1]) * np.diff(t)[:, None], 0)])


def integrate_gyro(t: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Integrate body-frame angular velocity to orientation quaternions (N, 4), q[0] = identity.

    Uses the midpoint rule per interval: ``q_{i+1} = q_i ⊗ exp(½ (ω_i + ω_{i+1}) Δt)``, so
    ``R(t)`` is camera-to-reference as in docs/design.md §2.
    """
    dt = np.diff(t)[:, None]
    steps = rotvec_to_quat(0.5 * (w[1:] + w[:-1]) * dt)
    q = np.empty((len(t), 4))
    q[0] = [0.0, 0.0, 0.0, 1.0]
    for i in range(len(steps)):  # sequential by nature; N ≤ ~10⁵ samples
        q[i + 1] = quat_multiply(q[i], steps[i])
        q[i + 1] /= np.linalg.norm(q[i + 1])
    return q


def gyro_from_trace(trace: RotationTrace) -> tuple[np.ndarray, np.ndarray]:
    """What a gyroscope fixed to the camera logs along ``trace``: ``(t, w)``, (N-1,) s and (N-1, 3) rad/s.

    The mean body angular velocity over each trace interval, ``rotvec(R_iᵀ R_{i+1}) / Δt``, in
    camera axes (x right, y down, z forward), stamped at the interval's midpoint; integrating it
    (:func:`integrate_gyro`) gives the trace back to within the sampling interval's curvature.
    """
    return 0.5 * (trace.times[1:] + trace.times[:-1]), body_rates(trace.angles, trace.times)


def write_gyro_log(path: str | Path, t: np.ndarray, w: np.ndarray) -> None:
    """Write a gyro log as CSV ``time_s,wx,wy,wz`` (rad/s), the format :func:`read_gyro_log` reads first."""
    from motiondepth.io.atomic import atomic_path

    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        f.write("time_s,wx,wy,wz\n")
        np.savetxt(f, np.column_stack([t, w]), fmt="%.9g", delimiter=",")


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


def load_shake(
    spec: str | Path,
    duration_s: float,
    dt: float = 0.002,
    seed: int = 0,
    scale: float = 1.0,
    highpass_hz: float | None = None,
    start_s: float | None = 0.0,
    axes: str = "xyz",
    synthetic: SyntheticShakeConfig | None = None,
) -> RotationTrace:
    """Any shake source → a :class:`RotationTrace` of ``duration_s`` on a ``dt`` grid.

    Args:
        spec: ``"synthetic"``, ``"handheld"`` (synthetic, real-gyro band energies; module
            docstring), a gyro log (CSV/.gcsv/.gyroflow) or an angle-trace CSV (detected by a
            ``roll`` column).
        duration_s: length needed (the simulator asks for its frames' total span).
        dt: output sampling interval, seconds (paper: 2 ms).
        seed: synthetic shake seed; also picks the start offset when ``start_s`` is None.
        scale: multiply all angles (real phone logs shake far more than gentle handheld use).
        highpass_hz: zero-phase Butterworth high-pass cut-off to remove slow pans (None: off).
        start_s: offset into the log, seconds from its first sample; None draws it at random
            (seeded), as the paper randomises the exposure onset.
        axes: remap of log axes to camera axes, e.g. ``"yXz"`` (capital = negate).
        synthetic: settings for the synthetic generator (default: the named model's).
    """
    if scale < 0 or not np.isfinite(scale):
        raise InputError("--shake-scale", f"must be a non-negative number, got {scale}")
    if str(spec) in SHAKE_MODELS:
        tr = synthetic_shake(duration_s, dt, seed, synthetic or SHAKE_MODELS[str(spec)])
        tr.source = tr.source.replace("synthetic", str(spec), 1)
        if highpass_hz:
            tr.angles = _highpass(tr.angles, dt, highpass_hz)
            tr.angles -= tr.angles[0]
        tr.angles *= scale
        return tr
    path = Path(spec)
    idx, sign = _parse_axes(axes)
    if _is_angle_trace(path):
        t, ang = read_angle_trace(path)
        ang = ang[:, idx] * sign
        kind = "angle trace"
    else:
        t, w = read_gyro_log(path)
        ang = quat_to_euler(integrate_gyro(t, w[:, idx] * sign))
        ang = np.unwrap(ang, axis=0)
        kind = "gyro log"
    t = t - t[0]
    if t[-1] < duration_s:
        raise InputError(path, f"{kind} covers {t[-1]:.3f} s but {duration_s:.3f} s are needed")
    if start_s is None:
        start_s = float(np.random.default_rng(seed).uniform(0.0, t[-1] - duration_s))
    if not 0 <= start_s <= t[-1] - duration_s:
        raise InputError(
            path, f"start offset {start_s:.3f} s leaves less than {duration_s:.3f} s of a {t[-1]:.3f} s {kind}"
        )
    grid = np.arange(0.0, t[-1] + 0.5 * dt, dt)
    resampled = np.stack([np.interp(grid, t, ang[:, k]) for k in range(3)], -1)
    if highpass_hz:
        resampled = _highpass(resampled, dt, highpass_hz)
    n_out = int(np.ceil(duration_s / dt)) + 2
    i0 = min(round(start_s / dt), len(grid) - n_out)
    if i0 < 0:
        raise InputError(path, f"{kind} too short for {duration_s:.3f} s at dt={dt}")
    window = resampled[i0 : i0 + n_out]
    window = (window - window[0]) * scale
    log.info("shake from %s %s: start %.3f s, scale %g, high-pass %s", kind, path, start_s, scale, highpass_hz)
    return RotationTrace(np.arange(n_out) * dt, window, f"{kind} {path.name} start={start_s:.3f}s scale={scale}")


def _highpass(x: np.ndarray, dt: float, cutoff_hz: float) -> np.ndarray:
    nyq = 0.5 / dt
    if not 0 < cutoff_hz < nyq:
        raise InputError("--shake-highpass", f"cut-off {cutoff_hz} Hz must be in (0, {nyq:g}) Hz")
    sos = butter(2, cutoff_hz, btype="highpass", fs=1.0 / dt, output="sos")
    return sosfiltfilt(sos, x, axis=0)
