"""Score a ``motiondepth run`` of a TUM fr1_xyz clip against the Kinect depth at every frame.

- **Depth over time** of the tracks (``tracks3d.npz``): each track's depth ratio to frame 0 against the Kinect's
  at the track's 2D position (:mod:`motiondepth.eval.depth_over_time`), beside assuming no change.
- **Every frame's depth** (``Result.depth_frames``, where the run wrote them): AbsRel per frame, metric and with
  one median scale for the whole clip.

The Kinect maps are registered to the distorted colour image; the run undistorts its frames, so the maps are
undistorted the same way (nearest neighbour) before they are compared. Run from ``benchmarks/`` (the scripts
import it), or::

    python benchmarks/tum_depth.py --start 0 --end 30 --work /tmp/tumdepth
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

REAL = Path(__file__).resolve().parents[2] / "shared" / "real-data"
TUM = REAL / "video-rgbd-tum-fr1xyz"
# published TUM fr1 colour calibration (the dataset's README), OpenCV distortion k1 k2 p1 p2 k3
TUM_CAMERA = {
    "fx": 517.3, "fy": 516.5, "cx": 318.6, "cy": 255.3, "width": 640, "height": 480,
    "distortion_coefficients": [0.2624, -0.9531, -0.0054, 0.0026, 1.1633],
}  # fmt: skip


def tum_camera():
    """The fr1 colour camera of :data:`TUM_CAMERA`: its intrinsics and its lens distortion."""
    from motiondepth.geometry.camera import Intrinsics
    from motiondepth.geometry.distortion import LensDistortion

    intr = Intrinsics(*(TUM_CAMERA[k] for k in ("fx", "fy", "cx", "cy")))
    return intr, LensDistortion("opencv", TUM_CAMERA["distortion_coefficients"])


def kinect_depths(seq, positions: np.ndarray) -> np.ndarray:
    """(T, H, W) metres, the Kinect map nearest in time to each colour frame, undistorted like the run's frames
    (0 where no map is within 20 ms or the pixel has no depth)."""
    import cv2

    from motiondepth.io.depth import load_depth

    intr, lens = tum_camera()
    mx, my = lens.undistort_maps(intr, (480, 640))
    out = np.zeros((len(positions), 480, 640), np.float32)
    for i, path in enumerate(seq.depth_for(positions)):
        if path is not None:
            out[i] = cv2.remap(load_depth(path, 1 / 5000), mx, my, cv2.INTER_NEAREST)  # TUM: metres = value / 5000
    return out


def rigid_ratios(xy0: np.ndarray, z0: np.ndarray, angles: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """(T, N) depths of static points seen at undistorted pixels ``xy0`` (N, 2) at depths ``z0`` (N,) in frame 0,
    moved by a path (angles (T, 3), the project's camera-to-reference convention, and centres (T, 3) metres):
    the rigid prediction with no rolling shutter."""
    from motiondepth.geometry.rotations import euler_to_matrix

    x = (np.c_[xy0, np.ones(len(xy0))] @ np.linalg.inv(tum_camera()[0].K).T) * z0[:, None]  # (N, 3), frame 0's axes
    r = euler_to_matrix(np.nan_to_num(np.asarray(angles, np.float64)))  # (T, 3, 3)
    c = np.nan_to_num(np.asarray(centres, np.float64))
    return np.einsum("tj,tnj->tn", r[:, :, 2], x[None] - c[:, None])  # the z of R_kᵀ (X − C_k)


def answer_positions(t3, tracks: np.ndarray) -> np.ndarray:
    """(T, N, 2) where the run's 3D tracks put each point in the image (``tracks_XYZ`` projected): the tracker's
    positions, and the path's finds in the frames it recovered; ``tracks`` where a depth is unknown."""
    xyz = np.asarray(t3.xyz, np.float64)
    k = t3.intrinsics
    with np.errstate(divide="ignore", invalid="ignore"):
        xy = np.stack([k.fx * xyz[..., 0] / xyz[..., 2] + k.cx, k.fy * xyz[..., 1] / xyz[..., 2] + k.cy], -1)
    return np.where(np.isfinite(xy), xy, np.asarray(tracks, np.float64))


def score_run(res, gt: np.ndarray, true_path: tuple[np.ndarray, np.ndarray] | None = None) -> dict:
    """Depth over time of ``res.tracks3d`` and (when the run has them) every frame's depth against ``gt``.

    The tracks are scored where the run's answer puts them (:func:`answer_positions`) in the frames it says they are
    visible: the tracker's, and since the ninth session also the hidden frames the path found again. The no-change
    baseline and the floors are scored on the same (track, frame) pairs.

    With ``true_path`` (the motion capture's angles and centres, :meth:`TumSequence.relative_motion`) also the
    floors: ``floor_true_path``, the Kinect's own frame-0 depth at the tracks moved rigidly by the true path (what no
    rigid prediction can beat against this ground truth: the Kinect's noise, the tracks' drift and the motion
    capture's timing), and ``every_frame_floor`` (:func:`_every_frame_floor`)."""
    from motiondepth.eval.depth_metrics import depth_metrics
    from motiondepth.eval.depth_over_time import depth_ratio_errors, sample_depth_maps

    t3 = res.tracks3d
    tr = res.tracks
    at0 = np.rint(tr.queries[:, 0]) == 0
    xy = answer_positions(t3, tr.tracks)
    truth = sample_depth_maps(gt, xy)[:, at0]
    vis = t3.visible[:, at0]  # the tracker's, and the hidden frames the path found again (path_depth.recover_hidden)
    out = {"depth_over_time": _ratio(depth_ratio_errors(t3.depth[:, at0], truth, vis))}
    sources = t3.meta.get("source_names")
    if sources is not None and "source" in t3.meta:
        src = np.asarray(t3.meta["source"])[at0]
        out["depth_over_time"]["sources"] = {n: int((src == i).sum()) for i, n in enumerate(sources)}
    for key in ("path_depth", "seurat_depth"):
        if key in t3.meta:
            out[key.replace("_depth", "") + "_only"] = _ratio(depth_ratio_errors(t3.meta[key][:, at0], truth, vis))
    if true_path is not None:
        z = rigid_ratios(xy[0, at0], truth[0], *true_path)
        out["floor_true_path"] = _ratio(depth_ratio_errors(z, truth, vis))
    frames = getattr(res, "depth_frames", None)
    if frames is not None and true_path is not None:
        out["every_frame_floor"] = _every_frame_floor(gt, true_path)
    if frames is not None:
        metric, scaled = [], []
        one = np.nanmedian(np.concatenate([(gt[k] / frames[k])[(gt[k] > 0) & (frames[k] > 0)] for k in range(len(gt))]))
        for k in range(len(gt)):
            ok = (gt[k] > 0) & (frames[k] > 0)
            if ok.sum() < 100:
                continue
            metric.append(depth_metrics(np.where(ok, frames[k], np.nan), gt[k])["abs_rel"])
            scaled.append(depth_metrics(np.where(ok, frames[k] * one, np.nan), gt[k])["abs_rel"])
        out["every_frame_depth"] = {
            "abs_rel_metric_median": round(float(np.median(metric)), 3),
            "abs_rel_one_scale_median": round(float(np.median(scaled)), 3),
            "abs_rel_one_scale_worst_frame": round(float(np.max(scaled)), 3),
            "clip_scale": round(float(one), 3),
            "frames_scored": len(scaled),
        }
    return out


def _every_frame_floor(gt: np.ndarray, true_path: tuple[np.ndarray, np.ndarray]) -> dict:
    """Every frame's depth as ``run`` makes it (frame 0's map moved by the path, what frame 0 never saw filled from
    the nearest seen pixel) from the Kinect's own frame-0 map and the true path: AbsRel per frame against the Kinect
    (median, worst frame). What the warp alone costs, with a perfect frame-0 map and path."""
    from motiondepth.eval.depth_metrics import depth_metrics
    from motiondepth.types import Trajectory
    from motiondepth.workflow.steps import frame_depths

    intr = tum_camera()[0]
    ang, cen = true_path
    traj = Trajectory(ang, np.arange(len(ang)) / 30.0, np.zeros(len(ang)), "groundtruth", centres=cen)
    maps, _ = frame_depths(np.where(gt[0] > 0, gt[0], np.nan), intr, traj)
    rel = [depth_metrics(np.where((gt[k] > 0) & (maps[k] > 0), maps[k], np.nan), gt[k])["abs_rel"]
           for k in range(1, len(gt)) if (gt[k] > 0).sum() >= 100]  # fmt: skip
    return {"abs_rel_median": round(float(np.median(rel)), 3), "abs_rel_worst_frame": round(float(np.max(rel)), 3)}


def score_rotation(res, truth: np.ndarray) -> dict:
    """The run's per-frame rotation against the true angles ``truth`` (T, 3) (the motion capture's,
    :meth:`TumSequence.relative_motion`): RMSE over the true RMS (reporting no rotation scores 1), and the model the
    run chose."""
    from motiondepth.eval.trajectory_metrics import trajectory_metrics

    true_rms = float(np.sqrt(np.mean(truth[1:] ** 2)))
    m = trajectory_metrics(res.trajectory.angles, truth)
    mo = res.summary.get("motion", {})
    return {"rmse_over_true_rms": round(float(m["rmse_arcmin"]) / (true_rms * 180 / np.pi * 60), 3),
            "model": mo.get("model"), "solver": mo.get("solver")}  # fmt: skip


def _ratio(e: dict) -> dict:
    return {"ratio_error": round(e["mean"], 4), "no_change": round(e["no_change"], 4),
            "over_no_change": round(e["mean"] / e["no_change"], 3) if e["no_change"] > 0 else None,
            "pairs": e["pairs"]}  # fmt: skip


def main() -> int:
    from motiondepth.io.atomic import write_json
    from motiondepth.io.tum import TumSequence
    from motiondepth.workflow import run

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--end", type=int, default=30)
    ap.add_argument("--work", type=Path, default=Path("/tmp/tumdepth"))
    ap.add_argument("--motion", default="auto")
    a = ap.parse_args()
    seq = TumSequence.open(TUM)
    pos = seq.positions(a.start, a.end)
    a.work.mkdir(parents=True, exist_ok=True)
    calib = a.work / "tum_fr1.json"
    write_json(calib, TUM_CAMERA)
    res = run(TUM / "rgb", a.work / f"run-{a.start}-{a.end}-{a.motion}", start=int(pos[0]), end=int(pos[-1]) + 1,
              calibration=str(calib), motion=a.motion, progress=False)  # fmt: skip
    path = seq.relative_motion(pos)
    out = score_run(res, kinect_depths(seq, pos), path)
    out["rotation"] = score_rotation(res, path[0])
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
