"""Compare a recovered camera trajectory with a gyroscope log (what a stabilisation engineer checks).

1. **Rates.** The trajectory's per-frame orientations give the mean body angular velocity over each
   frame interval, ``rotvec(R_kᵀ R_{k+1}) / Δt``; the gyro's mean rate over the same interval (shifted
   by the offset) comes from its running integral. Both are in camera axes (x right, y down, z forward).
2. **Alignment.** The offset (``gyro time = trajectory time + offset``) maximises the normalised
   correlation of the two rate series over a grid of offsets at the gyro's sampling step, refined
   by a parabola through the peak, then polished by the angle error on a grid 20× finer. The
   gyro's axes map onto the camera's by a signed permutation, given or (``axes="auto"``) the best
   of all 48 at the best offset.
3. **Error.** The gyro is integrated (quaternions, midpoint rule) and sampled at the aligned frame
   times (averaged over each frame's exposure-plus-readout span when it is given), re-referenced
   to frame 0 and turned into roll/pitch/yaw (docs/design.md §2); the trajectory metrics of docs/design.md §7
   compare the two, plus the RMS rate error.
4. **Shake per band.** The RMS rotation per frequency band (:mod:`motiondepth.eval.spectrum`) of the
   gyro over the clip's time window, in camera axes, beside the trajectory's and (when given) the
   dense trajectory's: the per-frame trajectory cannot see above half the frame rate, the gyro can.

Frame times are frame starts (trajectory.csv); with the frame span given (exposure plus readout),
each frame's angle is compared with the gyro's mean over ``[t, t + span]`` and the offset is the
one between the clocks. Without it, the half span between a frame's start and the middle of what
it integrates is absorbed into the estimated offset.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from motiondepth.errors import InputError
from motiondepth.eval.trajectory_metrics import trajectory_metrics
from motiondepth.geometry.rotations import body_rates, matrix_to_euler, quat_to_matrix
from motiondepth.simulate.shake import _parse_axes, integrate_gyro, rate_integral, read_gyro_log
from motiondepth.types import Trajectory


def _interval_means(t: np.ndarray, cum: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Mean of a signal over [starts, ends] from its running integral ``cum`` (N, 3) at times ``t``."""
    a = np.stack([np.interp(starts, t, cum[:, i]) for i in range(3)], -1)
    b = np.stack([np.interp(ends, t, cum[:, i]) for i in range(3)], -1)
    return (b - a) / (ends - starts)[:, None]


def _signed_permutations():
    for perm in itertools.permutations(range(3)):
        for signs in itertools.product((1.0, -1.0), repeat=3):
            yield np.array(perm), np.array(signs)


def _axes_name(idx: np.ndarray, sign: np.ndarray) -> str:
    return "".join(("xyz"[i].upper() if s < 0 else "xyz"[i]) for i, s in zip(idx, sign, strict=True))


