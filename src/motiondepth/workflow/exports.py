"""The files a run leaves for people and other tools: point cloud, videos, plots and the report, each a cached
step of the table (:data:`~motiondepth.workflow.config.STEP_SPECS`), one function each."""

from __future__ import annotations

from motiondepth import __version__
from motiondepth.errors import InputError
from motiondepth.workflow.config import Result, RunConfig
from motiondepth.workflow.summary import shake_spectra


def write_exports(step, cfg: RunConfig, res: Result, keys: dict, intrinsics_record: dict, video: str,
                  steps: dict, created: str) -> None:  # fmt: skip
    """points.ply, overlay.mp4, stabilized.mp4, depth.mp4, trajectory.png + spectrum.png, tracks_depth.png and
    report.html (each a cached step).

    ``step`` runs one cached step of the table (:meth:`~motiondepth.workflow.stages.CachedSteps.step`: its files
    and version from :data:`~motiondepth.workflow.config.STEP_SPECS`), ``keys`` are the upstream steps' cache keys,
    ``intrinsics_record`` how the intrinsics were resolved (``config.json``'s), ``steps`` the cache's bookkeeping
    for the report's table.
    """
    point_cloud(step, cfg, res, keys)
    overlay_video(step, res, keys)
    stabilized_video(step, cfg, res, keys)
    depth_video(step, res, keys)
    plots(step, res, keys)
    depth_plot(step, res, keys)
    report(step, cfg, res, keys, intrinsics_record, video, steps, created)


def _exists(name: str):
    """A step's ``load`` for a file nothing downstream reads back: it must be there."""

    def load(o):
        if not (o / name).is_file():
            raise InputError(o / name, "missing")
        return name

    return load


def _fps(res: Result) -> float:
    return 1.0 / res.clip.interval_s if res.clip.interval_s > 0 else 30.0


def _turned(res: Result) -> dict:
    """The videos play upright where the source did: the display rotation, a key only when there is one (earlier
    caches stay valid)."""
    rotation = res.clip.display_rotation_deg
    return {"display_rotation_deg": rotation} if rotation else {}


def point_cloud(step, cfg: RunConfig, res: Result, keys: dict) -> None:
    """``points.ply``: the first frame's depth as a coloured point cloud, in ``--ply-axes``."""
    from motiondepth.io.pointcloud import depth_to_points, write_ply

    axes = {"axes": cfg.ply_axes} if cfg.ply_axes != "opencv" else {}  # (a key only then: earlier caches stay valid)
    step(
        "points",
        {"depth": keys["depth"], "intrinsics": res.intrinsics.as_array(), **axes},
        lambda: depth_to_points(res.depth, res.clip.frames[0], res.intrinsics),
        lambda pc, o: write_ply(o / "points.ply", *pc, axes=cfg.ply_axes),
        _exists("points.ply"),
    )


def overlay_video(step, res: Result, keys: dict) -> None:
    """``overlay.mp4``: the tracks drawn on the frames (drawn as written): the tracker's, and the hidden frames the
    path found the point in again (``tracks3d.npz`` ``recovered``, :func:`answer_tracks`)."""
    from motiondepth.io.video import write_video
    from motiondepth.viz.plots import iter_drawn_tracks

    clip, fps = res.clip, _fps(res)
    xy, visible = answer_tracks(res)
    step(
        "overlay",
        {"tracks": keys["tracks"], "tracks3d": keys.get("tracks3d"), "fps": fps, **_turned(res)},
        lambda: iter_drawn_tracks(clip.frames, xy, visible),
        lambda fr, o: write_video(o / "overlay.mp4", fr, fps=fps, rotation_deg=clip.display_rotation_deg),
        _exists("overlay.mp4"),
    )


