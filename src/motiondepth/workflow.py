"""``motiondepth run``: a short shaky clip → camera rotation, metric depth and depth over time.

The two methods compose (DESIGN §1): the blur network gives metric depth at the start, the optics
solver gives the camera rotation from tracked points, and Seurat carries depth through time.
Steps, each a plain function usable on its own:

1. :func:`decode_video`        frames from a video file (PyAV) or a ``simulate`` folder; range, stride, resize
2. :func:`resolve_intrinsics`  from ``fx/fy/cx/cy``, a calibration JSON, a field of view, or a default
3. :func:`track_points`        the paper's query grid tracked through the clip (KLT unless told otherwise)
4. :func:`estimate_depth`      metric depth of the first frame: the blur network, or a user depth map
5. :func:`solve_rotation`      optics-based per-frame rotation (``lsq`` mode) using that depth
6. :func:`densify`             dense trajectory, S samples per frame, from the trajectory decoder
7. :func:`lift_tracks`         Seurat depth over time of every track, scaled by the first-frame depth
8. exports                     ``points.ply``, ``overlay.mp4``, ``stabilized.mp4``, ``trajectory.png``,
                               ``spectrum.png``, ``report.html``

:func:`summarize` also measures the shake's spectrum (RMS rotation per frequency band, from the
dense trajectory and from the per-frame solve; :mod:`motiondepth.eval.spectrum`).

:func:`run` chains them with a cache in the output folder. Each step's settings and inputs
(upstream steps included) hash to a key kept in ``config.json``; a step whose files exist under
the same key is loaded instead of recomputed, a changed setting recomputes that step and those
after it, and ``overwrite=True`` recomputes everything. Every file is written to a temporary name
and renamed, and ``config.json`` is updated after each step, so an interrupted or failed run never
leaves a half-written file and the next run resumes after the last finished step.
"""

from __future__ import annotations

import hashlib
import json
import logging
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from motiondepth import __version__
from motiondepth.errors import InputError, OutputError
from motiondepth.geometry.camera import Intrinsics
from motiondepth.geometry.pivot import check_pivot
from motiondepth.io.atomic import save_npz, write_json
from motiondepth.models.weights import VIDEO_DEPTH_CHECKPOINT
from motiondepth.seurat.inference import Tracks3D
from motiondepth.types import Tracks, Trajectory

if TYPE_CHECKING:
    from motiondepth.tracking.gyro_aided import GyroAid

log = logging.getLogger(__name__)

DEFAULT_HFOV_DEG = 60.0  # assumed horizontal field of view without calibration (a phone's main camera in
# 16:9 video is 60–70°; the lower end errs towards the narrower crops of stabilised video modes)
FOCAL_AUTO = "estimated from the shake"  # intrinsics origin of --hfov auto (see estimate_focal_length)
DEFAULT_PIVOT_M = 0.2  # rotation pivot behind the camera (the phone preset: wrist-to-phone distance)
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
    depth_model: str | None = None  # local Hugging Face metric depth model folder for frame 0 (blur.hf_depth)
    trajectory_checkpoint: str = "trajectory-small"
    seurat_checkpoint: str = "seurat-small"
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


# ----------------------------------------------------------------------------- steps


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
    from motiondepth.io.video import load_frames

    path = Path(path)
    if start < 0 or stride < 1 or (end is not None and end <= start):
        raise InputError(
            path, f"bad frame range start={start} end={end} stride={stride} (need start ≥ 0, end > start, stride ≥ 1)"
        )
    if resize is not None and resize < 16:
        raise InputError("--resize", f"{resize} px is too small (the longer side, at least 16)")
    frames, times, camera = load_frames(path, end, fps)
    times_source, origin = camera.pop("times_source"), camera.pop("time_origin_s", 0.0)
    total = len(frames)
    idx = np.arange(start, total if end is None else min(end, total), stride)
    if len(idx) < 2:
        raise InputError(
            path,
            f"{len(idx)} frame(s) selected of {total} (start={start}, end={end}, stride={stride}); need at least 2",
        )
    frames, times, origin = frames[idx], times[idx] - times[idx[0]], origin + times[idx[0]]
    source_size = frames.shape[1:3]
    if resize is not None and max(source_size) != resize:
        s = resize / max(source_size)
        w, h = max(1, round(source_size[1] * s)), max(1, round(source_size[0] * s))
        interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
        frames = np.stack([cv2.resize(f, (w, h), interpolation=interp) for f in frames])
    frames, times = np.ascontiguousarray(frames), times.astype(np.float64)
    return Clip(frames, times, idx, str(path), tuple(source_size), camera, times_source, float(origin))


