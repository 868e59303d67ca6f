"""Typed containers for what flows between pipeline steps.

Shape vocabulary: T frames, N points, H, W image size, S samples per frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from motiondepth.geometry.camera import Intrinsics

SEVERITIES = ("high", "medium", "note")  # of a warning: the result is doubtful / may be off / worth knowing


class RunWarning(str):
    """One of a run's warnings: its text (it is a ``str``: printed, searched and written to JSON as one) and its
    ``severity`` (:data:`SEVERITIES`), declared where the warning is made, never inferred from the wording."""

    severity: str

    def __new__(cls, text: str, severity: str = "medium") -> RunWarning:
        if severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, got {severity!r}")
        obj = super().__new__(cls, text)
        obj.severity = severity
        return obj


def high(text: str) -> RunWarning:
    """A warning that makes the result doubtful."""
    return RunWarning(text, "high")


def note(text: str) -> RunWarning:
    """A warning worth knowing (where a number comes from), that does not put the result in doubt."""
    return RunWarning(text, "note")


@dataclass
class RGBDImage:
    """A sharp RGB image with registered metric z-depth (the simulator's input)."""

    rgb: np.ndarray  # (H, W, 3) uint8, sRGB
    depth: np.ndarray  # (H, W) float32 metres, 0 = invalid
    intrinsics: Intrinsics  # of this image
    source: str = "unknown"  # where it came from, for messages and camera.json

    @property
    def size(self) -> tuple[int, int]:
        """(H, W)."""
        return self.depth.shape[0], self.depth.shape[1]


@dataclass
class Tracks:
    """2D point tracks, CoTracker-style."""

    tracks: np.ndarray  # (T, N, 2) float32 pixel x, y
    visible: np.ndarray  # (T, N) bool
    queries: np.ndarray  # (N, 3) float32 (t, x, y): frame index and position of each query
    image_size: tuple[int, int]  # (H, W)
    meta: dict = field(default_factory=dict)  # tracker name, settings

    def __post_init__(self) -> None:
        t, n = self.visible.shape
        if self.tracks.shape != (t, n, 2) or self.queries.shape != (n, 3):
            raise ValueError(
                f"inconsistent track shapes: tracks {self.tracks.shape}, visible "
                f"{self.visible.shape}, queries {self.queries.shape}"
            )

    @property
    def num_frames(self) -> int:
        return self.tracks.shape[0]

    @property
    def num_points(self) -> int:
        return self.tracks.shape[1]


@dataclass
class Trajectory:
    """Per-frame camera rotation relative to frame 0, ``[roll, pitch, yaw]`` radians."""

    angles: np.ndarray  # (T, 3) float64, angles[0] == 0
    times: np.ndarray  # (T,) float64 seconds, frame start times
    residual_px: np.ndarray  # (T,) float64 RMS reprojection residual of the fit, pixels
    method: str = "unknown"  # paper | lsq | homography | groundtruth | small-motion-{6dof,pivot,rotation}
    dense: np.ndarray | None = None  # (T, S, 3) optional dense samples per frame
    # (T, 3) rad, optional: rolling shutter, the rotation from the top row's exposure to the bottom row's
    # (row r sits at ``angles + (r − (H − 1)/2) / H · readout_rotation``; the lsq solver's rates)
    readout_rotation: np.ndarray | None = None
    # (T, 3) metres, optional: each camera centre in the reference camera's axes (the small-motion solver)
    centres: np.ndarray | None = None


@dataclass
class Tracks3D:
    """Metric 3D tracks in the camera frame of each frame (TAPVid-3D convention); on disk through
    :func:`motiondepth.io.trajectory.save_tracks3d` and :func:`~motiondepth.io.trajectory.load_tracks3d`."""

    xyz: np.ndarray  # (T, N, 3) float32 metres
    visible: np.ndarray  # (T, N) bool
    intrinsics: Intrinsics
    queries: np.ndarray  # (N, 3) (t, x, y)
    depth: np.ndarray  # (T, N) z in metres (= xyz[..., 2])
    meta: dict = field(default_factory=dict)
