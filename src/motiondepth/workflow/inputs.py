"""What a run starts from: the frames, the intrinsics, the camera timing and the solver's settings."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from motiondepth.errors import InputError
from motiondepth.types import RunWarning
from motiondepth.workflow.config import Clip, RunConfig

if TYPE_CHECKING:
    from motiondepth.tracking.gyro_aided import GyroAid


def decode_video(
    path: str | Path,
    start: int = 0,
    end: int | None = None,
    stride: int = 1,
    resize: int | None = None,
    fps: float | None = None,
) -> Clip:
    """Frames ``start:end:stride`` of a video file, a folder of images or a ``motiondepth simulate`` folder.

    Args:
        resize: if given, scale so the longer side is ``resize`` pixels (aspect kept).
        fps: frame rate, for image folders without timestamps (see :func:`~motiondepth.io.video.image_times`);
            overrides the times of any input.

    Raises:
        InputError: missing, corrupt or empty video, bad range, or fewer than 2 frames selected.
    """
    from motiondepth.io.video import FrameSelection, load_frames

    path = Path(path)
    if start < 0 or stride < 1 or (end is not None and end <= start):
        raise InputError(
            path, f"bad frame range start={start} end={end} stride={stride} (need start ≥ 0, end > start, stride ≥ 1)"
        )
    if resize is not None and resize < 16:
        raise InputError("--resize", f"{resize} px is too small (the longer side, at least 16)")
    # only the frames used are decoded in full and kept, already resized: a long 4K clip fits in memory
    frames, times, camera = load_frames(path, end, fps, FrameSelection(start, stride, resize))
    times_source, origin = camera.pop("times_source"), camera.pop("time_origin_s", 0.0)
    rotation = int(camera.pop("display_rotation_deg", 0))
    idx, source_size = camera.pop("indices"), camera.pop("source_size")
    times, origin = times - times[0], origin + times[0]
    frames, times = np.ascontiguousarray(frames), times.astype(np.float64)
    notes = check_frame_times(path, times, np.asarray(idx), times_source)
    return Clip(frames, times, idx, str(path), tuple(source_size), camera, times_source, float(origin), rotation,
                notes)  # fmt: skip


GAP_REFUSED = 10.0  # × the median frame interval (and over GAP_MIN_S): a clip across such a gap is refused
GAP_MIN_S = 0.5
GAP_WARNED = 2.5  # × the median: dropped frames, worth a warning


def check_frame_times(path: str | Path, times: np.ndarray, indices: np.ndarray, source: str
                      ) -> tuple[RunWarning, ...]:  # fmt: skip
    """Every frame interval, not only the median: a clip whose frames jump across a gap in the recording (the TUM
    folder in ../shared jumps 15 s from frame 239 to 700) is refused with the range to cut on either side, since
    every step after decoding assumes one continuous motion; smaller jumps (dropped frames) come back as warnings."""
    steps = np.diff(times)
    if len(steps) == 0:
        return ()
    if not np.isfinite(steps).all() or (steps <= 0).any():
        k = int(np.argmax(~np.isfinite(steps) | (steps <= 0)))
        raise InputError(path, f"frame times must increase; frames {indices[k]} and {indices[k + 1]} are at "
                         f"{times[k]:.6g} and {times[k + 1]:.6g} s (times from {source})")  # fmt: skip
    med = float(np.median(steps))
    big = np.flatnonzero(steps > max(GAP_REFUSED * med, GAP_MIN_S))
    if len(big):
        k = int(big[0])
        a, b = int(indices[k]), int(indices[k + 1])
        raise InputError(path, f"frames {a} and {b} are {steps[k]:.4g} s apart, {steps[k] / med:.0f} × the median "
                         f"frame interval ({1e3 * med:.3g} ms; times from {source}): a gap in the recording, across "
                         f"which no motion can be followed; run each side on its own (--end {a + 1}, or --start {b})"
                         )  # fmt: skip
    dropped = np.flatnonzero(steps > GAP_WARNED * med)
    if len(dropped):
        k = int(dropped[0])
        return (RunWarning(f"{len(dropped)} frame interval(s) are more than {GAP_WARNED:g} × the median "
                f"({1e3 * med:.3g} ms), the longest {1e3 * steps.max():.4g} ms (first after frame {indices[k]}): "
                "dropped frames? the motion across them is interpolated", "medium"),)  # fmt: skip
    return ()


def exposure_timing(cfg: RunConfig, clip: Clip, what: str) -> tuple[float, float]:
    """Exposure and readout time of the clip, seconds: flags first, then a simulate folder's camera.json."""
    cam = clip.camera
    if cfg.exposure_ms is not None:
        exposure = cfg.exposure_ms / 1e3
    elif "exposure_s" in cam:
        exposure = float(cam["exposure_s"])
    else:
        raise InputError(
            "--exposure-ms",
            f"{what} needs the exposure time of the clip (the camera app or the file's metadata "
            "says it, e.g. 1/30 s = 33.3 ms)",
        )
    if cfg.readout_ms is not None:
        readout = cfg.readout_ms / 1e3
    elif "row_time_s" in cam and "height" in cam:
        readout = float(cam["row_time_s"]) * float(cam["height"])
    else:
        readout = 0.0
    return exposure, readout


