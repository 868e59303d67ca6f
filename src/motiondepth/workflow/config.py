"""Settings, containers and thresholds of :func:`motiondepth.workflow.run`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from motiondepth.geometry.camera import Intrinsics
from motiondepth.geometry.pivot import DEFAULT_PIVOT_M
from motiondepth.models.weights import VIDEO_DEPTH_CHECKPOINT
from motiondepth.types import Tracks, Tracks3D, Trajectory

FOCAL_AUTO = "estimated from the shake"  # intrinsics origin of --hfov auto (see estimate_focal_length)
ARCMIN_PER_RAD = 180.0 / np.pi * 60.0

# thresholds of the report's warnings
LOW_SURVIVAL = 0.5  # share of tracks still visible in the last frame
LARGE_RESIDUAL_PX = 1.0  # median per-frame RMS residual of the rotation fit
LARGE_ROTATION_DEG = 5.0  # beyond the small-shake regime the solver's linearisation is built for

# what run() leaves in the output folder (report.html links these, Result.files lists them)
OUTPUT_FILES = (
    "tracks.npz", "trajectory.csv", "trajectory_dense.csv", "depth.npz", "depth.png", "tracks3d.npz", "points.ply",
    "overlay.mp4", "stabilized.mp4", "trajectory.png", "spectrum.png", "report.html", "config.json",
)  # fmt: skip


# ----------------------------------------------------------------------------- options and result


@dataclass
class RunConfig:
    """Every setting of :func:`run` (the command line's flags, one to one)."""

    start: int = 0  # first frame to use (index in the source video)
    end: int | None = None  # one past the last frame to use (None: to the end)
    stride: int = 1  # use every ``stride``-th frame
    resize: int | None = None  # scale frames so the longer side has this many pixels
    fps: float | None = None  # frame rate of an image folder without timestamps (overrides any input's times)
    fx: float | None = None  # intrinsics in pixels of the *source* video (before resize)
    fy: float | None = None
    cx: float | None = None
    cy: float | None = None
    calibration: str | None = None  # JSON with intrinsics (see read_calibration)
    hfov: float | str | None = None  # horizontal field of view, degrees, or "auto": estimated from the shake
    depth: str | None = None  # first-frame depth map file instead of the blur network
    depth_scale: float | None = None  # metres per unit of a 16-bit depth image (default 0.001)
    pivot_m: float = DEFAULT_PIVOT_M
    depth_rescale: str = "local"  # network depth made metric by pivot parallax: local | global | none
    scene_distance_m: float | None = None  # known median distance to the scene in frame 0: sets the map's scale
    rolling_shutter: str = "prior"  # solver's rolling-shutter model: prior | free | off
    readout_ms: float | None = None  # sensor readout time of a frame, when known (centres the rate prior)
    grid_half: int = 12  # query grid of (2·grid_half + 1)² points
    tracker: str = "klt"
    gyro: str | None = None  # gyroscope log of the clip: blur-compensated tracking (tracking.gyro_aided)
    gyro_offset: float | None = None  # gyro time = video time + offset, seconds; None: found by correlation
    gyro_axes: str = "xyz"  # camera axis i = gyro axis gyro_axes[i] (capital = negated), or "auto"
    exposure_ms: float | None = None  # exposure time (needed with gyro unless the clip's camera.json has it)
    blur_fit: bool = False  # video alone: fit the motion inside each exposure to the blur (tracking.blur_fit)
    dense_samples: int = 15  # samples per frame of the dense trajectory (15 or 30)
    stabilize_sigma: float = 0.5  # stabilized.mp4 keeps the camera path smoothed over this many seconds; 0 locks
    depth_checkpoint: str = VIDEO_DEPTH_CHECKPOINT
    depth_model: str | None = None  # local Hugging Face metric depth model folder for frame 0 (depth.hf)
    trajectory_checkpoint: str = "trajectory-small"
    seurat_checkpoint: str = "seurat-small"
    device: str = "cpu"  # where the networks and the blur fit run: cpu | cuda (| cuda:N); results are not cached by it
    overwrite: bool = False
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

    @property
    def size(self) -> tuple[int, int]:
        return self.frames.shape[1], self.frames.shape[2]

    @property
    def interval_s(self) -> float:
        return float(np.median(np.diff(self.times))) if len(self.times) > 1 else 0.0


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
    summary: dict
    warnings: list[str]
    timings_s: dict[str, float]
    files: dict[str, Path]
    cached: list[str]  # steps loaded from an earlier run in out_dir instead of recomputed
