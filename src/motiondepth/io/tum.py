"""TUM RGB-D sequences (Sturm et al., IROS 2012): frame lists, motion-capture poses and their interpolation.

A sequence folder holds ``rgb.txt`` and ``depth.txt`` (``timestamp filename`` per line, seconds, ``#``
comments) and ``groundtruth.txt`` (``timestamp tx ty tz qx qy qz qw`` at 100 Hz: the pose of the colour
camera's optical centre in the world, camera-to-world, OpenCV camera axes: x right, y down, z forward,
as in docs/design.md §2).

Poses are interpolated at any frame time: positions linearly, orientations by spherical linear
interpolation between the two neighbouring samples. :meth:`TumSequence.relative_motion` gives each
frame's rotation (``[roll, pitch, yaw]``, this project's convention) and translation relative to a
reference frame, in that frame's camera axes: the ground truth a clip's recovered motion is scored
against.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from motiondepth.errors import InputError
from motiondepth.geometry.rotations import matrix_to_euler, quat_to_matrix

MAX_POSE_GAP_S = 0.05  # a frame further than this from any motion-capture sample has no ground truth


def read_tum_list(path: str | Path) -> tuple[np.ndarray, list[str]]:
    """``rgb.txt``/``depth.txt``: ((N,) float64 seconds, N file names relative to the sequence folder)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "TUM frame list not found")
    times, names = [], []
    for k, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        try:
            t = float(parts[0])
        except (ValueError, IndexError):
            raise InputError(path, f"line {k}: expected 'timestamp filename', got {line[:60]!r}") from None
        if len(parts) < 2 or not np.isfinite(t):
            raise InputError(path, f"line {k}: expected 'timestamp filename', got {line[:60]!r}")
        times.append(t)
        names.append(parts[1])
    if not times:
        raise InputError(path, "lists no frames")
    t = np.asarray(times)
    if np.any(np.diff(t) <= 0):
        raise InputError(path, "timestamps must increase")
    return t, names


