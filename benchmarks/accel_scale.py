"""Metric scale from the camera's accelerometer on TUM fr1_xyz (issue 47): ``run`` with and without ``--accel``.

For every clip (the tuning clips, the held-out ones quoted apart, the 2-s and 8-s clips), ``run`` once with its
defaults (the scale is the blur network's) and once with ``--accel accelerometer.txt`` (the Kinect's; the frame
times from the TUM file names are on its clock), in the same folder so the motion is solved once:

- **scale error**: the run's camera centres against the motion capture's, one least-squares factor over the
  frames that moved more than 2 cm (truth / run: 1 is a right scale);
- **frame-0 depth AbsRel**, metric, against the Kinect's map;
- the accelerometer's own σ, and whether the truth lies within 2 σ of its scale (a check of the σ).

The accelerometer's noise floor is measured on the log itself (below). Run from ``benchmarks/``::

    python accel_scale.py --work /tmp/accel     # ≈ 15 min on 2 cores
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from motiondepth.eval.depth_metrics import depth_metrics
from motiondepth.io.accel_log import read_accel_log
from motiondepth.io.atomic import write_json, write_json_and_markdown
from motiondepth.io.tum import TumSequence
from motiondepth.workflow import run
from tum_clips import HELD_OUT, LONG, TUNING, label  # benchmarks/tum_clips.py: run as a script from benchmarks/
from tum_depth import TUM, TUM_CAMERA, kinect_depths

ACCEL = TUM / "accelerometer.txt"


def truth_over_run(centres: np.ndarray, truth: np.ndarray, moved_m: float = 0.02) -> float:
    """The least-squares factor that takes the run's centres (K, 3) to the motion capture's (frames that moved)."""
    ok = (np.linalg.norm(truth, axis=1) > moved_m) & np.isfinite(centres).all(1)
    return float(np.sum(centres[ok] * truth[ok]) / np.sum(centres[ok] ** 2))


def noise_floor(log) -> dict:
    """The accelerometer's white noise (σ of the sample-to-sample difference / √2 over the samples that changed: the
    log repeats values between updates) and its quantum, m/s²."""
    keep = np.r_[True, np.any(np.diff(log.values, axis=0) != 0, axis=1)]
    v = log.values[keep]
    d = np.diff(v, axis=0)
    steps = np.abs(d[d != 0])
    return {"update_rate_hz": round(float(keep.sum() / (log.times[-1] - log.times[0])), 1),
            "white_noise_ms2": [round(float(x), 4) for x in np.std(d, axis=0) / np.sqrt(2)],
            "quantum_ms2": round(float(np.min(steps)), 4)}  # fmt: skip


def clip(work: Path, seq: TumSequence, first: int, stop: int, calib: Path) -> dict:
    pos = seq.positions(first, stop)
    _, centres = seq.relative_motion(pos)
    gt0 = kinect_depths(seq, pos[:1])[0]
    out = work / f"tum-{first}-{stop}"
    row = {"clip": label(first, stop), "frames": stop - first,
           "travel_cm": round(float(np.linalg.norm(centres, axis=1).max() * 100), 1)}  # fmt: skip
    for name, accel in (("network", None), ("accelerometer", str(ACCEL))):
        t0 = time.perf_counter()
        res = run(TUM / "rgb", out, start=int(pos[0]), end=int(pos[-1]) + 1, calibration=str(calib), accel=accel,
                  progress=False)  # fmt: skip
        seconds = time.perf_counter() - t0
        k = truth_over_run(res.trajectory.centres, centres)
        m = depth_metrics(res.depth, gt0, align="none")
        entry = {"truth_over_run": round(k, 3), "scale_error": round(abs(k - 1), 3),
                 "depth_abs_rel": round(float(m["abs_rel"]), 3), "seconds": round(seconds, 1),
                 "model": res.summary["motion"]["model"],
                 "scale_source": res.summary["depth_m"]["scale_source"]}  # fmt: skip
        acc = res.summary["depth_m"].get("accel")
        if acc is not None:
            entry |= {"accel": {k2: acc[k2] for k2 in ("scale", "sigma", "axes", "offset_s", "motion_ms2", "why")},
                      "scale_step_s": round(float(res.timings_s.get("scale", float("nan"))), 2)}  # fmt: skip
            if acc["scale"] is not None and acc["sigma"]:  # the truth's scale relative to the accelerometer's
                entry["within_2_sigma"] = bool(abs(k - 1) <= 2 * acc["sigma"])
        row[name] = entry
    return row


def _table(rows: list[dict]) -> list[str]:
    out = ["| clip | travel cm | network: scale error | depth AbsRel | accelerometer: scale error | σ | within 2σ | "
           "depth AbsRel | axes | offset ms |", "|---|---:|---:|---:|---:|---:|---|---:|---|---:|"]  # fmt: skip
    for r in rows:
        n, a = r["network"], r["accelerometer"]
        acc = a.get("accel") or {}
        used = a["scale_source"] == "accelerometer"
        out.append(f"| {r['clip']} | {r['travel_cm']} | {n['scale_error']} | {n['depth_abs_rel']} | "
                   f"{a['scale_error'] if used else 'not used'} | {acc.get('sigma')} | {a.get('within_2_sigma', '–')} "
                   f"| {a['depth_abs_rel']} | {acc.get('axes')} | {round(1e3 * acc.get('offset_s', 0))} |")  # fmt: skip
    errs = [r["accelerometer"]["scale_error"] for r in rows if r["accelerometer"]["scale_source"] == "accelerometer"]
    net = [r["network"]["scale_error"] for r in rows]
    if errs:
        out.append(f"\nScale error median (worst): accelerometer {np.median(errs):.3f} ({max(errs):.3f}) on "
                   f"{len(errs)} of {len(rows)} clips; network {np.median(net):.3f} ({max(net):.3f}).")  # fmt: skip
    return out


def markdown(result: dict) -> str:
    nf = result["noise_floor"]
    return "\n".join([
        "## Metric scale from the Kinect's accelerometer (TUM fr1_xyz, `run --accel`)",
        "",
        "Scale error: |truth / run − 1| of the camera centres against the motion capture (frames that moved > 2 cm). "
        "Depth AbsRel: frame 0, metric, against the Kinect. Network: `run`'s defaults. Accelerometer: `--accel "
        "accelerometer.txt`, axes and offset found.",
        "",
        f"Accelerometer noise floor, measured on the log: white noise {nf['white_noise_ms2']} m/s² per update "
        f"(x, y, z), quantum {nf['quantum_ms2']} m/s², {nf['update_rate_hz']} updates/s.",
        "",
        "### Tuning clips", "", *_table(result["tuning"]), "",
        "### Held-out clips (`tum_clips.HELD_OUT`: never used to choose or tune anything)", "",
        *_table(result["held_out"]), "",
        "### Long clips", "", *_table(result["long"]), "",
    ])  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", type=Path, default=Path("accel-work"))
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "accel_scale.json"))
    a = ap.parse_args()
    if not ACCEL.is_file():
        raise SystemExit(f"needs {ACCEL}")
    a.work.mkdir(parents=True, exist_ok=True)
    calib = a.work / "tum_fr1.json"
    write_json(calib, TUM_CAMERA)
    seq = TumSequence.open(TUM)
    result = {"noise_floor": noise_floor(read_accel_log(ACCEL))}
    for name, clips in (("tuning", TUNING), ("held_out", HELD_OUT), ("long", LONG)):
        result[name] = []
        for s, e in clips:
            result[name].append(clip(a.work, seq, s, e, calib))
            print(json.dumps(result[name][-1]), flush=True)
    md = markdown(result)
    write_json_and_markdown(a.out, result, md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
