"""Real footage: ``motiondepth run`` on real handheld clips, scored against motion capture and a phone gyroscope.

Needs ``../shared/real-data`` (nothing is copied from it):

- **TUM fr1_xyz** (``video-rgbd-tum-fr1xyz``): 30-frame clips starting at frames 0, 30, 60 and 90 of the
  120 kept frames, and one 60-frame clip (frames 60–119), 640 × 480 at 30 fps. They run with the
  published fr1 calibration (lens distortion included). The per-frame rotation is scored against the
  motion capture (:mod:`motiondepth.io.tum`): RMSE in arcminutes, beside the true RMS rotation. A
  solver that reports no rotation at all scores exactly that RMS, so it is the bar to beat. The
  frame-0 depth map is scored against the Kinect depth: AbsRel, metric and median-scaled.
- **Xiaomi phone clip** (``video-gyro-phone-xiaomi``): 103 frames, 800 × 600, OIS off, shot from a car.
  It runs with the origin's intrinsics, then goes to ``compare-gyro`` against the phone's 412 Hz gyro,
  with the clock offset and axes found automatically.

Each clip's translation over the clip is reported too: the pivot-only motion model allows only the
few millimetres a 0.2 m pivot implies, and real hands move centimetres.

    python benchmarks/real_footage.py --work /tmp/real     # ≈ 1 min on 2 cores; reruns reuse the runs in --work
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from motiondepth.eval.depth_metrics import depth_metrics
from motiondepth.eval.trajectory_metrics import trajectory_metrics
from motiondepth.geometry.pivot import camera_centre
from motiondepth.geometry.rotations import euler_to_matrix
from motiondepth.io.atomic import write_json, write_json_and_markdown
from motiondepth.io.depth import load_depth
from motiondepth.io.tum import TumSequence
from motiondepth.workflow import run

REAL = Path(__file__).resolve().parents[2] / "shared" / "real-data"
TUM = REAL / "video-rgbd-tum-fr1xyz"
PHONE = REAL / "video-gyro-phone-xiaomi"
ARCMIN = 180 / np.pi * 60
# published TUM fr1 colour calibration (the dataset's README), OpenCV distortion k1 k2 p1 p2 k3
TUM_CAMERA = {
    "fx": 517.3, "fy": 516.5, "cx": 318.6, "cy": 255.3, "width": 640, "height": 480,
    "distortion_coefficients": [0.2624, -0.9531, -0.0054, 0.0026, 1.1633],
}  # fmt: skip
PHONE_K = {"fx": 573.85, "fy": 575.04, "cx": 406.01, "cy": 309.01}  # the origin's code, 800 × 600
TUM_CLIPS = [(0, 30), (30, 60), (60, 90), (90, 120), (60, 120)]
PLOTS: list = []  # (label, times, truth, recovered) of every TUM clip, drawn into one figure


def tum_clip(work: Path, start: int, end: int, seq: TumSequence) -> dict:
    calib = work / "tum_fr1.json"
    write_json(calib, TUM_CAMERA)
    t0 = time.perf_counter()
    res = run(TUM / "rgb", work / f"tum-{start}-{end}", start=start, end=end, calibration=str(calib), progress=False)
    seconds = time.perf_counter() - t0
    frames = np.arange(start, end)
    truth, centres = seq.relative_motion(frames)
    pred = res.trajectory.angles
    m = trajectory_metrics(pred, truth)
    # what the pivot model lets the camera centre move: C = P − R·P for the recovered rotations
    implied = camera_centre(euler_to_matrix(np.nan_to_num(pred)), 0.2)  # run's default pivot
    true_rms = float(np.sqrt(np.mean(truth[1:] ** 2)) * ARCMIN)
    depth_gt = load_depth(seq.depth_for(frames[:1])[0], 1 / 5000)  # TUM: metres = value / 5000
    metric, scaled = (depth_metrics(res.depth, depth_gt, align=a) for a in ("none", "median"))
    PLOTS.append((f"frames {start}–{end - 1}", res.clip.times, truth, pred))
    return {
        "clip": f"TUM fr1_xyz frames {start}–{end - 1}",
        "frames": end - start,
        "true_rotation_rms_arcmin": round(true_rms, 1),
        "rotation_rmse_arcmin": round(float(m["rmse_arcmin"]), 1),
        "beats_zero": bool(m["rmse_arcmin"] < true_rms),
        "translation_max_cm": round(float(np.linalg.norm(centres, axis=1).max() * 100), 1),
        "pivot_implied_translation_max_cm": round(float(np.linalg.norm(implied, axis=1).max() * 100), 2),
        "residual_px_median": round(float(np.nanmedian(res.trajectory.residual_px[1:])), 2),
        "tracks_left": round(float(res.tracks.visible[-1].mean()), 3),
        "depth_abs_rel": round(metric["abs_rel"], 3),
        "depth_abs_rel_median_scaled": round(scaled["abs_rel"], 3),
        "seconds": round(seconds, 1),
    }


def phone_clip(work: Path) -> dict:
    from motiondepth.eval.gyro import compare_with_gyro

    stamps = np.loadtxt(PHONE / "framestamp.txt")[98:201]  # RE_frame-N is line N (1-based): frames 99–201
    log = PHONE / "gyro.txt"  # wx,wy,wz,t: read as it is (the time column is found)
    fps = 1.0 / float(np.median(np.diff(stamps)))
    t0 = time.perf_counter()
    res = run(PHONE / "frames", work / "xiaomi", fps=fps, progress=False, **PHONE_K)
    seconds = time.perf_counter() - t0
    traj = res.trajectory
    traj.times = traj.times + stamps[0]  # onto the phone's clock; the residual offset is found by correlation
    cmp = compare_with_gyro(traj, log, axes="auto", max_offset_s=0.5, source="xiaomi")
    return {
        "clip": "Xiaomi CC9 Pro, 103 frames (from a car)",
        "frames": len(stamps),
        "angle_rmse_arcmin": round(float(cmp["trajectory"]["rmse_arcmin"]), 1),
        "rate_correlation": round(float(cmp["rate_correlation"]), 3),
        "axes": cmp["axes"],
        "offset_ms": round(1e3 * float(cmp["offset_s"]), 1),
        "residual_px_median": round(float(np.nanmedian(traj.residual_px[1:])), 2),
        "tracks_left": round(float(res.tracks.visible[-1].mean()), 3),
        "seconds": round(seconds, 1),
    }


def plot(path: Path) -> None:
    """Roll, pitch and yaw over time of every TUM clip: motion capture against ``motiondepth run``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(PLOTS), 3, figsize=(12, 2.2 * len(PLOTS)), sharex="row", squeeze=False)
    for row, (label, t, truth, pred) in zip(axes, PLOTS, strict=True):
        for k, (ax, name) in enumerate(zip(row, ("roll", "pitch", "yaw"), strict=True)):
            ax.plot(t, truth[:, k] * ARCMIN, "k-", lw=1.5, label="motion capture")
            ax.plot(t, pred[:, k] * ARCMIN, "r.-", lw=1, ms=3, label="motiondepth run")
            ax.set_title(f"{label}: {name}", fontsize=9)
            ax.grid(alpha=0.3)
        row[0].set_ylabel("arcmin")
    axes[0][0].legend(fontsize=8)
    for ax in axes[-1]:
        ax.set_xlabel("time (s)")
    fig.tight_layout()
    from motiondepth.io.atomic import atomic_path

    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=80)
    plt.close(fig)


