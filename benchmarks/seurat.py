"""Seurat benchmark: inference speed (small and paper presets) and accuracy against every baseline.

Speed: a 24-frame clip with 100 query tracks and the preset's supporting grid per window
(W = 8, S = 4 → 5 windows), the whole ``log_ratios`` call (windowing, model, chaining), median
over ``--repeats`` runs after one warm-up, same inputs for both presets. The paper preset runs
with random weights (same cost as trained ones) when no checkpoint is shipped.

Accuracy: ``motiondepth eval seurat`` on held-out procedural clips (exact and tracker-like noisy
2D tracks), shipped ``seurat-small``, with a row for ``seurat-small-plain`` (no geometry prior).
Speed is timed for both small models (``small`` includes solving each window's rigid geometry).

    python benchmarks/seurat.py                 # full run
    python benchmarks/seurat.py --quick         # fewer scenes and repeats
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from motiondepth.data.seurat_synth import SeuratDataConfig, eval_clip
from motiondepth.eval.harness.seurat import evaluate_procedural, markdown_table
from motiondepth.io.atomic import write_json_and_markdown
from motiondepth.models.seurat import Seurat, config_from_preset
from motiondepth.seurat.inference import SeuratPredictor


def time_inference(predictor: SeuratPredictor, repeats: int) -> dict[str, float]:
    cfg = SeuratDataConfig(window=predictor.cfg.window, grid=predictor.cfg.grid, num_queries=100)
    clip = eval_clip(123, 24, predictor.stride, cfg)
    args = (clip.tracks.astype(np.float64), clip.visible, clip.image_size)
    support = (clip.support, clip.support_visible)
    predictor.log_ratios(*args, support=support, intrinsics=clip.intrinsics)  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        predictor.log_ratios(*args, support=support, intrinsics=clip.intrinsics)
        times.append(time.perf_counter() - t0)
    return {
        "median_s": float(np.median(times)),
        "min_s": float(np.min(times)),
        "repeats": repeats,
        "windows": len(clip.window_starts),
        "support_tracks": int(clip.support.shape[2]),
        "queries": 100,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--checkpoint", default="seurat-small")
    p.add_argument("--plain", default="seurat-small-plain", help="the model without the geometry prior, compared")
    p.add_argument("--out", default=str(Path(__file__).parent / "results"))
    a = p.parse_args()
    repeats = 5 if a.quick else 20
    scenes = 4 if a.quick else 20
    torch.manual_seed(0)
    small = SeuratPredictor.from_pretrained(a.checkpoint)
    plain = SeuratPredictor.from_pretrained(a.plain)
    paper = SeuratPredictor(Seurat(config_from_preset("paper")))
    speed = {"small": time_inference(small, repeats), "small-plain": time_inference(plain, repeats),
             "paper": time_inference(paper, repeats)}  # fmt: skip
    print(json.dumps(speed, indent=1))
    acc = {}
    for noisy in (False, True):
        t0 = time.perf_counter()
        others = {f"Seurat without the geometry prior ({a.plain})": plain}
        acc["noisy" if noisy else "exact"] = evaluate_procedural(small, scenes, 0, 48, 256, noisy, others=others)
        print(f"eval ({'noisy' if noisy else 'exact'} tracks): {time.perf_counter() - t0:.0f} s")
    result = {
        "machine": {"cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                    "platform": platform.platform(), "torch": torch.__version__},
        "inference": speed, "accuracy": acc, "checkpoint": a.checkpoint,
    }  # fmt: skip
    md = [
        "## Seurat inference time (24 frames, 100 queries, supporting grid per window; CPU)",
        "",
        "| preset | windows | supporting tracks | median s | min s |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, s in speed.items():
        md.append(f"| {name} | {s['windows']} | {s['support_tracks']} | {s['median_s']:.3f} | {s['min_s']:.3f} |")
    md.append("")
    for key, res in acc.items():
        md.append(f"## Accuracy, {key} 2D tracks")
        md.append("")
        md.append(markdown_table(res, "per_trajectory"))
        md.append(markdown_table(res, "median"))
    write_json_and_markdown(Path(a.out) / "seurat.json", result, "\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
