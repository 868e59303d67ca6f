"""The ``export-trajectory`` command: a recovered camera path for other tools (TUM for evo, COLMAP, nerfstudio,
Gyroflow's .gcsv, a rate log)."""

from __future__ import annotations

import argparse

from motiondepth import options as opt
from motiondepth.options import number


def cmd_export_trajectory(a: argparse.Namespace) -> int:
    from motiondepth.io.export import export_trajectory

    if a.format in ("colmap", "nerfstudio"):
        from motiondepth.io.scene_export import write_colmap, write_nerfstudio
        from motiondepth.workflow.inputs import run_frames

        pixels = None if a.no_images else run_frames(a.input)
        counts = (write_colmap if a.format == "colmap" else write_nerfstudio)(a.input, a.out, pixels)
        what = ", ".join(f"{v} {k}" for k, v in counts.items())
        print(f"wrote {a.out} ({a.format}): {what}")
        return 0
    samples = export_trajectory(a.input, a.out, a.format, not a.per_frame, a.pivot, a.frame_span, a.time_offset)
    t = samples.times
    print(f"wrote {a.out}: {len(t)} samples, {t[0]:.6f}–{t[-1]:.6f} s, from {samples.source}")
    return 0


def add_commands(sub) -> None:
    """Register ``export-trajectory``."""
    _add_export_trajectory(sub)


def _add_export_trajectory(sub) -> None:
    """Register ``export-trajectory``."""
    x = sub.add_parser(
        "export-trajectory",
        help="write a recovered trajectory as TUM poses (evo) or a gyro-style rate log",
        description="Convert a 'run' folder's trajectory (the dense one when present) or a trajectory CSV. "
        "tum: 'timestamp tx ty tz qx qy qz qw' per sample, camera-to-reference, the camera centres the run "
        "recovered (the bundle adjustment's translation, or the pivot model's), or with --pivot (or a trajectory "
        "without centres) the centre moving on the sphere of the rotation pivot (0 = pure rotation); times on the "
        "input's clock when an image folder had timestamps, at full precision, so evo (evo_traj/evo_ape tum) "
        "can compare it with a dataset's ground truth. rates: 'time_s,wx,wy,wz' in rad/s, camera axes (x right, "
        "y down, z forward), the body rate "
        "between consecutive samples, as a gyroscope would log it; compare-gyro, shake and simulate --shake "
        "read it. gcsv: the same rates as a Gyroflow .gcsv gyro log. colmap (a folder: cameras.txt, images.txt, "
        "points3D.txt) and nerfstudio (transforms.json): "
        "a run folder's per-frame cameras and, for colmap, its tracks' 3D points (docs/formats.md).",
    )
    x.add_argument(
        "input", metavar="RUN_DIR_OR_CSV", help="a 'run' output folder, trajectory.csv or trajectory_dense.csv"
    )
    x.add_argument("--format", default="tum", choices=["tum", "rates", "gcsv", "colmap", "nerfstudio"],
                   help="output format (default tum; colmap and nerfstudio need a run folder)")  # fmt: skip
    x.add_argument("--out", required=True, metavar="PATH", help="file to write (colmap: a folder)")
    x.add_argument("--per-frame", action="store_true", help="a run folder's per-frame trajectory, not the dense one")
    x.add_argument("--no-images", action="store_true", help="colmap, nerfstudio: the poses only, not the frames they "
                   "belong to (by default decoded again from the run's input, undistorted as the run did, into "
                   "images/ beside the export)")  # fmt: skip
    x.add_argument(
        "--pivot",
        type=number(opt.PIVOT),
        default=None,
        metavar="M",
        help="pivot behind the camera for tum (default: the run's, else 0)",
    )
    x.add_argument(
        "--frame-span",
        type=number(opt.FRAME_SPAN_S),
        default=None,
        metavar="S",
        help="time a per-frame angle integrates, stamped at its middle (default: the frame interval, as in run)",
    )
    x.add_argument(
        "--time-offset", type=number(opt.TIME_S), default=0.0, metavar="S", help="seconds added to every time"
    )
    x.set_defaults(func=cmd_export_trajectory)