def markdown(result: dict) -> str:
    lines = [
        "## TUM fr1_xyz (motion capture): per-frame rotation and frame-0 depth, `motiondepth run` defaults",
        "",
        "| clip | true RMS rotation ′ | RMSE ′ | beats zero | translation cm | pivot-implied cm | residual px | "
        "tracks left | depth AbsRel | median-scaled |",
        "|---|---:|---:|:---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["tum"]:
        beats = "yes" if r["beats_zero"] else "no"
        cells = [r["clip"], r["true_rotation_rms_arcmin"], r["rotation_rmse_arcmin"], beats, r["translation_max_cm"],
                 r["pivot_implied_translation_max_cm"], r["residual_px_median"], f"{100 * r['tracks_left']:.0f} %",
                 r["depth_abs_rel"], r["depth_abs_rel_median_scaled"]]  # fmt: skip
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    p = result["phone"]
    lines += ["", "## Phone clip against its gyroscope (`compare-gyro`, offset and axes found)", "",
              "| clip | angle RMSE ′ | rate correlation | axes | offset ms | residual px | tracks left |",
              "|---|---:|---:|---|---:|---:|---:|",
              f"| {p['clip']} | {p['angle_rmse_arcmin']} | {p['rate_correlation']} | {p['axes']} | {p['offset_ms']} | "
              f"{p['residual_px_median']} | {100 * p['tracks_left']:.0f} % |"]  # fmt: skip
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", default="real-footage-work", help="run folders (reused: a rerun resumes)")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "real_footage.json"))
    a = ap.parse_args()
    if not TUM.is_dir() or not PHONE.is_dir():
        raise SystemExit(f"needs {TUM} and {PHONE}")
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    seq = TumSequence.open(TUM)
    result = {"tum": [tum_clip(work, s, e, seq) for s, e in TUM_CLIPS], "phone": phone_clip(work)}
    md = markdown(result) + "\n![rotation over time](real_footage.png)\n"
    write_json_and_markdown(a.out, result, md)
    plot(Path(a.out).with_suffix(".png"))
    print(md)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
