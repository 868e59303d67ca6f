"""Stabilisation benchmark: how still does ``stabilized.mp4`` hold, and what does the row-by-row warp add?

Clips: procedural scenes (no ``../shared`` needed) shaken by the ``handheld`` model (synthetic, with
the band energies of a real phone gyro log) and rendered as the ``phone`` preset at 256 × 256 with a
short exposure (4 ms: daylight) at 25 fps, for sensor readouts of 0, 10, 20 and 30 ms (a phone's
rolling shutter is 10–30 ms). ``motiondepth run`` sees the simulate folder with the true intrinsics
and no depth, and ``--stabilize-sigma 0`` (every frame locked to frame 0's view, so the ideal output
does not move).

Score: the mean absolute frame-to-frame-0 difference of the central half of the frames (grey
levels, 0–255), for the raw clip, the per-frame warp (one homography per frame) and the row-by-row
warp, with the ground truth (per-row: the simulator's dense trajectory over each row's exposure) and
with the run's trajectory (per-row: the solver's rolling-shutter rates, ``Trajectory.readout_rotation``;
given ``--readout-ms``; ``readout unknown``: a second run told ``--readout-ms 0``, so frame 0's shear
stays in every frame).
What no rotation warp can remove (the pivot translation's parallax, resampling) stays in every
column; the truth columns show how much is left for the trajectory to explain.

    python benchmarks/stabilize.py            # ≈ 3 min on 2 cores (32 runs)
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from motiondepth.io.atomic import write_json_and_markdown
from motiondepth.simulate import camera_preset
from motiondepth.simulate.scene import simulate_scene, write_simulation
from motiondepth.trajectory.stabilize import readout_row_angles, row_angles, stabilize_frames
from motiondepth.workflow import run

RESULTS = Path(__file__).parent / "results"
READOUTS_MS = (0.0, 10.0, 20.0, 30.0)
SIZE, FRAMES, EXPOSURE_S, INTERVAL_S = 256, 16, 0.004, 0.040
COLUMNS = ("raw", "per-frame, truth", "per-row, truth", "per-frame, run", "per-row, run", "per-row, readout unknown")


def misalignment(frames: np.ndarray) -> float:
    """Mean |frame k − frame 0| over the central half of the image, frames 1…, grey levels."""
    h, w = frames.shape[1:3]
    f = frames[:, h // 4 : 3 * h // 4, w // 4 : 3 * w // 4].astype(np.float32)
    return float(np.abs(f[1:] - f[0]).mean())


def clip_row(seed: int, readout_ms: float, work: Path) -> dict:
    cam = camera_preset("phone", width=SIZE, height=SIZE, num_frames=FRAMES).replace(
        exposure_s=EXPOSURE_S, row_time_s=readout_ms / 1e3 / SIZE, frame_interval_s=INTERVAL_S
    )
    video = simulate_scene(cam, scene_seed=seed, shake="handheld", shake_seed=seed)
    folder = work / f"clip-{seed}-{readout_ms:g}"
    write_simulation(video, folder)
    k = video.intrinsics
    flags = dict(progress=False, stabilize_sigma=0.0, fx=k.fx, fy=k.fy, cx=k.cx, cy=k.cy)
    res = run(folder, work / f"run-{seed}-{readout_ms:g}", readout_ms=readout_ms, **flags)
    blind = run(folder, work / f"run-{seed}-{readout_ms:g}-blind", readout_ms=0.0, **flags)
    frames, intr = video.frames, video.intrinsics
    truth_rows = row_angles(video.dense[30], cam.frame_span_s, cam.exposure_s, cam.readout_s, SIZE)

    def per_row(traj):
        return stabilize_frames(
            frames, traj.angles, intr, rows=readout_row_angles(traj.angles, traj.readout_rotation, SIZE)
        )

    t0 = time.perf_counter()
    per_row_run = per_row(res.trajectory)
    warp_s = time.perf_counter() - t0
    scores = {
        "raw": misalignment(frames),
        "per-frame, truth": misalignment(stabilize_frames(frames, video.trajectory, intr)),
        "per-row, truth": misalignment(stabilize_frames(frames, video.trajectory, intr, rows=truth_rows)),
        "per-frame, run": misalignment(stabilize_frames(frames, res.trajectory.angles, intr)),
        "per-row, run": misalignment(per_row_run),
        "per-row, readout unknown": misalignment(per_row(blind.trajectory)),
    }
    blur = float(np.median(video.blur_px))
    est = blind.summary["rolling_shutter"]["estimated"]  # the readout the blind run read off the shear
    return {"seed": seed, "readout_ms": readout_ms, "scores": scores, "row_warp_s": warp_s, "blur_px": blur,
            "estimated_readout": est}  # fmt: skip


def markdown(result: dict) -> str:
    lines = [
        f"Stabilised-clip misalignment (mean |frame k − frame 0| of the central half, grey levels; median over "
        f"{len(result['seeds'])} procedural clips per readout; {SIZE} × {SIZE} phone preset, {FRAMES} frames at "
        f"{1 / INTERVAL_S:g} fps, {1e3 * EXPOSURE_S:g} ms exposure, handheld shake, video alone with the true "
        "intrinsics). `truth`: the simulator's angles and dense trajectory; `run`: `motiondepth run`'s.",
        "",
        "| readout (ms) | " + " | ".join(COLUMNS) + " | per-row / per-frame (run) | readout estimated (ms) |",
        "|---:|" + "---:|" * (len(COLUMNS) + 2),
    ]
    for r in result["readouts"]:
        med = r["median"]
        ratio = np.median([c["scores"]["per-row, run"] / c["scores"]["per-frame, run"] for c in r["clips"]])
        est = [c["estimated_readout"]["readout_ms"] for c in r["clips"] if c["estimated_readout"]]
        est_text = ", ".join(f"{e:.1f}" for e in est) if est else "—"
        cells = " | ".join(f"{med[c]:.2f}" for c in COLUMNS)
        lines.append(f"| {r['readout_ms']:g} | {cells} | {ratio:.2f} | {est_text} |")
    lines += [
        "",
        "Readout estimated: what the `readout unknown` run reads off the solver's shear "
        "(`summary.rolling_shutter.estimated`), one value per clip.",
        "",
        f"Row-by-row warp: median {result['row_warp_s_median']:.3f} s per clip ({FRAMES} frames, CPU).",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=4, help="procedural scenes per readout")
    ap.add_argument("--work", type=Path, default=None, help="keep the clips and runs here (default: a temp dir)")
    ap.add_argument("--out", type=Path, default=RESULTS / "stabilize.json")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = a.work or Path(tmp)
        seeds = list(range(300, 300 + a.seeds))
        readouts = []
        for readout in READOUTS_MS:
            clips = [clip_row(s, readout, work) for s in seeds]
            med = {c: float(np.median([x["scores"][c] for x in clips])) for c in COLUMNS}
            readouts.append({"readout_ms": readout, "clips": clips, "median": med})
            print(f"readout {readout:g} ms: " + ", ".join(f"{c} {v:.2f}" for c, v in med.items()), flush=True)
    result = {
        "seeds": seeds,
        "readouts": readouts,
        "row_warp_s_median": float(np.median([c["row_warp_s"] for r in readouts for c in r["clips"]])),
        "machine": platform.platform(),
    }
    md = markdown(result)
    write_json_and_markdown(a.out, result, md)
    print(md)


if __name__ == "__main__":
    main()
