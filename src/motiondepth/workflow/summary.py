"""The numbers of a run's report and command line, and the warnings about what looks unreliable."""

from __future__ import annotations

import numpy as np

from motiondepth.errors import InputError
from motiondepth.types import RunWarning, Tracks, Tracks3D, Trajectory, high, note
from motiondepth.workflow.config import (
    ARCMIN_PER_RAD,
    LARGE_RESIDUAL_PX,
    LARGE_ROTATION_DEG,
    LOW_SURVIVAL,
    Clip,
    DepthFramesSummary,
    DepthRescale,
    MotionFit,
    MotionSummary,
    RunConfig,
    Summary,
)


def shake_spectra(clip: Clip, trajectory: Trajectory) -> dict:
    """The camera shake's spectra (:mod:`motiondepth.eval.spectrum`): ``dense`` (when the trajectory has
    one) and ``per_frame``. A series too short for a spectrum maps to the reason instead."""
    from motiondepth.eval.spectrum import angle_spectrum, dense_spectrum
    from motiondepth.sensor.trace import span_times

    out: dict = {}
    dense = trajectory.dense
    try:
        if dense is not None:
            times = span_times(clip.times, clip.interval_s, dense.shape[1])
            s = dense.shape[1]
            out["dense"] = dense_spectrum(dense, times, source=f"dense trajectory ({s} samples per frame)")
    except InputError as exc:
        out["dense"] = exc.problem
    try:
        out["per_frame"] = angle_spectrum(trajectory.angles, clip.times, source="per-frame trajectory")
    except InputError as exc:
        out["per_frame"] = exc.problem
    return out


def depth_frames_summary(confidence: np.ndarray) -> DepthFramesSummary:
    """``summary.depth_frames``: how many frames got a depth map, how much of each frame 0 never saw (not moved
    from frame 0 by the path) and how much of that no keyframe gave either (filled from the nearest pixel): median
    and worst frame (:func:`~motiondepth.workflow.steps.frame_depths`'s confidence)."""
    from motiondepth.workflow.steps import MOVED

    c = confidence.reshape(len(confidence), -1)
    unseen, filled = (c != MOVED).mean(1), (c == 0).mean(1)
    return {"frames": len(confidence), "folder": "depth/",
            "unseen_fraction_median": round(float(np.median(unseen)), 4),
            "unseen_fraction_max": round(float(unseen.max()), 4),
            "filled_fraction_median": round(float(np.median(filled)), 4),
            "filled_fraction_max": round(float(filled.max()), 4)}  # fmt: skip


