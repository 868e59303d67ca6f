"""A run's cameras for reconstruction tools: COLMAP text models and nerfstudio ``transforms.json``.

Both are written from a ``run`` output folder: its per-frame trajectory (``trajectory.csv``: rotation
and camera centre, metres, in frame 0's camera axes), its intrinsics (``config.json``; the pinhole
camera of the frames ``run`` worked on, undistorted when a calibration had distortion), its tracks
(``tracks.npz``) and their 3D points (``tracks3d.npz``, metres). Frames whose rotation was not solved
are left out. Images are named ``frame_000000.png`` … by their index in the clip as ``run`` read it
(``config.json`` ``input.indices``) and, given the frames, written beside the export (``images/``): the command
line passes the run's input decoded again with its settings and undistorted as the run undistorted it
(:func:`motiondepth.workflow.inputs.run_frames`), so they are the frames the poses and the pinhole camera belong
to.

**COLMAP** (``cameras.txt``, ``images.txt``, ``points3D.txt``; COLMAP's text model): one ``PINHOLE``
camera; per image the world-to-camera pose ``R = R_kᵀ``, ``t = −R_kᵀ C_k`` as ``QW QX QY QZ TX TY TZ``
(COLMAP's convention), and its 2D observations; the world frame is frame 0's camera (x right, y down,
z forward, metres). A 3D point per track: its frame-0 position from ``tracks3d.npz`` (the tracks' metric
depth), its colour frame 0's at the track, observed where the track is visible and the point reprojects within
:data:`MAX_REPROJECTION_PX` (COLMAP's own default filter); ``ERROR`` is the mean reprojection error, pixels, of
the observations kept. The others are left out: a track on something that moves, or whose frame-0 depth is off,
does not reproject with the camera's path (on TUM they reached 150 px), and a point seen in fewer than two images
is dropped.

**nerfstudio** (``transforms.json``): ``fl_x fl_y cx cy w h`` and per frame ``file_path`` and the
camera-to-world ``transform_matrix`` in nerfstudio's OpenGL axes (x right, y up, z back): the
OpenCV pose ``[R_k | C_k]`` times ``diag(1, −1, −1)`` on the camera side.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from motiondepth.geometry.rotations import euler_to_matrix, matrix_to_quat
from motiondepth.io.atomic import atomic_path, staged_output_dir

OPENGL_FROM_OPENCV = np.diag([1.0, -1.0, -1.0])  # camera axes: x right, y down, z forward → x right, y up, z back
MAX_REPROJECTION_PX = 4.0  # observations of a point further than this from its reprojection are left out
IMAGES = "images"  # the folder beside the export that holds the frames


def _check_pixels(pixels: np.ndarray | None, r: dict) -> None:
    if pixels is not None and (pixels.shape[1:3] != tuple(r["size"]) or len(pixels) != len(r["angles"])):
        raise ValueError(f"{len(pixels)} frames of {pixels.shape[1:3]} given for a run of {len(r['angles'])} of "
                         f"{tuple(r['size'])}")  # fmt: skip


def _write_images(folder: Path, frames: np.ndarray, names: list[str], which: np.ndarray) -> None:
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    for k in which:
        if not cv2.imwrite(str(folder / names[k]), cv2.cvtColor(frames[k], cv2.COLOR_RGB2BGR)):
            raise OSError(f"cannot write {folder / names[k]}")


def _run_folder(run_dir: Path) -> dict:
    """What both exports need from a run folder: intrinsics, size, frame names, poses, tracks, 3D points."""
    from motiondepth.io.run_folder import RunFolder
    from motiondepth.io.tracks import load_tracks, load_tracks3d
    from motiondepth.io.trajectory import read_trajectory_csv

    run = RunFolder.open(run_dir)
    (fx, fy, cx, cy), (h, w) = run.require("an export for reconstruction tools")
    run.check_files("trajectory.csv", "tracks.npz", "tracks3d.npz")
    traj = read_trajectory_csv(run.path / "trajectory.csv")
    run.check_frame_count("trajectory.csv", len(traj.angles))
    if traj.centres is None:  # a run from before camera centres were written: the pivot model's
        from motiondepth.geometry.pivot import camera_centre

        pivot = run.pivot_m or 0.0
        traj.centres = camera_centre(euler_to_matrix(np.nan_to_num(traj.angles)), pivot)
    tracks, _ = load_tracks(run_dir / "tracks.npz") if (run_dir / "tracks.npz").is_file() else (None, None)
    t3d = load_tracks3d(run_dir / "tracks3d.npz") if (run_dir / "tracks3d.npz").is_file() else None
    solved = np.isfinite(traj.angles).all(1) & np.isfinite(traj.centres).all(1)
    names = [f"frame_{run.first_index + run.stride * k:06d}.png" for k in range(len(traj.angles))]
    return {"K": (fx, fy, cx, cy), "size": (h, w), "names": names, "angles": traj.angles,
            "centres": traj.centres, "solved": solved, "tracks": tracks, "tracks3d": t3d}  # fmt: skip


def _reprojection_px(r: dict, frames: np.ndarray, ids: np.ndarray, xyz: np.ndarray) -> np.ndarray:
    """(K, N) pixels: how far each point ``xyz`` (N, 3, world) of the tracks ``ids`` lands from its track in each
    solved frame (NaN where the track is not visible or the point is behind the camera)."""
    fx, fy, cx, cy = r["K"]
    tracks = r["tracks"]
    out = np.full((len(frames), len(xyz)), np.nan)
    for i, k in enumerate(frames):
        p = (xyz - r["centres"][k]) @ euler_to_matrix(r["angles"][k])  # world → camera k: R_kᵀ (X − C_k)
        with np.errstate(divide="ignore", invalid="ignore"):
            uv = np.stack([fx * p[:, 0] / p[:, 2] + cx, fy * p[:, 1] / p[:, 2] + cy], 1)
        e = np.linalg.norm(uv - tracks.tracks[k, ids], axis=1)
        out[i] = np.where(tracks.visible[k, ids] & (p[:, 2] > 0), e, np.nan)
    return out


def write_colmap(run_dir: str | Path, out_dir: str | Path, pixels: np.ndarray | None = None) -> dict:
    """``cameras.txt``, ``images.txt`` and ``points3D.txt`` (COLMAP text model) in ``out_dir``, and given the run's
    frames ``pixels`` (T, H, W, 3) RGB, those solved in ``out_dir/images`` and the points' colours; returns
    counts."""
    r = _run_folder(Path(run_dir))
    (fx, fy, cx, cy), (h, w) = r["K"], r["size"]
    tracks, t3d = r["tracks"], r["tracks3d"]
    frames = np.flatnonzero(r["solved"])
    _check_pixels(pixels, r)
    # 3D points: each track's frame-0 position (frame 0 is the world), observed where it reprojects
    points: dict[int, np.ndarray] = {}
    colour: dict[int, np.ndarray] = {}
    error: dict[int, float] = {}
    ids = np.zeros(0, int)  # the tracks with a frame-0 point; kept: (frame, point) observations within the filter
    kept = np.zeros((len(frames), 0), bool)
    dropped = 0
    if tracks is not None and t3d is not None and t3d.xyz.shape[:2] == tracks.tracks.shape[:2]:
        ok = t3d.visible[0] & np.isfinite(t3d.xyz[0]).all(1) & (t3d.xyz[0, :, 2] > 0)
        ids = np.flatnonzero(ok)
        e = _reprojection_px(r, frames, ids, t3d.xyz[0, ids].astype(np.float64))
        kept = np.nan_to_num(e, nan=np.inf) <= MAX_REPROJECTION_PX
        seen = kept.sum(0) >= 2
        dropped = int(np.isfinite(e).sum() - kept[:, seen].sum())
        kept &= seen
        for j in np.flatnonzero(seen):
            n = int(ids[j])
            points[n] = t3d.xyz[0, n]
            error[n] = float(e[kept[:, j], j].mean())
            if pixels is not None:
                u, v = np.clip(np.rint(tracks.tracks[0, n]).astype(int), 0, [w - 1, h - 1])
                colour[n] = pixels[0, v, u]
    column = {int(n): j for j, n in enumerate(ids)}  # a track's column in kept
    observations: dict[int, list[tuple[int, int]]] = {n: [] for n in points}
    lines = ["# Image list with two lines of data per image:",
             "#   IMAGE_ID, QW, QX, QY, QZ, TX, TY, TZ, CAMERA_ID, NAME",
             "#   POINTS2D[] as (X, Y, POINT3D_ID)",
             f"# written by motiondepth from {Path(run_dir).name}: world = frame 0's camera (x right, y down, "
             "z forward), metres"]  # fmt: skip
    for image_id, k in enumerate(frames, 1):
        r_wc = euler_to_matrix(r["angles"][k])  # camera k → world
        r_cw = r_wc.T
        t_cw = -r_cw @ r["centres"][k]
        x, y, z, qw = matrix_to_quat(r_cw)
        lines.append(f"{image_id} {qw:.12f} {x:.12f} {y:.12f} {z:.12f} {t_cw[0]:.9f} {t_cw[1]:.9f} {t_cw[2]:.9f} "
                     f"1 {r['names'][k]}")  # fmt: skip
        obs = []
        if points:
            for n in points:
                if kept[image_id - 1, column[n]]:
                    u, v = tracks.tracks[k, n]
                    observations[n].append((image_id, len(obs)))
                    obs.append(f"{u:.3f} {v:.3f} {n + 1}")
        lines.append(" ".join(obs))
    camera = ["# Camera list with one line of data per camera:", "#   CAMERA_ID, MODEL, WIDTH, HEIGHT, PARAMS[]",
              f"1 PINHOLE {w} {h} {fx:.6f} {fy:.6f} {cx:.6f} {cy:.6f}"]  # fmt: skip
    pts = ["# 3D point list with one line of data per point:",
           "#   POINT3D_ID, X, Y, Z, R, G, B, ERROR, TRACK[] as (IMAGE_ID, POINT2D_IDX)"]  # fmt: skip
    for n, xyz in points.items():
        track = " ".join(f"{i} {j}" for i, j in observations[n])
        rgb = " ".join(str(int(c)) for c in colour.get(n, (128, 128, 128)))
        pts.append(f"{n + 1} {xyz[0]:.6f} {xyz[1]:.6f} {xyz[2]:.6f} {rgb} {error[n]:.4f} {track}")
    with staged_output_dir(out_dir) as stage:  # the files land together, into a new or existing folder
        for name, text in (("cameras.txt", camera), ("images.txt", lines), ("points3D.txt", pts)):
            (stage / name).write_text("\n".join(text) + "\n")
        if pixels is not None:
            _write_images(stage / IMAGES, pixels, r["names"], frames)
    return {"images": len(frames), "points": len(points), "observations left out": dropped,
            "image files": len(frames) if pixels is not None else 0}  # fmt: skip


def write_nerfstudio(run_dir: str | Path, out: str | Path, pixels: np.ndarray | None = None) -> dict:
    """nerfstudio ``transforms.json`` at ``out``, and given the run's frames ``pixels``, those solved in ``images/``
    beside it; returns counts."""
    r = _run_folder(Path(run_dir))
    _check_pixels(pixels, r)
    (fx, fy, cx, cy), (h, w) = r["K"], r["size"]
    frames = []
    for k in np.flatnonzero(r["solved"]):
        c2w = np.eye(4)
        c2w[:3, :3] = euler_to_matrix(r["angles"][k]) @ OPENGL_FROM_OPENCV
        c2w[:3, 3] = r["centres"][k]
        frames.append({"file_path": f"images/{r['names'][k]}", "transform_matrix": c2w.round(12).tolist()})
    note = "poses from a motiondepth run; world = frame 0's camera, metres; OpenGL camera axes"
    doc = {"camera_model": "OPENCV", "fl_x": fx, "fl_y": fy, "cx": cx, "cy": cy, "w": w, "h": h,
           "k1": 0.0, "k2": 0.0, "p1": 0.0, "p2": 0.0, "frames": frames, "motiondepth": note}  # fmt: skip
    if pixels is not None:  # the images first: a transforms.json never names images that are not there
        _write_images(Path(out).parent / IMAGES, pixels, r["names"], np.flatnonzero(r["solved"]))
    with atomic_path(Path(out)) as tmp:
        tmp.write_text(json.dumps(doc, indent=1))
    return {"images": len(frames), "image files": len(frames) if pixels is not None else 0}
