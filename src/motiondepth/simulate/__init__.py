"""Shaky rolling-shutter video simulation: camera presets, shake sources, the imaging model."""

from motiondepth.io.gyro_log import read_angle_trace, read_gyro_log
from motiondepth.sensor.camera import PRESETS, CameraConfig, camera_preset
from motiondepth.sensor.trace import RotationTrace, integrate_gyro
from motiondepth.simulate.scene import simulate_scene, write_simulation
from motiondepth.simulate.shake import HANDHELD_SHAKE, SyntheticShakeConfig, load_shake, synthetic_shake
from motiondepth.simulate.simulator import (
    ShakyVideo,
    groundtruth_tracks,
    groundtruth_trajectory,
    mean_projection,
    prepare_rgbd,
    simulate,
)

__all__ = [
    "HANDHELD_SHAKE",
    "PRESETS",
    "CameraConfig",
    "RotationTrace",
    "ShakyVideo",
    "SyntheticShakeConfig",
    "camera_preset",
    "groundtruth_tracks",
    "groundtruth_trajectory",
    "integrate_gyro",
    "load_shake",
    "mean_projection",
    "prepare_rgbd",
    "read_angle_trace",
    "read_gyro_log",
    "simulate",
    "simulate_scene",
    "synthetic_shake",
    "write_simulation",
]