def undistorted(clip: Clip, intr, lens) -> Clip:
    """``clip`` seen through a pinhole camera ``intr``: its frames undistorted from ``lens``
    (:class:`~motiondepth.geometry.distortion.LensDistortion`), and ``recorded`` the pixels that hold recorded content
    (not the black margin the undistortion leaves)."""
    from dataclasses import replace

    from motiondepth.geometry.distortion import recorded_area, undistort_frames

    frames = undistort_frames(clip.frames, intr, lens)
    return replace(clip, frames=frames, recorded=recorded_area(intr, lens, clip.size))


FALLBACK_EXPOSURE_FRACTION = 0.5  # of the frame interval, when nothing gives the exposure: a 180° shutter


def resolve_exposure(cfg: RunConfig, clip: Clip, video: str | Path | None = None) -> Clip:
    """The clip with its exposure time where ``--gyro`` or ``--blur-fit`` needs one and neither ``--exposure-ms``
    nor a simulate folder's camera.json gives it: the median of the video's telemetry over the clip's frames
    (GoPro ``SHUT``), else :data:`FALLBACK_EXPOSURE_FRACTION` of the frame interval; either is said in a note."""
    from dataclasses import replace

    from motiondepth.io.telemetry import VIDEO_SUFFIXES, embedded_exposure
    from motiondepth.types import note

    if cfg.exposure_ms is not None or "exposure_s" in clip.camera or not (cfg.gyro or cfg.blur_fit):
        return clip
    per_frame = None
    if video is not None and Path(video).is_file() and Path(video).suffix.lower() in VIDEO_SUFFIXES:
        per_frame = embedded_exposure(video)
    if per_frame is not None:
        idx = np.asarray(clip.indices)
        exposure = float(np.median(per_frame[idx] if len(per_frame) > idx.max() else per_frame))
        why = note(f"exposure time {exposure * 1e3:.3g} ms from the video's telemetry (median over the clip's frames; "
                   "--exposure-ms overrides it)")  # fmt: skip
    else:
        exposure = FALLBACK_EXPOSURE_FRACTION * clip.interval_s
        why = RunWarning(f"exposure time: neither --exposure-ms nor the file gives it; assumed {exposure * 1e3:.3g} ms "
                         f"(half the frame interval). The blur kernels scale with it: give --exposure-ms from the "
                         "camera app or the file's metadata", "medium")  # fmt: skip
    return replace(clip, camera={**clip.camera, "exposure_s": exposure}, notes=(*clip.notes, why))


def gyro_aid(cfg: RunConfig, clip: Clip, video: str | Path | None = None) -> GyroAid | None:
    """The gyro log of ``cfg.gyro`` with the camera timing it needs (flags first, then camera.json);
    ``--gyro embedded``: the gyro in ``video``'s own telemetry (:mod:`motiondepth.io.telemetry`)."""
    from motiondepth.tracking.gyro_aided import GyroAid

    if cfg.gyro is None:
        return None
    log = cfg.gyro
    if cfg.gyro == "embedded":
        if video is None or not Path(video).is_file():
            raise InputError("--gyro", "'embedded' reads the gyro inside a video file; the input is not one")
        log = str(video)
    if not Path(log).is_file():
        raise InputError(log, "gyro log not found")
    exposure, readout = exposure_timing(cfg, clip, "gyro-aided tracking")
    return GyroAid(log, exposure, readout, cfg.gyro_offset, cfg.gyro_axes, max_offset_s=cfg.gyro_max_offset,
                   time_origin_s=clip.time_origin_s)  # fmt: skip