def read_calibration(path: str | Path) -> tuple[Intrinsics, tuple[int, int] | None]:
    """Intrinsics (and the (H, W) they were calibrated at, if stated) from a JSON file.

    Accepted layouts: ``{"fx", "fy", "cx", "cy"}``; ``{"intrinsics": [fx, fy, cx, cy]}`` (the
    ``camera.json`` of ``motiondepth simulate``); a 3 × 3 ``"K"`` or ``"camera_matrix"`` (row-major,
    OpenCV); Open3D's ``{"intrinsic_matrix": [9 numbers, column-major]}``. Optional ``width`` and
    ``height`` say the resolution of the calibration, so it can be rescaled to the video.
    """
    from motiondepth.io.video import read_camera_json

    rec = read_camera_json(path)
    try:
        if "intrinsics" in rec:
            intr = Intrinsics.from_array(rec["intrinsics"])
        elif "fx" in rec:
            intr = Intrinsics.from_array([rec["fx"], rec.get("fy", rec["fx"]), rec["cx"], rec["cy"]])
        elif "K" in rec or "camera_matrix" in rec:
            k = np.asarray(rec.get("K", rec.get("camera_matrix")), dtype=np.float64).reshape(3, 3)
            intr = Intrinsics.from_array([k[0, 0], k[1, 1], k[0, 2], k[1, 2]])
        elif "intrinsic_matrix" in rec:
            k = np.asarray(rec["intrinsic_matrix"], dtype=np.float64).reshape(3, 3).T
            intr = Intrinsics.from_array([k[0, 0], k[1, 1], k[0, 2], k[1, 2]])
        else:
            raise KeyError("none of fx/fy/cx/cy, intrinsics, K, camera_matrix, intrinsic_matrix")
        size = (int(rec["height"]), int(rec["width"])) if "width" in rec and "height" in rec else None
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(path, f"cannot read intrinsics ({exc})") from None
    return intr, size


def resolve_intrinsics(
    image_size: tuple[int, int],
    source_size: tuple[int, int] | None = None,
    fx: float | None = None,
    fy: float | None = None,
    cx: float | None = None,
    cy: float | None = None,
    calibration: str | Path | None = None,
    hfov: float | str | None = None,
) -> tuple[Intrinsics, str, str | None]:
    """Intrinsics of the decoded frames → (intrinsics, where they came from, warning or None).

    Values are given for the *source* video (``source_size``, before any resize) and rescaled
    to ``image_size``. Precedence: calibration file, then ``hfov``, then ``fx``; the individual
    ``fx/fy/cx/cy`` flags override what the file or field of view gave. With nothing at all, a
    :data:`DEFAULT_HFOV_DEG` horizontal field of view is assumed and a warning returned.
    ``hfov="auto"`` returns that default as the start of :func:`estimate_focal_length`, which
    :func:`run` calls once the tracks are there.
    """
    h, w = image_size
    sh, sw = source_size or image_size
    warning = None
    if hfov == "auto":
        clash = [k for k, v in (("--fx", fx), ("--fy", fy), ("--calibration", calibration)) if v is not None]
        if clash:
            raise InputError("--hfov", f"auto estimates the focal length, so it cannot be combined with {clash[0]}")
        base, origin = Intrinsics.from_hfov(DEFAULT_HFOV_DEG, sw, sh), FOCAL_AUTO
        hfov = None  # --cx/--cy still apply
    elif calibration is not None:
        base, calib_size = read_calibration(calibration)
        origin = f"calibration {calibration}"
        if calib_size is not None and calib_size != (sh, sw):
            ch, cw = calib_size
            if abs(cw / ch - sw / sh) > 0.01 * sw / sh:
                raise InputError(
                    calibration, f"calibrated at {cw}x{ch}, a different aspect ratio from the video's {sw}x{sh}"
                )
            base = base.scaled(sw / cw, sh / ch)
            origin += f" (rescaled from {cw}x{ch})"
    elif hfov is not None:
        if isinstance(hfov, str) or not 1.0 <= hfov < 179.0:
            raise InputError("--hfov", f"{hfov}° is not a field of view (1–179°)")
        base, origin = Intrinsics.from_hfov(hfov, sw, sh), f"{hfov:g}° horizontal field of view"
    elif fx is not None or fy is not None:
        f = float(fx if fx is not None else fy)
        base, origin = Intrinsics.centred(f, sw, sh), "flags"
    else:
        base = Intrinsics.from_hfov(DEFAULT_HFOV_DEG, sw, sh)
        origin = f"default ({DEFAULT_HFOV_DEG:g}° horizontal field of view)"
        warning = (
            f"no intrinsics given: assumed a {DEFAULT_HFOV_DEG:g}° horizontal field of view; rotation "
            "angles scale with the focal length, so give --fx/--fy/--cx/--cy, --calibration or --hfov "
            "(--hfov auto estimates it from the shake)"
        )
    given = {k: v for k, v in (("fx", fx), ("fy", fy), ("cx", cx), ("cy", cy)) if v is not None}
    if given:
        vals = asdict(base) | given
        if "fx" in given and "fy" not in given and calibration is None and hfov is None:
            vals["fy"] = given["fx"]
        if "fy" in given and "fx" not in given and calibration is None and hfov is None:
            vals["fx"] = given["fy"]
        try:
            base = Intrinsics.from_array([vals["fx"], vals["fy"], vals["cx"], vals["cy"]])
        except ValueError as exc:
            raise InputError("--fx/--fy/--cx/--cy", str(exc)) from None
        if origin not in ("flags", FOCAL_AUTO):
            origin += " with " + ", ".join(given) + " from flags"
    if (h, w) != (sh, sw):
        base = base.scaled(w / sw, h / sh)
    return base, origin, warning


