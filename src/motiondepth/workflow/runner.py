""":func:`run`: the steps chained, each cached in the output folder."""

from __future__ import annotations

import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from motiondepth import __version__
from motiondepth.errors import InputError, check_device
from motiondepth.geometry.camera import Intrinsics
from motiondepth.io.atomic import remove_empty_folders
from motiondepth.io.camera import calibration_record, read_lens_distortion, resolve_intrinsics
from motiondepth.types import note
from motiondepth.workflow.cache import (
    StepCache,
    check_output_dir,
    checkpoint_info,
    environment,
    locked_output_dir,
)
from motiondepth.workflow.config import (
    ACCEL_FILES,
    MOTION_FILES,
    OUTPUT_FILES,
    STEP_SPECS,
    Clip,
    Result,
    RunConfig,
    check_options,
)
from motiondepth.workflow.exports import write_exports
from motiondepth.workflow.inputs import accel_input, decode_video, gyro_aid, resolve_exposure, undistorted
from motiondepth.workflow.stages import CachedSteps, imported_tracks
from motiondepth.workflow.steps import focal_outcome, scaled_by
from motiondepth.workflow.summary import (
    add_depth_notes,
    add_median_interval,
    depth_frames_summary,
    motion_record,
    motion_summary,
    summarize,
)

MIN_LENS_COVERAGE = 0.5  # a calibration whose lens model sends more of the frame off the sensor is refused


def run(video: str | Path, out_dir: str | Path = "motiondepth-out", **options: Any) -> Result:
    """The whole pipeline on one clip; outputs (and the step cache) go to ``out_dir``.

    Args:
        video: a video file any FFmpeg build reads, or a ``motiondepth simulate`` folder.
        out_dir: created if needed; re-running on the same folder reuses finished steps.
        **options: fields of :class:`RunConfig` (``hfov=…``, ``fx=…``, ``depth=…``, ``overwrite=True``…).

    Returns:
        :class:`Result`; the files are listed in ``Result.files``.

    Raises:
        InputError: unreadable or unsuitable input (the message names the file and the problem).
        OutputError: the output folder or a file in it cannot be written (nothing half-written stays).

    Example:
        >>> import motiondepth
        >>> res = motiondepth.run("clip.mp4", "out/", hfov=70)      # doctest: +SKIP
        >>> res.summary["max_rotation_arcmin"], res.depth.shape      # doctest: +SKIP
    """
    from tqdm.auto import tqdm

    cfg = RunConfig(**options)
    _check_options(cfg)
    cfg = replace(cfg, device=check_device(cfg.device))  # --device auto: a GPU where torch sees one
    _check_out_beside_input(video, out_dir)
    t_start = time.perf_counter()
    # bad input fails before DIR is touched
    clip = decode_video(video, cfg.start, cfg.end, cfg.stride, cfg.resize, cfg.fps)
    calib = calibration_record(cfg.calibration) if cfg.calibration else None  # the file, read once
    given = any(v is not None for v in (cfg.fx, cfg.fy, cfg.cx, cfg.cy, cfg.calibration, cfg.hfov))
    if not given and "intrinsics" in clip.camera:  # a simulate folder knows its camera: use it, and say so
        sim_camera = Path(video) / "camera.json"
        intr, _, intr_warning = resolve_intrinsics(
            clip.size, clip.source_size, calibration=sim_camera, calibration_record=clip.camera
        )
        intr_origin = f"{sim_camera} (the simulated camera)"
    else:
        intr, intr_origin, intr_warning = resolve_intrinsics(
            clip.size, clip.source_size, cfg.fx, cfg.fy, cfg.cx, cfg.cy, cfg.calibration, cfg.hfov, calib
        )
    lens = read_lens_distortion(cfg.calibration, calib) if calib is not None else None
    undistort = None if lens is None or lens.is_identity else lens.as_dict()
    if undistort is not None:  # every step after this sees a pinhole camera
        covered = lens.coverage(intr, clip.size)
        if covered < MIN_LENS_COVERAGE:
            raise InputError(cfg.calibration, f"its lens distortion ({lens.describe()}) maps only {covered:.0%} of the "
                             "undistorted frame inside the recorded one: coefficients no lens has (check their order "
                             "and the model)")  # fmt: skip
        clip = undistorted(clip, intr, lens)
        intr_origin += f"; frames undistorted ({lens.describe()})"
    decode_s = time.perf_counter() - t_start
    _check_grid_fits(video, clip, intr, cfg)
    ckpt = _checkpoints(cfg)
    _check_length(video, clip, ckpt)
    # the user's tracks are an input too: read, checked and undistorted once, before DIR is touched
    user_tracks = None if cfg.tracks is None else imported_tracks(cfg.tracks, clip, intr, undistort)
    clip = resolve_exposure(cfg, clip, video)  # the exposure --gyro and --blur-fit need: the file's, or said
    gyro = gyro_aid(cfg, clip, video)  # the gyro log is an input too: read and checked before DIR is touched
    accel = accel_input(cfg, clip, video)  # … and the accelerometer's

    created = not Path(out_dir).exists()
    out = check_output_dir(out_dir)
    record = _initial_record(video, clip, cfg, intr, intr_origin, ckpt)
    if undistort is not None:
        record["intrinsics"]["distortion"] = undistort
    bar = tqdm(total=len(STEP_SPECS), desc="run", disable=not cfg.progress, leave=False)
    try:
        with locked_output_dir(out):
            return _run_steps(video, cfg, clip, ckpt, out, record, bar, gyro, intr, intr_origin, intr_warning,
                              undistort, decode_s, t_start, user_tracks, accel)  # fmt: skip
    except BaseException:
        if created:  # a check that failed inside a step leaves no empty folder behind (finished steps stay)
            remove_empty_folders([out])
        raise
    finally:
        bar.close()