def answer_tracks(res: Result):
    """(T, N, 2) pixels and (T, N) visibility of the run's answer: the tracker's tracks, with the hidden frames the
    path found the point in again (:func:`~motiondepth.trajectory.path_depth.recover_hidden`) at the found
    position (``tracks_XYZ`` projected there) and visible."""
    import numpy as np

    from motiondepth.geometry.camera import project

    tracks, t3 = res.tracks, res.tracks3d
    found = None if t3 is None else t3.meta.get("recovered")
    if found is None or not np.any(found):
        return tracks.tracks, tracks.visible
    found = np.asarray(found, bool) & np.isfinite(t3.xyz).all(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        xy = np.where(found[..., None], project(t3.xyz, t3.intrinsics), tracks.tracks).astype(np.float32)
    return xy, tracks.visible | found


def stabilized_video(step, cfg: RunConfig, res: Result, keys: dict) -> None:
    """``stabilized.mp4``: the frames with the recovered rotation (smoothed over ``--stabilize-sigma``) removed;
    with a rolling shutter each row warped with its own rotation (warped as written)."""
    from motiondepth.io.video import write_video
    from motiondepth.trajectory.stabilize import iter_stabilized_frames, readout_row_angles

    clip, intr, traj, fps, sigma = res.clip, res.intrinsics, res.trajectory, _fps(res), cfg.stabilize_sigma
    per_row = traj.readout_rotation is not None

    def stabilize():
        rows = readout_row_angles(traj.angles, traj.readout_rotation, clip.frames.shape[1]) if per_row else None
        return iter_stabilized_frames(clip.frames, traj.angles, intr, clip.times, sigma, rows)

    step(
        "stabilized",
        {"trajectory": keys["trajectory"], "fps": fps, "sigma": sigma, "rows": per_row, **_turned(res)},
        stabilize,
        lambda fr, o: write_video(o / "stabilized.mp4", fr, fps=fps, rotation_deg=clip.display_rotation_deg),
        _exists("stabilized.mp4"),
    )


def depth_video(step, res: Result, keys: dict) -> None:
    """``depth.mp4``: every frame's depth (``depth/``), turbo on inverse depth with one range for the whole clip
    (the first frame's 2nd–98th percentile), so a colour is one depth throughout."""
    import numpy as np

    from motiondepth.io.video import write_video
    from motiondepth.viz.plots import depth_to_color

    maps, fps = res.depth_frames, _fps(res)
    valid = res.depth[np.isfinite(res.depth) & (res.depth > 0)]
    lo, hi = (float(np.percentile(valid, 2)), float(np.percentile(valid, 98))) if len(valid) else (1.0, 2.0)
    step(
        "depth_video",
        {"depth_frames": keys["depth_frames"], "fps": fps, **_turned(res)},
        lambda: (depth_to_color(m, lo, max(hi, lo * 1.0001)) for m in maps),
        lambda fr, o: write_video(o / "depth.mp4", fr, fps=fps, rotation_deg=res.clip.display_rotation_deg),
        _exists("depth.mp4"),
    )


def plots(step, res: Result, keys: dict) -> None:
    """``trajectory.png`` (angles and camera centres over time beside the dense path) and ``spectrum.png`` (the
    shake's angular-rate spectrum and RMS rotation per band)."""
    from motiondepth.sensor.trace import span_times
    from motiondepth.viz.plots import plot_run_trajectory, plot_shake_spectrum

    clip, traj = res.clip, res.trajectory
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
        _exists("trajectory.png"),
    )


def depth_plot(step, res: Result, keys: dict) -> None:
    """``tracks_depth.png``: the tracks' metric depth over time."""
    from motiondepth.viz.plots import plot_tracks_depth

    t3, times = res.tracks3d, res.clip.times
    step(
        "depth_plot",
        {"tracks3d": keys["tracks3d"], "times": times},
        lambda: None,
        lambda _, o: plot_tracks_depth(o / "tracks_depth.png", times, t3.depth, t3.visible),
        _exists("tracks_depth.png"),
    )


def report(step, cfg: RunConfig, res: Result, keys: dict, intrinsics_record: dict, video: str, steps: dict,
           created: str) -> None:  # fmt: skip
    """``report.html``. The summary follows from the upstream steps (keyed) and is not itself a key: values
    reloaded from files differ in the last digits from freshly computed ones."""
    from motiondepth.workflow.report import write_report

    step(
        "report",
        {**keys, "intrinsics": intrinsics_record, "motiondepth": __version__, "stabilize_sigma": cfg.stabilize_sigma},
        lambda: None,
        lambda _, o: write_report(o / "report.html", o, res, video, steps, created),
        _exists("report.html"),
    )