def summarize(
    clip: Clip, tracks: Tracks, depth: np.ndarray, trajectory: Trajectory, tracks3d: Tracks3D, depth_source: str,
    readout_ms: float | None = None,
) -> tuple[Summary, list[RunWarning]]:  # fmt: skip
    """Numbers for the report and the command line, and warnings about what looks unreliable.

    ``readout_ms``: the sensor readout the solver was given (``--readout-ms``); without it the readout
    is estimated from the shear the solver found (:func:`~motiondepth.trajectory.optics.estimate_readout`).
    """
    ang = np.nan_to_num(trajectory.angles)
    deg = np.rad2deg(ang)
    dt = clip.interval_s or 1.0
    rate = np.rad2deg(np.linalg.norm(np.diff(ang, axis=0), axis=1)) / dt
    valid = depth[np.isfinite(depth) & (depth > 0)]
    vis = tracks.visible
    z = tracks3d.depth[tracks3d.visible]
    res = trajectory.residual_px[1:]
    res = res[np.isfinite(res)]
    summary: Summary = {
        "frames": len(clip.frames),
        "duration_s": float(clip.times[-1] - clip.times[0]),
        "fps": float(1.0 / dt),
        "size": [int(clip.size[1]), int(clip.size[0])],
        "tracks": int(tracks.num_points),
        "visible_last_frame": float(vis[-1].mean()),
        "visible_mean": float(vis.mean()),
        "rotation": {
            axis: {
                "min_deg": float(deg[:, i].min()),
                "max_deg": float(deg[:, i].max()),
                "peak_to_peak_arcmin": float(np.ptp(ang[:, i]) * ARCMIN_PER_RAD),
            }
            for i, axis in enumerate(("roll", "pitch", "yaw"))
        },
        "max_rotation_deg": float(np.rad2deg(np.linalg.norm(ang, axis=1)).max()),
        "max_rotation_arcmin": float(np.linalg.norm(ang, axis=1).max() * ARCMIN_PER_RAD),
        "rms_rate_deg_s": float(np.sqrt(np.mean(rate**2))) if len(rate) else 0.0,
        "residual_px": {
            "median": float(np.median(res)) if len(res) else float("nan"),
            "p95": float(np.percentile(res, 95)) if len(res) else float("nan"),
        },
        "depth_m": {
            "source": depth_source,
            "p2": float(np.percentile(valid, 2)),
            "median": float(np.median(valid)),
            "p98": float(np.percentile(valid, 98)),
            "valid_fraction": float(valid.size / depth.size),
        },
        "tracks3d_depth_m": {
            "p5": float(np.nanpercentile(z, 5)) if np.isfinite(z).any() else float("nan"),
            "p95": float(np.nanpercentile(z, 95)) if np.isfinite(z).any() else float("nan"),
        },
    }
    if "source" in tracks3d.meta:  # which prediction each track's depth over time came from (seurat.fuse)
        src = np.asarray(tracks3d.meta["source"])
        names = tracks3d.meta["source_names"]
        summary["tracks3d_depth_m"]["sources"] = {n: int((src == i).sum()) for i, n in enumerate(names)}
        if "seurat_tracks" in tracks3d.meta:  # how many tracks Seurat ran on (those in doubt, and a sample)
            summary["tracks3d_depth_m"]["seurat_tracks"] = int(tracks3d.meta["seurat_tracks"])
        if "recovered" in tracks3d.meta:  # hidden frames where the path found the point again (path_depth)
            rec = np.asarray(tracks3d.meta["recovered"], bool)
            hidden = int((~tracks3d.visible).sum() + rec.sum())
            summary["tracks3d_depth_m"]["recovered"] = int(rec.sum())
            summary["tracks3d_depth_m"]["recovered_fraction"] = round(float(rec.sum() / max(hidden, 1)), 3)
        if "path_thresholds_px" in tracks3d.meta:
            summary["tracks3d_depth_m"]["path_thresholds_px"] = [float(x) for x in tracks3d.meta["path_thresholds_px"]]
    summary["shake"] = {
        name: {"unavailable": sp} if isinstance(sp, str) else sp.summary()
        for name, sp in shake_spectra(clip, trajectory).items()
    }
    if trajectory.readout_rotation is not None:
        from motiondepth.trajectory.optics import estimate_readout

        summary["rolling_shutter"] = {
            "readout_ms": readout_ms,
            "estimated": None if readout_ms else estimate_readout(ang, trajectory.readout_rotation, dt),
        }
    gyro = tracks.meta.get("gyro")
    if gyro:
        summary["gyro"] = gyro
    if tracks.meta.get("blur_fit"):
        summary["blur_fit"] = {k: v for k, v in tracks.meta["blur_fit"].items() if k != "config"}
    unsolved = np.flatnonzero(~np.isfinite(trajectory.angles).all(1))
    if len(unsolved):
        summary["unsolved_frames"] = unsolved.tolist()
    warnings = _warnings(clip, summary, unsolved, trajectory)
    return summary, warnings


