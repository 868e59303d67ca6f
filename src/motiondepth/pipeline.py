"""Pipeline steps as plain functions, shared by the command line, the demo and the benchmark.

Each step works from Python objects; :func:`rgbd_from_files` and :func:`write_simulation`
read and write the documented file formats.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from motiondepth.errors import InputError
from motiondepth.geometry.camera import Intrinsics
from motiondepth.io.atomic import save_npz, staged_output_dir
from motiondepth.io.depth import load_rgbd
from motiondepth.io.gyro_log import write_gyro_log
from motiondepth.io.video import write_video
from motiondepth.scenes.procedural import SceneConfig, render_procedural
from motiondepth.sensor.camera import CameraConfig, camera_preset
from motiondepth.sensor.trace import gyro_from_trace
from motiondepth.simulate.shake import load_shake
from motiondepth.simulate.simulator import ShakyVideo, simulate
from motiondepth.tracking.base import make_tracker
from motiondepth.tracking.grid import grid_queries, query_grid
from motiondepth.trajectory.homography import solve_homography
from motiondepth.trajectory.optics import solve_trajectory
from motiondepth.types import RGBDImage, Tracks, Trajectory


def procedural_rgbd(camera: CameraConfig, seed: int) -> RGBDImage:
    """The built-in input: procedural scene ``seed`` framed and rendered for ``camera``."""
    cfg = SceneConfig(near_m=camera.scene_near_m, far_m=camera.scene_far_m)
    return render_procedural(seed, camera.intrinsics, (camera.height, camera.width), cfg)


def simulate_scene(
    camera: CameraConfig,
    rgbd: RGBDImage | None = None,
    scene_seed: int = 0,
    shake: str = "synthetic",
    shake_seed: int = 0,
    shake_scale: float = 1.0,
    shake_highpass_hz: float | None = None,
    shake_start_s: float | None = 0.0,
    progress: bool = False,
) -> ShakyVideo:
    """RGB-D (or procedural scene ``scene_seed``) + shake source → :class:`ShakyVideo`."""
    if rgbd is None:
        rgbd = procedural_rgbd(camera, scene_seed)
    trace = load_shake(
        shake, camera.duration_s, camera.trace_dt_s, seed=shake_seed, scale=shake_scale,
        highpass_hz=shake_highpass_hz, start_s=shake_start_s,
    )  # fmt: skip
    return simulate(rgbd, camera, trace, seed=shake_seed, progress=progress)


def camera_record(video: ShakyVideo) -> dict:
    """What ``camera.json`` holds: the resolved config plus the intrinsics actually used."""
    rec = video.camera.to_dict()
    rec["intrinsics"] = video.intrinsics.as_array().tolist()
    rec["sources"] = dict(video.meta)
    rec["blur_px"] = {"median": float(np.median(video.blur_px)), "max": float(np.max(video.blur_px))}
    return rec


def write_simulation(video: ShakyVideo, out_dir: str | Path, fps: float | None = None) -> None:
    """Write ``frames.npz``, ``video.mp4``, ``groundtruth.npz``, ``camera.json`` and ``gyro.csv`` (all or nothing).

    ``gyro.csv`` is what an ideal gyroscope on the camera would have logged (``time_s,wx,wy,wz``,
    camera axes, on the video's clock: time 0 is the first frame's exposure start).
    """
    with staged_output_dir(out_dir) as stage:
        write_gyro_log(stage / "gyro.csv", *gyro_from_trace(video.trace))
        save_npz(stage / "frames.npz", frames=video.frames)
        save_npz(stage / "groundtruth.npz", **video.groundtruth_arrays())
        (stage / "camera.json").write_text(json.dumps(camera_record(video), indent=2))
        write_video(stage / "video.mp4", video.frames, fps=fps or 1.0 / video.camera.interval_s)


def rgbd_from_files(
    rgb: str | Path,
    depth: str | Path,
    camera: CameraConfig,
    depth_scale: float | None = None,
    intrinsics: Intrinsics | None = None,
) -> RGBDImage:
    """Load an RGB-D pair; without intrinsics, assume the preset camera's field of view."""
    # without intrinsics: the preset's focal length relative to its short side (same field of view)
    focal_per_side = camera.focal_px / min(camera.height, camera.width)
    return load_rgbd(rgb, depth, depth_scale, intrinsics, default_focal_per_short_side=focal_per_side)


def track_frames(
    frames: np.ndarray,
    grid_half: int = 12,
    intrinsics: Intrinsics | None = None,
    tracker: str = "klt",
    **tracker_options: object,
) -> Tracks:
    """Track the paper's query grid (``(2·grid_half + 1)²`` points, from frame 0) through ``frames``."""
    h, w = frames.shape[1:3]
    grid = query_grid(grid_half, (h, w), intrinsics)
    return make_tracker(tracker, **tracker_options).track(frames, grid_queries(grid))


def solve_all(
    tracks: Tracks, depth: np.ndarray | None, intrinsics: Intrinsics, pivot_m: float, times: np.ndarray | None = None
) -> dict[str, tuple[Trajectory, float]]:
    """Both solver modes and the homography baseline → name → (trajectory, seconds)."""
    out = {}
    for mode in ("paper", "lsq"):
        t0 = time.perf_counter()
        out[mode] = (
            solve_trajectory(
                tracks.tracks,
                tracks.visible,
                depth,
                intrinsics,
                pivot_m,
                times,
                mode,
                image_height=tracks.image_size[0],
            ),
            time.perf_counter() - t0,
        )
    t0 = time.perf_counter()
    out["homography"] = (solve_homography(tracks.tracks, tracks.visible, intrinsics, times), time.perf_counter() - t0)
    return out


def camera_from_record(rec: dict, source: str | Path) -> tuple[Intrinsics, float, int | None]:
    """(intrinsics, pivot_m, image height) from a camera.json dict."""
    try:
        intr = Intrinsics.from_array(rec["intrinsics"] if "intrinsics" in rec else rec["derived"]["intrinsics"])
        pivot = float(rec.get("pivot_m", 0.0))
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(source, f"camera file needs 'intrinsics' [fx, fy, cx, cy] and 'pivot_m' ({exc})") from None
    from motiondepth.geometry.pivot import check_pivot

    check_pivot(pivot, f"{source} pivot_m")
    height = rec.get("height")
    return intr, pivot, None if height is None else int(height)


def preset_camera(name: str, **overrides: object) -> CameraConfig:
    """:func:`camera_preset` with an unknown name reported as bad ``--camera`` input."""
    try:
        return camera_preset(name, **overrides)
    except ValueError as exc:
        raise InputError("--camera", str(exc)) from None
