"""Long clips: how the small-motion bundle adjustment's time grows with the clip's length (issue 46, linear time).

The real TUM fr1_xyz frames 0–239 (8 s) are played forwards, backwards and forwards again (0 … 239, 238 … 1, 0 …)
to make 16-s and 24-s clips whose camera goes back and forth over the same desk, as fr1_xyz itself does. The
motion capture follows the same frames, so the rotation is scored as on any clip. The clip is undistorted and
tracked as ``run`` does (chained, re-seeded tracks, the black margin left out), then the model choice
(:func:`~motiondepth.trajectory.small_motion.choose_motion_model`: its fits) is timed alone.

Settings of the solver, side by side where they differ from the default (over 300 frames):

- **default**: up to 300 frames every track is kept whole and the frames' system solved dense; beyond, tracks are
  cut into pieces of 90 frames (:func:`~motiondepth.trajectory.small_motion.split_long_tracks`), the system
  solved banded, and the 6-DoF fit starts from the rotation-only fit alone (not also from rest);
- **whole tracks, dense**: no track cut at any length (what the solver did before the cut; cubic in the length),
  up to ``--dense-up-to`` frames;
- **before: pieces of 60, from rest too**: the default of the sixth and seventh sessions.

Reported per clip: seconds, milliseconds per frame, the chosen fit's iterations, the rotation RMSE over the true
RMS. Run from ``benchmarks/``::

    python long_clip.py                  # 240, 480 and 720 frames; ≈ 10 min on 2 cores
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np

from motiondepth.eval.trajectory_metrics import trajectory_metrics
from motiondepth.geometry.distortion import recorded_area, undistort_frames
from motiondepth.io.atomic import write_json_and_markdown
from motiondepth.io.tum import TumSequence
from motiondepth.tracking.chain import ChainConfig, track_chained
from motiondepth.trajectory.small_motion import SmallMotionConfig, choose_motion_model, frame0_prior
from tum_depth import TUM, kinect_depths, tum_camera  # benchmarks/tum_depth.py: run as a script from benchmarks/

ARCMIN = 180 / np.pi * 60
DENSE = "whole tracks, dense"  # run up to --dense-up-to frames (cubic in the length)
SETTINGS = {
    "default": SmallMotionConfig(readout_sigma=0.3),
    DENSE: SmallMotionConfig(readout_sigma=0.3, split_above_frames=10**9),
    "before: pieces of 60, from rest too": SmallMotionConfig(
        readout_sigma=0.3, max_track_frames=60, rest_start_max_frames=10**9
    ),
}


def clip(seq: TumSequence, frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Sequence positions of a ``frames``-long back-and-forth clip over frames 0–239, and their undistorted RGB."""
    base = seq.positions(0, 240)
    cycle = np.r_[np.arange(240), np.arange(238, 0, -1)]
    pos = base[np.resize(cycle, frames)]
    rgb = {int(i): cv2.cvtColor(cv2.imread(str(TUM / seq.rgb_files[i])), cv2.COLOR_BGR2RGB) for i in np.unique(pos)}
    intr, lens = tum_camera()
    und = undistort_frames(np.stack([rgb[int(i)] for i in base]), intr, lens)
    return pos, und[np.resize(cycle, frames)]


def measure(seq: TumSequence, frames: int, settings: list[str]) -> list[dict]:
    intr, lens = tum_camera()
    pos, und = clip(seq, frames)
    tracks = track_chained(
        und, config=ChainConfig.for_size(und.shape[1:3]), valid=recorded_area(intr, lens, (480, 640))
    )
    prior = frame0_prior(tracks, kinect_depths(seq, pos[:1])[0] * 1.3)  # a prior off by 30 %, as the network's is
    truth, _ = seq.relative_motion(pos)
    rms = float(np.sqrt(np.mean(truth[1:] ** 2)))
    rows = []
    for name in settings:
        t0 = time.perf_counter()
        sol, _ = choose_motion_model(tracks, intr, np.where(prior > 0, prior, np.nan), 0.2, 0.5, SETTINGS[name])
        seconds = time.perf_counter() - t0
        rmse = trajectory_metrics(sol.angles, truth)["rmse_arcmin"] / ARCMIN
        rows.append({"frames": frames, "setting": name, "seconds": round(seconds, 1),
                     "ms_per_frame": round(1000 * seconds / frames), "iterations": int(sol.iterations),
                     "model": sol.model, "track_pieces": sol.meta.get("track_pieces"),
                     "tracks": int(tracks.num_points), "observations": int(tracks.visible.sum()),
                     "rmse_over_true_rms": round(float(rmse / rms), 3)})  # fmt: skip
        print(rows[-1], flush=True)
    return rows


def markdown(rows: list[dict]) -> str:
    lines = ["## Long clips: the bundle adjustment's time against the clip's length", "",
             "TUM fr1_xyz 0–239 played back and forth (`long_clip.py`); the model choice's fits alone (rotation-only, "
             "pivot, 6-DoF from one or two starts), on one machine, one after another. Rotation: RMSE over the true "
             "RMS along the same frames.", "",
             "| frames | setting | s | ms / frame | iterations (chosen fit) | track pieces | rotation RMSE/RMS |",
             "|---:|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    for r in rows:
        lines.append(f"| {r['frames']} | {r['setting']} | {r['seconds']} | {r['ms_per_frame']} | {r['iterations']} | "
                     f"{r['track_pieces'] or '–'} | {r['rmse_over_true_rms']} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, nargs="+", default=[240, 480, 720])
    ap.add_argument("--dense-up-to", type=int, default=480, help="run the whole-tracks dense solve up to this length")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "long_clip.json"))
    a = ap.parse_args()
    if not TUM.is_dir():
        print(f"skipped: {TUM} not found")
        return 0
    seq = TumSequence.open(TUM)
    rows = []
    for n in a.frames:
        split = SETTINGS["default"].split_above_frames
        names = ["default"]  # (up to 300 frames every setting is the same solve)
        if n > split:
            names += [k for k in SETTINGS if k != "default" and (k != DENSE or n <= a.dense_up_to)]
        rows += measure(seq, n, names)
    md = markdown(rows)
    write_json_and_markdown(Path(a.out), {"rows": rows}, md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
