"""Aligning a gyroscope log with a video's trajectory: the clocks' offset and the gyro's axes.

The offset (``gyro time = trajectory time + offset``) maximises the normalised correlation of the
two angular-rate series, refined by a parabola and polished by the angle error; the axes are a signed
permutation, given or the best of all 48 (``"auto"``). Used at run time (gyro-aided tracking) and by
the comparison in :mod:`motiondepth.eval.gyro`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from motiondepth.errors import InputError
from motiondepth.geometry.rotations import body_rates, matrix_to_euler, parse_axes, quat_to_matrix
from motiondepth.io.gyro_log import read_gyro_log
from motiondepth.sensor.trace import integrate_gyro, rate_integral


def _interval_means(t: np.ndarray, cum: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Mean of a signal over [starts, ends] from its running integral ``cum`` (N, 3) at times ``t``."""
    a = np.stack([np.interp(starts, t, cum[:, i]) for i in range(3)], -1)
    b = np.stack([np.interp(ends, t, cum[:, i]) for i in range(3)], -1)
    return (b - a) / (ends - starts)[:, None]


def signed_permutations():
    """The 48 axis maps ``(idx, sign)`` of :func:`~motiondepth.geometry.rotations.parse_axes`, in a fixed order."""
    for perm in itertools.permutations(range(3)):
        for signs in itertools.product((1.0, -1.0), repeat=3):
            yield np.array(perm), np.array(signs)


def axes_string(idx: np.ndarray, sign: np.ndarray) -> str:
    """``(idx, sign)`` in ``--gyro-axes``' words (``"yXz"``: letter i the raw axis of camera axis i, a capital
    negated); the inverse of :func:`~motiondepth.geometry.rotations.parse_axes`."""
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
                f"no offset within ±{max_offset_s} s keeps the clip ({times[0]:.2f}–{times[-1]:.2f} s on the frames' "
                f"clock) inside the log ({gyro_t[0]:.2f}–{gyro_t[-1]:.2f} s): put both on one clock, or give the "
                "offset (run: --gyro-offset) or a wider search (--max-offset; run: --gyro-max-offset)",
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
    perms = list(signed_permutations()) if axes == "auto" else [parse_axes(axes)]
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
    return off, axes_string(idx, sign), corr


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
    rate_gain: float = float("nan")  # the log's rates over the trajectory's (least squares): 1 when units agree


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
            parse_axes(axes)
        except ValueError as exc:
            raise InputError("--axes", str(exc)) from None
    gt, gw = read_gyro_log(gyro, time_unit)
    rates = body_rates(angles, times)
    try:
        off, axes_used, corr = align(times, rates, gt, gw, max_offset_s, axes, offset_s)
    except InputError as exc:  # the log does not cover the clip (at that offset): name the log
        raise InputError(gyro, exc.problem) from None
    idx, sign = parse_axes(axes_used)
    w_cam = gw[:, idx] * sign
    q = integrate_gyro(gt, w_cam)
    if offset_s is None:
        off = refine_offset(angles, times, gt, w_cam, off, span_s, q)
    source_of_offset = "auto" if offset_s is None else "given"
    return GyroAlignment(float(off), source_of_offset, axes_used, float(corr), rates, gt, w_cam, q,
                         rate_gain(times, rates, gt, w_cam, off))  # fmt: skip


def rate_gain(times: np.ndarray, rates: np.ndarray, gyro_t: np.ndarray, w_cam: np.ndarray, offset_s: float) -> float:
    """How many times larger the log's rates (camera axes, averaged over each frame interval) are than the
    trajectory's ``rates`` (T-1, 3): the least-squares gain, 1 where both are in rad/s. A log in deg/s read as rad/s
    gives ≈ 57, a wrong ``gscale`` its factor. NaN where the trajectory does not move."""
    t0, t1 = times[:-1] + offset_s, times[1:] + offset_s
    inside = (t0 >= gyro_t[0]) & (t1 <= gyro_t[-1])
    if inside.sum() < 2:
        return float("nan")
    g = _interval_means(gyro_t, rate_integral(gyro_t, w_cam), t0[inside], t1[inside])
    r = np.nan_to_num(rates[inside])
    den = float(np.sum(r * r))
    return float(np.sum(g * r) / den) if den > 0 else float("nan")
