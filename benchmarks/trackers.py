"""Tracker survival and error on real clips: the query grid through TUM fr1_xyz, the phone, GoPro and CoTracker clips.

For each built-in tracker (``klt``: template matching against the query frame; ``klt-chain``: frame to frame,
forward–backward checked; ``dis``: DIS dense optical flow between consecutive frames, chained, forward–backward
checked) the paper's 25 × 25 query grid is tracked from frame 0. Reported per clip: the share
of the grid still visible in the last frame, and on TUM (where the Kinect depth and the motion capture give
where each frame-0 point really goes) the median error of the visible tracks, in the last frame and over
all frames. TUM frames are undistorted with the published calibration first; the GoPro clip is tracked as it
is (no calibration). Needs ``../shared/real-data``.

    python benchmarks/trackers.py        # ≈ 2 min on 2 cores
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np

from motiondepth.geometry.camera import Intrinsics, unproject
from motiondepth.geometry.distortion import undistort_frames
from motiondepth.geometry.rotations import euler_to_matrix
from motiondepth.io.atomic import write_json_and_markdown
from motiondepth.io.depth import load_depth
from motiondepth.io.tum import TumSequence
from motiondepth.io.video import load_frames
from motiondepth.tracking import grid_queries, make_tracker, query_grid
from tum_depth import tum_camera  # benchmarks/tum_depth.py: run as a script from benchmarks/

REAL = Path(__file__).resolve().parents[2] / "shared" / "real-data"
TUM = REAL / "video-rgbd-tum-fr1xyz"
TUM_K, TUM_LENS = tum_camera()
TRACKERS = ("klt", "klt-chain", "dis")


def tum_truth(seq: TumSequence, frames: np.ndarray, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where the frame-0 query pixels really are in every frame (T, N, 2), and which have a Kinect depth."""
    depth = load_depth(seq.depth_for(frames[:1])[0], 1 / 5000)
    ij = np.round(queries).astype(int)
    z = depth[ij[:, 1], ij[:, 0]]
    ok = z > 0
    pts = unproject(queries.astype(np.float64), np.where(ok, z, 1.0), TUM_K)
    angles, centres = seq.relative_motion(frames)
    out = np.zeros((len(frames), len(queries), 2))
    for k in range(len(frames)):
        d = (pts - centres[k]) @ euler_to_matrix(angles[k])  # Rᵀ (X − C) as row vectors
        out[k] = np.stack([TUM_K.fx * d[:, 0] / d[:, 2] + TUM_K.cx, TUM_K.fy * d[:, 1] / d[:, 2] + TUM_K.cy], 1)
    return out, ok


def score(frames: np.ndarray, intr: Intrinsics | None, truth=None) -> dict:
    q = query_grid(12, frames.shape[1:3], intr)
    row = {}
    if truth is not None:  # the most any tracker could keep: grid points whose true position is still in view
        gt, ok = truth
        h, w = frames.shape[1:3]
        x, y = gt[-1, :, 0], gt[-1, :, 1]
        row["in_view_last_frame"] = round(float((ok & (x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)).mean()), 3)
    for name in TRACKERS:
        t0 = time.perf_counter()
        tr = make_tracker(name).track(frames, grid_queries(q))
        entry = {"survival_last_frame": round(float(tr.visible[-1].mean()), 3),
                 "seconds": round(time.perf_counter() - t0, 2)}  # fmt: skip
        if truth is not None:
            gt, ok = truth
            err = np.linalg.norm(tr.tracks - gt, axis=-1)
            vis = tr.visible & ok[None]
            last = err[-1][vis[-1]]
            entry["median_error_px_last_frame"] = round(float(np.median(last)), 2) if len(last) else None
            entry["median_error_px_all_frames"] = round(float(np.median(err[1:][vis[1:]])), 2)
        row[name] = entry
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "trackers.json"))
    a = ap.parse_args()
    if not TUM.is_dir():
        raise SystemExit(f"needs {TUM}")
    seq = TumSequence.open(TUM)
    rows = []
    # by sequence frame (tum_clips.py); the long clip was positions 0–119 before the folder grew, across a 15-s gap
    for start, end in ((0, 30), (30, 60), (700, 730), (730, 760), (700, 760)):
        idx = seq.positions(start, end)
        rgb = np.stack([cv2.cvtColor(cv2.imread(str(TUM / seq.rgb_files[i])), cv2.COLOR_BGR2RGB) for i in idx])
        frames = undistort_frames(rgb, TUM_K, TUM_LENS)
        q = query_grid(12, frames.shape[1:3], TUM_K)
        rows.append({"clip": f"TUM fr1_xyz {start}–{end - 1}", "frames": len(idx),
                     **score(frames, TUM_K, tum_truth(seq, idx, q))})  # fmt: skip
    phone = REAL / "video-gyro-phone-xiaomi" / "frames"
    if phone.is_dir():
        frames = load_frames(phone)[0]
        rows.append({"clip": "Xiaomi phone (from a car)", "frames": len(frames),
                     **score(frames, Intrinsics(573.85, 575.04, 406.01, 309.01))})  # fmt: skip
    gopro = REAL / "video-gpmf-gopro-max" / "max-heromode.mp4"
    if gopro.is_file():
        frames = load_frames(gopro)[0][:100]
        rows.append({"clip": "GoPro MAX walk, first 100 frames", "frames": len(frames), **score(frames, None)})
    apple = REAL / "video-cotracker" / "apple.mp4"
    if apple.is_file():
        frames = load_frames(apple)[0]
        rows.append({"clip": "CoTracker apple.mp4", "frames": len(frames), **score(frames, None)})
    lines = ["## Tracker survival and error on real clips (the 25 × 25 query grid from frame 0)", "",
             "| clip | frames | in view | " + " | ".join(f"{t} survival | {t} error px (last / all)" for t in TRACKERS)
             + " |", "|---|---:|---:|" + "---:|---|" * len(TRACKERS)]  # fmt: skip
    for r in rows:
        cells = []
        for t in TRACKERS:
            e = r[t]
            err = (f"{e['median_error_px_last_frame']} / {e['median_error_px_all_frames']}"
                   if "median_error_px_all_frames" in e else "–")  # fmt: skip
            cells += [f"{100 * e['survival_last_frame']:.0f} %", err]
        view = f"{100 * r['in_view_last_frame']:.0f} %" if "in_view_last_frame" in r else "–"
        lines.append(f"| {r['clip']} | {r['frames']} | {view} | " + " | ".join(cells) + " |")
    md = "\n".join(lines) + "\n"
    write_json_and_markdown(a.out, {"clips": rows}, md)
    print(md)
    print(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
