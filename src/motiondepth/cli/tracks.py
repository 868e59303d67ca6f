"""``track``, ``trajectory`` and ``eval trajectory``: 2D tracks and the per-frame rotation from them."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from motiondepth import options as opt
from motiondepth.cli.common import (
    add_deprecated_alias,
    add_frame_range_args,
    add_intrinsics_args,
    add_rolling_shutter_args,
    intrinsics_from_args,
)
from motiondepth.errors import InputError
from motiondepth.options import number


def cmd_track(a: argparse.Namespace) -> int:
    from motiondepth.io.camera import calibration_record, read_lens_distortion, resolve_intrinsics
    from motiondepth.io.tracks import save_tracks
    from motiondepth.tracking.chain import inside_area
    from motiondepth.tracking.grid import track_frames
    from motiondepth.workflow.inputs import decode_video, undistorted

    clip = decode_video(a.input, a.start, a.end, a.stride, a.resize)
    given = intrinsics_from_args(a)
    sim_camera = Path(a.input) / "camera.json"
    lens = None
    if given is not None:  # --fx --fy --cx --cy: pixels of the frames as decoded
        intr = given
    elif a.calibration is not None:  # as run reads it: rescaled to the decoded frames, the lens undone
        rec = calibration_record(a.calibration)
        intr = resolve_intrinsics(clip.size, clip.source_size, calibration=a.calibration, calibration_record=rec)[0]
        lens = read_lens_distortion(a.calibration, rec)
        lens = None if lens is None or lens.is_identity else lens
    elif sim_camera.is_file():  # a simulate folder's own camera
        intr = resolve_intrinsics(clip.size, clip.source_size, calibration=sim_camera,
                                  calibration_record=clip.camera)[0]  # fmt: skip
    else:  # the grid about the image centre
        intr = None
    if lens is not None:
        clip = undistorted(clip, intr, lens)
        print(f"frames undistorted ({lens.describe()}); the tracks are in the undistorted frames' pixels")
    t0 = time.perf_counter()
    try:
        tracks = track_frames(clip.frames, a.grid_half, intr, a.tracker, grid_size=a.grid_size)
    except ValueError as exc:
        raise InputError(a.input, str(exc)) from None
    if clip.recorded is not None:  # no point counts as seen in the undistortion's black margin
        tracks.visible &= inside_area(clip.recorded, tracks.tracks.reshape(-1, 2)).reshape(tracks.visible.shape)
    save_tracks(a.out, tracks, None if intr is None else intr.as_array())
    print(
        f"wrote {a.out}: {tracks.num_points} points x {tracks.num_frames} frames (source frames "
        f"{int(clip.indices[0])}–{int(clip.indices[-1])}), {100 * tracks.visible.mean():.1f}% visible, "
        f"{time.perf_counter() - t0:.2f} s"
    )
    return 0


def _solver_camera(rec: dict, path: str, image_size: tuple[int, int]):
    """(intrinsics, pivot, image height or None, lens distortion or None) of ``trajectory --calibration``: a
    ``simulate`` camera.json (or any JSON with ``intrinsics`` and ``pivot_m``) as it is, or any calibration
    file ``run --calibration`` reads (OpenCV, Open3D, ROS, Gyroflow), rescaled to the tracks' frames, with
    its ``pivot_m`` or the default pivot."""
    from motiondepth.geometry.pivot import DEFAULT_PIVOT_M
    from motiondepth.io.camera import camera_from_record, pivot_from_record, read_lens_distortion, resolve_intrinsics

    lens = read_lens_distortion(path, rec)
    lens = None if lens is None or lens.is_identity else lens
    if "pivot_m" in rec and ("intrinsics" in rec or "derived" in rec):
        return (*camera_from_record(rec, path), lens)
    if min(image_size) <= 0:
        raise InputError(path, "a calibration file needs the tracks' image_size, which the tracks file lacks")
    intr = resolve_intrinsics(image_size, calibration=path, calibration_record=rec)[0]
    return intr, pivot_from_record(rec, path, DEFAULT_PIVOT_M), None, lens


def cmd_trajectory(a: argparse.Namespace) -> int:
    from motiondepth.io.camera import calibration_record
    from motiondepth.io.depth import load_depth
    from motiondepth.io.tracks import load_tracks
    from motiondepth.io.trajectory import write_trajectory_csv
    from motiondepth.trajectory.homography import solve_homography
    from motiondepth.trajectory.optics import rolling_shutter_config, solve_trajectory

    tracks, _ = load_tracks(a.tracks)
    h, w = tracks.image_size
    if a.calibration is None:
        raise InputError(
            "--calibration", "is required: the camera's intrinsics (and pivot), e.g. simulate's camera.json"
        )
    rec = calibration_record(a.calibration)  # read once for intrinsics, pivot, lens and frame interval
    intr, pivot, height, lens = _solver_camera(rec, a.calibration, (h, w))
    if a.pivot is not None:
        pivot = a.pivot
    depth = load_depth(a.depth, a.depth_scale) if a.depth else None
    if depth is None and pivot > 0 and a.mode != "homography":
        raise InputError("--depth", f"a depth map is needed with a non-zero pivot ({pivot} m)")
    if depth is not None and h and depth.shape != (h, w):
        raise InputError(a.depth, f"depth is {depth.shape[1]}x{depth.shape[0]} but tracks were made on {w}x{h} frames")
    if lens is not None:  # the solver's pinhole model: tracks and depth move to the pinhole image with the same K
        import cv2

        tracks.tracks = lens.undistort_points(tracks.tracks, intr).astype(tracks.tracks.dtype)
        if depth is not None:
            mx, my = lens.undistort_maps(intr, (h, w))
            depth = cv2.remap(depth.astype(np.float32), mx, my, cv2.INTER_NEAREST, borderValue=0.0)
    interval = rec.get("frame_interval_s")
    times = np.arange(tracks.num_frames) * (float(interval) if interval else 1.0)
    readout = None
    if a.readout_ms is not None:
        readout = a.readout_ms / 1000.0
    elif rec.get("row_time_s") and (height or h):  # a simulate camera.json knows its readout
        readout = float(rec["row_time_s"]) * (height or h)
    if readout is not None and not interval:
        raise InputError(a.calibration, "has no frame_interval_s, which --readout-ms needs")
    try:
        solver = rolling_shutter_config(a.rolling_shutter, readout, float(interval) if interval else None)
    except ValueError as exc:
        raise InputError("--readout-ms", str(exc)) from None
    try:
        if a.mode == "homography":
            traj = solve_homography(tracks.tracks, tracks.visible, intr, times)
        else:
            traj = solve_trajectory(
                tracks.tracks, tracks.visible, depth, intr, pivot, times, a.mode, solver, image_height=height or h
            )
    except ValueError as exc:
        raise InputError(a.tracks, str(exc)) from None
    unsolved = np.flatnonzero(~np.isfinite(traj.angles).all(1))  # reported below; none solved: the solvers raise
    if a.dense:
        if not a.video:
            raise InputError("--dense", "needs --video (the decoder reads the blurred frames)")
        from motiondepth.depth.blur import BlurPredictor
        from motiondepth.io.video import load_frames

        frames, _, _ = load_frames(a.video)
        if len(frames) != len(traj.angles):
            raise InputError(a.video, f"has {len(frames)} frames but the tracks have {len(traj.angles)}")
        if lens is not None:
            from motiondepth.geometry.distortion import undistort_frames

            frames = undistort_frames(frames, intr, lens)
        pred = BlurPredictor(a.depth_checkpoint, a.trajectory_checkpoint)
        traj.dense = pred.dense_trajectory(frames, traj.angles, intr.fx, a.dense, source=str(a.video))
    write_trajectory_csv(a.out, traj)
    print(
        f"wrote {a.out}: {len(traj.angles)} frames ({a.mode}), median residual {np.nanmedian(traj.residual_px):.3f} px"
    )
    if len(unsolved):
        shown = ", ".join(str(i) for i in unsolved[:10]) + (", …" if len(unsolved) > 10 else "")
        print(f"warning: {len(unsolved)} frame(s) had too few tracked points to solve ({shown}); their angles "
              "are NaN in the CSV")  # fmt: skip
    return 0


def add_commands(sub) -> None:
    """Register ``track`` and ``trajectory``."""
    t = sub.add_parser(
        "track",
        help="track the query grid through a video",
        description="Track a (2i+1)^2 grid of query points from frame 0 through a video file or a simulate output "
        "directory (weight-free pyramidal Lucas-Kanade with a forward-backward check). Writes an .npz with "
        "tracks (T,N,2), visible (T,N), queries (N,3) as (t,x,y), image_size.",
    )
    t.add_argument(
        "input", metavar="INPUT", help="video file (mp4, mov, ...), image folder, or 'motiondepth simulate' folder"
    )
    grid = t.add_mutually_exclusive_group()
    grid.add_argument(
        "--grid-half",
        type=number(opt.GRID_HALF),
        default=12,
        metavar="I",
        help="half-width count i: (2i+1)^2 points (default 12 → 625; at most 64)",
    )
    grid.add_argument(
        "--grid-size",
        type=number(opt.GRID_SIZE),
        metavar="N",
        help="N x N points over the same area (CoTracker's grid_size; odd N has a point at the principal point)",
    )
    add_intrinsics_args(t, "the frames: the grid is centred on the principal point (default: a simulate folder's "
                        "camera.json, else the image centre)",
                        calibration="camera calibration file, as run reads it (OpenCV, Open3D, ROS, Gyroflow; values "
                        "for the source frames, rescaled with --resize; with lens distortion the frames are "
                        "undistorted first)")  # fmt: skip
    add_frame_range_args(t)
    t.add_argument("--tracker", default="klt", choices=opt.BUILTIN_TRACKERS,
                   help="klt (default; each frame matched to the query frame), klt-chain (frame to frame) or dis "
                   "(dense DIS optical flow, chained)")  # fmt: skip
    t.add_argument("--out", required=True, metavar="TRACKS.npz", help="output file")
    t.set_defaults(func=cmd_track)

    r = sub.add_parser(
        "trajectory",
        help="recover the camera rotation per frame from tracks",
        description="Solve the camera rotation [roll, pitch, yaw] of every frame relative to frame 0 from tracked "
        "query points and a depth map (optics-based solver). Writes CSV columns frame,time_s,roll_rad,pitch_rad,"
        "yaw_rad,residual_px.",
    )
    r.add_argument("tracks", metavar="TRACKS", help="tracks .npz from 'motiondepth track'")
    r.add_argument(
        "--depth", metavar="DEPTH", help="depth of frame 0 (groundtruth.npz, .npz key 'depth', or 16-bit PNG)"
    )
    r.add_argument(
        "--depth-scale",
        type=number(opt.DEPTH_SCALE),
        metavar="METRES_PER_UNIT",
        help="metres per unit of a 16-bit depth image",
    )
    r.add_argument(
        "--calibration",
        metavar="FILE",
        help="required: camera.json (from simulate), a JSON with intrinsics and pivot_m, or a calibration file as for "
        "'run --calibration' (OpenCV, Open3D, ROS, COLMAP, Gyroflow; pivot 0.2 m unless it has pivot_m). Lens "
        "distortion in it is removed from the tracks (and the depth map and --video frames) before solving "
        "(was --camera, still accepted)",
    )
    add_deprecated_alias(r, "--camera", "--calibration", "calibration", "FILE")
    r.add_argument("--pivot", type=number(opt.PIVOT), metavar="METRES", help="override the pivot distance")
    r.add_argument(
        "--mode",
        default="lsq",
        choices=["paper", "lsq", "homography"],
        help="paper: the paper's sequential solver; lsq: robust refinement (default); homography: baseline",
    )
    add_rolling_shutter_args(
        r, "sensor readout time of a frame (default: from camera.json's row_time_s when it has one)"
    )
    r.add_argument(
        "--dense",
        type=int,
        choices=[15, 30],
        help="also predict S samples per frame with the dense trajectory decoder (needs --video); adds columns "
        "dense_<j>_<axis> to the CSV",
    )
    r.add_argument("--video", metavar="VIDEO_OR_DIR", help="the clip the tracks came from (for --dense)")
    r.add_argument("--trajectory-checkpoint", default="trajectory-small", metavar="NAME_OR_PATH",
                   help="dense decoder checkpoint (default trajectory-small)")  # fmt: skip
    r.add_argument("--depth-checkpoint", default="blur-depth-small", metavar="NAME_OR_PATH",
                   help="blur-depth checkpoint the decoder was trained with (default blur-depth-small)")  # fmt: skip
    r.add_argument("--out", required=True, metavar="TRAJECTORY.csv", help="output CSV")
    r.set_defaults(func=cmd_trajectory)
