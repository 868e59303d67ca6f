"""Pure, vectorised camera geometry (docs/design.md §2–3). numpy in, numpy out; no state."""

from motiondepth.geometry.camera import (
    Intrinsics,
    focal_length_px,
    image_distance,
    project,
    unproject,
    unproject_depth_map,
)
from motiondepth.geometry.distortion import LensDistortion, distort_frames, undistort_frames
from motiondepth.geometry.pivot import camera_centre, project_pivot, transform_pivot
from motiondepth.geometry.rotations import (
    euler_derivatives,
    euler_to_matrix,
    euler_to_quat,
    matrix_to_euler,
    quat_multiply,
    quat_to_euler,
    quat_to_matrix,
    rotvec_to_quat,
)

__all__ = [
    "Intrinsics",
    "LensDistortion",
    "camera_centre",
    "distort_frames",
    "euler_derivatives",
    "euler_to_matrix",
    "euler_to_quat",
    "focal_length_px",
    "image_distance",
    "matrix_to_euler",
    "project",
    "project_pivot",
    "quat_multiply",
    "quat_to_euler",
    "quat_to_matrix",
    "rotvec_to_quat",
    "transform_pivot",
    "undistort_frames",
    "unproject",
    "unproject_depth_map",
]