@dataclass
class PoseTrack:
    """Camera-to-world poses over time (a motion-capture trajectory)."""

    times: np.ndarray  # (M,) float64 seconds, increasing
    positions: np.ndarray  # (M, 3) metres, the camera centre in the world
    quaternions: np.ndarray  # (M, 4) [x, y, z, w], camera-to-world orientation, unit norm

    def at(self, t: np.ndarray, max_gap_s: float = MAX_POSE_GAP_S) -> tuple[np.ndarray, np.ndarray]:
        """Poses at times ``t`` (N,): ((N, 3) positions, (N, 3, 3) camera-to-world rotations).

        Raises:
            InputError: a time outside the trajectory, or further than ``max_gap_s`` from its samples.
        """
        t = np.asarray(t, dtype=np.float64)
        i = np.searchsorted(self.times, t)
        outside = (i == 0) & (t < self.times[0]) | (i >= len(self.times))
        i = np.clip(i, 1, len(self.times) - 1)
        t0, t1 = self.times[i - 1], self.times[i]
        gap = np.minimum(np.abs(t - t0), np.abs(t1 - t))
        bad = outside | (gap > max_gap_s)
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            span = f"{self.times[0]:.3f}–{self.times[-1]:.3f} s"
            raise InputError("groundtruth", f"no motion-capture pose within {max_gap_s * 1e3:.0f} ms of time "
                             f"{t[k]:.6f} s (the trajectory covers {span})")  # fmt: skip
        w = ((t - t0) / (t1 - t0))[:, None]
        pos = (1 - w) * self.positions[i - 1] + w * self.positions[i]
        return pos, quat_to_matrix(_slerp(self.quaternions[i - 1], self.quaternions[i], w[:, 0]))

    def relative(self, t: np.ndarray, reference_s: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The motion at times ``t`` (N,) relative to the pose at ``reference_s`` (default ``t[0]``).

        Returns:
            ((N, 3) ``[roll, pitch, yaw]`` rad of each camera-to-reference rotation, the project's convention;
            (N, 3) metres, each camera centre in the reference camera's axes).
        """
        t = np.asarray(t, dtype=np.float64)
        pos, rot = self.at(np.append(t, t[0] if reference_s is None else reference_s))
        r_ref, p_ref = rot[-1], pos[-1]
        rel = np.einsum("ji,kjl->kil", r_ref, rot[:-1])  # R_refᵀ R_k
        return matrix_to_euler(rel), (pos[:-1] - p_ref) @ r_ref


def _slerp(q0: np.ndarray, q1: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Spherical linear interpolation between unit quaternions (N, 4) at fractions ``w`` (N,)."""
    dot = np.sum(q0 * q1, axis=-1)
    q1 = np.where(dot[:, None] < 0, -q1, q1)  # the shorter arc
    dot = np.abs(dot)
    theta = np.arccos(np.clip(dot, -1.0, 1.0))
    small = theta < 1e-8
    s = np.sin(np.where(small, 1.0, theta))
    a = np.where(small, 1.0 - w, np.sin((1.0 - w) * theta) / s)
    b = np.where(small, w, np.sin(w * theta) / s)
    q = a[:, None] * q0 + b[:, None] * q1
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def read_tum_trajectory(path: str | Path) -> PoseTrack:
    """``groundtruth.txt`` (``timestamp tx ty tz qx qy qz qw``) → :class:`PoseTrack`."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "TUM trajectory not found")
    rows = []
    for k, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            row = [float(v) for v in line.split()]
        except ValueError:
            raise InputError(path, f"line {k}: expected 8 numbers 'timestamp tx ty tz qx qy qz qw'") from None
        if len(row) != 8:
            raise InputError(path, f"line {k}: expected 8 numbers 'timestamp tx ty tz qx qy qz qw', got {len(row)}")
        rows.append(row)
    if len(rows) < 2:
        raise InputError(path, f"needs at least 2 poses, has {len(rows)}")
    data = np.asarray(rows)
    if not np.all(np.isfinite(data)):
        raise InputError(path, "contains NaN or infinite values")
    if np.any(np.diff(data[:, 0]) <= 0):
        raise InputError(path, "timestamps must increase")
    q = data[:, 4:8]
    norm = np.linalg.norm(q, axis=1)
    if np.any(np.abs(norm - 1) > 1e-2):
        raise InputError(path, "quaternions must have unit norm (qx qy qz qw)")
    return PoseTrack(data[:, 0], data[:, 1:4], q / norm[:, None])


def write_tum_trajectory(path: str | Path, poses: PoseTrack, comments: list[str] | tuple[str, ...] = ()) -> None:
    """``timestamp tx ty tz qx qy qz qw`` per pose (what :func:`read_tum_trajectory` reads, and evo's ``tum``
    format), after ``comments`` as ``#`` lines; written atomically."""
    import io

    from motiondepth.io.atomic import atomic_path

    buf = io.StringIO()
    for line in (*comments, "timestamp tx ty tz qx qy qz qw"):
        buf.write(f"# {line}\n")
    data = np.column_stack([poses.times, poses.positions, poses.quaternions])
    np.savetxt(buf, data, fmt=["%.6f"] + ["%.9f"] * 7)
    with atomic_path(path) as tmp:
        tmp.write_text(buf.getvalue())


@dataclass
class TumSequence:
    """A TUM RGB-D sequence folder: colour and depth frame lists and the motion-capture trajectory."""

    root: Path
    rgb_times: np.ndarray  # (N,) seconds
    rgb_files: list[str]  # relative to root
    depth_times: np.ndarray  # (D,) seconds
    depth_files: list[str]
    groundtruth: PoseTrack | None

    @classmethod
    def open(cls, root: str | Path) -> TumSequence:
        """Read the lists and (when present) ``groundtruth.txt`` of a sequence folder."""
        root = Path(root)
        if not root.is_dir():
            raise InputError(root, "TUM sequence folder not found")
        rt, rf = read_tum_list(root / "rgb.txt")
        dt, df = read_tum_list(root / "depth.txt") if (root / "depth.txt").is_file() else (np.zeros(0), [])
        gt = read_tum_trajectory(root / "groundtruth.txt") if (root / "groundtruth.txt").is_file() else None
        return cls(root, rt, rf, dt, df, gt)

    @property
    def sequence_frames(self) -> np.ndarray:
        """(N,) the sequence's frame number of every listed colour frame: a subset keeps its frames' numbers.

        Inside a run of frames without a gap the numbers count up by one; each run starts at the number its time
        gives, counted from the first listed frame (frame 0) at the runs' mean frame interval. The TUM folder in
        ../shared holds frames 0–239 and 700–759: position 240 is frame 700.
        """
        t = self.rgb_times
        if len(t) < 2:
            return np.zeros(len(t), np.int64)
        step = np.diff(t)
        med = float(np.median(step))
        breaks = np.flatnonzero(step > 1.5 * med) + 1
        runs = np.split(np.arange(len(t)), breaks)
        inner = np.concatenate([step[r[:-1]] for r in runs if len(r) > 1]) if len(t) > len(runs) else np.array([med])
        dt = float(np.mean(inner))
        numbers = np.empty(len(t), np.int64)
        for r in runs:
            numbers[r] = round((t[r[0]] - t[0]) / dt) + np.arange(len(r))
        return numbers

    def positions(self, first: int, stop: int) -> np.ndarray:
        """Positions in the folder's lists of sequence frames ``first … stop − 1`` (all must be there, no gap)."""
        numbers = self.sequence_frames
        want = np.arange(first, stop)
        pos = np.searchsorted(numbers, want)
        if len(want) == 0 or pos[-1] >= len(numbers) or np.any(numbers[np.minimum(pos, len(numbers) - 1)] != want):
            runs = np.split(numbers, np.flatnonzero(np.diff(numbers) > 1) + 1)
            have = ", ".join(f"{r[0]}–{r[-1]}" for r in runs)
            raise InputError(
                self.root / "rgb.txt", f"does not hold sequence frames {first}–{stop - 1} (it holds {have})"
            )
        return pos

    def depth_for(self, frames: np.ndarray, max_dt_s: float = 0.02) -> list[Path | None]:
        """The depth image nearest in time to each colour frame index, or None beyond ``max_dt_s``."""
        out: list[Path | None] = []
        for t in self.rgb_times[np.asarray(frames)]:
            if len(self.depth_times) == 0:
                out.append(None)
                continue
            j = int(np.argmin(np.abs(self.depth_times - t)))
            out.append(self.root / self.depth_files[j] if abs(self.depth_times[j] - t) <= max_dt_s else None)
        return out

    def relative_motion(self, frames: np.ndarray, reference: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Ground-truth motion of colour frames ``frames`` relative to frame ``reference`` (default the first).

        Returns:
            ((K, 3) ``[roll, pitch, yaw]`` rad of each frame's camera-to-reference rotation, the project's
            convention; (K, 3) metres, each camera centre in the reference camera's axes).
        """
        if self.groundtruth is None:
            raise InputError(self.root / "groundtruth.txt", "not found: the sequence has no ground truth")
        frames = np.asarray(frames)
        ref = frames[0] if reference is None else reference
        return self.groundtruth.relative(self.rgb_times[frames], float(self.rgb_times[ref]))
