"""Trajectory CSV: per frame (``frame,time_s,roll_rad,pitch_rad,yaw_rad,residual_px`` and optional readout and
centre columns) and dense (``frame,sample,time_s,roll_rad,pitch_rad,yaw_rad``), read and written side by side."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from motiondepth.errors import InputError
from motiondepth.io.atomic import atomic_path
from motiondepth.types import Trajectory

COLUMNS = ["frame", "time_s", "roll_rad", "pitch_rad", "yaw_rad", "residual_px"]


READOUT_COLUMNS = ["readout_roll_rad", "readout_pitch_rad", "readout_yaw_rad"]
# the camera centre in metres, in the first frame's camera axes (OpenCV: x right, y down, z forward)
CENTRE_COLUMNS = ["centre_x_m", "centre_y_m", "centre_z_m"]
# the frame's time on the clock the frames came with (time_s + config.json's input.time_origin_s), last, when not 0
CLOCK_COLUMN = "clock_s"


def write_trajectory_csv(path: str | Path, traj: Trajectory, time_origin_s: float = 0.0) -> None:
    """Write one row per frame (plus :data:`READOUT_COLUMNS`, the rolling shutter's rotation from the top
    row to the bottom row, :data:`CENTRE_COLUMNS`, the camera centre in metres in the first frame's camera
    axes, and ``dense_<j>_<axis>`` columns, when the trajectory has them).

    ``time_s`` starts at 0; with ``time_origin_s`` (the first frame's time on the clock the frames came with, e.g.
    an image folder's ``timestamps.txt``) a last column :data:`CLOCK_COLUMN` gives each frame's time on that
    clock, so that a log on the same clock lines up with no offset."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    cols = list(COLUMNS)
    dense, readout, centres = traj.dense, traj.readout_rotation, traj.centres
    if readout is not None:
        cols += READOUT_COLUMNS
    if centres is not None:
        cols += CENTRE_COLUMNS
    if dense is not None:
        cols += [f"dense_{j}_{a}" for j in range(dense.shape[1]) for a in ("roll", "pitch", "yaw")]
    if time_origin_s:
        cols.append(CLOCK_COLUMN)
    writer.writerow(cols)
    for k in range(len(traj.angles)):
        row = [k, f"{traj.times[k]:.6f}", *(f"{a:.9e}" for a in traj.angles[k]), f"{traj.residual_px[k]:.4f}"]
        if readout is not None:
            row += [f"{v:.9e}" for v in readout[k]]
        if centres is not None:
            row += [f"{v:.9e}" for v in centres[k]]
        if dense is not None:
            row += [f"{v:.9e}" for v in dense[k].ravel()]
        if time_origin_s:
            row.append(f"{time_origin_s + traj.times[k]:.6f}")
        writer.writerow(row)
    with atomic_path(path) as tmp:
        tmp.write_text(buf.getvalue())


def _read_table(path: str | Path, what: str, required: list[str], parse):
    """Rows of a CSV with ``required`` columns → ``parse(rows)``, every failure an :class:`InputError`."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, f"{what} file not found")
    try:
        with open(path, newline="") as fh:
            rows = list(csv.DictReader(fh))
        if not rows:
            raise InputError(path, f"{what} has no rows")
        missing = [c for c in required if c not in rows[0]]
        if missing:
            raise InputError(path, f"missing columns {missing}; expected {required}")
        return parse(rows)
    except InputError:
        raise
    except (ValueError, KeyError, csv.Error) as exc:
        raise InputError(path, f"cannot parse {what} ({exc})") from None


def read_trajectory_csv(path: str | Path) -> Trajectory:
    """Read a trajectory CSV written by :func:`write_trajectory_csv` (or any with those columns); ``times`` are
    ``time_s`` (from 0), :func:`trajectory_clock_origin` gives the clock's origin where the file has one."""

    def parse(rows):
        angles = np.array([[float(r[c]) for c in ("roll_rad", "pitch_rad", "yaw_rad")] for r in rows])
        times = np.array([float(r["time_s"]) for r in rows])
        res = np.array([float(r.get("residual_px") or "nan") for r in rows])
        readout = None
        if all(c in rows[0] for c in READOUT_COLUMNS):
            readout = np.array([[float(r[c] or "nan") for c in READOUT_COLUMNS] for r in rows])
        centres = None
        if all(c in rows[0] for c in CENTRE_COLUMNS):
            centres = np.array([[float(r[c] or "nan") for c in CENTRE_COLUMNS] for r in rows])
        return Trajectory(angles, times, res, method="file", readout_rotation=readout, centres=centres)

    return _read_table(path, "trajectory", COLUMNS[1:5], parse)


def trajectory_clock_origin(path: str | Path) -> float:
    """The first frame's time on the frames' own clock from a trajectory CSV's :data:`CLOCK_COLUMN` (``clock_s`` −
    ``time_s`` of its first row), 0 where it has none."""

    def parse(rows):
        first = rows[0]
        return float(first[CLOCK_COLUMN]) - float(first["time_s"]) if first.get(CLOCK_COLUMN) else 0.0

    return _read_table(path, "trajectory", ["time_s"], parse)


DENSE_COLUMNS = ["frame", "sample", "time_s", "roll_rad", "pitch_rad", "yaw_rad"]


def write_dense_csv(path: str | Path, dense: np.ndarray, times: np.ndarray, span_s: float,
                    time_origin_s: float = 0.0) -> None:  # fmt: skip
    """One row per sub-frame sample: ``frame,sample,time_s,roll_rad,pitch_rad,yaw_rad`` (and :data:`CLOCK_COLUMN`
    with ``time_origin_s``, as in :func:`write_trajectory_csv`).

    Sample ``j`` of frame ``k`` is taken at ``times[k] + (j + 0.5) / S · span_s`` (the middle of its
    share of the frame's exposure-plus-readout span), as in the simulator's ground truth.
    """
    dense = np.asarray(dense, dtype=np.float64)
    t_len, s = dense.shape[:2]
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(DENSE_COLUMNS + ([CLOCK_COLUMN] if time_origin_s else []))
    for k in range(t_len):
        for j in range(s):
            t = times[k] + (j + 0.5) / s * span_s
            clock = [f"{time_origin_s + t:.6f}"] if time_origin_s else []
            writer.writerow([k, j, f"{t:.6f}", *(f"{a:.9e}" for a in dense[k, j]), *clock])
    with atomic_path(path) as tmp:
        tmp.write_text(buf.getvalue())


def read_dense_csv(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read :func:`write_dense_csv` output → (dense (T, S, 3) rad, sample times (T, S) s)."""

    def parse(rows):
        frame = np.array([int(r["frame"]) for r in rows])
        sample = np.array([int(r["sample"]) for r in rows])
        vals = np.array([[float(r[c]) for c in DENSE_COLUMNS[2:]] for r in rows])
        t_len, s = frame.max() + 1, sample.max() + 1
        if len(rows) != t_len * s:
            raise InputError(path, f"{len(rows)} rows is not frames × samples ({t_len} × {s})")
        out = np.zeros((t_len, s, 4))
        out[frame, sample] = vals
        return out[..., 1:], out[..., 0]

    return _read_table(path, "dense trajectory", DENSE_COLUMNS, parse)


def file_kind(path: str | Path) -> str:
    """``"trajectory"``, ``"dense"`` (CSVs that ``run`` writes) or ``"gyro"`` (anything else), by the header."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file not found")
    try:
        with open(path, newline="") as fh:
            header = next(csv.reader(fh), [])
    except (OSError, UnicodeDecodeError, csv.Error):
        return "gyro"  # binary or odd text: the gyro reader says what is wrong with it
    if "roll_rad" in header:
        return "dense" if "sample" in header else "trajectory"
    return "gyro"


def read_angle_series(path: str | Path, kind: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Angles (N, 3) rad and times (N,) s of a trajectory CSV (one per frame, at frame starts) or a dense
    trajectory CSV (every sample, at its own time), by :func:`file_kind` unless ``kind`` is given."""
    kind = kind or file_kind(path)
    if kind == "trajectory":
        traj = read_trajectory_csv(path)
        return traj.angles, traj.times
    if kind == "dense":
        dense, times = read_dense_csv(path)
        return dense.reshape(-1, 3), times.reshape(-1)
    raise InputError(path, "not a trajectory CSV (no roll_rad column)")