def _warnings(clip: Clip, summary: Summary, unsolved: np.ndarray, traj: Trajectory) -> list[RunWarning]:
    """What in a run's :func:`summarize` numbers looks unreliable, one sentence each (thresholds in
    :mod:`motiondepth.workflow.config`)."""
    warnings = []
    gyro = summary.get("gyro")
    if len(unsolved):
        warnings.append(
            high(
                f"{len(unsolved)} frame(s) kept too few tracked points to solve their rotation (first: {unsolved[0]}): "
                "they are NaN in trajectory.csv and trajectory_dense.csv, and count as 0 in the summary's angles"
            )
        )
    if clip.display_rotation_deg:
        warnings.append(
            note(
                f"the video plays rotated by {clip.display_rotation_deg}° (its display matrix, as phones store "
                "portrait video): motiondepth works on the stored frames, whose rows the sensor reads in order, so "
                "--fx/--fy/--cx/--cy, --calibration and --hfov refer to the stored "
                f"{clip.source_size[1]}×{clip.source_size[0]} frames, roll, pitch and yaw are about the stored image's "
                "axes, and the depth map and plots are in that orientation (overlay.mp4 and stabilized.mp4 carry the "
                "rotation, so they play upright)"
            )
        )
    if clip.times_source.startswith("assumed"):
        warnings.append(note(f"frame times {clip.times_source}: rates, spectra and the readout estimate use them"))
    if gyro and not gyro.get("used"):
        warnings.append(high(f"gyro log {gyro.get('file')} not used: {gyro.get('reason')}"))
    if summary["visible_last_frame"] < LOW_SURVIVAL:
        warnings.append(
            high(
                f"low track survival: {100 * summary['visible_last_frame']:.0f}% of the tracks are still "
                "visible in the last frame (large motion, occlusion or a changing scene); results for later "
                "frames rest on few points"
            )
        )
    if summary["residual_px"]["median"] > LARGE_RESIDUAL_PX:
        translates = traj.method.endswith("6dof")
        warnings.append(
            high(
                f"large residuals: the motion model fits the tracks to {summary['residual_px']['median']:.2f}"
                " px (median of the frames' trimmed RMS); "
                + ("objects probably move or the tracks slip" if translates else "the camera probably translates")
                + ", and the motion is then only approximate"
            )
        )
    if summary["max_rotation_deg"] > LARGE_ROTATION_DEG:
        solver = (
            "the bundle adjustment starts from rest and is built for (it may settle on a turn where the camera slid; "
            "check the residuals)" if traj.method.startswith("small-motion")
            else "the optics-based solver is built for"
        )  # fmt: skip
        warnings.append(
            high(
                f"large rotation: up to {summary['max_rotation_deg']:.1f}° from the first frame, beyond the "
                f"small handheld motion (< {LARGE_ROTATION_DEG:g}°) {solver}"
            )
        )
    return warnings


SCALE_CHECK_MIN = 1.05  # below this cost ratio at ½× or 2× the depth, the report warns that the scale is loose


def scale_warning(ratios, rotation_ratios=None) -> RunWarning | None:
    """Report warning when the parallax barely fixes the depth scale (see :func:`parallax.scale_check`).

    ``rotation_ratios`` (the RMS rotation solved at half and twice every depth, over the one at
    the depth used) add how far the measured rotation could be off with it.
    """
    r = np.asarray(ratios, dtype=float)
    if r.shape != (2,) or not np.all(np.isfinite(r)) or r.min() >= SCALE_CHECK_MIN:
        return None
    loose = r < SCALE_CHECK_MIN
    what = (
        "barely fix the depth's scale" if loose.all()
        else "do not rule out a scene twice as far" if loose[1]
        else "do not rule out a scene half as far"
    )  # fmt: skip
    text = (
        f"the tracks {what}: the motion fit's cost changes by {100 * (r[0] - 1):+.1f} % at half and "
        f"{100 * (r[1] - 1):+.1f} % at twice every depth (the pivot parallax is near the tracking noise), so the "
        "metric scale is approximate"
    )
    q = None if rotation_ratios is None else np.asarray(rotation_ratios, dtype=float)
    if q is not None and q.shape == (2,) and np.all(np.isfinite(q)):
        text += (
            f", and the rotation's size with it: {100 * (q[0] - 1):+.0f} % at half and {100 * (q[1] - 1):+.0f} % at "
            "twice every depth (--scene-distance fixes the scale if you know how far the scene is)"
        )
    return RunWarning(text, "medium")