def track_points(
    frames: np.ndarray,
    intrinsics: Intrinsics | None,
    grid_half: int = 12,
    tracker: str = "klt",
    progress: bool = False,
) -> Tracks:
    """Track the paper's query grid ((2·grid_half + 1)² points placed in frame 0) through ``frames``."""
    from motiondepth.pipeline import track_frames

    opts = {"progress": progress} if tracker == "klt" else {}
    try:
        return track_frames(frames, grid_half, intrinsics, tracker, **opts)
    except ValueError as exc:
        raise InputError("tracking", str(exc)) from None


def estimate_focal_length(tracks: Tracks, intrinsics: Intrinsics, pivot_m: float = DEFAULT_PIVOT_M, solver=None):
    """The focal length that best explains the tracks' motion (:func:`~motiondepth.trajectory.focal.estimate_focal`):
    a :class:`~motiondepth.trajectory.focal.FocalEstimate`, whose ``intrinsics`` keep the aspect ratio and
    principal point of ``intrinsics`` and whose ``problem`` says when the shake cannot tell."""
    from motiondepth.trajectory.focal import estimate_focal

    try:
        return estimate_focal(tracks.tracks, tracks.visible, intrinsics, pivot_m, tracks.image_size, config=solver)
    except ValueError as exc:
        raise InputError("--hfov auto", str(exc)) from None


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


def gyro_aid(cfg: RunConfig, clip: Clip) -> GyroAid | None:
    """The gyro log of ``cfg.gyro`` with the camera timing it needs (flags first, then camera.json)."""
    from motiondepth.tracking.gyro_aided import GyroAid

    if cfg.gyro is None:
        return None
    if not Path(cfg.gyro).is_file():
        raise InputError(cfg.gyro, "gyro log not found")
    if cfg.blur_fit:
        raise InputError("--blur-fit", "give either a gyro log or --blur-fit, not both (the gyro is the better source)")
    exposure, readout = exposure_timing(cfg, clip, "gyro-aided tracking")
    return GyroAid(cfg.gyro, exposure, readout, cfg.gyro_offset, cfg.gyro_axes)


def estimate_depth(
    frames: np.ndarray,
    predictor=None,
    depth_file: str | Path | None = None,
    depth_scale: float | None = None,
    source: str = "frames",
) -> np.ndarray:
    """Metric depth (H, W) metres of frame 0: from ``depth_file`` if given, else the blur network.

    A depth file of another resolution with the same aspect ratio is resized (nearest neighbour,
    so holes stay holes).
    """
    h, w = frames.shape[1:3]
    if depth_file is not None:
        from motiondepth.io.depth import load_depth

        d = load_depth(depth_file, depth_scale)
        if d.shape != (h, w):
            dh, dw = d.shape
            if abs(dw / dh - w / h) > 0.01 * w / h:
                raise InputError(
                    depth_file, f"depth map is {dw}x{dh}, a different aspect ratio from the {w}x{h} frames"
                )
            d = cv2.resize(d, (w, h), interpolation=cv2.INTER_NEAREST)
        return d.astype(np.float32)
    if predictor is None:
        from motiondepth.blur.inference import BlurPredictor

        predictor = BlurPredictor(trajectory_checkpoint=None)
    return predictor.depth(frames, source=source)


def rescale_by_parallax(
    depth: np.ndarray,
    tracks: Tracks,
    intrinsics: Intrinsics,
    pivot_m: float = DEFAULT_PIVOT_M,
    mode: str = "local",
    solver=None,
) -> tuple[np.ndarray, dict]:
    """Check and correct a depth map's metric scale with the pivot parallax of the tracks.

    The tracked points' own depths follow from how the rotation about the pivot moves them
    (:mod:`motiondepth.trajectory.parallax`); the map is multiplied by their robust ratio to it,
    as one factor (``global``) or a smooth field (``local``). ``none`` returns the map unchanged.

    Returns:
        (depth map, info with ``mode`` used, ``scale``, reliable ``points``, per-point ``depth_m``/``sigma_m``).
    """
    from motiondepth.trajectory.optics import sample_depth
    from motiondepth.trajectory.parallax import pivot_parallax_depths, rescale_depth_map, scale_check

    if mode not in ("local", "global", "none"):
        raise InputError("--depth-rescale", f"unknown mode {mode!r}; use local, global or none")
    if mode == "none" or pivot_m <= 0:
        return depth, {"mode": "none", "scale": 1.0, "points": 0}
    xy = tracks.tracks[0].astype(np.float64)
    pts = pivot_parallax_depths(tracks.tracks, tracks.visible, intrinsics, pivot_m, sample_depth(depth, xy),
                                image_height=tracks.image_size[0], config=solver)  # fmt: skip
    out, info = rescale_depth_map(depth, xy, pts, mode)
    if info["mode"] != "none":  # can the tracks tell this scale from half or twice it?
        info["scale_cost_ratio"] = scale_check(tracks.tracks, tracks.visible, sample_depth(out, xy),
                                               intrinsics, pivot_m, tracks.image_size[0], config=solver)  # fmt: skip
    return out, {**info, "depth_m": pts.depth.astype(np.float32), "sigma_m": pts.sigma.astype(np.float32)}


SCALE_CHECK_MIN = 1.05  # below this cost ratio at ½× or 2× the depth, the report warns that the scale is loose