def align(
    times: np.ndarray,
    rates: np.ndarray,
    gyro_t: np.ndarray,
    gyro_w: np.ndarray,
    max_offset_s: float = 2.0,
    axes: str = "xyz",
    offset_s: float | None = None,
) -> tuple[float, str, float]:
    """Best (offset s, axes map, correlation) between trajectory rates and a raw gyro log."""
    cum = rate_integral(gyro_t, gyro_w)
    t0, t1 = times[:-1], times[1:]
    lo, hi = gyro_t[0] - t0[0], gyro_t[-1] - t1[-1]  # offsets that keep the clip inside the log
    if hi < lo:
        raise InputError(
            "gyro log",
            f"covers {gyro_t[-1] - gyro_t[0]:.2f} s, shorter than the {times[-1] - times[0]:.2f} s trajectory",
        )
    if offset_s is None:
        step = max(float(np.median(np.diff(gyro_t))), 1e-4)
        offsets = np.arange(max(lo, -max_offset_s), min(hi, max_offset_s) + step / 2, step)
        if len(offsets) == 0:
            raise InputError(
                "gyro log",
                f"no offset within ±{max_offset_s} s keeps the clip inside the log "
                f"(log {gyro_t[0]:.2f}–{gyro_t[-1]:.2f} s); raise --max-offset",
            )
    else:
        if not lo <= offset_s <= hi:
            raise InputError(
                "--offset", f"{offset_s} s puts the clip outside the gyro log ({gyro_t[0]:.2f}–{gyro_t[-1]:.2f} s)"
            )
        offsets = np.array([offset_s])
    g = np.stack([_interval_means(gyro_t, cum, t0 + o, t1 + o) for o in offsets])  # (O, T-1, 3) raw axes
    r = rates - rates.mean(0)
    g = g - g.mean(1, keepdims=True)
    c = np.einsum("ti,otj->oij", r, g)  # (O, 3 camera, 3 raw)
    norm = np.linalg.norm(r) * np.linalg.norm(g, axis=(1, 2)) + 1e-300
    perms = list(_signed_permutations()) if axes == "auto" else [_parse_axes(axes)]
    best = (-np.inf, 0, perms[0])
    for idx, sign in perms:
        score = (sign[None] * c[:, np.arange(3), idx]).sum(1) / norm
        k = int(np.argmax(score))
        if score[k] > best[0]:
            best = (float(score[k]), k, (idx, sign), score)
    corr, k, (idx, sign), score = best
    off = float(offsets[k])
    if 0 < k < len(offsets) - 1:  # parabolic refinement of the peak
        a, b, cc = score[k - 1], score[k], score[k + 1]
        den = a - 2 * b + cc
        if den < 0:
            off += float(0.5 * (a - cc) / den * (offsets[1] - offsets[0]))
    return off, _axes_name(idx, sign), corr


def gyro_angles(
    gyro_t: np.ndarray,
    gyro_w: np.ndarray,
    sample_t: np.ndarray,
    span_s: float = 0.0,
    samples: int = 16,
    q: np.ndarray | None = None,
) -> np.ndarray:
    """Integrate the gyro → orientation at each ``sample_t`` relative to the first, (K, 3) rad.

    With ``span_s > 0`` each value is the mean over ``[t − span/2, t + span/2]`` (``samples`` points),
    re-referenced to the first one: the per-frame convention of the simulator's ground truth,
    whose frames integrate ``span_s`` of exposure and readout. ``q``: the integrated quaternions,
    if already at hand.
    """
    q = integrate_gyro(gyro_t, gyro_w) if q is None else q
    offs = np.linspace(-0.5, 0.5, samples) * span_s if span_s > 0 else np.zeros(1)
    t = (np.asarray(sample_t)[:, None] + offs[None]).ravel()
    qs = np.stack([np.interp(t, gyro_t, q[:, i]) for i in range(4)], -1)
    qs /= np.linalg.norm(qs, axis=1, keepdims=True)
    r = quat_to_matrix(qs)
    ang = matrix_to_euler(np.einsum("ji,tjk->tik", r[0], r)).reshape(len(sample_t), len(offs), 3).mean(1)
    return ang - ang[0]


def refine_offset(angles, times, gyro_t, w_cam, offset_s, span_s=0.0, q=None) -> float:
    """Polish a rate-based offset by minimising the angle RMSE on a fine grid (±2 gyro samples)."""
    q = integrate_gyro(gyro_t, w_cam) if q is None else q
    step = float(np.median(np.diff(gyro_t)))
    lo, hi = gyro_t[0] - times[0] + span_s / 2, gyro_t[-1] - times[-1] - span_s / 2
    cands = np.clip(offset_s + np.linspace(-2, 2, 41) * step, lo, hi)
    err = [np.mean((angles - gyro_angles(gyro_t, w_cam, times + o, span_s, q=q)) ** 2) for o in cands]
    return float(cands[int(np.argmin(err))])


