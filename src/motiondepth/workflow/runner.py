""":func:`run`: the steps chained, each cached in the output folder."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from motiondepth import __version__
from motiondepth.errors import InputError, check_device
from motiondepth.geometry.camera import Intrinsics
from motiondepth.geometry.distortion import undistort_frames
from motiondepth.geometry.pivot import check_pivot
from motiondepth.io.atomic import save_npz
from motiondepth.io.trajectory import load_tracks3d, save_tracks3d
from motiondepth.types import Tracks, Tracks3D, Trajectory
from motiondepth.workflow.cache import (
    StepCache,
    check_output_dir,
    checkpoint_info,
    environment,
    file_fingerprint,
    folder_fingerprint,
    locked_output_dir,
)
from motiondepth.workflow.config import OUTPUT_FILES, Clip, Result, RunConfig, check_numbers
from motiondepth.workflow.exports import write_exports
from motiondepth.workflow.inputs import (
    calibration_record,
    decode_video,
    exposure_timing,
    gyro_aid,
    read_lens_distortion,
    resolve_intrinsics,
    solver_config,
)
from motiondepth.workflow.steps import (
    check_scene_distance,
    densify,
    estimate_depth,
    estimate_focal_length,
    focal_outcome,
    lift_tracks,
    rescale_by_parallax,
    scale_to_distance,
    solve_rotation,
    track_points,
)
from motiondepth.workflow.summary import add_depth_notes, summarize


def _load_depth_npz(path: Path) -> tuple[np.ndarray, np.ndarray, dict]:
    """(final depth, depth before rescaling, rescale info) from a cached ``depth.npz``."""
    from motiondepth.io.npz import read_npz

    d = read_npz(path, ("depth", "unscaled_depth"), "cached depth")
    info = {k[len("rescale_") :]: v for k, v in d.items() if k.startswith("rescale_")}
    info = {k: (v.item() if v.ndim == 0 else v) for k, v in info.items()}
    return d["depth"].astype(np.float32), d["unscaled_depth"].astype(np.float32), info


def _load_trajectory(out: Path) -> Trajectory:
    from motiondepth.io.trajectory import read_trajectory_csv

    traj = read_trajectory_csv(out / "trajectory.csv")
    traj.method = "lsq"
    return traj


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
        clip = replace(clip, frames=undistort_frames(clip.frames, intr, lens))
        intr_origin += f"; frames undistorted ({lens.describe()})"
    decode_s = time.perf_counter() - t_start
    _check_grid_fits(video, clip, intr, cfg)
    ckpt = _checkpoints(cfg)
    _check_length(video, clip, ckpt)
    gyro = gyro_aid(cfg, clip)  # the gyro log is an input too: read and checked before DIR is touched

    created = not Path(out_dir).exists()
    out = check_output_dir(out_dir)
    record = _initial_record(video, clip, cfg, intr, intr_origin, ckpt)
    if undistort is not None:
        record["intrinsics"]["distortion"] = undistort
    bar = tqdm(STEPS, desc="run", disable=not cfg.progress, leave=False)
    try:
        with locked_output_dir(out):
            return _run_steps(video, cfg, clip, ckpt, out, record, bar, gyro, intr, intr_origin, intr_warning,
                              undistort, decode_s, t_start)  # fmt: skip
    except BaseException:
        if created:  # a check that failed inside a step leaves no empty folder behind (finished steps stay)
            _remove_if_empty(out)
        raise
    finally:
        bar.close()


def _remove_if_empty(folder: Path) -> None:
    import contextlib

    with contextlib.suppress(OSError):
        if not any(folder.iterdir()):
            folder.rmdir()


def _run_steps(video, cfg: RunConfig, clip: Clip, ckpt: dict, out: Path, record: dict, bar, gyro, intr: Intrinsics,
               intr_origin: str, intr_warning: str | None, undistort: dict | None, decode_s: float,
               t_start: float) -> Result:  # fmt: skip
    """The cached steps of :func:`run`, in a checked and locked output folder."""
    cache = StepCache(out, record, cfg.overwrite)
    steps = _Steps(cfg, clip, ckpt, cache, bar, {"decode": decode_s}, str(video), undistort)
    auto_focal = cfg.hfov == "auto"
    tracks, found_intr = steps.tracks(intr, gyro, auto_focal=auto_focal)
    if auto_focal:
        intr, intr_origin, intr_warning = focal_outcome(tracks.meta.get("focal") or {}, found_intr, intr)
        record["intrinsics"] |= {"fx_fy_cx_cy": intr.as_array().tolist(), "source": intr_origin,
                                 "focal_estimate": tracks.meta.get("focal")}  # fmt: skip
    depth, rescale_info, depth_src = steps.depth(tracks, intr)
    traj = steps.trajectory(tracks, depth, intr)
    traj.dense = steps.dense(traj, intr)
    tracks3d = steps.tracks3d(tracks, depth, intr)
    summary, warnings = summarize(clip, tracks, depth, traj, tracks3d, depth_src, cfg.readout_ms)
    if intr_warning:
        warnings.insert(0, intr_warning)
    add_depth_notes(summary, warnings, rescale_info, cfg)
    res = Result(out, clip, intr, intr_origin, tracks, depth, traj, tracks3d, summary, warnings,
                 timings_s=steps.timings, files={f: out / f for f in OUTPUT_FILES}, cached=[])  # fmt: skip
    write_exports(steps.step, cfg, res, dict(steps.keys), record["intrinsics"], str(video), record["steps"],
                  record["created"])  # fmt: skip
    res.timings_s["total"] = time.perf_counter() - t_start
    res.cached = [name for name, st in record["steps"].items() if st.get("cached")]
    # config.json: what was set up before the steps, the steps' bookkeeping, then the result's summary
    record |= {"summary": res.summary, "warnings": res.warnings,
               "timings_s": {k: round(v, 4) for k, v in res.timings_s.items()}}  # fmt: skip
    steps.cache.save()
    return res


# the cached steps of a run, in order (the progress bar counts them)
STEPS = ("tracks", "depth", "trajectory", "dense", "tracks3d", "points", "overlay", "stabilized", "plot", "report")


def _check_options(cfg: RunConfig) -> None:
    """Settings that are wrong whatever the clip."""
    from motiondepth.trajectory.stabilize import check_sigma

    check_numbers(cfg)  # every number finite and in range, the flag named
    if cfg.dense_samples < 2:
        raise InputError("--dense", f"need at least 2 samples per frame, got {cfg.dense_samples}")
    check_pivot(cfg.pivot_m)
    check_scene_distance(cfg.scene_distance_m)
    check_device(cfg.device)
    if cfg.scene_distance_m is not None and cfg.depth is not None:
        raise InputError("--scene-distance", "give either a metric depth map (--depth) or --scene-distance, not both")
    check_sigma(cfg.stabilize_sigma)


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


@dataclass
class _Steps:
    """One run's computing steps, each through the cache; ``keys`` collects their cache keys for the
    steps downstream, ``timings`` their seconds."""

    cfg: RunConfig
    clip: Clip
    ckpt: dict
    cache: StepCache
    bar: Any  # tqdm over STEPS
    timings: dict[str, float]
    source: str  # the video's name, for error messages
    undistort: dict | None = None  # the lens distortion the frames were undistorted with (LensDistortion.as_dict)
    keys: dict[str, str] = field(default_factory=dict)
    _blur: Any = None

    def __post_init__(self) -> None:
        cfg = self.cfg
        self.video_id = {
            "video": file_fingerprint(self.source),
            "start": cfg.start,
            "end": cfg.end,
            "stride": cfg.stride,
            "resize": cfg.resize,
            "fps": cfg.fps,
        }
        if self.undistort is not None:  # only then, so the cache of runs without stays valid
            self.video_id["undistort"] = self.undistort
        self.solver = solver_config(cfg, self.clip)
        self.rs_key = {"rolling_shutter": cfg.rolling_shutter, "readout_fraction": self.solver.readout_fraction}

    def step(self, name, parts, files, compute, write, load):
        """:meth:`StepCache.run`, timed and counted on the progress bar."""
        self.bar.set_description(f"run: {name}")
        t0 = time.perf_counter()
        value, key = self.cache.run(name, parts, files, compute, write, load)
        self.timings[name] = time.perf_counter() - t0
        self.keys[name] = key
        self.bar.update(1)
        return value

    def blur_predictor(self):
        if self._blur is None:
            from motiondepth.depth.blur import BlurPredictor

            cfg = self.cfg
            self._blur = BlurPredictor(cfg.depth_checkpoint, cfg.trajectory_checkpoint, device=cfg.device)
        return self._blur

    def _blur_fit_timing(self) -> tuple[dict | None, float, float]:
        """(cache key, exposure s, readout s) of ``--blur-fit``; (None, 0, 0) without it."""
        cfg, clip = self.cfg, self.clip
        if not cfg.blur_fit:
            return None, 0.0, 0.0
        from motiondepth.tracking.blur_fit import BlurFitConfig, exposure_problem

        exposure, readout = exposure_timing(cfg, clip, "--blur-fit")
        problem = exposure_problem(exposure, clip.interval_s)
        if problem:
            raise InputError("--exposure-ms", problem)
        key = {
            "exposure_s": exposure,
            "readout_s": readout,
            "pivot": cfg.pivot_m,
            "times": clip.times,
            "config": asdict(BlurFitConfig()),  # a cached fit made with other settings is redone
            **self.rs_key,
        }
        return key, exposure, readout

    def tracks(self, intr: Intrinsics, gyro, auto_focal: bool) -> tuple[Tracks, Intrinsics]:
        """The query grid's tracks (blur-compensated with a gyro log or ``--blur-fit``) and the intrinsics
        they were made with (``--hfov auto``: estimated from them)."""
        from motiondepth.io.trajectory import save_tracks

        cfg, clip, solver = self.cfg, self.clip, self.solver
        gyro_key = None
        if gyro is not None:
            gyro_key = {"log": file_fingerprint(gyro.path), "pivot": cfg.pivot_m, "times": clip.times, **self.rs_key}
            gyro_key |= {k: getattr(gyro, k) for k in ("exposure_s", "readout_s", "offset_s", "axes")}
        fit_key, exposure, readout = self._blur_fit_timing()

        def compute():
            tr = track_points(clip.frames, intr, cfg.grid_half, cfg.tracker, progress=cfg.progress)
            found, focal = intr, None
            if auto_focal:  # KLT's tracks fix the focal length well enough for the blur kernels
                est = estimate_focal_length(tr, intr, cfg.pivot_m, solver)
                focal = est.as_dict()
                found = est.intrinsics if est.trusted else intr
            if fit_key is not None:
                from motiondepth.tracking.blur_fit import track_with_blur_fit

                tr = track_with_blur_fit(
                    clip.frames, tr.queries, clip.times, found, exposure, readout, cfg.pivot_m, solver=solver,
                    init=tr, progress=cfg.progress, device=cfg.device,
                )[0]  # fmt: skip
            elif gyro is not None:
                from motiondepth.tracking.gyro_aided import track_with_gyro

                tr = track_with_gyro(clip.frames, tr.queries, clip.times, found, gyro, cfg.pivot_m, solver=solver,
                                     init=tr)  # fmt: skip
            if auto_focal and (fit_key is not None or gyro is not None) and found is not intr:
                est = estimate_focal_length(tr, intr, cfg.pivot_m, solver)  # again on the blur-compensated tracks
                focal = est.as_dict() | {"from_klt": focal}
                found = est.intrinsics if est.trusted else found
            if focal is not None:
                tr.meta["focal"] = focal
            return tr, found

        return self.step(
            "tracks",
            self.video_id
            | {"intrinsics": intr.as_array(), "grid_half": cfg.grid_half, "tracker": cfg.tracker, "gyro": gyro_key}
            | ({"blur_fit": fit_key} if fit_key else {})
            | ({"focal": "auto", "pivot": cfg.pivot_m, **self.rs_key} if auto_focal else {}),
            ["tracks.npz"],
            compute,
            lambda v, o: save_tracks(o / "tracks.npz", v[0], v[1].as_array()),
            lambda o: _load_tracks_intrinsics(o / "tracks.npz", intr),
        )

    def depth(self, tracks: Tracks, intr: Intrinsics) -> tuple[np.ndarray, dict, str]:
        """(first-frame metric depth, pivot-parallax rescale info, where the depth came from)."""
        cfg = self.cfg
        source = (
            f"file {cfg.depth}" if cfg.depth
            else f"depth model {cfg.depth_model}" if cfg.depth_model
            else f"blur network {cfg.depth_checkpoint}"
        )  # fmt: skip
        distance = cfg.scene_distance_m
        rescale = "none" if cfg.depth else cfg.depth_rescale

        def predictor():
            if cfg.depth:
                return None
            if cfg.depth_model:
                from motiondepth.depth.hf import HFDepthPredictor

                return HFDepthPredictor(cfg.depth_model, device=cfg.device)
            return self.blur_predictor()

        def compute():
            d = estimate_depth(self.clip.frames, predictor(), cfg.depth, cfg.depth_scale, self.source)
            final, info = rescale_by_parallax(d, tracks, intr, cfg.pivot_m, rescale, self.solver)
            if distance is not None:  # the parallax field keeps its shape; the user's distance sets the scale
                final, info["distance_scale"] = scale_to_distance(final, distance)
            return final, d, info

        def write(value, o):
            from motiondepth.viz.plots import save_depth_png

            final, raw, info = value
            extra = {k: np.asarray(v) for k, v in info.items()}
            save_npz(o / "depth.npz", depth=final, unscaled_depth=raw, intrinsics=intr.as_array(),
                     source=np.array(source), **{f"rescale_{k}": v for k, v in extra.items()})  # fmt: skip
            save_depth_png(o / "depth.png", final)

        depth, _, info = self.step(
            "depth",
            self.video_id
            | {
                "depth_file": file_fingerprint(cfg.depth),
                "depth_scale": cfg.depth_scale,
                "checkpoint": None if cfg.depth else self.ckpt["depth"],
                "depth_model": folder_fingerprint(cfg.depth_model) if cfg.depth_model else None,
                "rescale": rescale,
                "scene_distance_m": distance,
                "tracks": self.keys["tracks"] if rescale != "none" else None,
                "pivot": cfg.pivot_m,
            }
            | (self.rs_key if rescale != "none" else {}),
            ["depth.npz", "depth.png"],
            compute,
            write,
            lambda o: _load_depth_npz(o / "depth.npz"),
        )
        if info.get("mode", "none") != "none":
            source += f" × pivot-parallax scale ({info['mode']}, {info['points']} points)"
        if distance is not None:
            source += f", scaled to the given scene distance ({distance:g} m median)"
        return depth, info, source

    def trajectory(self, tracks: Tracks, depth: np.ndarray, intr: Intrinsics) -> Trajectory:
        """Per-frame rotation by the optics solver."""
        from motiondepth.io.trajectory import write_trajectory_csv

        cfg, clip = self.cfg, self.clip
        return self.step(
            "trajectory",
            {
                "tracks": self.keys["tracks"],
                "depth": self.keys["depth"],
                "intrinsics": intr.as_array(),
                "pivot": cfg.pivot_m,
                "times": clip.times,
            }
            | self.rs_key,
            ["trajectory.csv"],
            lambda: solve_rotation(tracks, depth, intr, cfg.pivot_m, clip.times, self.solver),
            lambda t, o: write_trajectory_csv(o / "trajectory.csv", t),
            _load_trajectory,
        )

    def dense(self, traj: Trajectory, intr: Intrinsics) -> np.ndarray:
        """Dense trajectory (T, S, 3) rad from the trajectory decoder."""
        from motiondepth.io.trajectory import read_dense_csv, write_dense_csv

        cfg, clip = self.cfg, self.clip
        return self.step(
            "dense",
            {
                "trajectory": self.keys["trajectory"],
                "video": self.video_id,
                "samples": cfg.dense_samples,
                "checkpoints": [self.ckpt["trajectory"], self.ckpt.get("depth", cfg.depth_checkpoint)],
            },
            ["trajectory_dense.csv"],
            lambda: densify(clip.frames, traj, self.blur_predictor(), intr.fx, cfg.dense_samples, self.source),
            lambda d, o: write_dense_csv(o / "trajectory_dense.csv", d, clip.times, clip.interval_s),
            lambda o: read_dense_csv(o / "trajectory_dense.csv")[0],
        )

    def tracks3d(self, tracks: Tracks, depth: np.ndarray, intr: Intrinsics) -> Tracks3D:
        """Seurat depth over time of every track, by the ``--seurat-checkpoint`` model."""

        def compute() -> Tracks3D:
            from motiondepth.seurat.inference import SeuratPredictor

            predictor = SeuratPredictor.from_pretrained(self.cfg.seurat_checkpoint, device=self.cfg.device)
            return lift_tracks(tracks, depth, intr, self.clip.frames, predictor)

        return self.step(
            "tracks3d",
            {
                "tracks": self.keys["tracks"],
                "depth": self.keys["depth"],
                "intrinsics": intr.as_array(),
                "checkpoint": self.ckpt["seurat"],
                "video": self.video_id,
            },
            ["tracks3d.npz"],
            compute,
            lambda t, o: save_tracks3d(o / "tracks3d.npz", t),
            lambda o: load_tracks3d(o / "tracks3d.npz"),
        )


def _load_tracks_intrinsics(path: Path, default: Intrinsics) -> tuple[Tracks, Intrinsics]:
    from motiondepth.io.trajectory import load_tracks

    tracks, arr = load_tracks(path)
    return tracks, default if arr is None else Intrinsics.from_array(arr)
