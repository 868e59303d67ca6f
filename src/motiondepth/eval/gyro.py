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

from pathlib import Path

import numpy as np

from motiondepth.errors import InputError
from motiondepth.eval.trajectory_metrics import trajectory_metrics
from motiondepth.sensor.gyro import _interval_means, fit_alignment, gyro_angles
from motiondepth.sensor.trace import rate_integral
from motiondepth.types import Trajectory


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