@dataclass
class GyroAlignment:
    """How a gyro log lines up with a trajectory (steps 1–2 of the module docstring)."""

    offset_s: float  # gyro time = trajectory time + offset
    offset_source: str  # "auto" or "given"
    axes: str  # the signed axis map used
    rate_correlation: float
    rates: np.ndarray  # (T-1, 3) the trajectory's body rates, rad/s
    gyro_t: np.ndarray  # (N,) log sample times, s
    w_cam: np.ndarray  # (N, 3) log rates in camera axes, rad/s
    q: np.ndarray  # (N, 4) their integral (integrate_gyro)


def fit_alignment(
    angles: np.ndarray,
    times: np.ndarray,
    gyro: str | Path,
    offset_s: float | None = None,
    axes: str = "xyz",
    time_unit: str = "auto",
    max_offset_s: float = 2.0,
    span_s: float = 0.0,
    source: str | Path = "trajectory",
) -> GyroAlignment:
    """Read the log ``gyro`` and align it with per-frame ``angles`` (T, 3) at ``times`` (T,).

    The offset (found by rate correlation and polished on the angles averaged over ``span_s``,
    unless given) and the axes (given, or searched with ``"auto"``); ``source`` names the
    trajectory in error messages.
    """
    if len(angles) < 3:
        raise InputError(source, f"trajectory has {len(angles)} frame(s); need at least 3 to compare rates")
    if np.any(np.diff(times) <= 0):
        raise InputError(source, "frame times must increase (is time_s filled in?)")
    if axes != "auto":
        try:
            _parse_axes(axes)
        except ValueError as exc:
            raise InputError("--axes", str(exc)) from None
    gt, gw = read_gyro_log(gyro, time_unit)
    rates = body_rates(angles, times)
    try:
        off, axes_used, corr = align(times, rates, gt, gw, max_offset_s, axes, offset_s)
    except InputError as exc:  # the log does not cover the clip (at that offset): name the log
        raise InputError(gyro, exc.problem) from None
    idx, sign = _parse_axes(axes_used)
    w_cam = gw[:, idx] * sign
    q = integrate_gyro(gt, w_cam)
    if offset_s is None:
        off = refine_offset(angles, times, gt, w_cam, off, span_s, q)
    source_of_offset = "auto" if offset_s is None else "given"
    return GyroAlignment(float(off), source_of_offset, axes_used, float(corr), rates, gt, w_cam, q)


