"""The spectrum of camera shake: how much the camera turns in each frequency band.

What a stabilisation engineer reads off a gyroscope: the power spectral density (PSD) of the
rotation angle per axis and its RMS in frequency bands. Roughly: postural sway and breathing are
below 2 Hz, hand shake is 2–6 Hz, physiological tremor 6–12 Hz, and vibration is above that (the
bands of ``simulate/shake.py``, whose ``handheld`` model was fitted to real phone gyro logs this
way). The same analysis reads every rotation series the project writes, so they can be set side by
side:

- the per-frame solve (``trajectory.csv``);
- the dense trajectory (``trajectory_dense.csv``, S samples per frame);
- gyroscope logs (any format ``simulate --shake`` reads).

**Method.**
1. The series is resampled onto a uniform grid at its median sampling interval (linear
   interpolation). The dense trajectory of ``run`` is uniform already: its samples tile each frame
   interval.
2. Welch's method: Hann-windowed segments of ``segment_s`` (default: the whole series, at most
   4 s), half overlapping, each with its linear trend removed. The result is a one-sided density
   in rad²/Hz per axis.
3. A band's RMS angle is the square root of the PSD summed over the bins in [lo, hi), times the
   bin width. Its RMS angular rate weights each bin by (2πf)².

Gyro logs are integrated to angles first (trapezoid rule per axis, small angles), in the log's own
axes. The total over the three axes does not depend on how they are mapped onto the camera's.

**What a series can resolve.** A band is reported only where the series can see it:
- ``lo ≥ 2 / segment`` (two cycles per segment; below that, trend removal and the window eat the
  signal);
- ``hi ≤`` the Nyquist frequency (half the sampling rate).

So a per-frame trajectory at 30 fps says nothing above 15 Hz. Its angles are also the *mean*
rotation over each exposure, which attenuates what lies close to Nyquist. Motion above Nyquist
folds into lower bands of a per-frame series, and nothing can undo that afterwards. The dense
trajectory samples inside each frame, which is why ``run`` reports the shake from it.

**The dense trajectory's reach.** Its samples are far denser than what it can know: 15 per frame
give a Nyquist frequency of 7.5 × the frame rate, but the path is one cubic spline with two knot
intervals per frame (:mod:`motiondepth.trajectory.continuous`), which holds at most one cycle per
frame, and the decoder learned from shake with content up to 0.75 cycles per frame (12 Hz at
16.1 fps). :func:`dense_spectrum` therefore marks every band above the frame rate
(:data:`DENSE_REACH_CYCLES_PER_FRAME`) out of reach. Below it, the shake-spectrum benchmark measures
what the decoder recovers (docs/results.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from motiondepth.errors import InputError
from motiondepth.io.trajectory import file_kind, read_angle_series, read_dense_csv

# (low, high) Hz: sway, hand shake (two bands), tremor (two bands), vibration (two bands)
DEFAULT_BANDS_HZ: tuple[tuple[float, float], ...] = (
    (0.5, 2.0), (2.0, 4.0), (4.0, 6.0), (6.0, 9.0), (9.0, 12.0), (12.0, 18.0), (18.0, 30.0),
)  # fmt: skip
MAX_SEGMENT_S = 4.0  # default Welch segment: the whole series up to this long (0.5 Hz bins)
MIN_SAMPLES = 8
#: the dense trajectory resolves up to this many cycles per frame interval (module docstring)
DENSE_REACH_CYCLES_PER_FRAME = 1.0
ARCMIN_PER_RAD = 180.0 / np.pi * 60.0
ANGLE_AXES = ("roll", "pitch", "yaw")
GYRO_AXES = ("x", "y", "z")


@dataclass
class ShakeSpectrum:
    """Welch PSD of a rotation series (see the module docstring).

    Attributes:
        freqs_hz: (F,) bin frequencies, 0 … Nyquist.
        psd: (F, 3) one-sided PSD of the angle per axis, rad²/Hz.
        sample_rate_hz: of the resampled series.
        duration_s: time covered by the series.
        segment_s: Welch segment length actually used.
        axes: names of the three axes (``roll, pitch, yaw`` for trajectories, ``x, y, z`` for a gyro log).
        source: what the series is (a file name, "dense trajectory", …).
        reach_hz: the highest frequency the method behind the series resolves, when below its
            Nyquist frequency (the dense trajectory's: :func:`dense_spectrum`); None: the Nyquist frequency.
        reach_why: why it ends there, for the bands above it.
    """

    freqs_hz: np.ndarray
    psd: np.ndarray
    sample_rate_hz: float
    duration_s: float
    segment_s: float
    axes: tuple[str, ...] = ANGLE_AXES
    source: str = ""
    reach_hz: float | None = None
    reach_why: str = ""

    @property
    def nyquist_hz(self) -> float:
        return 0.5 * self.sample_rate_hz

    @property
    def highest_hz(self) -> float:
        """The highest frequency a band may end at: the Nyquist frequency, or the method's reach below it."""
        return self.nyquist_hz if self.reach_hz is None else min(self.nyquist_hz, self.reach_hz)

    @property
    def lowest_hz(self) -> float:
        """The lowest frequency a band may start at: two cycles per segment."""
        return 2.0 / self.segment_s

    @property
    def rate_psd(self) -> np.ndarray:
        """(F, 3) PSD of the angular rate, (rad/s)²/Hz."""
        return self.psd * (2 * np.pi * self.freqs_hz[:, None]) ** 2

    def unresolved(self, lo: float, hi: float) -> str | None:
        """Why the band [lo, hi) Hz cannot be read off this series, or None when it can."""
        if hi > self.nyquist_hz * (1 + 1e-9):
            return f"above the Nyquist frequency ({self.nyquist_hz:.3g} Hz) of this series"
        if self.reach_hz is not None and hi > self.reach_hz * (1 + 1e-9):
            return self.reach_why or f"above {self.reach_hz:.3g} Hz, beyond the reach of the method"
        if lo < self.lowest_hz * (1 - 1e-9):
            return f"below {self.lowest_hz:.3g} Hz: the {self.segment_s:.3g} s segments are too short"
        return None

    def band(self, lo: float, hi: float) -> dict:
        """RMS angle (arcmin) and angular rate (°/s) in [lo, hi) Hz per axis and in total.

        The band's entry has ``unresolved`` (the reason) instead when the series cannot see it.
        """
        out: dict = {"lo_hz": float(lo), "hi_hz": float(hi)}
        why = self.unresolved(lo, hi)
        if why is not None:
            return out | {"unresolved": why}
        sel = (self.freqs_hz >= lo) & (self.freqs_hz < hi)
        df = float(self.freqs_hz[1] - self.freqs_hz[0])
        ang = np.sqrt(self.psd[sel].sum(0) * df)
        rate = np.sqrt(self.rate_psd[sel].sum(0) * df)

        def per_axis(v: np.ndarray, unit: float) -> dict:
            d = {name: float(x * unit) for name, x in zip(self.axes, v, strict=True)}
            return d | {"total": float(np.sqrt(np.sum(v**2)) * unit)}

        return out | {"rms_arcmin": per_axis(ang, ARCMIN_PER_RAD), "rms_rate_deg_s": per_axis(rate, 180 / np.pi)}

    def peak_hz(self, lo: float = 0.0, hi: float = np.inf) -> float | None:
        """Frequency of the largest angular-rate density (sum over axes) in [lo, hi] ∩ the resolved range."""
        sel = (self.freqs_hz >= max(lo, self.lowest_hz)) & (self.freqs_hz <= min(hi, self.highest_hz))
        if not sel.any():
            return None
        total = self.rate_psd.sum(1)
        return float(self.freqs_hz[sel][np.argmax(total[sel])])

    def summary(self, bands: tuple[tuple[float, float], ...] = DEFAULT_BANDS_HZ) -> dict:
        """Everything a report needs, JSON-ready: sampling, resolution, the band table, and the peak
        frequency and total RMS rate within the bands' span (``rms_rate_range_hz``)."""
        df = float(self.freqs_hz[1] - self.freqs_hz[0])
        # peak and total rate over the bands' span only: rate weighting lifts whatever lies far above them
        lo = max(self.lowest_hz, min(b[0] for b in bands))
        hi = min(self.highest_hz, max(b[1] for b in bands))
        peak = self.peak_hz(lo, hi)
        span = (self.freqs_hz >= lo) & (self.freqs_hz < hi)
        rate_rms = float(np.sqrt(self.rate_psd[span].sum() * df)) if span.any() else float("nan")
        return {
            "source": self.source,
            "axes": list(self.axes),
            "sample_rate_hz": self.sample_rate_hz,
            "duration_s": self.duration_s,
            "segment_s": self.segment_s,
            "resolution_hz": df,
            "resolved_hz": [self.lowest_hz, self.highest_hz],
            "nyquist_hz": self.nyquist_hz,
            "reach": None if self.reach_hz is None else {"hz": self.reach_hz, "why": self.reach_why},
            "peak_hz": peak,
            "rms_rate_deg_s": float(np.rad2deg(rate_rms)),
            "rms_rate_range_hz": [float(lo), float(hi)],
            "bands": [self.band(lo, hi) for lo, hi in bands],
        }


# a jump in the sample times longer than both of these is a gap in the recording, refused (dense samples skip the
# time between exposures, and a lost frame skips a frame: both are much shorter)
MAX_GAP = 10.0  # × the median sample interval
MAX_GAP_S = 1.0


def angle_spectrum(
    angles: np.ndarray,
    times: np.ndarray,
    segment_s: float | None = None,
    axes: tuple[str, ...] = ANGLE_AXES,
    source: str = "rotation series",
) -> ShakeSpectrum:
    """Welch PSD of (N, 3) angles (rad) sampled at (N,) times (s); see the module docstring.

    Rows with a non-finite angle (frames the solver could not use) are dropped. ``segment_s``
    defaults to the whole series, at most :data:`MAX_SEGMENT_S`.

    Raises:
        InputError: (naming ``source``) fewer than 8 usable samples, times that do not increase, or
        shapes that do not match.
    """
    from scipy.signal import welch

    angles = np.asarray(angles, dtype=np.float64)
    times = np.asarray(times, dtype=np.float64)
    if angles.ndim != 2 or angles.shape[1] != 3 or times.shape != (len(angles),):
        raise InputError(source, f"expected (N, 3) angles and (N,) times, got {angles.shape} and {times.shape}")
    ok = np.isfinite(angles).all(1) & np.isfinite(times)
    angles, times = angles[ok], times[ok]
    if len(times) < MIN_SAMPLES:
        raise InputError(source, f"a spectrum needs at least {MIN_SAMPLES} finite samples, got {len(times)}")
    step = np.diff(times)
    if (step <= 0).any():
        raise InputError(source, "sample times must increase")
    dt = float(np.median(step))
    k = int(np.argmax(step))
    # a resampled gap would be invented motion (and 1e9 s of it would not fit in memory)
    if step[k] > max(MAX_GAP * dt, MAX_GAP_S):
        raise InputError(source, f"sample times jump by {step[k]:.4g} s after {times[k]:.6g} s, "
                         f"{step[k] / dt:.0f} × the median interval ({dt:.3g} s): a gap; take the spectrum of one "
                         "side of it (--start/--end)")  # fmt: skip
    n = int(np.floor((times[-1] - times[0]) / dt + 1e-6)) + 1
    if n > 4 * len(times) + MIN_SAMPLES:
        raise InputError(source, f"{len(times)} samples over {times[-1] - times[0]:.4g} s at a median interval of "
                         f"{dt:.3g} s: too many of them are missing to resample")  # fmt: skip
    grid = times[0] + dt * np.arange(n)
    uniform = np.stack([np.interp(grid, times, angles[:, i]) for i in range(3)], -1)
    duration = float(times[-1] - times[0])
    if segment_s is not None and not segment_s > 0:
        raise InputError("--segment", f"must be positive seconds, got {segment_s}")
    seg = min(duration, MAX_SEGMENT_S) if segment_s is None else segment_s
    nperseg = int(np.clip(round(seg / dt), MIN_SAMPLES, n))
    freqs, psd = welch(uniform, fs=1.0 / dt, window="hann", nperseg=nperseg, noverlap=nperseg // 2,
                       detrend="linear", scaling="density", axis=0)  # fmt: skip
    return ShakeSpectrum(freqs, psd, 1.0 / dt, duration, nperseg * dt, tuple(axes), source)


def dense_spectrum(dense: np.ndarray, dense_times: np.ndarray, **kwargs) -> ShakeSpectrum:
    """:func:`angle_spectrum` of a (T, S, 3) dense trajectory sampled at (T, S) times, with the dense
    trajectory's reach: :data:`DENSE_REACH_CYCLES_PER_FRAME` times the frame rate (module docstring)."""
    dense_times = np.asarray(dense_times, dtype=np.float64)
    spec = angle_spectrum(np.asarray(dense).reshape(-1, 3), dense_times.reshape(-1), **kwargs)
    starts = dense_times[:, 0] if dense_times.ndim == 2 else np.empty(0)
    if len(starts) > 1 and np.median(np.diff(starts)) > 0:
        fps = 1.0 / float(np.median(np.diff(starts)))
        spec.reach_hz = DENSE_REACH_CYCLES_PER_FRAME * fps
        spec.reach_why = (
            f"above {spec.reach_hz:.3g} Hz, out of the dense trajectory's reach: one cycle per frame at "
            f"{fps:.3g} fps (a spline with two knot intervals per frame, a decoder trained on shake up to 0.75 cycles "
            "per frame)"
        )
    return spec


def gyro_spectrum(
    t: np.ndarray,
    w: np.ndarray,
    segment_s: float | None = None,
    source: str = "gyro log",
    axes: tuple[str, ...] = GYRO_AXES,
) -> ShakeSpectrum:
    """Spectrum of a gyroscope's (N,) times (s) and (N, 3) rates (rad/s), integrated to angles."""
    from motiondepth.sensor.trace import rate_integral

    t = np.asarray(t, dtype=np.float64)
    return angle_spectrum(rate_integral(t, np.asarray(w, dtype=np.float64)), t, segment_s, axes, source)


def file_spectrum(
    path: str | Path,
    start_s: float | None = None,
    end_s: float | None = None,
    segment_s: float | None = None,
    time_unit: str = "auto",
) -> ShakeSpectrum:
    """Spectrum of a trajectory CSV, a dense trajectory CSV or a gyro log, cropped to [start_s, end_s].

    Times are the file's own: ``time_s`` of a trajectory, the log's clock (in seconds, ``time_unit``
    as for ``simulate --shake``) of a gyro log.
    """
    from motiondepth.io.gyro_log import read_gyro_log

    kind = file_kind(path)
    if kind == "dense":  # per frame, for the dense trajectory's reach
        dense, dense_times = read_dense_csv(path)
        keep = np.ones(len(dense), bool)
        if start_s is not None:
            keep &= dense_times[:, 0] >= start_s
        if end_s is not None:
            keep &= dense_times[:, -1] <= end_s
        if keep.sum() * dense.shape[1] < MIN_SAMPLES:
            first, last = dense_times[0, 0], dense_times[-1, -1]
            raise InputError(path, f"{keep.sum()} frames between --start and --end (times {first:g}–{last:g} s)")
        return dense_spectrum(dense[keep], dense_times[keep], segment_s=segment_s, source=str(path))
    if kind == "gyro":
        times, w = read_gyro_log(path, time_unit)
    else:
        angles, times = read_angle_series(path, kind)
    keep = np.ones(len(times), bool)
    if start_s is not None:
        keep &= times >= start_s
    if end_s is not None:
        keep &= times <= end_s
    if keep.sum() < MIN_SAMPLES:
        raise InputError(path, f"{keep.sum()} samples between --start and --end (times {times[0]:g}–{times[-1]:g} s)")
    if kind == "gyro":
        return gyro_spectrum(times[keep], w[keep], segment_s, source=str(path))
    return angle_spectrum(angles[keep], times[keep], segment_s, ANGLE_AXES, source=str(path))


def parse_bands(text: str) -> tuple[tuple[float, float], ...]:
    """``"2-4,4-6,6-12"`` → ((2, 4), (4, 6), (6, 12)); :class:`InputError` on anything else."""
    bands = []
    for part in text.split(","):
        try:
            lo, hi = (float(x) for x in part.split("-"))
        except ValueError:
            raise InputError("--bands", f"expected LO-HI Hz pairs separated by commas, got {part!r}") from None
        if not 0 <= lo < hi:
            raise InputError("--bands", f"band {part!r} must have 0 ≤ low < high")
        bands.append((lo, hi))
    return tuple(bands)


def short_text(summary: dict) -> str:
    """One line from :meth:`ShakeSpectrum.summary`: peak, total rate and the resolved bands' RMS angles."""
    if "bands" not in summary:
        return f"unavailable ({summary.get('unavailable')})"
    peak = "—" if summary["peak_hz"] is None else f"{summary['peak_hz']:.1f} Hz"
    bands = ", ".join(
        f"{b['lo_hz']:g}–{b['hi_hz']:g} Hz {b['rms_arcmin']['total']:.2f}′"
        for b in summary["bands"]
        if "rms_arcmin" in b
    )
    lo, hi = summary["rms_rate_range_hz"]
    return (
        f"peak rate at {peak}, RMS rate {summary['rms_rate_deg_s']:.2f} °/s ({lo:.2g}–{hi:.3g} Hz); RMS angle {bands}"
    )


def format_band_table(summaries: dict[str, dict]) -> str:
    """Bands as rows, one column per series: total RMS angle (arcmin) and rate (°/s); '—' where unresolved."""
    names = list(summaries)
    first = next(iter(summaries.values()))
    width = max(22, *(len(n) for n in names))
    lines = ["band (Hz)    " + "".join(f"{n[-width:]:>{width + 2}}" for n in names)]
    lines.append(" " * 13 + "".join(f"{'RMS ′   RMS °/s':>{width + 2}}" for _ in names))
    for i, b in enumerate(first["bands"]):
        cells = []
        for s in summaries.values():
            e = s["bands"][i]
            txt = "—" if "unresolved" in e else f"{e['rms_arcmin']['total']:7.2f} {e['rms_rate_deg_s']['total']:8.2f}"
            cells.append(f"{txt:>{width + 2}}")
        lines.append(f"{b['lo_hz']:>5g} – {b['hi_hz']:<5g}" + "".join(cells))
    for name, s in summaries.items():
        peak = "—" if s["peak_hz"] is None else f"{s['peak_hz']:.2f} Hz"
        (lo, hi), (r_lo, r_hi) = s["resolved_hz"], s["rms_rate_range_hz"]
        lines.append(
            f"{name}: {s['sample_rate_hz']:.1f} Hz sampling, {s['duration_s']:.2f} s, bins {s['resolution_hz']:.2f} "
            f"Hz, resolves {lo:.2g}–{hi:.3g} Hz; peak rate at {peak}, RMS rate {s['rms_rate_deg_s']:.2f} °/s over "
            f"{r_lo:.2g}–{r_hi:.3g} Hz"
        )
    return "\n".join(lines)