def add_depth_notes(summary: Summary, warnings: list[RunWarning], rescale: DepthRescale, cfg: RunConfig,
                    motion: MotionFit | None = None, accel_log=None, accel=None) -> None:  # fmt: skip
    """Add the depth's parallax rescale and the source of its scale to ``summary`` and what they mean for trust to
    ``warnings``; ``motion``: the bundle adjustment whose parallax corrected the depth, None where the pivot
    parallax did; ``accel_log``/``accel``: the ``--accel`` log and its :class:`~motiondepth.sensor.accel.AccelScale`
    (None where the path had no translation to scale)."""
    summary["depth_m"]["rescale"] = {"mode": rescale.mode, "scale": rescale.scale, "points": rescale.points}
    scaled = accel is not None and accel.scale is not None  # (the accelerometer rescaled even a given depth)
    summary["depth_m"]["scale_source"] = (
        "accelerometer" if scaled else "--depth" if cfg.depth
        else "--scene-distance" if cfg.scene_distance_m is not None
        else "depth model" if cfg.depth_model else "depth network"
    )  # fmt: skip
    if motion is not None:
        summary["depth_m"]["rescale"]["source"] = f"{motion.model}-motion parallax"
        if rescale.confidence is not None:  # share of pixels whose correction comes mostly from nearby points
            summary["depth_m"]["parallax_coverage"] = round(float(np.mean(np.asarray(rescale.confidence) > 0.5)), 3)
        if rescale.why:
            summary["depth_m"]["rescale"]["why_none"] = rescale.why
    if rescale.distance_scale is not None:
        summary["depth_m"]["rescale"]["distance_scale"] = float(rescale.distance_scale)
    for key in ("scale_cost_ratio", "rotation_scale_ratio"):
        if getattr(rescale, key) is not None:
            summary["depth_m"]["rescale"][key] = [float(x) for x in getattr(rescale, key)]
    if rescale.scale_cost_ratio is not None and cfg.scene_distance_m is None:  # (a given distance fixes the scale)
        w = scale_warning(rescale.scale_cost_ratio, rescale.rotation_scale_ratio)
        if w is not None:
            warnings.append(w)
    if accel_log is not None:
        warnings.extend(RunWarning(w, "medium") for w in accel_log.warnings)
        if accel is None:
            summary["depth_m"]["accel"] = {"scale": None, "why": "the motion has no free translation to scale"}
            warnings.append(RunWarning("--accel was not used: the chosen motion model has no free translation (the "
                                       "scale stays the depth prior's)", "high"))  # fmt: skip
        else:
            summary["depth_m"]["accel"] = accel.as_dict()
            if accel.scale is None:
                warnings.append(RunWarning(accel.why + "; the scale stays the depth prior's", "high"))
            else:
                warnings.append(note(f"metric scale from the accelerometer ({accel_log.path}): × {accel.scale:.3g} "
                                     f"of the depth prior's, ± {accel.sigma:.0%} (axes {accel.axes}, offset "
                                     f"{accel.offset_s * 1e3:+.0f} ms)"))  # fmt: skip
                return
    if cfg.depth is not None:
        return
    rescaled = rescale.mode != "none"
    if cfg.scene_distance_m is not None:
        warnings.append(
            note(
                f"metric depth: the shape comes from {_depth_origin(cfg)}"
                + (" and the pivot parallax" if rescaled else "")
                + f", the scale from the given scene distance ({cfg.scene_distance_m:g} m median); on real footage "
                "expect the shape to be off by tens of percent"
            )
        )
        return
    parallax = "pivot parallax" if motion is None else f"the parallax of the {motion.model} motion"
    if cfg.depth_rescale != "none" and not rescaled:
        why = rescale.why or f"{rescale.points} reliable points"
        warnings.append(
            RunWarning(
                f"{parallax} was too weak to check the depth network's map ({why}): the depth keeps the network's own",
                "medium",
            )
        )
    if motion is not None:
        warnings.append(
            note(
                f"metric depth: the scale comes from {_depth_origin(cfg)} (its median, a prior of the motion solver)"
                + (f", the shape from {parallax} where the tracks see it (depth.npz 'confidence')" if rescaled else "")
                + "; on real footage expect the scale to be off by tens of percent, or give --depth or "
                "--scene-distance"
            )
        )
        return
    warnings.append(
        note(
            f"metric depth comes from {_depth_origin(cfg)}"
            + (
                f", rescaled by pivot parallax, which assumes rotation about a pivot {cfg.pivot_m:g} m behind the "
                "camera (--pivot; depth scales with it)"
                if rescaled
                else ""
            )
            + "; on real footage expect errors of tens of percent, or give --depth (or --scene-distance, which the "
            "rotation's accuracy hinges on)"
        )
    )