def compare_with_gyro(
    traj: Trajectory,
    gyro: str | Path,
    offset_s: float | None = None,
    axes: str = "xyz",
    time_unit: str = "auto",
    max_offset_s: float = 2.0,
    span_s: float = 0.0,
    source: str | Path = "trajectory",
    dense: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict:
    """Align ``traj`` with the gyro log ``gyro`` and measure the error (see the module docstring).

    ``span_s`` is how long each frame integrates motion (exposure plus rolling-shutter readout), from
    its time in ``traj.times`` (the frame start, as in trajectory.csv and docs/design.md §3): the gyro
    orientation is averaged over ``[t, t + span]``, as a blurred frame's rotation is, so the offset
    is the one between the two clocks. 0 compares with the instantaneous orientation at ``t`` (fine
    for short exposures; the half span then ends up in the offset). ``dense``: the dense trajectory
    (T, S, 3) rad and its sample times (T, S) s, for the band table.

    Returns:
        ``offset_s``, ``offset_source`` (auto/given), ``axes``, ``rate_correlation``, ``rate_rmse_deg_s``,
        ``trajectory`` (docs/design.md §7 metrics of the recovered angles against the gyro's, per-axis RMSE in
        arcminutes included), both angle series, and ``shake``: the band summaries
        (:meth:`~motiondepth.eval.spectrum.ShakeSpectrum.summary`) of ``gyro``, ``trajectory`` and ``dense``
        over the same time window (a series too short for one maps to ``{"unavailable": reason}``).
    """
    angles = np.nan_to_num(np.asarray(traj.angles, dtype=np.float64))
    times = np.asarray(traj.times, dtype=np.float64) + 0.5 * span_s  # a frame's angle: its span's mean
    al = fit_alignment(angles, times, gyro, offset_s, axes, time_unit, max_offset_s, span_s, source)
    gt, w_cam, off = al.gyro_t, al.w_cam, al.offset_s
    ref = gyro_angles(gt, w_cam, times + off, span_s, q=al.q)
    cum = rate_integral(gt, w_cam)
    g_rates = _interval_means(gt, cum, times[:-1] + off, times[1:] + off)
    return {
        "trajectory_file": str(source),
        "gyro_file": str(gyro),
        "frames": len(angles),
        "offset_s": off,
        "offset_source": al.offset_source,
        "axes": al.axes,
        "frame_span_s": span_s,
        "rate_correlation": al.rate_correlation,
        "rate_rmse_deg_s": float(np.rad2deg(np.sqrt(np.mean((al.rates - g_rates) ** 2)))),
        "gyro_peak_rate_deg_s": float(np.rad2deg(np.abs(g_rates).max())),
        "trajectory": trajectory_metrics(angles, ref),
        "gyro_angles_rad": ref.tolist(),
        "trajectory_angles_rad": angles.tolist(),
        "shake": _shake(traj, gt, w_cam, off, span_s, dense, gyro),
    }


def _shake(traj: Trajectory, gyro_t, w_cam, offset_s, span_s, dense, gyro) -> dict:
    """Band summaries of the gyro (over the clip's window, camera axes as roll/pitch/yaw) and the trajectories."""
    from motiondepth.eval.spectrum import ANGLE_AXES, angle_spectrum, dense_spectrum, gyro_spectrum

    t0, t1 = traj.times[0] + offset_s, traj.times[-1] + span_s + offset_s
    sel = (gyro_t >= t0) & (gyro_t <= t1)
    make = {  # camera axes (x, y, z) → (roll about z, pitch about x, yaw about y)
        "gyro": lambda: gyro_spectrum(
            gyro_t[sel] - offset_s, w_cam[sel][:, [2, 0, 1]], source=str(gyro), axes=ANGLE_AXES
        ),
        "trajectory": lambda: angle_spectrum(traj.angles, traj.times, source="trajectory"),
    }
    if dense is not None:
        make["dense"] = lambda: dense_spectrum(*dense, source="dense trajectory")
    out = {}
    for name, fn in make.items():
        try:
            out[name] = fn().summary()
        except InputError as exc:
            out[name] = {"unavailable": exc.problem}
    return out


def format_comparison(result: dict) -> str:
    """Short human-readable summary of :func:`compare_with_gyro`."""
    m = result["trajectory"]
    return (
        f"offset {result['offset_s'] * 1e3:+.1f} ms ({result['offset_source']}), gyro axes '{result['axes']}', "
        f"rate correlation {result['rate_correlation']:.3f}\n"
        f"rate RMSE {result['rate_rmse_deg_s']:.3f} °/s (gyro peak {result['gyro_peak_rate_deg_s']:.2f} °/s)\n"
        f"angle RMSE {m['rmse_arcmin']:.2f}′ (roll {m['rmse_arcmin_roll']:.2f}′, pitch {m['rmse_arcmin_pitch']:.2f}′, "
        f"yaw {m['rmse_arcmin_yaw']:.2f}′), AbsRel {m['abs_rel']:.3f}, e1 {m['e1']:.3f} over {m['num_samples']} "
        "samples above the floor"
    ) + _shake_text(result.get("shake", {}))


def _shake_text(shake: dict) -> str:
    from motiondepth.eval.spectrum import format_band_table

    ok = {k: v for k, v in shake.items() if "bands" in v}
    missing = [f"{k}: {v['unavailable']}" for k, v in shake.items() if "bands" not in v]
    text = ("\nshake per frequency band, same time window:\n" + format_band_table(ok)) if ok else ""
    return text + "".join(f"\nno spectrum for {m}" for m in missing)