def scale_warning(ratios) -> str | None:
    """Report warning when the parallax barely fixes the depth scale (see :func:`parallax.scale_check`)."""
    r = np.asarray(ratios, dtype=float)
    if r.shape != (2,) or not np.all(np.isfinite(r)) or r.min() >= SCALE_CHECK_MIN:
        return None
    loose = r < SCALE_CHECK_MIN
    what = (
        "barely fix the depth's scale" if loose.all()
        else "do not rule out a scene twice as far" if loose[1]
        else "do not rule out a scene half as far"
    )  # fmt: skip
    return (
        f"the tracks {what}: the motion fit's cost changes by {100 * (r[0] - 1):+.1f} % at half and "
        f"{100 * (r[1] - 1):+.1f} % at twice every depth (the pivot parallax is near the tracking noise), so the "
        "metric scale is approximate"
    )


def _solver_config(cfg: RunConfig, clip: Clip):
    from motiondepth.trajectory.optics import ROLLING_SHUTTER_MODES, rolling_shutter_config

    if cfg.rolling_shutter not in ROLLING_SHUTTER_MODES:
        raise InputError("--rolling-shutter", f"unknown model {cfg.rolling_shutter!r}; use prior, free or off")
    try:
        readout = None if cfg.readout_ms is None else cfg.readout_ms / 1000.0
        return rolling_shutter_config(cfg.rolling_shutter, readout, clip.interval_s)
    except ValueError as exc:
        raise InputError("--readout-ms", str(exc)) from None


def solve_rotation(
    tracks: Tracks,
    depth: np.ndarray,
    intrinsics: Intrinsics,
    pivot_m: float = DEFAULT_PIVOT_M,
    times: np.ndarray | None = None,
    solver=None,
) -> Trajectory:
    """Per-frame rotation relative to frame 0 by the optics solver's robust least squares (lsq).

    ``solver`` is a :class:`~motiondepth.trajectory.SolverConfig` (e.g. from
    :func:`~motiondepth.trajectory.optics.rolling_shutter_config`); default settings if None.
    """
    from motiondepth.trajectory.optics import solve_trajectory

    try:
        return solve_trajectory(
            tracks.tracks.astype(np.float64),
            tracks.visible,
            depth,
            intrinsics,
            pivot_m,
            times,
            "lsq",
            config=solver,
            image_height=tracks.image_size[0],
        )
    except ValueError as exc:
        raise InputError("trajectory", str(exc)) from None


def densify(frames: np.ndarray, trajectory: Trajectory, predictor, fx_px: float, samples: int = 15,
            source: str = "frames"):  # fmt: skip
    """Dense trajectory (T, S, 3) rad from the frames, the per-frame trajectory and the focal length (px)."""
    if samples not in predictor.samples:
        raise InputError(
            "--dense", f"the trajectory checkpoint was trained for {predictor.samples} samples per frame, not {samples}"
        )
    return predictor.dense_trajectory(frames, np.nan_to_num(trajectory.angles), fx_px, samples, source=source)


def lift_tracks(
    tracks: Tracks, depth: np.ndarray, intrinsics: Intrinsics, frames: np.ndarray | None = None, predictor=None
) -> Tracks3D:
    """Seurat depth over time of every track, made metric by median matching to ``depth`` (frame 0)."""
    from motiondepth.seurat.depth_source import DepthMaps
    from motiondepth.seurat.inference import SeuratPredictor

    predictor = predictor or SeuratPredictor.from_pretrained()
    return predictor.lift(
        tracks.tracks.astype(np.float64),
        tracks.visible,
        tracks.image_size,
        intrinsics,
        DepthMaps.first_frame(depth),
        tracks.queries,
        frames=frames,
    )


# ----------------------------------------------------------------------------- summary


def shake_spectra(clip: Clip, trajectory: Trajectory) -> dict:
    """The camera shake's spectra (:mod:`motiondepth.eval.spectrum`): ``dense`` (when the trajectory has
    one) and ``per_frame``. A series too short for a spectrum maps to the reason instead."""
    from motiondepth.eval.spectrum import angle_spectrum, dense_spectrum
    from motiondepth.simulate.simulator import span_times

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


def summarize(
    clip: Clip, tracks: Tracks, depth: np.ndarray, trajectory: Trajectory, tracks3d: Tracks3D, depth_source: str,
    readout_ms: float | None = None,
) -> tuple[dict, list[str]]:  # fmt: skip
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
    summary = {
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
            "p5": float(np.percentile(z, 5)) if z.size else float("nan"),
            "p95": float(np.percentile(z, 95)) if z.size else float("nan"),
        },
    }
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
    warnings = []
    if clip.times_source.startswith("assumed"):
        warnings.append(f"frame times {clip.times_source}: rates, spectra and the readout estimate use them")
    if gyro and not gyro.get("used"):
        warnings.append(f"gyro log {gyro.get('file')} not used: {gyro.get('reason')}")
    if summary["visible_last_frame"] < LOW_SURVIVAL:
        warnings.append(
            f"low track survival: {100 * summary['visible_last_frame']:.0f}% of the tracks are still "
            "visible in the last frame (large motion, occlusion or a changing scene); results for later "
            "frames rest on few points"
        )
    if summary["residual_px"]["median"] > LARGE_RESIDUAL_PX:
        warnings.append(
            f"large residuals: the rotation model fits the tracks to {summary['residual_px']['median']:.2f}"
            " px (median); the camera probably translates or objects move, and the rotation is "
            "then only approximate"
        )
    if summary["max_rotation_deg"] > LARGE_ROTATION_DEG:
        warnings.append(
            f"large rotation: up to {summary['max_rotation_deg']:.1f}° from the first frame, beyond the "
            f"small handheld shake (< {LARGE_ROTATION_DEG:g}°) the optics-based solver is built for"
        )
    return summary, warnings


