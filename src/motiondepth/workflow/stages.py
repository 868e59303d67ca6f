"""The computing steps of :func:`~motiondepth.workflow.run`, each through the output folder's step cache: tracks,
first-frame depth, rotation, dense trajectory and depth over time. :class:`CachedSteps` knows each step's cache
key (its inputs, settings and upstream keys) and how its files are written and read back."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from motiondepth.errors import InputError
from motiondepth.geometry.camera import Intrinsics
from motiondepth.io.atomic import save_npz
from motiondepth.io.tracks import load_tracks3d, save_tracks3d
from motiondepth.tracking.chain import density_scale
from motiondepth.types import Tracks, Tracks3D, Trajectory
from motiondepth.workflow.cache import (
    StepCache,
    file_fingerprint,
    folder_fingerprint,
)
from motiondepth.workflow.config import DEPTH_FILES, STEP, Clip, DepthRescale, MotionFit, RunConfig
from motiondepth.workflow.inputs import (
    exposure_timing,
    solver_config,
)
from motiondepth.workflow.steps import (
    densify,
    depth_over_time,
    estimate_depth,
    frame_depths,
    fuse_parallax_depth,
    make_tracks,
    rescale_by_parallax,
    scale_to_distance,
    solve_motion,
    solve_rotation,
)

MOTION_PATH = ("angles", "centres", "residual_px", "times")  # the motion step's camera path (motion_points.npz, path_*)


def _write_depth(out: Path, files: tuple[str, ...], final: np.ndarray, raw: np.ndarray, intr: Intrinsics,
                 source: str, rescale: DepthRescale, confidence_key: str = "rescale_confidence") -> None:  # fmt: skip
    """``files[0]`` (``.npz``: the depth, the map before rescaling and the rescale record,
    :meth:`DepthRescale.arrays`), and with more names the colour and 16-bit millimetre PNGs."""
    from motiondepth.io.depth import save_depth_png16
    from motiondepth.viz.plots import save_depth_png

    save_npz(out / files[0], depth=final, unscaled_depth=raw, intrinsics=intr.as_array(), source=np.array(source),
             **rescale.arrays(confidence_key))  # fmt: skip
    if len(files) > 1:
        save_depth_png(out / files[1], final)
        save_depth_png16(out / files[2], final)


def _load_depth_npz(path: Path) -> tuple[np.ndarray, np.ndarray, DepthRescale]:
    """(final depth, depth before rescaling, rescale record) from a cached ``depth.npz``."""
    from motiondepth.io.npz import read_npz

    d = read_npz(path, ("depth", "unscaled_depth"), "cached depth")
    try:
        rescale = DepthRescale.from_arrays(d)
    except (TypeError, ValueError) as exc:
        raise InputError(path, f"not a depth record of this version ({exc})") from None
    return d["depth"].astype(np.float32), d["unscaled_depth"].astype(np.float32), rescale


def _load_trajectory(out: Path, method: str = "lsq") -> Trajectory:
    from motiondepth.io.trajectory import read_trajectory_csv

    traj = read_trajectory_csv(out / "trajectory.csv")
    traj.method = method
    return traj


def _write_motion(value: tuple[Trajectory, MotionFit], out: Path) -> None:
    from motiondepth.io.atomic import write_json

    traj, fit = value
    path = {f"path_{k}": np.asarray(getattr(traj, k), np.float64) for k in MOTION_PATH}
    save_npz(out / "motion_points.npz", **{k: getattr(fit, k) for k in MotionFit.ARRAYS}, **path)
    write_json(out / "motion.json", fit.record())


def _load_motion(out: Path) -> tuple[Trajectory, MotionFit]:
    from motiondepth.io.camera import read_json_object
    from motiondepth.io.npz import read_npz

    record = read_json_object(out / "motion.json", "cached motion")
    arrays = read_npz(out / "motion_points.npz", MotionFit.ARRAYS + tuple(f"path_{k}" for k in MOTION_PATH),
                      "cached motion points")  # fmt: skip
    try:
        fit = MotionFit.from_record(record, arrays)
    except (KeyError, TypeError) as exc:
        raise InputError(out / "motion.json", f"not a motion record of this version ({exc})") from None
    p = {k: arrays[f"path_{k}"] for k in MOTION_PATH}
    traj = Trajectory(p["angles"], p["times"], p["residual_px"], method=f"small-motion-{fit.model}",
                      centres=p["centres"])  # fmt: skip
    return traj, fit


@dataclass
class CachedSteps:
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

    def step(self, name, parts, compute, write, load):
        """Step ``name`` of :data:`~motiondepth.workflow.config.STEP_SPECS` through :meth:`StepCache.run` (its files
        and version from the table, ``parts`` the rest of its key), timed and counted on the progress bar."""
        spec = STEP[name]
        self.bar.set_description(f"run: {name}")
        t0 = time.perf_counter()
        parts = parts | ({"version": spec.version} if spec.version else {})
        value, key = self.cache.run(name, parts, list(spec.files), compute, write, load)
        self.timings[name] = time.perf_counter() - t0
        self.keys[name] = key
        self.bar.update(1)
        return value

    def skip(self, *names: str) -> None:
        """Steps of the table this run's path does not take: counted on the progress bar as done."""
        assert all(n in STEP for n in names), names
        self.bar.update(len(names))

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

    def tracks(self, intr: Intrinsics, gyro, auto_focal: bool, imported: Tracks | None = None
               ) -> tuple[Tracks, Intrinsics]:  # fmt: skip
        """The query grid's tracks (blur-compensated with a gyro log or ``--blur-fit``), or the user's
        (``--tracks``, ``imported``: :func:`imported_tracks`), and the intrinsics they were made with
        (``--hfov auto``: estimated from them)."""
        from motiondepth.io.tracks import save_tracks

        cfg, clip, solver = self.cfg, self.clip, self.solver
        gyro_key = None
        if gyro is not None:
            gyro_key = {"log": file_fingerprint(gyro.path), "pivot": cfg.pivot_m, "times": clip.times, **self.rs_key}
            gyro_key |= {k: getattr(gyro, k) for k in ("exposure_s", "readout_s", "offset_s", "axes")}
            gyro_key["alignment"] = 2  # 2: aligned to the better of the pivot solve and the bundle adjustment
            if gyro.time_origin_s or gyro.max_offset_s != 2.0:  # (only then: earlier caches stay valid)
                gyro_key |= {"time_origin_s": gyro.time_origin_s, "max_offset_s": gyro.max_offset_s}
            if clip.recorded is not None:  # the alignment's bundle adjustment keeps off the black margin (3)
                gyro_key["alignment"] = 3
        fit_key, exposure, readout = self._blur_fit_timing()

        def compute():
            return make_tracks(
                clip.frames, clip.times, intr, cfg.grid_half, cfg.tracker, cfg.pivot_m, solver, imported=imported,
                auto_focal=auto_focal, blur_fit=(exposure, readout) if fit_key is not None else None, gyro=gyro,
                progress=cfg.progress, device=cfg.device, recorded=clip.recorded,
            )  # fmt: skip

        return self.step(
            "tracks",
            self.video_id
            | {"intrinsics": intr.as_array(), "grid_half": cfg.grid_half, "tracker": cfg.tracker, "gyro": gyro_key}
            | ({"imported": file_fingerprint(cfg.tracks)} if cfg.tracks else {})
            | ({"blur_fit": fit_key} if fit_key else {})
            | ({"focal": "auto", "pivot": cfg.pivot_m, **self.rs_key} if auto_focal else {}),
            compute,
            lambda v, o: save_tracks(o / "tracks.npz", v[0], v[1].as_array()),
            lambda o: _load_tracks_intrinsics(o / "tracks.npz", intr),
        )

    def depth(self, tracks: Tracks, intr: Intrinsics, prior: bool = False) -> tuple[np.ndarray, DepthRescale, str]:
        """(first-frame metric depth, its pivot-parallax rescale record, where the depth came from).

        With ``prior``, the unrescaled map the bundle adjustment starts from (step ``depth_prior``, file
        ``depth_prior.npz``); its parallax corrects it later (:meth:`fused_depth`).
        """
        cfg = self.cfg
        source = (
            f"file {cfg.depth}" if cfg.depth
            else f"depth model {cfg.depth_model}" if cfg.depth_model
            else f"blur network {cfg.depth_checkpoint}"
        )  # fmt: skip
        distance = cfg.scene_distance_m
        rescale = "none" if cfg.depth else cfg.depth_rescale
        if prior:
            rescale = "none"

        def predictor():
            if cfg.depth:
                return None
            if cfg.depth_model:
                from motiondepth.depth.hf import HFDepthPredictor

                return HFDepthPredictor(cfg.depth_model, device=cfg.device)
            return self.blur_predictor()

        def compute():
            d = estimate_depth(self.clip.frames, predictor(), cfg.depth, cfg.depth_scale, self.source)
            final, record = rescale_by_parallax(d, tracks, intr, cfg.pivot_m, rescale, self.solver)
            if distance is not None:  # the parallax field keeps its shape; the user's distance sets the scale
                final, record.distance_scale = scale_to_distance(final, distance)
            return final, d, record

        name = "depth_prior" if prior else "depth"
        files = STEP[name].files

        def write(value, o):
            final, raw, record = value
            _write_depth(o, files, final, raw, intr, source, record)

        depth, _, info = self.step(
            name,
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
            compute,
            write,
            lambda o: _load_depth_npz(o / files[0]),
        )
        if info.mode != "none":
            source += f" × pivot-parallax scale ({info.mode}, {info.points} points)"
        if distance is not None:
            source += f", scaled to the given scene distance ({distance:g} m median)"
        return depth, info, source

    @property
    def bundle(self) -> bool:
        """The motion comes from the small-motion bundle adjustment (every ``--motion`` but ``lsq``)."""
        return self.cfg.motion != "lsq"

    def motion(self, tracks: Tracks, prior: np.ndarray, intr: Intrinsics) -> tuple[Trajectory, MotionFit]:
        """Rotation, translation and the tracks' parallax depths by the small-motion bundle adjustment."""
        cfg, clip = self.cfg, self.clip
        # a global shutter is held at 0; a known readout centres a tight prior; else it is fitted from 0.5
        fit_rf = cfg.rolling_shutter != "off"
        rf = 0.0 if not fit_rf else self.solver.readout_fraction if cfg.readout_ms is not None else None
        ds = density_scale(clip.frames.shape[1:3])  # (tracking.chain)
        density = {"density": round(ds, 4)} if ds != 1 else {}
        return self.step(
            "motion",
            {
                "tracks": self.keys["tracks"],
                "depth": self.keys["depth_prior"],
                "intrinsics": intr.as_array(),
                "pivot": cfg.pivot_m,
                "times": clip.times,
                "model": cfg.motion,
                "readout_fraction": rf,
                "fit_readout": fit_rf,
                "video": self.video_id,
            }
            | self.rs_key
            | density,  # (a key only above the reference size: earlier caches of smaller clips stay valid)
            lambda: solve_motion(
                clip.frames,
                tracks,
                prior,
                intr,
                cfg.motion,
                cfg.pivot_m,
                clip.times,
                rf,
                fit_rf,
                cfg.progress,
                self.solver,
                source=clip.source,
                recorded=clip.recorded,
            ),
            _write_motion,
            _load_motion,
        )

    def scale(self, log, traj: Trajectory):
        """The 6-DoF path's metric scale from the accelerometer ``log`` (:func:`~motiondepth.sensor.accel.accel_scale`,
        step ``scale``, ``scale.json``). The steps downstream key on it (``keys["motion"]``)."""
        from motiondepth.io.atomic import write_json
        from motiondepth.sensor.accel import accel_scale

        cfg, clip = self.cfg, self.clip
        offset = None if cfg.accel_offset_ms is None else cfg.accel_offset_ms / 1e3
        frame_times = clip.times + clip.time_origin_s
        key = {"motion": self.keys["motion"], "log": file_fingerprint(log.path), "unit": cfg.accel_unit,
               "axes": cfg.accel_axes, "offset_s": offset, "times": frame_times}  # fmt: skip
        value = self.step(
            "scale",
            key,
            lambda: accel_scale(frame_times, traj.angles, traj.centres, log, cfg.accel_axes, offset),
            lambda v, o: write_json(o / "scale.json", v.as_dict()),
            lambda o: _load_scale(o / "scale.json"),
        )
        self.keys["motion"] = self.keys["scale"]  # what the steps downstream read: the path at its scale
        return value

    def fused_depth(self, prior: np.ndarray, motion: MotionFit, intr: Intrinsics, source: str
                    ) -> tuple[np.ndarray, DepthRescale]:  # fmt: skip
        """The first-frame depth corrected by the motion's parallax depths (``--depth-rescale``), with its
        per-pixel confidence (``depth.npz`` ``confidence``); a ``--depth`` file is kept as it is. ``source``:
        where the prior came from (:meth:`depth`)."""
        cfg = self.cfg
        mode = "none" if cfg.depth else cfg.depth_rescale

        def write(value, o):
            final, record = value
            _write_depth(o, DEPTH_FILES, final, prior, intr, f"{source} × parallax", record, "confidence")

        def load(o):
            final, _, record = _load_depth_npz(o / "depth.npz")
            return final, record

        return self.step(
            "fused_depth",
            {"depth": self.keys["depth_prior"], "motion": self.keys["motion"], "rescale": mode},
            lambda: fuse_parallax_depth(prior, motion, mode),
            write,
            load,
        )

    def trajectory(self, tracks: Tracks, depth: np.ndarray, intr: Intrinsics, motion: Trajectory | None = None
                   ) -> Trajectory:  # fmt: skip
        """Per-frame rotation (and the pivot's centres) by the optics solver; or, given the bundle adjustment's
        ``motion`` (:meth:`motion`), that path, written as ``trajectory.csv``."""
        from motiondepth.io.trajectory import write_trajectory_csv

        cfg, clip = self.cfg, self.clip
        origin = clip.time_origin_s
        clock = {"clock": origin} if origin else {}  # (only then: earlier caches stay valid)
        if motion is not None:
            return self.step(
                "trajectory",
                {"motion": self.keys["motion"]} | clock,
                lambda: motion,
                lambda t, o: write_trajectory_csv(o / "trajectory.csv", t, origin),
                lambda o: _load_trajectory(o, motion.method),
            )
        return self.step(
            "trajectory",
            {
                "tracks": self.keys["tracks"],
                "depth": self.keys["depth"],
                "intrinsics": intr.as_array(),
                "pivot": cfg.pivot_m,
                "times": clip.times,
            }
            | self.rs_key
            | clock,
            lambda: solve_rotation(tracks, depth, intr, cfg.pivot_m, clip.times, self.solver),
            lambda t, o: write_trajectory_csv(o / "trajectory.csv", t, origin),
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
            lambda: densify(
                clip.frames, traj, self.blur_predictor(), intr.fx, cfg.dense_samples, self.source, cfg.progress
            ),
            lambda d, o: write_dense_csv(
                o / "trajectory_dense.csv", d, clip.times, clip.interval_s, clip.time_origin_s
            ),
            lambda o: read_dense_csv(o / "trajectory_dense.csv")[0],
        )

    def tracks3d(self, tracks: Tracks, depth: np.ndarray, intr: Intrinsics, traj: Trajectory,
                 motion: MotionFit | None = None) -> Tracks3D:  # fmt: skip
        """Every track's metric depth over time: the solved path's prediction where the point is static, the
        ``--seurat-checkpoint`` model's where it moves (:func:`~motiondepth.workflow.steps.depth_over_time`)."""
        rf = _bundle_readout(motion) or 0.0

        def compute() -> Tracks3D:
            from motiondepth.seurat.inference import SeuratPredictor

            predictor = SeuratPredictor.from_pretrained(self.cfg.seurat_checkpoint, device=self.cfg.device,
                                                        progress=self.cfg.progress)  # fmt: skip
            return depth_over_time(tracks, depth, intr, traj, rf, self.clip.frames, predictor)

        return self.step(
            "tracks3d",
            {
                "tracks": self.keys["tracks"],
                "depth": self.keys["depth"],
                "trajectory": self.keys["trajectory"],
                "readout_fraction": rf,
                "intrinsics": intr.as_array(),
                "checkpoint": self.ckpt["seurat"],
                "video": self.video_id,
            },
            compute,
            lambda t, o: save_tracks3d(o / "tracks3d.npz", t),
            lambda o: load_tracks3d(o / "tracks3d.npz"),
        )

    def depth_frames(self, depth: np.ndarray, intr: Intrinsics, traj: Trajectory, motion: MotionFit | None = None
                     ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """Every frame's metric depth and its confidence (:func:`~motiondepth.workflow.steps.frame_depths`):
        ``depth/NNNNNN.png`` and ``depth_frames.npz`` (``confidence``, 0–255)."""
        from motiondepth.io.depth import load_depth_frames, save_depth_frames
        from motiondepth.io.npz import read_npz

        clip = self.clip
        count = len(clip.frames)
        rf = _bundle_readout(motion)
        # keyframes refine what frame 0 never saw where the bundle adjustment's path translates (6-DoF)
        frames = clip.frames if rf is not None and motion.model == "6dof" else None

        def write(value, o):
            maps, conf = value
            save_depth_frames(o / "depth", maps)
            save_npz(o / "depth_frames.npz", confidence=conf.astype(np.uint8),
                     intrinsics=intr.as_array())  # fmt: skip

        def load(o):
            conf = read_npz(o / "depth_frames.npz", ("confidence",), "depth frames file")["confidence"]
            maps = load_depth_frames(o / "depth", count)
            if conf.shape != maps.shape:
                raise InputError(o / "depth_frames.npz", f"confidence {conf.shape} does not match {maps.shape}")
            return maps, conf.astype(np.uint8)

        return self.step(
            "depth_frames",
            {
                "depth": self.keys["depth"],
                "trajectory": self.keys["trajectory"],
                "intrinsics": intr.as_array(),
                "video": self.video_id if frames is not None else None,
                "readout_fraction": rf or 0.0,
            },
            lambda: frame_depths(depth, intr, traj, self.cfg.progress, frames, rf or 0.0, clip.recorded),
            write,
            load,
        )


def _bundle_readout(motion: MotionFit | None) -> float | None:
    """The readout fraction the bundle adjustment fitted, where it gave the run's path (None where it did not: the
    optics solver's path carries its own readout rotation)."""
    return motion.readout_fraction if motion is not None and motion.solver != "lsq" else None


def imported_tracks(path: str, clip: Clip, intr: Intrinsics, undistort: dict | None) -> Tracks:
    """``run --tracks``: the user's tracks, checked against the decoded clip, and undistorted with the frames."""
    from motiondepth.io.tracks import check_tracks, read_tracks_file

    tr = check_tracks(path, read_tracks_file(path, len(clip.frames)), len(clip.frames), clip.size)
    if undistort is not None:  # the frames were undistorted: so are the positions
        from motiondepth.geometry.distortion import LensDistortion

        lens = LensDistortion(undistort["model"], tuple(undistort["coeffs"]))
        tr.tracks = lens.undistort_points(tr.tracks, intr).astype(np.float32)
        tr.queries[:, 1:] = tr.tracks[tr.queries[:, 0].astype(int), np.arange(tr.num_points)]
    return tr


def _load_tracks_intrinsics(path: Path, default: Intrinsics) -> tuple[Tracks, Intrinsics]:
    from motiondepth.io.tracks import load_tracks

    tracks, arr = load_tracks(path)
    return tracks, default if arr is None else Intrinsics.from_array(arr)


def _load_scale(path: Path):
    from motiondepth.io.camera import read_json_object
    from motiondepth.sensor.accel import AccelScale

    try:
        return AccelScale(**read_json_object(path, "cached accelerometer scale"))
    except TypeError as exc:
        raise InputError(path, f"not an accelerometer scale record of this version ({exc})") from None
