"""Focal length from the shake (``motiondepth run --hfov auto``, ``trajectory.focal``): how close, and
what it does to the rotation.

1. **Real-texture clips** (needs ``../shared/real-data``): the 9 clips of ``benchmarks/pipeline.py``
   (real RGB-D pairs, a real gyro log at handheld amplitude, phone preset, true field of view 49.7°,
   principal point off centre). ``motiondepth run`` on the video alone with
   - the true intrinsics (the pipeline benchmark's default row),
   - nothing (60° assumed, the image centre as principal point),
   - ``--hfov auto`` (estimated; image centre),
   - the true intrinsics with ``--blur-fit``, and ``--hfov auto --blur-fit`` (estimated from KLT,
     the blur fitted, then estimated again on the blur-compensated tracks).
   Columns: the estimated field of view and its error in focal length, and the sparse trajectory's AbsRel.
2. **Procedural sweep**: the ``phone`` preset with other lens focal lengths (19–93° fields of view)
   and the ``telephoto`` preset (12°), handheld shake, seeds 7000…; the estimate from KLT tracks and
   from the simulator's exact tracks, whether it is trusted and why not.

    python benchmarks/focal.py --work /tmp/focal      # ≈ 15 min on 2 cores (most of it the blur-fit runs)
    python benchmarks/focal.py --no-blur-fit --seeds 1   # ≈ 8 min

With ``--work DIR`` the clips and runs stay in DIR and a rerun reuses them (use the pipeline benchmark's
DIR to reuse its true-intrinsics runs).
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from motiondepth.eval.trajectory_metrics import trajectory_metrics
from motiondepth.geometry.camera import DEFAULT_HFOV_DEG, Intrinsics
from motiondepth.io.atomic import write_json_and_markdown
from motiondepth.simulate import camera_preset, groundtruth_tracks, load_shake, simulate
from motiondepth.simulate.scene import procedural_rgbd
from motiondepth.tracking import KLTTracker, grid_queries, query_grid
from motiondepth.trajectory.focal import estimate_focal
from motiondepth.workflow import run
from pipeline import RESULTS, gyro_starts, make_clip, present_pairs, run_flags

LENSES_MM = (3.5, 5.0, 6.86, 9.0, 12.0, 16.0, 22.0)  # phone preset lens focal lengths (6.86 mm: the preset's own)
SEED0 = 7000


def real_clips(work: Path, blur_fit: bool) -> list[dict]:
    rows = []
    for pair in present_pairs():
        for start in gyro_starts(3):
            name = f"{pair[0]}-{start:g}"
            clip, gt = make_clip(pair, start, work / name)
            width = gt["video"].frames.shape[2]
            flags = run_flags(gt)
            row = {"clip": name, "true_hfov_deg": gt["intrinsics"].hfov_deg(width)}
            variants = {
                "true": (f"run-{name}", flags),
                "default": (f"run-default-{name}", {"progress": False}),
                "auto": (f"run-auto-{name}", {"hfov": "auto", "progress": False}),
            }
            if blur_fit:
                fit = {"blur_fit": True, "exposure_ms": 60.0}
                variants["true_blurfit"] = (f"run-b-{name}", flags | fit)
                variants["auto_blurfit"] = (
                    f"run-auto-b-{name}",
                    {"hfov": "auto", "progress": False} | fit,
                )
            for key, (folder, opts) in variants.items():
                res = run(clip, work / folder, **opts)
                m = trajectory_metrics(res.trajectory.angles, gt["trajectory"])
                row[key] = {
                    "sparse_abs_rel": m["abs_rel"],
                    "fx": float(res.intrinsics.fx),
                    "hfov_deg": res.intrinsics.hfov_deg(width),
                    "focal_error": float(res.intrinsics.fx / gt["intrinsics"].fx - 1),
                    "origin": res.intrinsics_source,
                }
            rows.append(row)
            print(name, {k: round(v["focal_error"], 3) for k, v in row.items() if isinstance(v, dict)}, flush=True)
    return rows


def sweep(seeds: int) -> list[dict]:
    jobs = [("phone", mm, SEED0 + s) for mm in LENSES_MM for s in range(seeds)]
    jobs += [("telephoto", None, SEED0 + s) for s in range(seeds)]
    rows = []
    for preset, mm, seed in tqdm(jobs, desc="sweep"):
        cam = camera_preset(preset, focal_length_mm=mm)
        shake = load_shake("handheld", cam.duration_s, cam.trace_dt_s, seed=seed)
        video = simulate(procedural_rgbd(cam, seed), cam, shake)
        k = video.intrinsics
        grid = query_grid(12, (cam.height, cam.width), k)
        start = Intrinsics.from_hfov(DEFAULT_HFOV_DEG, cam.width, cam.height)
        row = {"preset": preset, "lens_mm": mm, "seed": seed, "true_hfov_deg": k.hfov_deg(cam.width),
               "blur_px_median": float(np.median(video.blur_px))}  # fmt: skip
        for kind, tracks in (("klt", KLTTracker().track(video.frames, grid_queries(grid))),
                             ("exact", groundtruth_tracks(video, grid))):  # fmt: skip
            t0 = time.perf_counter()
            est = estimate_focal(tracks.tracks, tracks.visible, start, cam.pivot_m, (cam.height, cam.width))
            row[kind] = {
                "hfov_deg": est.hfov_deg,
                "focal_error": float(est.intrinsics.fx / k.fx - 1),
                "trusted": est.trusted,
                "problem": est.problem,
                "residual_px": est.residual_px,
                "seconds": time.perf_counter() - t0,
            }
        rows.append(row)
    return rows


def markdown(result: dict) -> str:
    lines = [f"Focal length from the shake — {result['machine']}, {result['date']}  "]
    lines += [f"Command: `{result['command']}`", ""]
    real = result.get("real")
    if real:
        cols = [k for k in ("true", "default", "auto", "true_blurfit", "auto_blurfit") if k in real[0]]
        names = {
            "true": "true intrinsics",
            "default": "60° assumed",
            "auto": "`--hfov auto`",
            "true_blurfit": "true intrinsics, `--blur-fit`",
            "auto_blurfit": "`--hfov auto --blur-fit`",
        }
        lines += [
            "## Real-texture clips (benchmarks/pipeline.py's 9 clips, video alone)",
            "",
            "Field of view used (focal-length error) and sparse trajectory AbsRel per run.",
            "",
            "| clip | true hfov | " + " | ".join(names[c] for c in cols) + " |",
            "|---|---:|" + "---:|" * len(cols),
        ]
        for r in real:
            cells = [
                f"{r[c]['hfov_deg']:.1f}° ({100 * r[c]['focal_error']:+.1f} %), {r[c]['sparse_abs_rel']:.3f}"
                for c in cols
            ]
            lines.append(f"| {r['clip']} | {r['true_hfov_deg']:.1f}° | " + " | ".join(cells) + " |")
        med = [
            f"|err| {100 * np.median([abs(r[c]['focal_error']) for r in real]):.1f} %, "
            f"AbsRel {np.median([r[c]['sparse_abs_rel'] for r in real]):.3f}"
            for c in cols
        ]
        lines += ["| **median** | | " + " | ".join(med) + " |", ""]
    sw = result.get("sweep")
    if sw:
        lines += [
            "## Procedural sweep (handheld shake, 518 × 518, estimate started at 60°)",
            "",
            "| preset | lens | true hfov | median blur | KLT: estimate (error) | trusted "
            "| exact tracks: estimate (error) |",
            "|---|---:|---:|---:|---:|---|---:|",
        ]
        for r in sw:
            k, e = r["klt"], r["exact"]
            trust = "yes" if k["trusted"] else f"no: {k['problem']}"
            lines.append(
                f"| {r['preset']} | {r['lens_mm'] or ''} | {r['true_hfov_deg']:.1f}° | {r['blur_px_median']:.1f} px | "
                f"{k['hfov_deg']:.1f}° ({100 * k['focal_error']:+.1f} %) | {trust} | "
                f"{e['hfov_deg']:.1f}° ({100 * e['focal_error']:+.1f} %) |"
            )
        trusted = [abs(r["klt"]["focal_error"]) for r in sw if r["klt"]["trusted"]]
        if trusted:
            lines += ["", f"Trusted KLT estimates: {len(trusted)} of {len(sw)}, median |error| "
                      f"{100 * np.median(trusted):.1f} %, worst {100 * max(trusted):.1f} %. Estimate time: median "
                      f"{np.median([r['klt']['seconds'] for r in sw]):.1f} s."]  # fmt: skip
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=None, help="keep clips and runs here (reused when rerun)")
    ap.add_argument("--seeds", type=int, default=2, help="procedural clips per lens")
    ap.add_argument("--no-blur-fit", action="store_true", help="skip the --hfov auto --blur-fit runs")
    ap.add_argument("--no-real", action="store_true", help="skip the real-texture clips")
    a = ap.parse_args()
    work = a.work or Path(tempfile.mkdtemp(prefix="focal-"))
    work.mkdir(parents=True, exist_ok=True)
    result = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "date": time.strftime("%Y-%m-%d"),
        "command": "python benchmarks/focal.py "
        + " ".join(f for f, on in (("--no-blur-fit", a.no_blur_fit), ("--no-real", a.no_real)) if on)
        + f" --seeds {a.seeds}",
    }
    if not a.no_real:
        result["real"] = real_clips(work, not a.no_blur_fit)
    result["sweep"] = sweep(a.seeds)
    write_json_and_markdown(RESULTS / "focal.json", result, markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
