"""A simulated clip from files or a procedural scene, and a simulation written as a folder (``motiondepth
simulate``): the forward model's entry points for the command line, the demo and the benchmarks."""

from __future__ import annotations

import json
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
from motiondepth.types import RGBDImage


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


def preset_camera(name: str, **overrides: object) -> CameraConfig:
    """:func:`camera_preset` with an unknown name reported as bad ``--camera`` input."""
    try:
        return camera_preset(name, **overrides)
    except ValueError as exc:
        raise InputError("--camera", str(exc)) from None
