"""The 80 % interval of the frame-0 median depth where no accelerometer sets the scale (issue 47): calibrate and check.

Without ``--accel`` a 6-DoF run's metric scale is the depth prior's (the blur network's frame-0 median), and on
real footage that is off by up to 2 ×. ``run`` reports ``summary.depth_m.median_interval``: the median times two
factors, the 10th and 90th percentiles of truth / prediction over scenes the checkpoint's card was calibrated on
(``median_interval`` in the card, :mod:`motiondepth.depth.interval`). This script measures that ratio on:

- **TUM fr1_xyz** 1-s clips (the Kinect's frame-0 map): windows every 5 frames inside each clip of
  ``tum_clips`` (the network reads the first 12 frames of a window), the held-out clips apart;
- **the real RGB-D pairs** of ``real_depth.py`` (TUM, slambook2, SUN RGB-D, ICL-NUIM; 8 scenes), each shaken by the
  training simulator with 6 seeds;
- **procedural scenes** the network never saw (``EVAL_SEED_BASE`` + i, the handheld shake).

Calibration set: the TUM tuning clips and the real pairs. Each TUM clip and each pair counts as one scene, with
equal weight (its windows or seeds share it). The check, on what the interval was not fitted on:

- the TUM held-out clips;
- the procedural scenes;
- each real pair left out in turn (the interval refitted without it: leave-one-scene-out).

With ``--runs`` it also runs ``motiondepth run`` on the TUM clips and checks the interval the run reports (on the
run's own median, after the bundle adjustment's parallax). ``--write-card`` stores the fitted factors in the
checkpoint's card. Run from ``benchmarks/``::

    python depth_interval.py                     # ≈ 6 min on 2 cores
    python depth_interval.py --runs --work /tmp/interval     # + 10 runs, ≈ 6 min more
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np

from motiondepth.data import EVAL_SEED_BASE
from motiondepth.data.blur_data import BlurDataConfig, procedural_clip, simulate_clip
from motiondepth.depth.blur import BlurPredictor
from motiondepth.depth.interval import LEVEL, fit_factors
from motiondepth.io.atomic import atomic_path, write_json, write_json_and_markdown
from motiondepth.io.depth import load_image
from motiondepth.io.tum import TumSequence
from motiondepth.models.weights import VIDEO_DEPTH_CHECKPOINT, WEIGHTS_DIR
from real_depth import PAIRS, load_pair  # the real-pair benchmark beside this file: run as a script from benchmarks/
from tum_clips import HELD_OUT, TUNING, label
from tum_depth import TUM, TUM_CAMERA, kinect_depths, tum_camera

PAIR_SEEDS = range(6)
PROCEDURAL = 60
WINDOW_STEP = 5  # frames between the TUM windows inside a 1-s clip


def _row(scene: str, pred: np.ndarray, gt: np.ndarray, **extra) -> dict:
    ok = gt > 0
    g = gt[ok]
    return {"scene": scene, "pred_m": round(float(np.median(pred[pred > 0])), 4),
            "true_m": round(float(np.median(g)), 4),
            "true_range": round(float(np.percentile(g, 98) / np.percentile(g, 2)), 2), **extra}  # fmt: skip


def tum_rows(predictor: BlurPredictor, clips: list[tuple[int, int]]) -> list[dict]:
    seq = TumSequence.open(TUM)
    intr, lens = tum_camera()
    mx, my = lens.undistort_maps(intr, (480, 640))
    n = predictor.cfg.num_frames
    rows = []
    for first, stop in clips:
        for s in range(first, stop - n + 1, WINDOW_STEP):
            pos = seq.positions(s, s + n)
            frames = np.stack([cv2.remap(load_image(seq.root / seq.rgb_files[i]), mx, my, cv2.INTER_LINEAR)
                               for i in pos])  # fmt: skip
            rows.append(_row(f"tum {label(first, stop)}", predictor.depth(frames), kinect_depths(seq, pos[:1])[0],
                             window=int(s)))  # fmt: skip
    return rows


def pair_rows(predictor: BlurPredictor) -> list[dict]:
    rows = []
    for name in PAIRS:
        rgbd = load_pair(name)
        for seed in PAIR_SEEDS:
            video = simulate_clip(rgbd, seed, BlurDataConfig(shake="handheld"))[0]
            rows.append(_row(name, predictor.depth(video.frames), video.depth, seed=seed))
    return rows


def procedural_rows(predictor: BlurPredictor) -> list[dict]:
    rows = []
    for i in range(PROCEDURAL):
        video = procedural_clip(EVAL_SEED_BASE + i, BlurDataConfig(shake="handheld"))[0]
        rows.append(_row(f"procedural {i}", predictor.depth(video.frames), video.depth))
    return rows


def covered(rows: list[dict], low: float, high: float) -> list[bool]:
    return [low <= r["true_m"] / r["pred_m"] <= high for r in rows]


def coverage(rows: list[dict], low: float, high: float) -> dict:
    """Share of rows whose truth the interval holds, counted per scene (a scene's windows or seeds share one vote)."""
    scenes = sorted({r["scene"] for r in rows})
    per = [float(np.mean(covered([r for r in rows if r["scene"] == s], low, high))) for s in scenes]
    return {"scenes": len(scenes), "rows": len(rows), "coverage": round(float(np.mean(per)), 3),
            "coverage_rows": round(float(np.mean(covered(rows, low, high))), 3)}  # fmt: skip


def leave_one_out(fit_rows: list[dict], pair_names: list[str]) -> dict:
    """Each real pair left out of the fit in turn: does the refitted interval hold it?"""
    out = {}
    for name in pair_names:
        rest = [r for r in fit_rows if r["scene"] != name]
        lo, hi = fit_factors([r["true_m"] / r["pred_m"] for r in rest], [r["scene"] for r in rest])
        mine = [r for r in fit_rows if r["scene"] == name]
        out[name] = {"factors": [round(lo, 3), round(hi, 3)],
                     "held": round(float(np.mean(covered(mine, lo, hi))), 3),
                     "truth_over_pred": round(float(np.median([r["true_m"] / r["pred_m"] for r in mine])),
                                              3)}  # fmt: skip
    return out


def run_rows(work: Path, clips: list[tuple[int, int]]) -> list[dict]:
    """``motiondepth run`` on each TUM clip: the run's median, its reported interval, and the truth."""
    from motiondepth.workflow import run

    seq = TumSequence.open(TUM)
    calib = work / "tum_fr1.json"
    write_json(calib, TUM_CAMERA)
    rows = []
    for first, stop in clips:
        pos = seq.positions(first, stop)
        t0 = time.perf_counter()
        res = run(TUM / "rgb", work / f"tum-{first}-{stop}", start=int(pos[0]), end=int(pos[-1]) + 1,
                  calibration=str(calib), progress=False)  # fmt: skip
        gt = kinect_depths(seq, pos[:1])[0]
        d = res.summary["depth_m"]
        lo, hi = d["median_interval"]
        true = float(np.median(gt[gt > 0]))
        rows.append({"clip": label(first, stop), "median_m": round(d["median"], 3), "interval_m": [lo, hi],
                     "true_m": round(true, 3), "held": bool(lo <= true <= hi),
                     "widened": d.get("median_interval_widened", 1.0),
                     "seconds": round(time.perf_counter() - t0, 1)})  # fmt: skip
        print(json.dumps(rows[-1]), flush=True)
    return rows


def markdown(result: dict) -> str:
    f = result["factors"]
    lines = [
        "## The 80 % interval of the frame-0 median depth (no accelerometer; `summary.depth_m.median_interval`)", "",
        f"Checkpoint {result['checkpoint']}. Factors on truth / predicted median, fitted on the TUM tuning clips and "
        f"the 8 real pairs (one vote per scene): **{f[0]:.3f} – {f[1]:.3f}** (high / low = {f[1] / f[0]:.2f}). "
        f"Predicted medians seen in the fit: {result['pred_range_m'][0]:.2f}–{result['pred_range_m'][1]:.2f} m; "
        f"true depth range p98/p2 up to {result['true_range_max']:.1f}.", "",
        "| check | scenes | coverage (per scene) | coverage (per window/seed) |",
        "|---|---:|---:|---:|",
    ]  # fmt: skip
    for name, c in result["held_out"].items():
        lines.append(f"| {name} | {c['scenes']} | {c['coverage']:.3f} | {c['coverage_rows']:.3f} |")
    loo = result["leave_one_out"]
    held = np.mean([v["held"] for v in loo.values()])
    lines += ["", f"Leave one real pair out (refit without it): the interval holds it on average {held:.3f} of its "
              "seeds.", "", "| pair left out | factors | truth / predicted (median) | held |",
              "|---|---|---:|---:|"]  # fmt: skip
    lines += [f"| {n} | {v['factors'][0]}–{v['factors'][1]} | {v['truth_over_pred']} | {v['held']} |"
              for n, v in loo.items()]  # fmt: skip
    lines += ["", "Truth / predicted median per group (10th, 50th, 90th percentile of the rows):", ""]
    for name, q in result["ratio_percentiles"].items():
        lines.append(f"- {name}: {q[0]:.3f}, {q[1]:.3f}, {q[2]:.3f}")
    if result.get("runs"):
        runs = result["runs"]
        lines += ["", "### `motiondepth run` on the TUM clips (the interval it reports, on its own median)", "",
                  "| clip | median m | interval m | true m | held | widened × | s |",
                  "|---|---:|---|---:|---|---:|---:|"]  # fmt: skip
        lines += [f"| {r['clip']}{' (held out)' if r['held_out'] else ''} | {r['median_m']} | {r['interval_m'][0]:.2f}–"
                  f"{r['interval_m'][1]:.2f} | {r['true_m']} | {r['held']} | {r['widened']} | {r['seconds']} |"
                  for r in runs]  # fmt: skip
        for tag, held_out in (("tuning", False), ("held out", True)):
            rows = [r for r in runs if r["held_out"] == held_out]
            if rows:
                lines.append(f"\nHeld the truth: {sum(r['held'] for r in rows)} of {len(rows)} {tag} clips.")
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", default=VIDEO_DEPTH_CHECKPOINT)
    ap.add_argument("--runs", action="store_true", help="also run motiondepth run on the TUM clips")
    ap.add_argument("--work", type=Path, default=Path("interval-work"))
    ap.add_argument("--write-card", action="store_true", help="store the fitted factors in the checkpoint's card")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "depth_interval.json"))
    a = ap.parse_args()
    if not TUM.is_dir():
        raise SystemExit(f"needs {TUM}")
    predictor = BlurPredictor(a.checkpoint, trajectory_checkpoint=None)
    t0 = time.perf_counter()
    tuning, held = tum_rows(predictor, TUNING), tum_rows(predictor, HELD_OUT)
    pairs, procedural = pair_rows(predictor), procedural_rows(predictor)
    fit_rows = tuning + pairs
    lo, hi = fit_factors([r["true_m"] / r["pred_m"] for r in fit_rows], [r["scene"] for r in fit_rows])
    preds = [r["pred_m"] for r in fit_rows]

    def pct(rows):
        return [round(float(x), 3) for x in np.percentile([r["true_m"] / r["pred_m"] for r in rows], [10, 50, 90])]

    result = {
        "checkpoint": a.checkpoint, "level": LEVEL, "factors": [round(lo, 4), round(hi, 4)],
        "pred_range_m": [round(min(preds), 3), round(max(preds), 3)],
        "true_range_max": round(max(r["true_range"] for r in fit_rows), 2),
        "held_out": {"TUM held-out clips": coverage(held, lo, hi), "procedural scenes": coverage(procedural, lo, hi),
                     "TUM tuning clips (fitted on)": coverage(tuning, lo, hi),
                     "real pairs (fitted on)": coverage(pairs, lo, hi)},
        "leave_one_out": leave_one_out(fit_rows, list(PAIRS)),
        "ratio_percentiles": {"TUM tuning": pct(tuning), "TUM held out": pct(held), "real pairs": pct(pairs),
                              "procedural": pct(procedural)},
        "seconds": round(time.perf_counter() - t0, 1),
        "rows": {"tum_tuning": tuning, "tum_held_out": held, "pairs": pairs, "procedural": procedural},
    }  # fmt: skip
    if a.write_card:
        card_path = WEIGHTS_DIR / f"{a.checkpoint}.json"
        card = json.loads(card_path.read_text())
        card["median_interval"] = {
            "level": LEVEL, "factors": result["factors"], "pred_range_m": result["pred_range_m"],
            "true_range_max": result["true_range_max"],
            "fitted_on": "TUM fr1_xyz tuning 1-s clips (benchmarks/tum_clips.py) and the 8 real RGB-D pairs of "
                         "benchmarks/real_depth.py, one vote per scene; benchmarks/depth_interval.py",
        }  # fmt: skip
        with atomic_path(card_path) as tmp:  # the card as it was written: indented, its Unicode kept
            tmp.write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n")
        print(f"wrote median_interval into {card_path}")
    if a.runs:
        a.work.mkdir(parents=True, exist_ok=True)
        result["runs"] = [r | {"held_out": False} for r in run_rows(a.work, TUNING)]
        result["runs"] += [r | {"held_out": True} for r in run_rows(a.work, HELD_OUT)]
    md = markdown(result)
    write_json_and_markdown(a.out, result, md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
