"""The files a run leaves for people and other tools: point cloud, videos, plots and the report."""

from __future__ import annotations

from motiondepth import __version__
from motiondepth.errors import InputError
from motiondepth.workflow.config import Result, RunConfig
from motiondepth.workflow.summary import shake_spectra


def write_exports(step, cfg: RunConfig, res: Result, keys: dict, intrinsics_record: dict, video: str,
                  steps: dict, created: str) -> None:  # fmt: skip
    """points.ply, overlay.mp4, stabilized.mp4, trajectory.png + spectrum.png, tracks_depth.png and report.html
    (each a cached step).

    ``step`` runs one cached step of the table (:meth:`~motiondepth.workflow.stages.CachedSteps.step`: its files
    and version from :data:`~motiondepth.workflow.config.STEP_SPECS`), ``keys`` are the upstream
    steps' cache keys, ``intrinsics_record`` how the intrinsics were resolved (``config.json``'s), ``steps`` the
    cache's bookkeeping for the report's table.
    """
    clip, intr, tracks, depth, traj = res.clip, res.intrinsics, res.tracks, res.depth, res.trajectory
    from motiondepth.io.pointcloud import depth_to_points, write_ply
    from motiondepth.io.video import write_video
    from motiondepth.trajectory.stabilize import iter_stabilized_frames, readout_row_angles
    from motiondepth.viz.plots import iter_drawn_tracks, plot_run_trajectory, plot_shake_spectrum, plot_tracks_depth
    from motiondepth.workflow.report import write_report

    def exists(name):
        def load(o):
            if not (o / name).is_file():
                raise InputError(o / name, "missing")
            return name

        return load

    axes = {"axes": cfg.ply_axes} if cfg.ply_axes != "opencv" else {}  # (a key only then: earlier caches stay valid)
    step(
        "points",
        {"depth": keys["depth"], "intrinsics": intr.as_array(), **axes},
        lambda: depth_to_points(depth, clip.frames[0], intr),
        lambda pc, o: write_ply(o / "points.ply", *pc, axes=cfg.ply_axes),
        exists("points.ply"),
    )
    fps = 1.0 / clip.interval_s if clip.interval_s > 0 else 30.0
    rotation = clip.display_rotation_deg  # the videos play upright where the source did
    turned = {"display_rotation_deg": rotation} if rotation else {}  # (a key only then: earlier caches stay valid)
    step(
        "overlay",
        {"tracks": keys["tracks"], "fps": fps, **turned},
        lambda: iter_drawn_tracks(clip.frames, tracks.tracks, tracks.visible),  # drawn as written
        lambda fr, o: write_video(o / "overlay.mp4", fr, fps=fps, rotation_deg=rotation),
        exists("overlay.mp4"),
    )
    sigma = cfg.stabilize_sigma
    per_row = traj.readout_rotation is not None  # rolling shutter: each row warped with its own rotation

    def stabilize():
        rows = readout_row_angles(traj.angles, traj.readout_rotation, clip.frames.shape[1]) if per_row else None
        return iter_stabilized_frames(clip.frames, traj.angles, intr, clip.times, sigma, rows)  # warped as written

    step(
        "stabilized",
        {"trajectory": keys["trajectory"], "fps": fps, "sigma": sigma, "rows": per_row, **turned},
        stabilize,
        lambda fr, o: write_video(o / "stabilized.mp4", fr, fps=fps, rotation_deg=rotation),
        exists("stabilized.mp4"),
    )
    from motiondepth.sensor.trace import span_times

    dense_times = span_times(clip.times, clip.interval_s, traj.dense.shape[1])

    def write_plots(_, o):
        motion = res.summary.get("motion")
        label = "" if motion is None else f"camera centre, {motion['model']} model ({motion.get('solver')})"
        title = "Recovered camera motion relative to frame 0" if traj.centres is not None else None
        mid = clip.times + 0.5 * clip.interval_s  # a per-frame angle is the frame's mean: the middle of its span
        plot_run_trajectory(o / "trajectory.png", mid, traj.angles, traj.dense, dense_times,
                            **({"title": title} if title else {}), centres=traj.centres,
                            centres_label=label)  # fmt: skip
        spectra = {k: v for k, v in shake_spectra(clip, traj).items() if not isinstance(v, str)}
        labels = {"dense": f"dense trajectory ({traj.dense.shape[1]} samples per frame)", "per_frame": "per frame"}
        plot_shake_spectrum(o / "spectrum.png", {labels[k]: v for k, v in spectra.items()},
                            title="Camera shake: angular-rate spectrum and RMS rotation per band")  # fmt: skip

    step(
        "plot",
        {"trajectory": keys["trajectory"], "dense": keys["dense"]},
        lambda: None,
        write_plots,
        exists("trajectory.png"),
    )
    t3 = res.tracks3d
    step(
        "depth_plot",
        {"tracks3d": keys["tracks3d"], "times": clip.times},
        lambda: None,
        lambda _, o: plot_tracks_depth(o / "tracks_depth.png", clip.times, t3.depth, t3.visible),
        exists("tracks_depth.png"),
    )
    # the summary follows from the upstream steps (keyed) and is not itself a key: values reloaded from
    # files differ in the last digits from freshly computed ones
    step(
        "report",
        {**keys, "intrinsics": intrinsics_record, "motiondepth": __version__, "stabilize_sigma": sigma},
        lambda: None,
        lambda _, o: write_report(o / "report.html", o, res, video, steps, created),
        exists("report.html"),
    )