# ----------------------------------------------------------------------------- cache


def _fingerprint(path: str | Path | None) -> dict | None:
    """Identity of an input file (path, size, modification time), for cache keys."""
    if path is None:
        return None
    p = Path(path)
    if p.is_dir():
        if not (p / "frames.npz").is_file():  # a folder of images
            return {"path": str(p.resolve()), "files": _folder_fingerprint(p)}
        p = p / "frames.npz"
    try:
        st = p.stat()
    except OSError:
        return {"path": str(path)}
    return {"path": str(p.resolve()), "bytes": st.st_size, "mtime_ns": st.st_mtime_ns}


def _folder_fingerprint(path: str | Path) -> list:
    """:func:`_fingerprint` of every file in a folder (a model's config and weights), for cache keys."""
    return [_fingerprint(p) for p in sorted(Path(path).iterdir()) if p.is_file()]


def _checkpoint_info(name: str) -> dict:
    from motiondepth.models.weights import resolve

    p = resolve(name)
    card = {}
    try:
        card = json.loads(p.with_suffix(".json").read_text())
    except (OSError, json.JSONDecodeError):
        pass
    return {
        "name": name,
        "path": str(p),
        "bytes": p.stat().st_size,
        "mtime_ns": p.stat().st_mtime_ns,
        "git_commit": card.get("git_commit"),
        "model_config": card.get("model_config", {}),
    }


