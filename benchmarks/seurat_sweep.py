"""Hostile-seed sweep of ``eval seurat``: hundreds of short procedural clips, looking for crashes.

Every clip goes through :func:`motiondepth.eval.harness.seurat.evaluate_clip` (every row: baselines, rigid
geometry, Seurat) with the shipped ``seurat-small``. A clip that raises is recorded (seed, exception, message)
and the sweep goes on; windows whose rigid geometry met a degenerate essential matrix (and fell back) are
counted. Exit status 1 when any clip crashed.

    python benchmarks/seurat_sweep.py --clips 300                 # seeds 0..299, 16 frames, 64 queries
    python benchmarks/seurat_sweep.py --clips 300 --noisy-tracks  # tracker-like noise on the 2D tracks
    python benchmarks/seurat_sweep.py --seeds 90210 --frames 48 --queries 256   # one seed, as 'eval seurat'
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback

from tqdm import tqdm

from motiondepth.data.seurat_synth import EVAL_SEED_BASE, SeuratDataConfig, eval_clip
from motiondepth.eval.harness.seurat import evaluate_clip
from motiondepth.seurat.inference import SeuratPredictor


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clips", type=int, default=300, help="clips: 'eval seurat' seeds 0..N-1 (clip 0 of each)")
    p.add_argument("--seeds", type=int, nargs="*", help="explicit 'eval seurat --seed' values instead of --clips")
    p.add_argument("--scenes", type=int, default=1, help="clips per seed (as 'eval seurat --scenes')")
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--queries", type=int, default=64)
    p.add_argument("--noisy-tracks", action="store_true")
    p.add_argument("--out", help="also write the result as JSON")
    a = p.parse_args()
    predictor = SeuratPredictor.from_pretrained("seurat-small")
    cfg = SeuratDataConfig(window=predictor.cfg.window, grid=predictor.cfg.grid, num_queries=a.queries)
    seeds = a.seeds if a.seeds else list(range(a.clips))
    crashes, stats, t0 = [], {}, time.perf_counter()
    jobs = [(s, i) for s in seeds for i in range(a.scenes)]
    for seed, i in tqdm(jobs, desc="sweep"):
        clip_seed = EVAL_SEED_BASE + seed * 10_000 + i  # the clip 'eval seurat --seed SEED' evaluates i-th
        try:
            clip = eval_clip(clip_seed, a.frames, predictor.stride, cfg, noise=a.noisy_tracks)
            evaluate_clip(clip, predictor, flicker_seed=seed * 10_000 + i, stats=stats)
        except Exception as exc:  # the point of the sweep: record every failure, keep going
            crashes.append({"seed": seed, "scene": i, "error": f"{type(exc).__name__}: {exc}".splitlines()[0],
                            "where": traceback.extract_tb(exc.__traceback__)[-1].name})  # fmt: skip
    result = {
        "clips": len(jobs), "frames": a.frames, "queries": a.queries, "noisy_tracks": a.noisy_tracks,
        "crashed": len(crashes), "crashes": crashes, "windows": stats.get("windows", 0),
        "degenerate_windows": stats.get("degenerate_windows", 0), "minutes": (time.perf_counter() - t0) / 60,
    }  # fmt: skip
    print(json.dumps(result, indent=2))
    if a.out:
        from motiondepth.io.atomic import write_json

        write_json(a.out, result)
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
