"""Settings, containers and thresholds of :func:`motiondepth.workflow.run`."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TypedDict

import numpy as np

from motiondepth.errors import InputError
from motiondepth.geometry.camera import Intrinsics
from motiondepth.geometry.pivot import DEFAULT_PIVOT_M
from motiondepth.io.camera import FOCAL_AUTO  # noqa: F401 - re-exported
from motiondepth.models.weights import VIDEO_DEPTH_CHECKPOINT
from motiondepth.options import (
    AS_WORD,
    BUILTIN_TRACKERS,
    DEPTH_SCALE,
    FOCAL_PX,
    GRID_HALF,
    HFOV,
    PIVOT,
    PRINCIPAL_PX,
    READOUT_MS,
    Range,
    check_number,
)
from motiondepth.types import Tracks, Tracks3D, Trajectory

ARCMIN_PER_RAD = 180.0 / np.pi * 60.0

# thresholds of the report's warnings
LOW_SURVIVAL = 0.5  # share of tracks still visible in the last frame
LARGE_RESIDUAL_PX = 1.0  # median per-frame RMS residual of the rotation fit
MOTION_MODES = ("auto", "6dof", "pivot", "rotation", "lsq")
LARGE_ROTATION_DEG = 5.0  # beyond the small-shake regime the solver's linearisation is built for


@dataclass(frozen=True)
class StepSpec:
    """One cached step of :func:`~motiondepth.workflow.run`, declared once: the progress bar, ``config.json``'s
    ``steps``, the output files (``OUTPUT_FILES``, ``run --help``, the report's file list) and the cache key's
    version all come from this table."""

    name: str  # in config.json's "steps", the progress bar and the cache key
    files: tuple[str, ...]  # what it writes into the output folder
    version: int = 0  # raised when the step's output changes for the same inputs: its cached files are redone
    bundle_only: bool = False  # written only when the small-motion bundle adjustment runs (--motion not lsq)
    only_with: str | None = None  # written only with this option (e.g. --accel)


DEPTH_FILES = ("depth.npz", "depth.png", "depth_mm.png")  # the first-frame depth of a run, in its three forms

# run()'s steps in the order they run (a run takes the pivot path's 'depth' or the bundle adjustment's
# 'depth_prior', 'motion' and 'fused_depth', which writes the same depth files)
STEP_SPECS = (
    StepSpec("tracks", ("tracks.npz",)),  # the query grid's 2D tracks (or your own, --tracks)
    StepSpec("depth_prior", ("depth_prior.npz",), bundle_only=True),  # the network's map: the motion's scale prior
    StepSpec("motion", ("motion.json", "motion_points.npz"), version=12,  # rotation and translation by the bundle
             bundle_only=True),  # adjustment; 7: the fits also stop once no angle moves; 8: the 6-DoF fit also
    # starts from the essential matrices; 9: no point followed near an undistorted frame's black margin; 10: the
    # frame-0 parallax points also from direct flow; 11: the grid check compares the typical explained track; 12:
    # clips over 300 frames: track pieces of 90 frames, no 6-DoF start from rest
    StepSpec("scale", ("scale.json",), version=2, bundle_only=True, only_with="--accel"),  # the 6-DoF path's
    # metric scale from the accelerometer (sensor.accel); 1: the misfit in the run's units; 2: residual_mm in mm
    StepSpec("depth", DEPTH_FILES),  # first-frame metric depth (pivot path)
    StepSpec("trajectory", ("trajectory.csv",), version=2),  # per-frame rotation; 2: and camera centres
    StepSpec("fused_depth", DEPTH_FILES, version=2, bundle_only=True),  # the depth corrected by the motion's parallax
    StepSpec("dense", ("trajectory_dense.csv",), version=2),  # inside each exposure; 2: one continuous path
    StepSpec("tracks3d", ("tracks3d.npz",), version=5),  # the tracks' metric depth over time; 1: the path's
    # prediction for static points, Seurat's for moving ones; 2: a track that slipped onto another static point
    # keeps the path's depth (path_depth.slipped_tracks); 3: a track far off the path is static at least 30 %; 4:
    # hidden frames where the path finds the point again are visible (path_depth.recover_hidden); 5: the slip rule
    # reads the tracker's own frames, not those found again
    StepSpec("depth_frames", ("depth/", "depth_frames.npz"), version=2),  # every frame's depth (16-bit mm PNGs) and
    # confidence; 1: cracks closed only inside what frame 0 saw; 2: what it never saw from keyframes' parallax
    StepSpec("points", ("points.ply",)),  # the first frame as a coloured point cloud
    StepSpec("overlay", ("overlay.mp4",)),  # the tracks drawn on the video
    StepSpec("stabilized", ("stabilized.mp4",)),  # the video with the recovered rotation removed
    StepSpec("depth_video", ("depth.mp4",)),  # every frame's depth, one colour scale for the clip
    StepSpec("plot", ("trajectory.png", "spectrum.png"), version=2),  # 2: legends above the data, per-frame angles
    # at mid-frame, the spectrum's reach shaded
    StepSpec("depth_plot", ("tracks_depth.png",)),  # the tracks' depth over time
    StepSpec("report", ("report.html",), version=3),  # 2: the depth-over-time section, the videos in the page, the
    # depth map's colour bar; 3: the median depth's interval, the scene in 3D
)  # fmt: skip
STEP = {s.name: s for s in STEP_SPECS}


def _files(specs) -> tuple[str, ...]:
    return tuple(dict.fromkeys(f for s in specs for f in s.files))


# what run() leaves in the output folder (report.html links these, Result.files lists them)
OUTPUT_FILES = _files(s for s in STEP_SPECS if not s.bundle_only) + ("config.json",)
MOTION_FILES = tuple(f for f in _files(s for s in STEP_SPECS if not s.only_with)
                     if f not in OUTPUT_FILES)  # … and these with the bundle adjustment  # fmt: skip
ACCEL_FILES = _files(s for s in STEP_SPECS if s.only_with == "--accel")  # … and these with --accel


# ----------------------------------------------------------------------------- options and result

# the groups of ``run --help``, in order ("options": the command's own), with their descriptions
RUN_GROUPS: dict[str, str | None] = {
    "options": None,
    "frames": None,
    "camera": None,
    "gyroscope": "With the clip's gyro log, each frame's blur kernels are known and tracking is blur-compensated "
    "(KLT, then Lucas–Kanade between cross-blurred images): on strongly shaken clips the rotation error drops "
    "several-fold (benchmarks/pipeline.py). The log is aligned with the video automatically.",
    "accelerometer": "With the camera's accelerometer, the metric scale of the 6-DoF path (and with it every depth, "
    "translation and export) comes from the measured acceleration instead of the depth network "
    "(docs/metric-scale.md). The axes and the clock offset are found from the data.",
    "models": None,
}


def flag(
    option: str, help: str, group: str, *, metavar: str | None = None, limits: Range | None = None,
    choices: tuple | None = None, switch: bool = False, auto: str | None = None, auto_value: object = AS_WORD,
) -> dict:  # fmt: skip
    """A :class:`RunConfig` field's command-line flag: ``option`` (e.g. ``--pivot``), its ``help``, its ``group`` of
    ``run --help`` (:data:`RUN_GROUPS`), and what it takes: a number in ``limits`` (the word ``auto``, when given,
    becomes ``auto_value``), one of ``choices``, or nothing (``switch``: store true)."""
    return {"option": option, "help": help, "group": group, "metavar": metavar, "limits": limits,
            "choices": choices, "switch": switch, "auto": auto,
            "auto_value": auto_value}  # fmt: skip


# settings that exclude each other: (field, other field, why), checked with the flags named
EXCLUSIVE = (
    ("tracks", "gyro", "give either your own tracks or --gyro, which re-tracks the query grid"),
    ("tracks", "blur_fit", "give either your own tracks or --blur-fit, which re-tracks the query grid"),
    ("blur_fit", "gyro", "give either a gyro log or --blur-fit, not both (the gyro is the better source)"),
    ("scene_distance_m", "depth", "give either a metric depth map (--depth) or --scene-distance, not both"),
)


def check_options(cfg: RunConfig) -> None:
    """Every setting of ``cfg`` that is wrong whatever the clip, from the fields' metadata (the same for the Python
    API and the command line; :class:`~motiondepth.errors.InputError` naming the flag), before anything is read or
    written: each number finite and in its range, each choice one of its values (``--tracker`` also any tracker
    registered from Python), ``--end`` after ``--start``, and no two settings that exclude each other."""
    for f in fields(cfg):
        md = f.metadata
        value = getattr(cfg, f.name)
        if "option" not in md or value is None or (md.get("auto") and value == md["auto"]):
            continue
        if md.get("limits") is not None:
            check_number(value, md["option"], md["limits"])
        choices = md.get("choices")
        if f.name == "tracker":
            from motiondepth.tracking import available_trackers  # the built-in ones, and any registered from Python

            choices = tuple(available_trackers())
        if choices is not None and value not in choices:
            raise InputError(md["option"], f"unknown value {value!r}; use one of {', '.join(map(str, choices))}")
    if cfg.end is not None and cfg.end <= cfg.start:
        raise InputError("--end", f"must be after --start ({cfg.start}), got {cfg.end}")
    for a, b, why in EXCLUSIVE:
        if getattr(cfg, a) not in (None, False) and getattr(cfg, b) not in (None, False):
            raise InputError(_field_option(a), why)


def _field_option(name: str) -> str:
    return next(f.metadata["option"] for f in fields(RunConfig) if f.name == name)


@dataclass
class RunConfig:
    """Every setting of :func:`run`, and the single source of the ``run`` command's flags: each field's
    metadata (:func:`flag`) gives its option, help, group and allowed values, and ``cli.run`` builds the parser
    from them, so the command line and the Python API cannot drift apart."""

    # first frame to use (index in the source video)
    start: int = field(
        default=0,
        metadata=flag(
            "--start",
            "first frame (default 0)",
            "frames",
            metavar="K",
            limits=Range(0, 10**8, integer=True),
        ),
    )
    # one past the last frame to use (None: to the end)
    end: int | None = field(
        default=None,
        metadata=flag(
            "--end",
            "stop before frame K (default: all)",
            "frames",
            metavar="K",
            limits=Range(1, 10**8, integer=True),
        ),
    )
    # use every ``stride``-th frame
    stride: int = field(
        default=1,
        metadata=flag(
            "--stride",
            "use every N-th frame",
            "frames",
            metavar="N",
            limits=Range(1, 1000, integer=True),
        ),
    )
    # scale frames so the longer side has this many pixels
    resize: int | None = field(
        default=None,
        metadata=flag(
            "--resize",
            "scale so the longer side is PX pixels",
            "frames",
            metavar="PX",
            limits=Range(16, 16384, integer=True, unit="px"),
        ),
    )
    # frame rate of an image folder without timestamps (overrides any input's times)
    fps: float | None = field(
        default=None,
        metadata=flag(
            "--fps",
            "frame rate of an image folder; without it, times come from a timestamps.txt beside the images or "
            "from timestamps in the file names (TUM, EuRoC), else 30 fps is assumed and the report warns. "
            "Overrides a video's own times",
            "frames",
            metavar="HZ",
            limits=Range(0.0, 10000.0, lo_open=True, unit="Hz"),
        ),
    )
    # intrinsics in pixels of the *source* video (before resize)
    fx: float | None = field(
        default=None,
        metadata=flag(
            "--fx",
            "intrinsics fx in source pixels",
            "camera",
            metavar="PX",
            limits=FOCAL_PX,
        ),
    )
    fy: float | None = field(
        default=None,
        metadata=flag(
            "--fy",
            "intrinsics fy in source pixels",
            "camera",
            metavar="PX",
            limits=FOCAL_PX,
        ),
    )
    cx: float | None = field(
        default=None,
        metadata=flag(
            "--cx",
            "intrinsics cx in source pixels",
            "camera",
            metavar="PX",
            limits=PRINCIPAL_PX,
        ),
    )
    cy: float | None = field(
        default=None,
        metadata=flag(
            "--cy",
            "intrinsics cy in source pixels",
            "camera",
            metavar="PX",
            limits=PRINCIPAL_PX,
        ),
    )
    # JSON with intrinsics (see read_calibration)
    calibration: str | None = field(
        default=None,
        metadata=flag(
            "--calibration",
            "intrinsics file: fx/fy/cx/cy, 'intrinsics', K, Open3D, or a Gyroflow lens profile / .gyroflow "
            "project; lens distortion in it (OpenCV or fisheye coefficients) is removed from the frames first",
            "camera",
            metavar="JSON",
        ),
    )
    # horizontal field of view, degrees, or "auto": estimated from the shake
    hfov: float | str | None = field(
        default=None,
        metadata=flag(
            "--hfov",
            "horizontal field of view, degrees; 'auto' estimates the focal length from the shake (the image "
            "edges and corners move differently from the centre under rotation; fails over to 60° with a "
            "warning when the motion cannot tell, e.g. below a 25° field of view)",
            "camera",
            metavar="DEG|auto",
            limits=HFOV,
            auto="auto",
        ),
    )
    # first-frame depth map file instead of the blur network
    depth: str | None = field(
        default=None,
        metadata=flag(
            "--depth",
            "first-frame depth map to use instead of the blur network",
            "models",
            metavar="FILE",
        ),
    )
    # metres per unit of a 16-bit depth image (default 0.001)
    depth_scale: float | None = field(
        default=None,
        metadata=flag(
            "--depth-scale",
            "metres per unit of a 16-bit depth",
            "models",
            metavar="M",
            limits=DEPTH_SCALE,
        ),
    )
    pivot_m: float = field(
        default=DEFAULT_PIVOT_M,
        metadata=flag(
            "--pivot",
            "rotation pivot behind the camera, metres (default 0.2, wrist to phone)",
            "camera",
            metavar="M",
            limits=PIVOT,
        ),
    )
    # camera motion model of the solver: auto | 6dof | pivot | rotation (small-motion bundle adjustment) | lsq
    motion: str = field(
        default="auto",
        metadata=flag(
            "--motion",
            "camera motion model. auto (default): the small-motion bundle adjustment picks the model the data "
            "favour; with translation (6dof, real handheld footage) its path and parallax depth are used, "
            "otherwise the papers' pivot model by the optics solver (lsq); the choice and why are in config.json "
            "(docs/small-motion.md). 6dof, pivot, rotation: that model by the bundle adjustment. lsq: the optics "
            "solver on the query grid only",
            "camera",
            choices=MOTION_MODES,
        ),
    )
    # network depth made metric by parallax: local | global | none
    depth_rescale: str = field(
        default="local",
        metadata=flag(
            "--depth-rescale",
            "correct the depth network's map with the tracks' parallax depths from the motion solver: pixel by "
            "pixel from the nearby points (local, default: interpolated between the bundle adjustment's points, "
            "or a smooth Gaussian field of the pivot model's sparser ones on the papers' path; config.json's "
            "depth_m.rescale.mode says which), one factor (global), or not (none); not applied to --depth",
            "models",
            choices=("local", "global", "none"),
        ),
    )
    # known median distance to the scene in frame 0: sets the map's scale
    scene_distance_m: float | None = field(
        default=None,
        metadata=flag(
            "--scene-distance",
            "median distance to the scene in the first frame, metres, if you know it (a tape measure, a "
            "chart's stand): the depth map, shaped as usual, is scaled to it; the rotation's accuracy depends "
            "on this scale most",
            "models",
            metavar="M",
            limits=Range(0.0, 1e4, lo_open=True, unit="m"),
        ),
    )
    # solver's rolling-shutter model: prior | free | off
    rolling_shutter: str = field(
        default="prior",
        metadata=flag(
            "--rolling-shutter",
            "the solver's rolling-shutter model: per-frame shear rates held back where tracks are noisy and "
            "the lens is long (prior, default), unconstrained (free), or a global shutter (off)",
            "camera",
            choices=("prior", "free", "off"),
        ),
    )
    # sensor readout time of a frame, when known (centres the rate prior)
    readout_ms: float | None = field(
        default=None,
        metadata=flag(
            "--readout-ms",
            "sensor readout time of one frame, top row to bottom row, when known: centres the solver's prior, "
            "and stabilized.mp4 takes frame 0's shear out too (without it the readout is estimated from the "
            "shear)",
            "camera",
            metavar="MS",
            limits=READOUT_MS,
        ),
    )
    # query grid of (2·grid_half + 1)² points
    grid_half: int = field(
        default=12,
        metadata=flag(
            "--grid-half",
            "query grid of (2I+1)² points (default 12)",
            "models",
            metavar="I",
            limits=GRID_HALF,
        ),
    )
    tracker: str = field(
        default="klt",
        metadata=flag(
            "--tracker",
            "point tracker of the query grid: klt (default; each frame matched to frame 0), klt-chain (frame to "
            "frame) or dis (dense DIS optical flow, chained: keeps the most of the grid on real clips)",
            "models",
            choices=BUILTIN_TRACKERS,
        ),
    )
    # 2D tracks the user already has, instead of tracking the query grid (io.tracks)
    tracks: str | None = field(
        default=None,
        metadata=flag(
            "--tracks",
            "use these 2D tracks instead of tracking the query grid: motiondepth tracks.npz, CoTracker .npz "
            "(pred_tracks, pred_visibility), TAPIR-style .npz (tracks (N,T,2), occluded) or CSV frame,point,x,y,"
            "visible; pixels of the decoded frames, one position per frame (docs/formats.md). They give the tracks' "
            "depth over time, Seurat, the overlay and (--motion lsq) the rotation; the bundle adjustment's camera "
            "path uses its own chained tracks",
            "models",
            metavar="FILE",
        ),
    )
    # gyroscope log of the clip: blur-compensated tracking (tracking.gyro_aided)
    gyro: str | None = field(
        default=None,
        metadata=flag(
            "--gyro",
            "gyro log: CSV time_s,wx,wy,wz (rad/s), Gyroflow .gcsv, …; 'embedded': the gyro inside the video "
            "file's telemetry (GoPro GPMF and others; the telemetry extra)",
            "gyroscope",
            metavar="LOG",
        ),
    )
    # gyro time = video time + offset, seconds; None: found by correlation
    gyro_offset: float | None = field(
        default=None,
        metadata=flag(
            "--gyro-offset",
            "gyro time minus frame time, seconds, the frames' times on their own clock (an image folder's "
            "timestamps: a log on that clock needs none); default auto: cross-correlation of angular rates within "
            "--gyro-max-offset",
            "gyroscope",
            metavar="auto|S",
            limits=Range(-1e10, 1e10, unit="s"),
            auto="auto",
            auto_value=None,
        ),
    )
    gyro_max_offset: float = field(
        default=2.0,
        metadata=flag(
            "--gyro-max-offset",
            "search range of the automatic gyro offset, ± seconds (default 2)",
            "gyroscope",
            metavar="S",
            limits=Range(0.0, 1e5, lo_open=True, unit="s"),
        ),
    )
    # camera axis i = gyro axis gyro_axes[i] (capital = negated), or "auto"
    gyro_axes: str = field(
        default="auto",
        metadata=flag(
            "--gyro-axes",
            "camera axis i = gyro axis MAP[i], capital = negated (e.g. 'yXz'); default auto: searched among all 48 "
            "with the offset, as compare-gyro does",
            "gyroscope",
            metavar="MAP|auto",
        ),
    )
    # exposure time (needed with gyro unless the clip's camera.json has it)
    exposure_ms: float | None = field(
        default=None,
        metadata=flag(
            "--exposure-ms",
            "exposure time of a frame, for --gyro and --blur-fit (default: a 'simulate' folder's camera.json, the "
            "video's telemetry (GoPro SHUT), else half the frame interval with a warning)",
            "gyroscope",
            metavar="MS",
            limits=Range(0.0, 1000.0, lo_open=True, unit="ms"),
        ),
    )
    # the camera's accelerometer: the metric scale of the 6-DoF path (sensor.accel)
    accel: str | None = field(
        default=None,
        metadata=flag(
            "--accel",
            "accelerometer log: CSV time,ax,ay,az (m/s² or g, found from the log), TUM accelerometer.txt, Gyroflow "
            ".gcsv; 'embedded': the accelerometer in the video file's telemetry (GoPro ACCL and others; the "
            "telemetry extra). Its times must be on the frames' clock, up to the offset searched (±0.1 s)",
            "accelerometer",
            metavar="LOG",
        ),
    )
    accel_axes: str | None = field(
        default=None,
        metadata=flag(
            "--accel-axes",
            "camera axis i (x right, y down, z forward) = accelerometer axis MAP[i], capital = negated, as "
            "--gyro-axes (the Kinect's: XYz); default auto: found from the data among the 24 right-handed maps",
            "accelerometer",
            metavar="MAP|auto",
            auto="auto",
            auto_value=None,
        ),
    )
    accel_offset_ms: float | None = field(
        default=None,
        metadata=flag(
            "--accel-offset-ms",
            "milliseconds added to the accelerometer's times to put them on the frames' clock (default auto: "
            "searched within ±100 ms)",
            "accelerometer",
            metavar="auto|MS",
            limits=Range(-1e8, 1e8, unit="ms"),
            auto="auto",
            auto_value=None,
        ),
    )
    accel_unit: str = field(
        default="auto",
        metadata=flag(
            "--accel-unit",
            "the log's unit (default auto: m/s² when the median magnitude is 7–13, g when 0.7–1.3)",
            "accelerometer",
            choices=("auto", "m/s2", "g"),
        ),
    )
    # video alone: fit the motion inside each exposure to the blur (tracking.blur_fit)
    blur_fit: bool = field(
        default=False,
        metadata=flag(
            "--blur-fit",
            "no gyro: fit the camera's rotation inside each exposure to the blur itself, then track "
            "blur-compensated (slower: about 30 s for 30 frames at 518 px on 2 cores; helps most on long, "
            "strong blur)",
            "gyroscope",
            switch=True,
        ),
    )
    # samples per frame of the dense trajectory (15 or 30)
    dense_samples: int = field(
        default=15,
        metadata=flag(
            "--dense",
            "dense trajectory samples per frame",
            "models",
            choices=(15, 30),
        ),
    )
    # the point cloud's axes: opencv (x right, y down, z forward) | opengl (x right, y up, z backward)
    ply_axes: str = field(
        default="opencv",
        metadata=flag(
            "--ply-axes",
            "axes of points.ply: opencv (x right, y down, z forward; default) or opengl (x right, y up, z backward: "
            "Blender, three.js, nerfstudio); the file's header says which",
            "options",
            choices=("opencv", "opengl"),
        ),
    )
    # stabilized.mp4 keeps the camera path smoothed over this many seconds; 0 locks
    stabilize_sigma: float = field(
        default=0.5,
        metadata=flag(
            "--stabilize-sigma",
            "stabilized.mp4 keeps the camera path smoothed by a Gaussian of S seconds and removes the rest of "
            "the recovered rotation (default 0.5; 0 locks every frame to frame 0's view); each row gets its "
            "own rotation from the solver's rolling-shutter shear (none with --rolling-shutter off)",
            "models",
            metavar="S",
            limits=Range(0.0, 60.0, unit="s"),
        ),
    )
    depth_checkpoint: str = field(
        default=VIDEO_DEPTH_CHECKPOINT,
        metadata=flag(
            "--depth-checkpoint",
            "blur-depth checkpoint for the first-frame depth (default blur-depth-indoor, best on real indoor "
            "footage; blur-depth-small is best on procedural clips)",
            "models",
            metavar="NAME_OR_PATH",
        ),
    )
    # local Hugging Face metric depth model folder for frame 0 (depth.hf)
    depth_model: str | None = field(
        default=None,
        metadata=flag(
            "--depth-model",
            "first-frame depth from a local Hugging Face metric depth model folder (e.g. Depth Anything V2 "
            "Metric; needs 'transformers'); the blur network still serves the dense trajectory",
            "models",
            metavar="DIR",
        ),
    )
    trajectory_checkpoint: str = field(
        default="trajectory-small",
        metadata=flag(
            "--trajectory-checkpoint",
            "dense trajectory decoder checkpoint (default trajectory-small)",
            "models",
            metavar="NAME_OR_PATH",
        ),
    )
    seurat_checkpoint: str = field(
        default="seurat-small",
        metadata=flag(
            "--seurat-checkpoint",
            "Seurat checkpoint for every track's depth over time (default seurat-small)",
            "models",
            metavar="NAME_OR_PATH",
        ),
    )
    # where the networks and the blur fit run: cpu | cuda (| cuda:N); results are not cached by it
    device: str = field(
        default="cpu",
        metadata=flag(
            "--device",
            "where the networks and the blur fit run(s): cpu (default), cuda / cuda:N, or auto (a GPU where torch "
            "sees one, else the CPU; config.json records which)",
            "models",
            metavar="DEVICE",
        ),
    )
    overwrite: bool = field(
        default=False,
        metadata=flag(
            "--overwrite",
            "recompute every step even if cached in DIR",
            "options",
            switch=True,
        ),
    )
    # progress bars (the command line's -q/--quiet turns them off)
    progress: bool = True


@dataclass
class Clip:
    """Decoded frames and where they came from."""

    frames: np.ndarray  # (T, H, W, 3) uint8 RGB
    times: np.ndarray  # (T,) seconds from the first used frame
    indices: np.ndarray  # (T,) frame indices in the source
    source: str
    source_size: tuple[int, int]  # (H, W) before resizing
    camera: dict = field(default_factory=dict)  # camera.json of a simulate folder, else {}
    times_source: str = "video timestamps"  # or camera.json, an image folder's names or timestamps file, --fps, assumed
    time_origin_s: float = 0.0  # time of the first used frame on the clock of an image folder's timestamps
    display_rotation_deg: int = 0  # players turn the stored frames by this much (counter-clockwise); kept as stored
    notes: tuple[str, ...] = ()  # what decoding found worth a warning (dropped frames)
    recorded: np.ndarray | None = None  # (H, W) bool, pixels with recorded content (False: the black margin of
    # undistorted frames, geometry.distortion.recorded_area); None: all

    @property
    def size(self) -> tuple[int, int]:
        return self.frames.shape[1], self.frames.shape[2]

    @property
    def interval_s(self) -> float:
        return float(np.median(np.diff(self.times))) if len(self.times) > 1 else 0.0


@dataclass
class DepthRescale:
    """How the first-frame depth map was corrected by the tracks' parallax (``--depth-rescale``), what the depth
    steps return beside the map. On disk in ``depth.npz`` as ``rescale_*`` arrays (:meth:`arrays`), with the
    bundle adjustment's per-pixel map as ``confidence``."""

    mode: str = "none"  # what was done: local, global, interpolated (the bundle adjustment's points) or none
    scale: float = 1.0  # median ratio of the parallax depths to the map
    points: int = 0  # reliable parallax points it rests on
    why: str | None = None  # why nothing was done (mode none)
    source: str | None = None  # "motion": the bundle adjustment's parallax; None: the pivot parallax
    confidence: np.ndarray | None = None  # (H, W) in [0, 1]: how much of each pixel's correction nearby points give
    depth_m: np.ndarray | None = None  # the pivot path's per-point parallax depths, metres
    sigma_m: np.ndarray | None = None  # … and their one-sigma uncertainty
    scale_cost_ratio: np.ndarray | None = None  # the pivot fit's cost at half and twice every depth, over its own
    rotation_scale_ratio: np.ndarray | None = None  # … and the RMS rotation's
    distance_scale: float | None = None  # the factor --scene-distance applied after the parallax

    @classmethod
    def from_info(cls, info: dict) -> DepthRescale:
        """From the info dict of :mod:`motiondepth.trajectory.parallax`'s rescaling functions."""
        known = {f.name for f in fields(cls)}
        unknown = set(info) - known
        if unknown:
            raise ValueError(f"unknown depth-rescale fields {sorted(unknown)}")
        return cls(**info)

    def arrays(self, confidence_key: str = "rescale_confidence") -> dict[str, np.ndarray]:
        """The record for ``depth.npz``: each field that is set as ``rescale_<name>``, the confidence map under
        ``confidence_key`` (the bundle adjustment's depth writes it as ``confidence``)."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                out[confidence_key if f.name == "confidence" else f"rescale_{f.name}"] = np.asarray(value)
        return out

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> DepthRescale:
        """Back from :meth:`arrays` (a cached ``depth.npz``)."""
        info = {k[len("rescale_") :]: v for k, v in arrays.items() if k.startswith("rescale_")}
        info = {k: (v.item() if v.ndim == 0 else v) for k, v in info.items()}
        if "confidence" in arrays:
            info["confidence"] = arrays["confidence"].astype(np.float32)
        return cls.from_info(info)


@dataclass
class MotionFit:
    """What the motion step (:func:`~motiondepth.workflow.steps.solve_motion`) found besides the camera path: the
    bundle adjustment's model and why it was chosen, which solver gives the run's path, the fit's counts, and the
    frame-0 parallax points. On disk as ``motion.json`` (:meth:`record`) and ``motion_points.npz`` (the arrays)."""

    model: str  # 6dof | pivot | rotation
    solver: str  # "bundle adjustment", or "lsq" where the papers' pivot model explains the grid's tracks better
    readout_fraction: float
    readout_fitted: bool
    grid_tracks: int
    support_tracks: int
    observations: int
    iterations: int
    choice: dict  # why the model was chosen: "chosen", "rule" and, with --motion auto, "criterion", "residual_px"
    grid_check: dict | None  # both motions' cost on the query grid's tracks, when checked
    points_xy: np.ndarray  # (K, 2) frame-0 parallax points, pixels
    depth_m: np.ndarray  # (K,) their triangulated depth
    sigma_m: np.ndarray  # (K,) its one-sigma uncertainty

    ARRAYS = ("points_xy", "depth_m", "sigma_m")  # the per-point arrays, in motion_points.npz
    COUNTS = ("model", "readout_fraction", "readout_fitted", "grid_tracks", "support_tracks", "observations",
              "iterations")  # fmt: skip

    def record(self) -> dict:
        """``motion.json``: everything but the per-point arrays, in one flat JSON object."""
        check = {"solver": self.solver} | ({"grid_check": self.grid_check} if self.grid_check is not None else {})
        return {**self.choice, **check, **{k: getattr(self, k) for k in self.COUNTS}}

    @classmethod
    def from_record(cls, record: dict, arrays: dict) -> MotionFit:
        """Back from :meth:`record` and the arrays."""
        known = {"solver", "grid_check", *cls.COUNTS}
        return cls(
            **{k: record[k] for k in cls.COUNTS}, solver=record["solver"], grid_check=record.get("grid_check"),
            choice={k: v for k, v in record.items() if k not in known}, **{k: arrays[k] for k in cls.ARRAYS},
        )  # fmt: skip


# ----------------------------------------------------------------------------- the summary

# ``Result.summary`` and config.json's ``summary``, declared once: the keys summarize() writes and the command
# line, the report and the batch table read (tests/workflow/test_run.py checks a run's summary against them).
# A TypedDict, so that ``res.summary["max_rotation_arcmin"]`` keeps working and the record stays plain JSON.


class AxisRange(TypedDict):
    min_deg: float
    max_deg: float
    peak_to_peak_arcmin: float


class ResidualStats(TypedDict):
    median: float  # of the frames' trimmed RMS residuals, pixels
    p95: float


class DepthSummary(TypedDict, total=False):
    source: str  # where the first-frame depth came from
    scale_source: str  # what set the metric scale: "accelerometer", "depth network", "--depth", "--scene-distance"
    accel: dict  # sensor.accel.AccelScale: the accelerometer's scale, its σ, axes, offset, why (with --accel)
    p2: float  # metres
    median: float
    p98: float
    valid_fraction: float
    rescale: dict  # DepthRescale's mode, scale, points (and source, why_none, distance_scale, the scale check)
    parallax_coverage: float  # share of pixels corrected mostly by nearby parallax points
    median_interval: list[float] | None  # [low, high] metres, the median's 80 % interval (depth.interval), or None
    median_interval_why: str  # why None: the scale is the user's, or the depth prior has no calibration
    median_interval_level: float
    median_interval_source: str  # the accelerometer's σ, or the depth prior's calibration
    median_interval_widened: float  # where the clip contradicts the prior: the widening factor
    median_interval_why_widened: list[str]


class Tracks3DSummary(TypedDict, total=False):
    p5: float  # metres, over every visible (track, frame)
    p95: float
    sources: dict[str, int]  # tracks whose depth over time came from the path, Seurat or both (seurat.fuse)
    seurat_tracks: int  # tracks Seurat ran on
    recovered: int  # hidden (track, frame) pairs the path found again (path_depth.recover_hidden)
    recovered_fraction: float  # … over the hidden pairs the tracker gave
    path_thresholds_px: list[float]  # the static and moving thresholds on the path's residual


class DepthFramesSummary(TypedDict):
    frames: int
    folder: str
    unseen_fraction_median: float  # share of a frame frame 0 never saw (from a keyframe's parallax, or filled)
    unseen_fraction_max: float
    filled_fraction_median: float  # … of it, what no keyframe gave either (filled from the nearest pixel with a depth)
    filled_fraction_max: float


class MotionSummary(TypedDict):
    model: str  # 6dof | pivot | rotation
    solver: str  # bundle adjustment | lsq
    grid_check: dict | None
    chosen_by: str | None
    criterion: dict | None
    residual_px: dict | None
    starts_6dof: dict | None  # the 6-DoF fit's starts and their final costs (the lowest kept)
    readout_fraction: float
    translation_max_m: float
    path_length_m: float


class Summary(TypedDict, total=False):
    frames: int
    duration_s: float
    fps: float
    size: list[int]  # [width, height]
    tracks: int
    visible_last_frame: float
    visible_mean: float
    rotation: dict[str, AxisRange]  # roll, pitch, yaw
    max_rotation_deg: float
    max_rotation_arcmin: float
    rms_rate_deg_s: float
    residual_px: ResidualStats
    depth_m: DepthSummary
    tracks3d_depth_m: Tracks3DSummary
    shake: dict  # per series (dense, per_frame): the spectrum's summary, or {"unavailable": why}
    rolling_shutter: dict  # readout_ms given, or the readout estimated from the shear
    gyro: dict  # how the gyro log was used
    blur_fit: dict  # the blur fit's outcome
    unsolved_frames: list[int]
    depth_frames: DepthFramesSummary
    motion: MotionSummary  # with the bundle adjustment (--motion other than lsq)


@dataclass
class Result:
    """What :func:`run` produced (all of it also on disk in ``out_dir``)."""

    out_dir: Path
    clip: Clip
    intrinsics: Intrinsics
    intrinsics_source: str
    tracks: Tracks
    depth: np.ndarray  # (H, W) metres, first frame
    trajectory: Trajectory  # per frame, with ``dense`` (T, S, 3)
    tracks3d: Tracks3D
    summary: Summary
    warnings: list[str]
    timings_s: dict[str, float]
    files: dict[str, Path]
    cached: list[str]  # steps loaded from an earlier run in out_dir instead of recomputed
    depth_frames: np.ndarray | None = None  # (T, H, W) metres, every frame's depth (depth/NNNNNN.png)
    depth_confidence: np.ndarray | None = None  # (T, H, W) uint8: 255 frame 0's depth moved by the path; 128 a
    # keyframe's parallax; 0 filled from the nearest pixel (workflow.steps.frame_depths)
