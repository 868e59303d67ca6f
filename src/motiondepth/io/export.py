"""Trajectory exports for other tools: TUM poses (evo, SLAM benchmarks) and gyro-style rate logs.

A pose is ``(C(t), R(t))`` in the frame of the first frame's mean orientation (OpenCV camera axes: x right,
y down, z forward), metres and a unit quaternion, ``R(t)`` camera-to-reference. The camera centre ``C`` is
the one the run recovered: ``trajectory.csv``'s ``centre_*_m`` columns (``run --motion``: the bundle
adjustment's translation, or the pivot model's centres), interpolated linearly to a dense trajectory's
sample times. A file without them (or ``--pivot`` given) gets the pivot model's: rotation about a pivot
behind the camera (docs/design.md §3), ``C(t) = P − R(t)·P`` with ``P = (0, 0, −pivot)``.

- **TUM** (``timestamp tx ty tz qx qy qz qw``, one pose per line, ``#`` comments): what ``evo``
  (``evo_traj tum``, ``evo_ape tum``) and the TUM RGB-D / ETH3D tools read. Timestamps are on the
  input's clock when it had one (an image folder named by timestamps, or a ``timestamps.txt``;
  ``config.json``'s ``input.time_origin_s``), so the file lines up with a dataset's ground truth.
- **Rates** (``time_s,wx,wy,wz``, rad/s, camera axes x right, y down, z forward): the mean body
  angular velocity between consecutive samples, stamped at their midpoint, which is what a
  gyroscope fixed to the camera would have logged. ``compare-gyro``, ``shake`` and
  ``simulate --shake`` read it like any gyro log.

Times: a dense trajectory's samples carry their own times. A per-frame angle is the mean
orientation over the frame's span (exposure plus readout; ``run`` uses the frame interval), so it
is stamped at the middle of that span.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from motiondepth.errors import InputError
from motiondepth.geometry.pivot import camera_centre, check_pivot
from motiondepth.geometry.rotations import body_rates, euler_to_matrix, euler_to_quat
from motiondepth.io.atomic import atomic_path

FORMATS = ("tum", "rates", "gcsv")


@dataclass
class TrajectorySamples:
    """Orientation samples ready to export."""

    times: np.ndarray  # (N,) s on the source clock
    angles: np.ndarray  # (N, 3) rad [roll, pitch, yaw], camera-to-reference
    pivot_m: float | None  # from a run's config.json, else None
    source: str  # which file, and whether dense or per frame
    centres: np.ndarray | None = None  # (N, 3) metres, the recovered camera centres, when the trajectory has them


def load_samples(path: str | Path, dense: bool = True, frame_span_s: float | None = None) -> TrajectorySamples:
    """Samples of a ``run`` folder, a ``trajectory.csv`` or a ``trajectory_dense.csv``.

    Args:
        path: a run folder (its dense trajectory when ``dense`` and present, else the per-frame one;
            its pivot and time origin from ``config.json``) or one of the two CSVs.
        dense: prefer the dense trajectory of a run folder.
        frame_span_s: how long a per-frame angle integrates (stamped at the middle of it); default
            the median frame interval, as in ``run``.

    Lost frames (NaN angles) are left out, and ``source`` says how many.

    Raises:
        InputError: no trajectory, an unreadable file, or fewer than 2 samples with an orientation.
    """
    from motiondepth.io.run_folder import CONFIG, RunFolder
    from motiondepth.io.trajectory import file_kind, read_angle_series, read_trajectory_csv

    path = Path(path)
    pivot, origin, run = None, 0.0, None
    if path.is_dir():
        if (path / CONFIG).is_file():
            run = RunFolder.open(path)
            pivot, origin = run.pivot_m, run.time_origin_s
            run.check_files("trajectory.csv", "trajectory_dense.csv")
        names = ["trajectory_dense.csv", "trajectory.csv"] if dense else ["trajectory.csv"]
        found = [path / n for n in names if (path / n).is_file()]
        if not found:
            raise InputError(path, f"folder has no {' or '.join(names)} (not a 'motiondepth run' output)")
        path = found[0]
    kind = file_kind(path)
    angles, times = read_angle_series(path, kind)
    if run is not None and kind == "trajectory":
        run.check_frame_count(path.name, len(times))
    source = f"{path} (dense)"
    per_frame = path if kind == "trajectory" else path.with_name("trajectory.csv")
    frame_times, frame_centres = None, None
    if per_frame.is_file() and file_kind(per_frame) == "trajectory":
        traj = read_trajectory_csv(per_frame)
        frame_times, frame_centres = traj.times, traj.centres
    span = None
    if kind == "trajectory":
        if len(times) < 2:
            raise InputError(path, "need at least 2 frames")
        span = frame_span_s if frame_span_s is not None else float(np.median(np.diff(times)))
        times = times + 0.5 * span
        source = f"{path} (per frame, stamped at the middle of a {1e3 * span:.1f} ms span)"
    centres = None
    if frame_centres is not None and np.isfinite(frame_centres).any():
        ok = np.isfinite(frame_centres).all(1)
        if span is None and len(frame_times) > 1:
            span = float(np.median(np.diff(frame_times)))
        mid = frame_times[ok] + 0.5 * (span or 0.0)
        centres = np.stack([np.interp(times, mid, frame_centres[ok, k]) for k in range(3)], 1)
    kept = np.isfinite(angles).all(1)
    if not kept.all():  # lost frames: left out (a gap in the poses; the rate across it is its mean)
        angles, times = angles[kept], times[kept]
        centres = None if centres is None else centres[kept]
        source += f"; {(~kept).sum()} lost sample(s) left out"
    if len(times) < 2 or not np.all(np.diff(times) > 0):
        raise InputError(path, "need at least 2 samples with an orientation, at increasing times")
    return TrajectorySamples(times + origin, angles, pivot, source, centres)


def write_tum(path: str | Path, samples: TrajectorySamples, pivot_m: float | None = 0.0) -> None:
    """TUM trajectory file: ``timestamp tx ty tz qx qy qz qw`` per sample (camera-to-reference). The positions
    are the samples' recovered centres, or with ``pivot_m`` given (or no centres) the pivot model's."""
    if pivot_m is None and samples.centres is not None:
        pos, how = samples.centres, "camera centres as recovered (rotation and translation)"
    else:
        pivot = pivot_m or 0.0
        pos, how = camera_centre(euler_to_matrix(samples.angles), pivot), f"rotation about a pivot {pivot:g} m behind"
        how += " the camera"
    from motiondepth.io.tum import PoseTrack, write_tum_trajectory

    poses = PoseTrack(samples.times, pos, euler_to_quat(samples.angles))
    write_tum_trajectory(
        path,
        poses,
        [
            f"motiondepth trajectory from {samples.source}",
            f"{how}; frame: the first frame's mean orientation (x right, y down, z forward)",
        ],
    )


def write_rates(path: str | Path, samples: TrajectorySamples) -> None:
    """Gyro-style log ``time_s,wx,wy,wz`` (rad/s, camera axes): the mean body rate between consecutive
    samples, stamped at their midpoint."""
    from motiondepth.io.gyro_log import write_gyro_log

    write_gyro_log(path, *_rates(samples))


def _rates(samples: TrajectorySamples) -> tuple[np.ndarray, np.ndarray]:
    """The mean body rate (M − 1, 3) rad/s between consecutive samples, stamped at their midpoints (M − 1,)."""
    t = samples.times
    return 0.5 * (t[1:] + t[:-1]), body_rates(samples.angles, t)


def write_gcsv(path: str | Path, samples: TrajectorySamples) -> None:
    """Gyroflow's ``.gcsv`` gyro log (``t,gx,gy,gz``, rates as :func:`write_rates`, camera axes x right, y down,
    z forward, ``orientation XYZ``: the columns as they are, in Gyroflow's rule, where a lowercase letter negates;
    ``tscale`` 1 µs, ``gscale`` 1 µrad/s per unit), so the recovered motion can be loaded where a gyro log is
    expected."""
    mid, rates = _rates(samples)
    buf = io.StringIO()
    buf.write("GYROFLOW IMU LOG\nversion,1.3\nid,motiondepth\norientation,XYZ\n")
    buf.write(f"note,rates of the camera motion motiondepth recovered from {samples.source}\n")
    buf.write("tscale,0.000001\ngscale,0.000001\nt,gx,gy,gz\n")
    body = np.column_stack([np.round(mid * 1e6), np.round(rates * 1e6)]).astype(np.int64)
    np.savetxt(buf, body, fmt="%d", delimiter=",")
    with atomic_path(path) as tmp:
        tmp.write_text(buf.getvalue())


def export_trajectory(
    path: str | Path,
    out: str | Path,
    fmt: str = "tum",
    dense: bool = True,
    pivot_m: float | None = None,
    frame_span_s: float | None = None,
    time_offset_s: float = 0.0,
) -> TrajectorySamples:
    """Write the trajectory of ``path`` (see :func:`load_samples`) to ``out`` as ``fmt`` (:data:`FORMATS`).

    TUM positions: the recovered camera centres when the trajectory has them, unless ``pivot_m`` is given;
    otherwise the pivot model with the run's pivot (``config.json``), else 0 (pure rotation). ``time_offset_s``
    is added to every time (to line up with another clock).
    """
    if fmt not in FORMATS:
        raise InputError("--format", f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    samples = load_samples(path, dense, frame_span_s)
    samples.times = samples.times + time_offset_s
    if fmt == "tum":
        pivot = pivot_m if pivot_m is not None else None if samples.centres is not None else (samples.pivot_m or 0.0)
        if pivot is not None:
            check_pivot(pivot)
        write_tum(out, samples, pivot)
    elif fmt == "gcsv":
        write_gcsv(out, samples)
    else:
        write_rates(out, samples)
    return samples
