"""Readers and writers for every file format motiondepth touches."""

from motiondepth.io.atomic import atomic_path, save_npz, staged_output_dir
from motiondepth.io.camera import read_camera_json
from motiondepth.io.depth import load_depth, load_image, load_rgbd
from motiondepth.io.tracks import load_tracks, save_tracks
from motiondepth.io.trajectory import read_trajectory_csv, write_trajectory_csv
from motiondepth.io.video import load_frames, read_image_folder, read_video, write_video

__all__ = [
    "atomic_path",
    "load_depth",
    "load_frames",
    "load_image",
    "load_rgbd",
    "load_tracks",
    "read_camera_json",
    "read_image_folder",
    "read_trajectory_csv",
    "read_video",
    "save_npz",
    "save_tracks",
    "staged_output_dir",
    "write_trajectory_csv",
    "write_video",
]
