"""The camera as a sensor: configs and presets, rotation traces and frame time spans, gyro integration and
alignment, the sRGB transfer function. The vocabulary the simulator and the inverse side (tracking,
blur fit, solvers) both speak; it imports only geometry and io."""

from motiondepth.sensor.camera import PRESETS, CameraConfig, camera_preset
from motiondepth.sensor.trace import RotationTrace, gyro_from_trace, integrate_gyro, rate_integral, span_times

__all__ = [
    "PRESETS",
    "CameraConfig",
    "RotationTrace",
    "camera_preset",
    "gyro_from_trace",
    "integrate_gyro",
    "rate_integral",
    "span_times",
]
