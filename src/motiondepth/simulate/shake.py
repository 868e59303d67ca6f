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

**Translation** (beyond the papers, whose camera only rotates about a pivot). ``"handheld-6dof"`` adds a
camera-centre trace to ``"handheld"``'s rotation, band by band, per axis. The two upper bands are the hand
translation measured in TUM fr1_xyz's 100 Hz motion capture (30 s; band RMS per axis 0.54–0.62 mm at
2–6 Hz, 0.08–0.09 mm at 6–12 Hz). Its 0.1–2 Hz band (87–120 mm) is a deliberate sweep, far more than
someone holding still, so the model puts 10 mm there: a centimetre of sway over a second, the scale
real handheld clips show (``docs/small-motion.md``). For the real thing, ``--shake`` takes a TUM
``groundtruth.txt``: the poses relative to the first one, at 100 Hz.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from scipy.signal import butter, sosfiltfilt

from motiondepth.errors import InputError
from motiondepth.geometry.rotations import (
    parse_axes,
    quat_to_euler,
)
from motiondepth.io.gyro_log import _is_angle_trace, read_angle_trace, read_gyro_log
from motiondepth.sensor.trace import RotationTrace, integrate_gyro

log = logging.getLogger(__name__)


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
    translation_bands: tuple[tuple[float, float, float], ...] = ()  # camera-centre (low Hz, high Hz, RMS m per axis)
    # bands beyond the pivot's (none: the papers' pivot model)


HANDHELD_SHAKE = SyntheticShakeConfig(
    tremor_band_hz=(6.0, 12.0),
    tremor_rms_rad=2.0e-3,
    drift_band_hz=(0.1, 2.0),
    drift_rms_rad=8.0e-3,
    axis_gain=(0.7, 1.0, 1.0),
    extra_bands=((2.0, 6.0, 5.0e-3), (12.0, 25.0, 0.4e-3)),
)  # band RMS fitted to real phone gyro logs at 1/4 amplitude (module docstring)
HANDHELD_6DOF_SHAKE = replace(
    HANDHELD_SHAKE, translation_bands=((0.1, 2.0, 10e-3), (2.0, 6.0, 0.6e-3), (6.0, 12.0, 0.09e-3))
)  # handheld's rotation, and hand translation (module docstring: TUM fr1_xyz's motion capture)
SHAKE_MODELS = {"synthetic": None, "handheld": HANDHELD_SHAKE, "handheld-6dof": HANDHELD_6DOF_SHAKE}


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
    positions = None
    if cfg.translation_bands:  # its own stream, so the rotation of a seed is the same with and without
        rng_t = np.random.default_rng([seed, 1])
        positions = sum(rms * _band_noise(n, dt, (lo, hi), rng_t) for lo, hi, rms in cfg.translation_bands)
        positions = positions[:n_out] - positions[0]
    return RotationTrace(times, ang, f"synthetic(seed={seed})", positions)


# ----------------------------------------------------------------------------- file sources


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
            docstring), ``"handheld-6dof"`` (handheld with hand translation), a gyro log
            (CSV/.gcsv/.gyroflow), an angle-trace CSV (detected by a ``roll`` column) or a TUM
            motion-capture ``groundtruth.txt`` (rotation and translation).
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
        if tr.positions is not None:
            if highpass_hz:
                tr.positions = _highpass(tr.positions, dt, highpass_hz)
                tr.positions -= tr.positions[0]
            tr.positions *= scale
        return tr
    path = Path(spec)
    if is_tum_trajectory(path):
        return _tum_shake(path, duration_s, dt, seed, scale, highpass_hz, start_s)
    idx, sign = parse_axes(axes)
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
    start_s = _start_offset(path, kind, t[-1], duration_s, start_s, seed)
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


def _start_offset(path: Path, kind: str, span_s: float, duration_s: float, start_s: float | None, seed: int) -> float:
    """The offset into a ``span_s``-long recording where the shake starts (drawn, seeded, when None), checked to
    leave ``duration_s``."""
    if span_s < duration_s:
        raise InputError(path, f"{kind} covers {span_s:.3f} s but {duration_s:.3f} s are needed")
    if start_s is None:
        start_s = float(np.random.default_rng(seed).uniform(0.0, span_s - duration_s))
    if not 0 <= start_s <= span_s - duration_s:
        why = f"start offset {start_s:.3f} s leaves less than {duration_s:.3f} s of a {span_s:.3f} s {kind}"
        raise InputError(path, why)
    return start_s


def is_tum_trajectory(path: Path) -> bool:
    """Whether ``path`` looks like a TUM ``groundtruth.txt`` (``timestamp tx ty tz qx qy qz qw`` rows)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                line = line.strip()
                if line and not line.startswith("#"):
                    parts = line.split()
                    return len(parts) == 8 and all(_is_number(p) for p in parts)
    except OSError:
        return False
    return False


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _tum_shake(path: Path, duration_s: float, dt: float, seed: int, scale: float, highpass_hz: float | None,
               start_s: float | None) -> RotationTrace:  # fmt: skip
    """A motion-capture trajectory (TUM ``groundtruth.txt``) as the camera's rotation *and* translation: the
    poses relative to the one at ``start_s``, in that camera's axes (real hand motion, 6 degrees of freedom)."""
    from motiondepth.geometry.rotations import matrix_to_euler
    from motiondepth.io.tum import read_tum_trajectory

    track = read_tum_trajectory(path)
    span = track.times[-1] - track.times[0]
    start_s = _start_offset(path, "motion-capture trajectory", span, duration_s, start_s, seed)
    n_out = int(np.ceil(duration_s / dt)) + 2
    grid = track.times[0] + start_s + np.arange(n_out) * dt
    grid = np.minimum(grid, track.times[-1])
    pos, rot = track.at(grid, max_gap_s=0.1)
    rel = np.einsum("ji,kjl->kil", rot[0], rot)  # R_0ᵀ R_k: camera-to-reference
    ang = np.unwrap(matrix_to_euler(rel), axis=0)
    centres = (pos - pos[0]) @ rot[0]  # R_0ᵀ (p_k − p_0), the reference camera's axes
    if highpass_hz:
        ang, centres = _highpass(ang, dt, highpass_hz), _highpass(centres, dt, highpass_hz)
        ang, centres = ang - ang[0], centres - centres[0]
    log.info("shake from motion capture %s: start %.3f s, scale %g", path, start_s, scale)
    return RotationTrace(np.arange(n_out) * dt, ang * scale, f"motion capture {path.name} start={start_s:.3f}s "
                         f"scale={scale}", centres * scale)  # fmt: skip


def _highpass(x: np.ndarray, dt: float, cutoff_hz: float) -> np.ndarray:
    nyq = 0.5 / dt
    if not 0 < cutoff_hz < nyq:
        raise InputError("--shake-highpass", f"cut-off {cutoff_hz} Hz must be in (0, {nyq:g}) Hz")
    sos = butter(2, cutoff_hz, btype="highpass", fs=1.0 / dt, output="sos")
    return sosfiltfilt(sos, x, axis=0)
