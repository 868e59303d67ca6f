"""Metrics as pure functions (depth, trajectory, TAPVid-3D, shake spectrum, gyro comparison); the harnesses that
run models on held-out data to score them live in :mod:`motiondepth.eval.harness`."""

from motiondepth.eval.depth_metrics import align_depth, crop_mask, depth_metrics, mean_depth_metrics
from motiondepth.eval.trajectory_metrics import DEFAULT_FLOOR_RAD, trajectory_metrics

__all__ = [
    "DEFAULT_FLOOR_RAD",
    "align_depth",
    "crop_mask",
    "depth_metrics",
    "mean_depth_metrics",
    "trajectory_metrics",
]
