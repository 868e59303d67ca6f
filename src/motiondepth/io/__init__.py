"""Readers and writers for every file format motiondepth touches."""

from motiondepth.io.atomic import atomic_path, staged_output_dir
from motiondepth.io.depth import load_depth, load_image, load_rgbd
from motiondepth.io.trajectory import read_trajectory_csv, write_trajectory_csv
from motiondepth.io.video import read_video, write_video

__all__ = [
    "atomic_path",
    "load_depth",
    "load_image",
    "load_rgbd",
    "read_trajectory_csv",
    "read_video",
    "staged_output_dir",
    "write_trajectory_csv",
    "write_video",
]