def accel_input(cfg: RunConfig, clip: Clip, video: str | Path | None = None):
    """The accelerometer log of ``cfg.accel`` (:func:`motiondepth.io.accel_log.read_accel_log`), checked against
    the options and the clip before the output folder is touched: it must cover the frames on their clock (up to
    the offset search's ±0.1 s, or the given ``--accel-offset-ms``). None without ``--accel``."""
    from motiondepth.io.accel_log import read_accel_log
    from motiondepth.sensor.accel import MAX_OFFSET_S, parse_axes_name

    if cfg.accel is None:
        for opt, value in (("--accel-axes", cfg.accel_axes), ("--accel-offset-ms", cfg.accel_offset_ms)):
            if value is not None:
                raise InputError(opt, "needs --accel (the accelerometer log it describes)")
        return None
    if cfg.motion in ("lsq", "pivot", "rotation"):
        raise InputError("--accel", f"the accelerometer measures the scale of the camera's translation, and --motion "
                         f"{cfg.motion} has none: use --motion auto or 6dof")  # fmt: skip
    if cfg.accel_axes is not None:
        try:
            parse_axes_name(cfg.accel_axes)
        except ValueError as exc:
            raise InputError("--accel-axes", str(exc)) from None
    path = cfg.accel
    if cfg.accel == "embedded":
        if video is None or not Path(video).is_file():
            raise InputError("--accel", "'embedded' reads the accelerometer inside a video file; the input is not one")
        path = str(video)
    log = read_accel_log(path, cfg.accel_unit)
    frames = clip.times + clip.time_origin_s
    slack = MAX_OFFSET_S if cfg.accel_offset_ms is None else 0.0
    lo, hi = log.times[[0, -1]] + (cfg.accel_offset_ms or 0.0) / 1e3
    if lo > frames[0] + slack or hi < frames[-1] - slack:
        raise InputError(path, f"the log covers {lo:.3f}–{hi:.3f} s and the frames {frames[0]:.3f}–{frames[-1]:.3f} s "
                         f"on their clock ({clip.times_source}): it must cover every frame; put its times on the "
                         "frames' clock or give --accel-offset-ms")  # fmt: skip
    return log


def solver_config(cfg: RunConfig, clip: Clip):
    from motiondepth.trajectory.optics import rolling_shutter_config

    try:  # --rolling-shutter is one of its choices (config.check_options)
        readout = None if cfg.readout_ms is None else cfg.readout_ms / 1000.0
        return rolling_shutter_config(cfg.rolling_shutter, readout, clip.interval_s)
    except ValueError as exc:
        raise InputError("--readout-ms", str(exc)) from None


def run_frames(run_dir: str | Path) -> np.ndarray:
    """(T, H, W, 3) uint8: the frames a run worked on, its input decoded again with its settings (``config.json``
    ``input.video`` and ``options``) and undistorted with its recorded lens (``intrinsics.distortion``)."""
    from motiondepth.geometry.camera import Intrinsics
    from motiondepth.geometry.distortion import LensDistortion, undistort_frames
    from motiondepth.io.run_folder import RunFolder

    run = RunFolder.open(run_dir)
    video = (run.record.get("input") or {}).get("video")
    if not video or not Path(video).exists():
        raise InputError(run.path / "config.json", f"the run's input {video} is not there: the export writes the "
                         "frames the poses belong to from it (or write the poses only: --no-images)")  # fmt: skip
    o = run.record.get("options") or {}
    clip = decode_video(video, int(o.get("start") or 0), o.get("end"), int(o.get("stride") or 1), o.get("resize"),
                        o.get("fps"))  # fmt: skip
    if clip.size != run.size or len(clip.frames) != run.frames:
        raise InputError(video, f"decodes to {len(clip.frames)} frames of {clip.size[1]}x{clip.size[0]}, not the "
                         f"run's {run.frames} of {run.size[1]}x{run.size[0]}: it changed since the run")  # fmt: skip
    lens = (run.record.get("intrinsics") or {}).get("distortion")
    if not lens:
        return clip.frames
    return undistort_frames(clip.frames, Intrinsics(*run.fx_fy_cx_cy), LensDistortion(lens["model"], lens["coeffs"]))