def _check_out_beside_input(video: str | Path, out_dir: str | Path) -> None:
    """An output folder equal to or inside an input folder would be read back as frames on the next run."""
    src = Path(video)
    if not src.is_dir():
        return
    src, out = src.resolve(), Path(out_dir).resolve()
    if out == src or src in out.parents:
        raise InputError("--out", f"{out_dir} is inside the input folder {video}; its files would be read as frames "
                         "on the next run: give an output folder outside it")  # fmt: skip


def _run_steps(video, cfg: RunConfig, clip: Clip, ckpt: dict, out: Path, record: dict, bar, gyro, intr: Intrinsics,
               intr_origin: str, intr_warning: str | None, undistort: dict | None, decode_s: float,
               t_start: float, user_tracks=None, accel_log=None) -> Result:  # fmt: skip
    """The cached steps of :func:`run`, in a checked and locked output folder."""
    cache = StepCache(out, record, cfg.overwrite)
    steps = CachedSteps(cfg, clip, ckpt, cache, bar, {"decode": decode_s}, str(video), undistort)
    auto_focal = cfg.hfov == "auto"
    tracks, found_intr = steps.tracks(intr, gyro, auto_focal=auto_focal, imported=user_tracks)
    if auto_focal:
        intr, intr_origin, intr_warning = focal_outcome(tracks.meta.get("focal") or {}, found_intr, intr)
        record["intrinsics"] |= {"fx_fy_cx_cy": intr.as_array().tolist(), "source": intr_origin,
                                 "focal_estimate": tracks.meta.get("focal")}  # fmt: skip
    motion, accel = None, None
    if steps.bundle:  # rotation and translation by the small-motion bundle adjustment
        prior, prior_rescale, prior_src = steps.depth(tracks, intr, prior=True)
        ba_traj, motion = steps.motion(tracks, prior, intr)
        record["motion"] = motion_record(motion)
        if accel_log is not None and motion.solver != "lsq" and motion.model == "6dof":
            accel = steps.scale(accel_log, ba_traj)
            if accel.scale is not None:  # the path and every depth after it in metres of the accelerometer
                prior, ba_traj, motion = scaled_by(accel.scale, prior, ba_traj, motion)
        else:
            steps.skip("scale")
    else:
        steps.skip("depth_prior", "motion", "scale")
    if motion is None or motion.solver == "lsq":  # the papers' pivot model, by the optics solver
        depth, rescale, depth_src = steps.depth(tracks, intr)
        traj = steps.trajectory(tracks, depth, intr)
        steps.skip("fused_depth")
    else:  # the bundle adjustment's path, and depth from its parallax
        steps.skip("depth")
        traj = steps.trajectory(tracks, prior, intr, motion=ba_traj)
        depth, rescale = steps.fused_depth(prior, motion, intr, prior_src)
        steps.keys["depth"] = steps.keys["fused_depth"]  # what the steps downstream read
        rescale = replace(rescale, distance_scale=prior_rescale.distance_scale)  # --scene-distance scaled the prior
        depth_src = prior_src
        if rescale.mode != "none":
            depth_src += f" × {motion.model}-motion parallax ({rescale.mode}, {rescale.points} points)"
    traj.dense = steps.dense(traj, intr)
    tracks3d = steps.tracks3d(tracks, depth, intr, traj, motion)
    depth_frames, depth_confidence = steps.depth_frames(depth, intr, traj, motion)
    summary, warnings = summarize(clip, tracks, depth, traj, tracks3d, depth_src, cfg.readout_ms)
    summary["depth_frames"] = depth_frames_summary(depth_confidence)
    if motion is not None:
        summary["motion"] = motion_summary(motion, traj)
    bundle = motion if motion is not None and motion.solver != "lsq" else None  # the bundle adjustment gave the path
    if intr_warning:
        warnings.insert(0, intr_warning)
    if user_tracks is not None:  # what checking the user's tracks found (positions hidden, a corner covered)
        warnings[:0] = user_tracks.meta.get("warnings", [])
        if bundle is not None:  # where they are used, and where not (issue 48 #8)
            warnings.append(note("--tracks: your tracks give the tracks' depth over time, Seurat, the overlay and the "
                                 "grid check of the motion model; the camera path comes from the bundle adjustment's "
                                 "own chained tracks, which cover the whole image in every frame"))  # fmt: skip
    warnings[:0] = clip.notes  # dropped frames
    add_depth_notes(summary, warnings, rescale, cfg, bundle, accel_log, accel)
    add_median_interval(summary, warnings, rescale, cfg, bundle, accel)
    files = {f: out / f for f in OUTPUT_FILES + (MOTION_FILES if motion else ()) + (ACCEL_FILES if accel else ())}
    res = Result(out, clip, intr, intr_origin, tracks, depth, traj, tracks3d, summary, warnings,
                 timings_s=steps.timings, files=files, cached=[], depth_frames=depth_frames,
                 depth_confidence=depth_confidence)  # fmt: skip
    write_exports(steps.step, cfg, res, dict(steps.keys), record["intrinsics"], str(video), record["steps"],
                  record["created"])  # fmt: skip
    res.timings_s["total"] = time.perf_counter() - t_start
    res.cached = [name for name, st in record["steps"].items() if st.get("cached")]
    # config.json: what was set up before the steps, the steps' bookkeeping, then the result's summary
    record |= {"summary": res.summary, "warnings": res.warnings,
               "warning_severities": [getattr(w, "severity", "medium") for w in res.warnings],
               "timings_s": {k: round(v, 4) for k, v in res.timings_s.items()}}  # fmt: skip
    steps.cache.save()
    return res