def _key(parts: dict) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def check_output_dir(out_dir: str | Path) -> Path:
    """Create ``out_dir`` if needed and check that files can be written there."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".write-test."):
            pass
    except FileExistsError:
        raise OutputError(out, "exists and is not a folder") from None
    except OSError as exc:
        raise OutputError(out, f"cannot write to the output folder ({exc.strerror or exc})") from None
    return out


class StepCache:
    """Runs pipeline steps, skipping those whose outputs in ``out_dir`` were made with the same key."""

    def __init__(self, out_dir: Path, record: dict, overwrite: bool = False) -> None:
        self.out = out_dir
        self.record = record
        self.overwrite = overwrite
        self.previous: dict = {}
        cfg = out_dir / "config.json"
        if cfg.is_file() and not overwrite:
            try:
                self.previous = json.loads(cfg.read_text()).get("steps", {})
            except (OSError, json.JSONDecodeError, AttributeError):
                log.warning("%s is unreadable; recomputing every step", cfg)
        self.record.setdefault("steps", {})

    def run(
        self,
        name: str,
        parts: dict,
        files: list[str],
        compute: Callable[[], Any],
        write: Callable[[Any, Path], None],
        load: Callable[[Path], Any],
    ) -> tuple[Any, str]:
        """Load step ``name`` from ``files`` if cached under the same key, else compute and write it."""
        key = _key({"step": name, **parts})
        prev = self.previous.get(name, {})
        if not self.overwrite and prev.get("key") == key and all((self.out / f).is_file() for f in files):
            try:
                value = load(self.out)
            except InputError as exc:
                log.warning("cached %s is unreadable (%s); recomputing", name, exc)
            else:
                self.record["steps"][name] = {**prev, "cached": True}
                return value, key
        t0 = time.perf_counter()
        value = compute()
        seconds = time.perf_counter() - t0
        try:
            write(value, self.out)
        except OSError as exc:
            for f in files:  # a step's files are all or nothing
                (self.out / f).unlink(missing_ok=True)
            target = exc.filename or (self.out / files[0])
            raise OutputError(target, f"cannot write {name} output ({exc.strerror or exc})") from None
        self.record["steps"][name] = {"key": key, "files": files, "seconds": round(seconds, 4), "cached": False}
        self.save()
        return value, key

    def save(self) -> None:
        """Write ``config.json`` (atomically)."""
        path = self.out / "config.json"
        try:
            write_json(path, self.record)
        except OSError as exc:
            raise OutputError(path, f"cannot write ({exc.strerror or exc})") from None


def environment() -> dict:
    """Versions of what the results depend on."""
    import av
    import torch

    return {
        "motiondepth": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "opencv": cv2.__version__,
        "av": av.__version__,
        "threads": torch.get_num_threads(),
    }


# ----------------------------------------------------------------------------- run


def _load_depth_npz(path: Path) -> tuple[np.ndarray, np.ndarray, dict]:
    """(final depth, depth before rescaling, rescale info) from a cached ``depth.npz``."""
    try:
        with np.load(path) as d:
            info = {k[len("rescale_") :]: d[k] for k in d.files if k.startswith("rescale_")}
            info = {k: (v.item() if v.ndim == 0 else v) for k, v in info.items()}
            return d["depth"].astype(np.float32), d["unscaled_depth"].astype(np.float32), info
    except (OSError, KeyError, ValueError) as exc:
        raise InputError(path, f"unreadable cached depth ({exc})") from None


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

    from motiondepth.io.trajectory import (
        read_dense_csv,
        save_tracks,
        write_dense_csv,
        write_trajectory_csv,
    )

    cfg = RunConfig(**options)
    if cfg.dense_samples < 2:
        raise InputError("--dense", f"need at least 2 samples per frame, got {cfg.dense_samples}")
    check_pivot(cfg.pivot_m)
    if not 1 <= cfg.grid_half <= 64:
        raise InputError("--grid-half", f"must be 1–64, got {cfg.grid_half}")
    from motiondepth.trajectory.stabilize import check_sigma

    check_sigma(cfg.stabilize_sigma)
    t_start = time.perf_counter()
    # bad input fails before DIR is touched
    clip = decode_video(video, cfg.start, cfg.end, cfg.stride, cfg.resize, cfg.fps)
    decode_s = time.perf_counter() - t_start
    intr, intr_origin, intr_warning = resolve_intrinsics(
        clip.size, clip.source_size, cfg.fx, cfg.fy, cfg.cx, cfg.cy, cfg.calibration, cfg.hfov
    )
    ckpt = {
        "seurat": _checkpoint_info(cfg.seurat_checkpoint),
        "trajectory": _checkpoint_info(cfg.trajectory_checkpoint),
    }
    if cfg.depth is None:
        ckpt["depth"] = _checkpoint_info(cfg.depth_checkpoint)  # the dense decoder reads its features
        if cfg.depth_model:
            from motiondepth.blur.hf_depth import check_depth_model

            check_depth_model(cfg.depth_model)  # before DIR is touched
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

    out = check_output_dir(out_dir)
    record: dict = {
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
        },
        "options": asdict(cfg),
        "intrinsics": {"fx_fy_cx_cy": intr.as_array().tolist(), "source": intr_origin},
        "pivot_m": cfg.pivot_m,
        "checkpoints": ckpt,
        "environment": environment(),
    }
    cache = StepCache(out, record, cfg.overwrite)
    video_id = {
        "video": _fingerprint(video),
        "start": cfg.start,
        "end": cfg.end,
        "stride": cfg.stride,
        "resize": cfg.resize,
        "fps": cfg.fps,
    }
    timings = {"decode": decode_s}
    src = str(video)
    predictors: dict[str, Any] = {}

    def blur_predictor():
        if "blur" not in predictors:
            from motiondepth.blur.inference import BlurPredictor

            predictors["blur"] = BlurPredictor(cfg.depth_checkpoint, cfg.trajectory_checkpoint)
        return predictors["blur"]

    steps = ["tracks", "depth", "trajectory", "dense", "tracks3d", "points", "overlay", "stabilized", "plot", "report"]
    bar = tqdm(steps, desc="run", disable=not cfg.progress, leave=False)

    def step(name, parts, files, compute, write, load):
        bar.set_description(f"run: {name}")
        t0 = time.perf_counter()
        value, key = cache.run(name, parts, files, compute, write, load)
        timings[name] = time.perf_counter() - t0
        bar.update(1)
        return value, key

    solver = _solver_config(cfg, clip)
    rs_key = {"rolling_shutter": cfg.rolling_shutter, "readout_fraction": solver.readout_fraction}
    gyro = gyro_aid(cfg, clip)
    try:
        gyro_key = None
        if gyro is not None:
            gyro_key = {"log": _fingerprint(gyro.path), "pivot": cfg.pivot_m, "times": clip.times, **rs_key}
            gyro_key |= {k: getattr(gyro, k) for k in ("exposure_s", "readout_s", "offset_s", "axes")}

        fit_key = None
        if cfg.blur_fit:
            from motiondepth.tracking.blur_fit import BlurFitConfig, exposure_problem

            exposure, readout = exposure_timing(cfg, clip, "--blur-fit")
            problem = exposure_problem(exposure, clip.interval_s)
            if problem:
                raise InputError("--exposure-ms", problem)
            fit_key = {
                "exposure_s": exposure,
                "readout_s": readout,
                "pivot": cfg.pivot_m,
                "times": clip.times,
                "config": asdict(BlurFitConfig()),  # a cached fit made with other settings is redone
                **rs_key,
            }

        auto_focal = intr_origin == FOCAL_AUTO

        def compute_tracks():
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
                    init=tr, progress=cfg.progress,
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

        (tracks, found_intr), k_tracks = step(
            "tracks",
            video_id
            | {"intrinsics": intr.as_array(), "grid_half": cfg.grid_half, "tracker": cfg.tracker, "gyro": gyro_key}
            | ({"blur_fit": fit_key} if fit_key else {})
            | ({"focal": "auto", "pivot": cfg.pivot_m, **rs_key} if auto_focal else {}),
            ["tracks.npz"],
            compute_tracks,
            lambda v, o: save_tracks(o / "tracks.npz", v[0], v[1].as_array()),
            lambda o: _load_tracks_intrinsics(o / "tracks.npz", intr),
        )
        if auto_focal:
            intr, intr_origin, intr_warning = _focal_outcome(tracks.meta.get("focal") or {}, found_intr, intr)
            record["intrinsics"] = {"fx_fy_cx_cy": intr.as_array().tolist(), "source": intr_origin,
                                    "focal_estimate": tracks.meta.get("focal")}  # fmt: skip
        depth_src = (
            f"file {cfg.depth}" if cfg.depth
            else f"depth model {cfg.depth_model}" if cfg.depth_model
            else f"blur network {cfg.depth_checkpoint}"
        )  # fmt: skip

        rescale = "none" if cfg.depth else cfg.depth_rescale

        def depth_predictor():
            if cfg.depth:
                return None
            if cfg.depth_model:
                from motiondepth.blur.hf_depth import HFDepthPredictor

                return HFDepthPredictor(cfg.depth_model)
            return blur_predictor()

        def compute_depth():
            d = estimate_depth(clip.frames, depth_predictor(), cfg.depth, cfg.depth_scale, src)
            final, info = rescale_by_parallax(d, tracks, intr, cfg.pivot_m, rescale, solver)
            return final, d, info

        def write_depth(value, o):
            from motiondepth.viz.plots import save_depth_png

            final, raw, info = value
            extra = {k: np.asarray(v) for k, v in info.items()}
            save_npz(o / "depth.npz", depth=final, unscaled_depth=raw, intrinsics=intr.as_array(),
                     source=np.array(depth_src), **{f"rescale_{k}": v for k, v in extra.items()})  # fmt: skip
            save_depth_png(o / "depth.png", final)

        (depth, _, rescale_info), k_depth = step(
            "depth",
            video_id
            | {
                "depth_file": _fingerprint(cfg.depth),
                "depth_scale": cfg.depth_scale,
                "checkpoint": None if cfg.depth else ckpt["depth"],
                "depth_model": _folder_fingerprint(cfg.depth_model) if cfg.depth_model else None,
                "rescale": rescale,
                "tracks": k_tracks if rescale != "none" else None,
                "pivot": cfg.pivot_m,
            }
            | (rs_key if rescale != "none" else {}),
            ["depth.npz", "depth.png"],
            compute_depth,
            write_depth,
            lambda o: _load_depth_npz(o / "depth.npz"),
        )
        traj, k_traj = step(
            "trajectory",
            {
                "tracks": k_tracks,
                "depth": k_depth,
                "intrinsics": intr.as_array(),
                "pivot": cfg.pivot_m,
                "times": clip.times,
            }
            | rs_key,
            ["trajectory.csv"],
            lambda: solve_rotation(tracks, depth, intr, cfg.pivot_m, clip.times, solver),
            lambda t, o: write_trajectory_csv(o / "trajectory.csv", t),
            _load_trajectory,
        )
        span = clip.interval_s
        dense, k_dense = step(
            "dense",
            {
                "trajectory": k_traj,
                "video": video_id,
                "samples": cfg.dense_samples,
                "checkpoints": [ckpt["trajectory"], ckpt.get("depth", cfg.depth_checkpoint)],
            },
            ["trajectory_dense.csv"],
            lambda: densify(clip.frames, traj, blur_predictor(), intr.fx, cfg.dense_samples, src),
            lambda d, o: write_dense_csv(o / "trajectory_dense.csv", d, clip.times, span),
            lambda o: read_dense_csv(o / "trajectory_dense.csv")[0],
        )
        traj.dense = dense
        tracks3d, k_3d = step(
            "tracks3d",
            {
                "tracks": k_tracks,
                "depth": k_depth,
                "intrinsics": intr.as_array(),
                "checkpoint": ckpt["seurat"],
                "video": video_id,
            },
            ["tracks3d.npz"],
            lambda: lift_tracks(tracks, depth, intr, clip.frames),
            lambda t, o: t.save(o / "tracks3d.npz"),
            lambda o: Tracks3D.load(o / "tracks3d.npz"),
        )
        if rescale_info.get("mode", "none") != "none":
            depth_src += f" × pivot-parallax scale ({rescale_info['mode']}, {rescale_info['points']} points)"
        summary, warnings = summarize(clip, tracks, depth, traj, tracks3d, depth_src, cfg.readout_ms)
        if intr_warning:
            warnings.insert(0, intr_warning)
        summary["depth_m"]["rescale"] = {k: rescale_info.get(k) for k in ("mode", "scale", "points")}
        if "scale_cost_ratio" in rescale_info:
            summary["depth_m"]["rescale"]["scale_cost_ratio"] = [float(x) for x in rescale_info["scale_cost_ratio"]]
            if (w := scale_warning(rescale_info["scale_cost_ratio"])) is not None:
                warnings.append(w)
        if cfg.depth is None and rescale != "none" and rescale_info.get("mode") == "none":
            warnings.append(
                f"the pivot parallax was too weak to check the depth network's scale ({rescale_info.get('points')} "
                "reliable points): the depth keeps the network's own scale"
            )
        if cfg.depth is None:
            origin = (
                f"the depth model in {cfg.depth_model}"
                if cfg.depth_model
                else f"{cfg.depth_checkpoint} (trained on procedural scenes only, see its card)"
            )
            warnings.append(
                f"metric depth comes from {origin}"
                + (
                    f", rescaled by pivot parallax, which assumes rotation about a pivot {cfg.pivot_m:g} m behind the "
                    "camera (--pivot; depth scales with it)"
                    if rescale_info.get("mode") != "none"
                    else ""
                )
                + "; on real footage expect errors of tens of percent, or give --depth"
            )
        record["summary"], record["warnings"] = summary, warnings
        _exports(
            step,
            out,
            clip,
            intr,
            tracks,
            depth,
            traj,
            tracks3d,
            summary,
            warnings,
            record,
            {"tracks": k_tracks, "depth": k_depth, "trajectory": k_traj, "dense": k_dense, "tracks3d": k_3d},
        )
    finally:
        bar.close()
    timings["total"] = time.perf_counter() - t_start
    record["timings_s"] = {k: round(v, 4) for k, v in timings.items()}
    cache.save()
    files = {f: out / f for f in OUTPUT_FILES}
    cached = [name for name, st in record["steps"].items() if st.get("cached")]
    return Result(
        out, clip, intr, intr_origin, tracks, depth, traj, tracks3d, summary, warnings, timings, files, cached
    )


def _load_tracks_intrinsics(path: Path, default: Intrinsics) -> tuple[Tracks, Intrinsics]:
    from motiondepth.io.trajectory import load_tracks

    tracks, arr = load_tracks(path)
    return tracks, default if arr is None else Intrinsics.from_array(arr)


def _focal_outcome(estimate: dict, found: Intrinsics, start: Intrinsics) -> tuple[Intrinsics, str, str | None]:
    """(intrinsics, origin, warning) after ``--hfov auto``: the estimate, or the default when it is not trusted."""
    if estimate.get("trusted"):
        hfov = float(estimate["hfov_deg"])
        return (
            found,
            f"{FOCAL_AUTO} ({hfov:.1f}° horizontal field of view)",
            (
                f"focal length {FOCAL_AUTO}: {found.fx:.0f} px, a {hfov:.1f}° horizontal field of view "
                "(median error 4 %, worst 8 % on the README's benchmark); rotation angles scale with it, so give "
                "--calibration for exact ones"
            ),
        )
    origin = f"default ({DEFAULT_HFOV_DEG:g}° horizontal field of view)"
    return (
        start,
        origin,
        (
            f"--hfov auto: {estimate.get('problem', 'no estimate')}; assumed a {DEFAULT_HFOV_DEG:g}° horizontal "
            "field of view instead, so give --fx/--fy/--cx/--cy, --calibration or --hfov"
        ),
    )


def _exports(step, out, clip, intr, tracks, depth, traj, tracks3d, summary, warnings, record, keys) -> None:
    """points.ply, overlay.mp4, stabilized.mp4, trajectory.png + spectrum.png and report.html (each a cached step)."""
    from motiondepth.io.pointcloud import depth_to_points, write_ply
    from motiondepth.io.video import write_video
    from motiondepth.report import write_report
    from motiondepth.trajectory.stabilize import readout_row_angles, stabilize_frames
    from motiondepth.viz.plots import draw_tracks, plot_run_trajectory, plot_shake_spectrum

    def exists(name):
        def load(o):
            if not (o / name).is_file():
                raise InputError(o / name, "missing")
            return name

        return load

    step(
        "points",
        {"depth": keys["depth"], "intrinsics": intr.as_array()},
        ["points.ply"],
        lambda: depth_to_points(depth, clip.frames[0], intr),
        lambda pc, o: write_ply(o / "points.ply", *pc),
        exists("points.ply"),
    )
    fps = 1.0 / clip.interval_s if clip.interval_s > 0 else 30.0
    step(
        "overlay",
        {"tracks": keys["tracks"], "fps": fps},
        ["overlay.mp4"],
        lambda: draw_tracks(clip.frames, tracks.tracks, tracks.visible),
        lambda fr, o: write_video(o / "overlay.mp4", fr, fps=fps),
        exists("overlay.mp4"),
    )
    sigma = record["options"]["stabilize_sigma"]
    per_row = traj.readout_rotation is not None  # rolling shutter: each row warped with its own rotation

    def stabilize():
        rows = readout_row_angles(traj.angles, traj.readout_rotation, clip.frames.shape[1]) if per_row else None
        return stabilize_frames(clip.frames, traj.angles, intr, clip.times, sigma, rows)

    step(
        "stabilized",
        {"trajectory": keys["trajectory"], "fps": fps, "sigma": sigma, "rows": per_row},
        ["stabilized.mp4"],
        stabilize,
        lambda fr, o: write_video(o / "stabilized.mp4", fr, fps=fps),
        exists("stabilized.mp4"),
    )
    from motiondepth.simulate.simulator import span_times

    dense_times = span_times(clip.times, clip.interval_s, traj.dense.shape[1])

    def write_plots(_, o):
        plot_run_trajectory(o / "trajectory.png", clip.times, traj.angles, traj.dense, dense_times)
        spectra = {k: v for k, v in shake_spectra(clip, traj).items() if not isinstance(v, str)}
        labels = {"dense": f"dense trajectory ({traj.dense.shape[1]} samples per frame)", "per_frame": "per frame"}
        plot_shake_spectrum(o / "spectrum.png", {labels[k]: v for k, v in spectra.items()},
                            title="Camera shake: angular-rate spectrum and RMS rotation per band")  # fmt: skip

    step(
        "plot",
        {"trajectory": keys["trajectory"], "dense": keys["dense"]},
        ["trajectory.png", "spectrum.png"],
        lambda: None,
        write_plots,
        exists("trajectory.png"),
    )
    # the summary follows from the upstream steps (keyed) and is not itself a key: values reloaded from
    # files differ in the last digits from freshly computed ones
    step(
        "report",
        {**keys, "intrinsics": record["intrinsics"], "version": __version__, "stabilize_sigma": sigma},
        ["report.html"],
        lambda: None,
        lambda _, o: write_report(o / "report.html", o, clip, tracks, depth, summary, warnings, record),
        exists("report.html"),
    )
