"""Gyro-aided tracking: blur-compensated tracks for a clip that comes with a gyroscope log.

Why. Plain KLT on long-exposure frames is biased towards the bright lobes of asymmetric blur
streaks (:mod:`motiondepth.tracking.crossblur`), and that bias, not the solver, is what limits
the recovered rotation on strongly shaken clips. The video alone does not say how the camera
moved *inside* each exposure (at 16–30 frames per second hand tremor is aliased), but a
gyroscope does: phones log one at hundreds of hertz, and action cameras write it next to the
video (Gyroflow ``.gcsv``).

How (:func:`track_with_gyro`):

1. plain KLT tracks of the queries (the starting guesses);
2. two first rotation solves: the optics solver's pivot model on the KLT tracks at a constant depth (depth
   barely moves the angles), and the small-motion bundle adjustment, 6-DoF from its rotation-only fit, on
   chained tracks of the frames (:func:`path_rotation`). Step 3 keeps the one the gyro's rates correlate with
   best: the pivot solve on long exposures (the papers' regime), the bundle adjustment where the camera travels
   (a phone filmed from a car: rate correlation 0.25–0.52 from the pivot solve, issue 48 #2);
3. the gyro aligned with that trajectory: time offset by cross-correlating angular rates, then
   polished on the angles, and the gyro's axes mapped onto the camera's (given, or the best of
   the 48 signed permutations) — the method of ``motiondepth compare-gyro``;
4. each frame's blur kernels per image tile, from the integrated gyro over that frame's
   exposure windows (:func:`~motiondepth.tracking.crossblur.exposure_kernels`);
5. cross-blur Lucas–Kanade from the KLT tracks (:func:`~motiondepth.tracking.crossblur.track_cross_blur`).

The gyro must describe the same clip: when its rates correlate poorly with the video's
(wrong log, wrong axes), the KLT tracks are returned unchanged and the reason is recorded in
``Tracks.meta["gyro"]``.

The time convention: ``times`` are the frames' timestamps (exposure start of the first row, as
a simulator writes them; a container's presentation times differ from that by a constant,
which the offset absorbs). After alignment, frame ``k``'s per-frame orientation (the mean over
its exposure and readout) sits at gyro time ``times[k] + offset``, so its first row starts
exposing at ``times[k] + offset − (exposure + readout) / 2``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from motiondepth.errors import InputError
from motiondepth.geometry.camera import Intrinsics
from motiondepth.geometry.pivot import DEFAULT_PIVOT_M
from motiondepth.geometry.rotations import parse_axes
from motiondepth.sensor.gyro import GyroAlignment
from motiondepth.sensor.trace import RotationTrace, integrate_gyro
from motiondepth.tracking.crossblur import (
    CrossBlurConfig,
    exposure_kernels,
    first_solve,
    kernel_camera,
    track_cross_blur,
)
from motiondepth.tracking.klt import KLTTracker
from motiondepth.types import Tracks


@dataclass
class GyroAid:
    """A gyroscope log and the camera timing that turns it into blur kernels."""

    path: str | Path  # CSV time_s,wx,wy,wz (rad/s), Gyroflow .gcsv/.gyroflow, … (see read_gyro_log)
    exposure_s: float  # exposure time of one row
    readout_s: float = 0.0  # rolling-shutter readout of a frame, top row to bottom row
    offset_s: float | None = None  # gyro time = frame time + offset; None: found by correlation
    axes: str = "xyz"  # camera axis i = gyro axis axes[i] (capital = negated), or "auto"
    time_origin_s: float = 0.0  # the frames' times are this much later on their own clock (an image folder's
    # timestamps, a phone's frame times): a log on that clock lines up at offset 0
    time_unit: str = "auto"
    max_offset_s: float = 2.0  # search range of the automatic offset, ± seconds
    min_correlation: float = 0.5  # below this rate correlation the gyro is not used
    max_gain: float = 2.5  # nor where its rates are this many times larger (or smaller) than the video's
    tiles: int = 4  # kernels per image side

    def __post_init__(self) -> None:
        if not 0 < self.exposure_s <= 1.0:
            raise InputError("--exposure-ms", f"{self.exposure_s * 1e3:g} ms is not an exposure time (0–1000 ms)")
        if not 0 <= self.readout_s < 0.2:
            raise InputError("--readout-ms", f"{self.readout_s * 1e3:g} ms is not a sensor readout time (0–200 ms)")
        if self.axes != "auto":
            try:
                parse_axes(self.axes)
            except ValueError as exc:
                raise InputError("--gyro-axes", str(exc)) from None

    @property
    def span_s(self) -> float:
        """Exposure plus readout: how long one frame integrates motion."""
        return self.exposure_s + self.readout_s


def gyro_trace(
    gyro_t: np.ndarray,
    w_cam: np.ndarray,
    start_s: float,
    stop_s: float,
    dt: float = 1e-3,
    q: np.ndarray | None = None,
) -> RotationTrace:
    """The integrated gyro on ``[start_s, stop_s]`` of its clock as a trace whose time 0 is ``start_s``.

    Args:
        gyro_t: (N,) sample times, seconds; w_cam: (N, 3) rad/s already in camera axes.
        dt: sampling of the trace (the kernels interpolate it linearly).
        q: the integrated quaternions of ``w_cam``, if already at hand.
    """
    from motiondepth.sensor.gyro import gyro_angles

    if start_s < gyro_t[0] - 1e-9 or stop_s > gyro_t[-1] + 1e-9:
        raise ValueError(
            f"the clip needs the gyro from {start_s:.3f} to {stop_s:.3f} s; the log covers "
            f"{gyro_t[0]:.3f}–{gyro_t[-1]:.3f} s"
        )
    grid = start_s + np.arange(int(np.ceil((stop_s - start_s) / dt)) + 1) * dt
    ang = gyro_angles(gyro_t, w_cam, grid, q=integrate_gyro(gyro_t, w_cam) if q is None else q)
    return RotationTrace(grid - start_s, np.unwrap(ang, axis=0), "gyro log")


def path_rotation(frames: np.ndarray, intrinsics: Intrinsics, depth_m: float = 2.0,
                  recorded: np.ndarray | None = None) -> np.ndarray | None:  # fmt: skip
    """(T, 3) rad: the camera's rotation by the small-motion bundle adjustment (6-DoF, started from its rotation-only
    fit) on chained tracks of ``frames`` with a constant depth prior; None where it cannot solve (too few points).
    ``recorded``: (H, W) bool, the pixels with recorded content; no point is followed near the black margin of
    undistorted frames, as in the motion step (its edge stays put while the scene moves)."""
    from motiondepth.tracking.chain import ChainConfig, track_chained
    from motiondepth.trajectory.small_motion import SmallMotionConfig, solve_small_motion

    chained = track_chained(frames, config=ChainConfig.for_size(frames.shape[1:3]), valid=recorded)
    prior = np.full(chained.num_points, depth_m)
    cfg = SmallMotionConfig(readout_sigma=0.3)
    try:
        rot = solve_small_motion(chained, intrinsics, prior, "rotation", readout_fraction=0.5, config=cfg)
        return solve_small_motion(chained, intrinsics, prior, "6dof", readout_fraction=0.5, config=cfg, init=rot).angles
    except (ValueError, InputError):
        return None


def align_gyro(
    tracks: Tracks,
    times: np.ndarray,
    intrinsics: Intrinsics,
    gyro: GyroAid,
    pivot_m: float = DEFAULT_PIVOT_M,
    depth_m: float = 2.0,
    solver=None,
    reference: np.ndarray | None = None,
) -> GyroAlignment:
    """Steps 2–3 of the module docstring: ``gyro`` aligned with ``reference`` (T, 3) angles
    (:func:`path_rotation`), or where None with a first rotation solve from ``tracks`` (the pivot model)."""
    from motiondepth.sensor.gyro import fit_alignment

    times = np.asarray(times, dtype=np.float64)
    if len(times) != tracks.num_frames:
        raise InputError("gyro", f"need {tracks.num_frames} frame times, got {len(times)}")
    if reference is None:
        try:
            reference = first_solve(tracks, intrinsics, pivot_m, depth_m, times, solver, "aligning a gyro log").angles
        except ValueError as exc:
            raise InputError("gyro", str(exc)) from None
    return fit_alignment(
        np.nan_to_num(reference), times + gyro.time_origin_s, gyro.path, gyro.offset_s, gyro.axes, gyro.time_unit,
        gyro.max_offset_s, gyro.span_s, source="frame times",
    )  # fmt: skip


def track_with_gyro(
    frames: np.ndarray,
    queries: np.ndarray,
    times: np.ndarray,
    intrinsics: Intrinsics,
    gyro: GyroAid,
    pivot_m: float = DEFAULT_PIVOT_M,
    depth_m: float = 2.0,
    solver=None,
    init: Tracks | None = None,
    config: CrossBlurConfig | None = None,
    recorded: np.ndarray | None = None,
) -> Tracks:
    """Blur-compensated tracks of ``queries`` (N, 3) through ``frames`` (T, H, W, 3) with a gyro log.

    Args:
        times: (T,) frame timestamps, seconds (see the module docstring for the convention).
        gyro: the log and the camera's exposure and readout times.
        pivot_m, depth_m: imaging model of the first rotation solve and of the kernels.
        solver: :class:`~motiondepth.trajectory.SolverConfig` of the first solve.
        init: plain KLT tracks, if already computed.
        recorded: (H, W) bool, the recorded pixels of undistorted frames (:func:`path_rotation`).

    Returns:
        :class:`Tracks` with ``meta["gyro"]``: file, offset, axes, rate correlation, whether used.
    """
    t_len, h, w = frames.shape[:3]
    init = init if init is not None else KLTTracker().track(frames, queries)
    # aligned with both first solves, the better-correlated kept: the pivot model's on long exposures (the papers'
    # regime: blur biases the chained tracks), the bundle adjustment's where the camera travels (a car)
    al = align_gyro(init, times, intrinsics, gyro, pivot_m, depth_m, solver)
    path = path_rotation(frames, intrinsics, recorded=recorded)
    if path is not None:
        al = max(al, align_gyro(init, times, intrinsics, gyro, pivot_m, depth_m, solver, path),
                 key=lambda a: a.rate_correlation)  # fmt: skip
    info = {
        "offset_s": al.offset_s,
        "offset_source": al.offset_source,
        "axes": al.axes,
        "rate_correlation": al.rate_correlation,
        "rate_gain": al.rate_gain,
        "file": str(gyro.path),
        "exposure_s": gyro.exposure_s,
        "readout_s": gyro.readout_s,
    }
    reason = None
    if al.rate_correlation < gyro.min_correlation:
        reason = (
            f"rate correlation {al.rate_correlation:.2f} < {gyro.min_correlation:g}: the gyro log does not "
            "match the video's motion (another clip, wrong --gyro-axes or an offset outside --gyro-max-offset?); "
            "kept the plain KLT tracks"
        )
    elif np.isfinite(al.rate_gain) and not 1 / gyro.max_gain <= al.rate_gain <= gyro.max_gain:
        reason = (
            f"its rates are {al.rate_gain:.2g} × the video's (rate correlation {al.rate_correlation:.2f}): wrong "
            "units (deg/s given as rad/s is × 57) or a wrong .gcsv gscale?; kept the plain KLT tracks"
        )
    if reason is not None:
        return replace(init, meta={**init.meta, "gyro": info | {"used": False, "reason": reason}})
    starts = np.asarray(times, dtype=np.float64) + gyro.time_origin_s + al.offset_s - 0.5 * gyro.span_s  # gyro clock
    gt = al.gyro_t
    need = (starts[0], starts[-1] + gyro.span_s)
    slack = 0.1 * gyro.span_s  # the trace holds its end values this far beyond the log
    if need[0] < gt[0] - slack or need[1] > gt[-1] + slack:
        raise InputError(
            gyro.path,
            f"the clip's exposures span {need[0]:.3f}–{need[1]:.3f} s on the gyro clock (offset "
            f"{al.offset_s:+.3f} s) but the log covers {gt[0]:.3f}–{gt[-1]:.3f} s",
        )
    lo, hi = max(need[0] - 0.01, gt[0]), min(need[1] + 0.01, gt[-1])
    trace = gyro_trace(gt, al.w_cam, lo, hi, q=al.q)
    cam = kernel_camera("gyro", gyro.exposure_s, gyro.readout_s, pivot_m, (h, w), t_len)
    try:
        kernels = exposure_kernels(trace, cam, intrinsics, starts - lo, gyro.tiles, depth_m)
    except ValueError as exc:  # a kernel beyond any blur the trackers can undo
        raise InputError(gyro.path, f"{exc}: are the rates in rad/s?") from None
    out = track_cross_blur(frames, queries, kernels, config, init=init)
    out.meta["gyro"] = info | {"used": True}
    return out