def _check_options(cfg: RunConfig) -> None:
    """Settings that are wrong whatever the clip."""
    check_options(cfg)  # numbers in range, choices, exclusions: one check from RunConfig's metadata
    check_device(cfg.device)


def _check_grid_fits(video, clip: Clip, intr: Intrinsics, cfg: RunConfig) -> None:
    """The query grid must fit the frames around the principal point: checked before DIR is touched, with the
    file, the decoded and the source size named (a ``--resize`` may be why the frames are small)."""
    from motiondepth.tracking.grid import query_grid

    try:
        query_grid(cfg.grid_half, clip.size, intr)
    except ValueError:
        h, w = clip.size
        sh, sw = clip.source_size
        resized = f" (resized from {sw}x{sh} by --resize {cfg.resize})" if (h, w) != (sh, sw) else ""
        raise InputError(
            video, f"frames are {w}x{h}{resized}: too small for the query grid's border margin around the principal "
            f"point ({intr.cx:.0f}, {intr.cy:.0f}); use larger frames or a principal point nearer the centre"
        ) from None  # fmt: skip


def _checkpoints(cfg: RunConfig) -> dict:
    """Identity and model settings of each checkpoint the run uses (a ``--depth-model`` folder is checked)."""
    ckpt = {
        "seurat": checkpoint_info(cfg.seurat_checkpoint),
        "trajectory": checkpoint_info(cfg.trajectory_checkpoint),
    }
    if cfg.depth is None:
        ckpt["depth"] = checkpoint_info(cfg.depth_checkpoint)  # the dense decoder reads its features
        if cfg.depth_model:
            from motiondepth.depth.hf import check_depth_model

            check_depth_model(cfg.depth_model)
    return ckpt


def _check_length(video: str | Path, clip: Clip, ckpt: dict) -> None:
    """The clip must hold one window of every network that reads it."""
    need = {
        "Seurat window": int(ckpt["seurat"]["model_config"].get("window", 8)),
        "trajectory decoder window": int(ckpt["trajectory"]["model_config"].get("window", 1)),
    }
    if "depth" in ckpt:
        need["blur-depth window"] = int(ckpt["depth"]["model_config"].get("window", 1))
    what, least = max(need.items(), key=lambda kv: kv[1])
    if len(clip.frames) < least:
        raise InputError(
            video,
            f"{len(clip.frames)} frame(s) after --start/--end/--stride, fewer than the "
            f"{least} of one {what}; use a longer clip",
        )


def _initial_record(video, clip: Clip, cfg: RunConfig, intr: Intrinsics, intr_origin: str, ckpt: dict) -> dict:
    """``config.json`` before the steps: the input, every option, the intrinsics, checkpoints and versions."""
    return {
        "motiondepth": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "input": {
            "video": str(video),
            "source_size": list(clip.source_size),
            "size": [clip.size[0], clip.size[1]],
            "frames": len(clip.frames),
            "indices": [int(clip.indices[0]), int(clip.indices[-1])],
            "interval_s": clip.interval_s,
            "times_source": clip.times_source,
            "time_origin_s": clip.time_origin_s,
            "display_rotation_deg": clip.display_rotation_deg,
        },
        "options": asdict(cfg),
        "intrinsics": {"fx_fy_cx_cy": intr.as_array().tolist(), "source": intr_origin},
        "pivot_m": cfg.pivot_m,
        "checkpoints": ckpt,
        "environment": environment(),
    }