def add_median_interval(summary: Summary, warnings: list[RunWarning], rescale: DepthRescale, cfg: RunConfig,
                        motion: MotionFit | None = None, accel=None) -> None:  # fmt: skip
    """``summary.depth_m.median_interval``: the frame-0 median depth's 80 % interval (:mod:`motiondepth.depth.interval`)
    from the accelerometer's σ or the depth prior's calibration; a high-severity warning where the clip contradicts
    the prior. None, with ``median_interval_why``, where the scale is the user's or the prior was never calibrated."""
    from motiondepth.depth.interval import accel_interval, card_calibration, prior_interval
    from motiondepth.models.weights import read_card

    d = summary["depth_m"]
    median = d["median"]
    if accel is not None and accel.scale is not None:
        interval = accel_interval(median, accel.sigma)
    elif cfg.depth or cfg.scene_distance_m is not None:
        d["median_interval"] = None
        d["median_interval_why"] = f"the scale is the one you gave ({'--depth' if cfg.depth else '--scene-distance'})"
        return
    else:
        calibration = None if cfg.depth_model else card_calibration(read_card(cfg.depth_checkpoint)[1])
        if calibration is None:
            d["median_interval"] = None
            d["median_interval_why"] = (f"{_depth_origin(cfg)} has no calibration of its median "
                                        "(benchmarks/depth_interval.py --checkpoint … --write-card)")  # fmt: skip
            return
        moved = rescale.mode != "none" and rescale.scale > 0
        interval = prior_interval(
            median, calibration, cfg.depth_checkpoint, median / rescale.scale if moved else median,
            rescale.scale if motion is not None and moved else None, d["p98"] / max(d["p2"], 1e-6),
        )  # fmt: skip
        if interval.widened > 1:
            warnings.append(high(
                f"the clip contradicts the depth prior's scale ({'; '.join(interval.reasons)}): the median depth "
                f"is {interval.text(median)} (80 %, widened × {interval.widened:.1f}); give --accel, --depth or "
                "--scene-distance for a metric answer"
            ))  # fmt: skip
    d.update(interval.as_dict())


def _depth_origin(cfg: RunConfig) -> str:
    if cfg.depth_model:
        return f"the depth model in {cfg.depth_model}"
    return f"{cfg.depth_checkpoint} (trained on procedural scenes only, see its card)"


PAPER_REGIME = (
    "lsq: the bundle adjustment found no camera translation beyond what the pivot model explains, so the "
    "papers' pivot model is solved by the optics solver on the query grid (more accurate there)"
)


PAPER_REGIME_BLUR = (
    "lsq: the bundle adjustment's 6-DoF motion does not explain the query grid's tracks clearly better than the "
    "papers' pivot model, solved by the optics solver on the grid (config.json motion.grid_check), as under long "
    "exposures"
)


def motion_record(motion: MotionFit) -> dict:
    """``config.json``'s ``motion``: the bundle adjustment's outcome without its per-point arrays, with why the
    optics solver gives the run's path when its ``solver`` (:func:`~motiondepth.workflow.steps.solve_motion`:
    with ``--motion auto``, the papers' regime) says so."""
    record = motion.record()
    if motion.solver == "lsq":
        record["solver_why"] = PAPER_REGIME if motion.model != "6dof" else PAPER_REGIME_BLUR
    return record


def motion_summary(motion: MotionFit, traj: Trajectory) -> MotionSummary:
    """The motion model the run used, why, and how far the camera moved (unsolved frames at 0)."""
    c = np.nan_to_num(traj.centres)
    return {
        "model": motion.model,
        "solver": motion.solver,
        "grid_check": motion.grid_check,
        "chosen_by": motion.choice.get("rule"),
        "criterion": motion.choice.get("criterion"),
        "residual_px": motion.choice.get("residual_px"),
        "starts_6dof": motion.choice.get("6dof_starts"),
        "readout_fraction": motion.readout_fraction,
        "translation_max_m": round(float(np.linalg.norm(c, axis=1).max()), 4),
        "path_length_m": round(float(np.linalg.norm(np.diff(c, axis=0), axis=1).sum()), 4),
    }
