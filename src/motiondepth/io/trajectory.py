"""Trajectory CSV (``frame,time_s,roll_rad,pitch_rad,yaw_rad,residual_px``) and tracks ``.npz``."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np

from motiondepth.errors import InputError
from motiondepth.io.atomic import atomic_path, json_default, save_npz
from motiondepth.types import Tracks, Tracks3D, Trajectory

COLUMNS = ["frame", "time_s", "roll_rad", "pitch_rad", "yaw_rad", "residual_px"]


READOUT_COLUMNS = ["readout_roll_rad", "readout_pitch_rad", "readout_yaw_rad"]
# the camera centre in metres, in the first frame's camera axes (OpenCV: x right, y down, z forward)
CENTRE_COLUMNS = ["centre_x_m", "centre_y_m", "centre_z_m"]


def write_trajectory_csv(path: str | Path, traj: Trajectory) -> None:
    """Write one row per frame (plus :data:`READOUT_COLUMNS`, the rolling shutter's rotation from the top
    row to the bottom row, :data:`CENTRE_COLUMNS`, the camera centre in metres in the first frame's camera
    axes, and ``dense_<j>_<axis>`` columns, when the trajectory has them)."""
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
    writer.writerow(cols)
    for k in range(len(traj.angles)):
        row = [k, f"{traj.times[k]:.6f}", *(f"{a:.9e}" for a in traj.angles[k]), f"{traj.residual_px[k]:.4f}"]
        if readout is not None:
            row += [f"{v:.9e}" for v in readout[k]]
        if centres is not None:
            row += [f"{v:.9e}" for v in centres[k]]
        if dense is not None:
            row += [f"{v:.9e}" for v in dense[k].ravel()]
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
    """Read a trajectory CSV written by :func:`write_trajectory_csv` (or any with those columns)."""

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


DENSE_COLUMNS = ["frame", "sample", "time_s", "roll_rad", "pitch_rad", "yaw_rad"]


def write_dense_csv(path: str | Path, dense: np.ndarray, times: np.ndarray, span_s: float) -> None:
    """One row per sub-frame sample: ``frame,sample,time_s,roll_rad,pitch_rad,yaw_rad``.

    Sample ``j`` of frame ``k`` is taken at ``times[k] + (j + 0.5) / S · span_s`` (the middle of its
    share of the frame's exposure-plus-readout span), as in the simulator's ground truth.
    """
    dense = np.asarray(dense, dtype=np.float64)
    t_len, s = dense.shape[:2]
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(DENSE_COLUMNS)
    for k in range(t_len):
        for j in range(s):
            t = times[k] + (j + 0.5) / s * span_s
            writer.writerow([k, j, f"{t:.6f}", *(f"{a:.9e}" for a in dense[k, j])])
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


def save_tracks(path: str | Path, tracks: Tracks, intrinsics: np.ndarray | None = None) -> None:
    """Write tracks (keys ``tracks``, ``visible``, ``queries`` (t,x,y), ``image_size``, ``tracker``, ``meta``).

    ``meta`` is the tracker's settings and findings (e.g. the gyro alignment) as a JSON string.
    """
    extra = {} if intrinsics is None else {"intrinsics": np.asarray(intrinsics, dtype=np.float64)}
    meta = json.dumps(tracks.meta, default=json_default)
    save_npz(
        path, tracks=tracks.tracks, visible=tracks.visible, queries=tracks.queries,
        image_size=np.asarray(tracks.image_size, dtype=np.int64),
        tracker=np.asarray(str(tracks.meta.get("tracker", "unknown"))), meta=np.asarray(meta), **extra,
    )  # fmt: skip


def load_tracks(path: str | Path) -> tuple[Tracks, np.ndarray | None]:
    """Read a tracks ``.npz`` → (Tracks, intrinsics or None)."""
    from motiondepth.io.npz import read_npz, real_array

    path = Path(path)
    arrays = read_npz(path, ("tracks", "visible", "queries"), "tracks file")
    tr = real_array(path, "tracks", arrays["tracks"], "tracks file")
    vis = arrays["visible"]
    if vis.dtype.kind != "b":
        vis = real_array(path, "visible", vis, "tracks file")
        if not np.isfinite(vis).all():
            raise InputError(path, "'visible' holds NaN or infinite values")
        vis = vis > 0.5
    queries = real_array(path, "queries", arrays["queries"], "tracks file")
    if tr.ndim != 3 or tr.shape[-1] != 2:
        raise InputError(path, f"'tracks' must be (T, N, 2), got {tr.shape}")
    if len(tr) < 2:
        raise InputError(path, f"tracks have {len(tr)} frame(s); need at least 2")
    if not np.all(np.isfinite(tr)):
        raise InputError(path, "'tracks' contains NaN or inf")
    if queries.shape != (tr.shape[1], 3):
        raise InputError(path, f"'queries' must be (N, 3) (frame, x, y) for the {tr.shape[1]} tracks, got shape "
                         f"{queries.shape}")  # fmt: skip
    if not np.isfinite(queries).all():
        raise InputError(path, "'queries' holds NaN or infinite values")
    if len(queries) and ((queries[:, 0] < 0).any() or (queries[:, 0] >= len(tr)).any()):
        raise InputError(path, f"'queries' name frames outside the tracks' {len(tr)} frames (up to "
                         f"{queries[:, 0].max():g})")  # fmt: skip
    raw_size = real_array(path, "image_size", np.asarray(arrays.get("image_size", [0, 0])), "tracks file")
    if raw_size.shape != (2,) or not np.all(np.isfinite(raw_size)) or (raw_size < 0).any() or (raw_size > 1e6).any():
        raise InputError(path, f"'image_size' must be (height, width) in pixels, got {raw_size.tolist()}")
    size = (int(raw_size[0]), int(raw_size[1]))
    meta = {"tracker": str(arrays["tracker"])} if "tracker" in arrays else {}
    if "meta" in arrays:
        try:
            meta = json.loads(str(arrays["meta"]))
        except json.JSONDecodeError:
            raise InputError(path, "'meta' is not JSON") from None
        if not isinstance(meta, dict):
            raise InputError(path, f"'meta' must be a JSON object, got a JSON {type(meta).__name__}")
    intr = arrays.get("intrinsics")
    if intr is not None:
        from motiondepth.geometry.camera import Intrinsics

        try:
            intr = Intrinsics.from_array(np.asarray(intr, dtype=np.float64).ravel()).as_array()
        except (ValueError, TypeError) as exc:
            raise InputError(path, f"'intrinsics': {exc}") from None
    try:
        tracks = Tracks(tr.astype(np.float32), vis.astype(bool), queries.astype(np.float32), size, meta)
    except ValueError as exc:
        raise InputError(path, str(exc)) from None
    return tracks, intr


def save_tracks3d(path: str | Path, tracks3d: Tracks3D) -> None:
    """TAPVid-3D-style ``.npz``: ``tracks_XYZ`` (T, N, 3) m, ``visibility`` (T, N), ``fx_fy_cx_cy``, ``queries_xyt``."""
    q = tracks3d.queries
    save_npz(
        path, tracks_XYZ=tracks3d.xyz.astype(np.float32), visibility=tracks3d.visible.astype(bool),
        fx_fy_cx_cy=tracks3d.intrinsics.as_array().astype(np.float32),
        queries_xyt=np.stack([q[:, 1], q[:, 2], q[:, 0]], -1).astype(np.float32),
    )  # fmt: skip


def load_tracks3d(path: str | Path) -> Tracks3D:
    """Read a file written by :func:`save_tracks3d` (or any TAPVid-3D-style ``.npz`` with those keys)."""
    from motiondepth.geometry.camera import Intrinsics
    from motiondepth.io.npz import read_npz

    d = read_npz(path, ("tracks_XYZ", "visibility", "fx_fy_cx_cy"), "3D tracks file")
    xyz, vis, k, q = d["tracks_XYZ"], d["visibility"].astype(bool), d["fx_fy_cx_cy"], d.get("queries_xyt")
    try:
        intr = Intrinsics.from_array(np.asarray(k, dtype=np.float64).ravel())
    except (ValueError, TypeError) as exc:
        raise InputError(path, f"'fx_fy_cx_cy': {exc}") from None
    if q is not None and q.shape != (xyz.shape[1], 3):
        raise InputError(path, f"'queries_xyt' must be (N, 3) for the {xyz.shape[1]} tracks, got {q.shape}")
    if xyz.ndim != 3 or xyz.shape[-1] != 3 or vis.shape != xyz.shape[:2]:
        raise InputError(path, f"tracks_XYZ {xyz.shape} / visibility {vis.shape} are not (T, N, 3) / (T, N)")
    queries = np.zeros((xyz.shape[1], 3), np.float32) if q is None else np.stack([q[:, 2], q[:, 0], q[:, 1]], -1)
    return Tracks3D(xyz, vis, intr, queries, xyz[..., 2].copy())
