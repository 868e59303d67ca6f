"""Tuning clips of the rigid-geometry ratios (``seurat/rigid.py``): the clips its settings were chosen on.

Six procedural clips outside the evaluation seeds (``EVAL_SEED_BASE + 9000 + i``), 48 frames,
256 queries, exact or tracker-like noisy tracks, scaled by the flickering per-frame depth, metrics
with per-trajectory scaling (APD and AbsRel as fractions ×100 / as is, TC in mm).

    python benchmarks/rigid_tuning.py                      # shipped settings, exact and noisy tracks
    python benchmarks/rigid_tuning.py --min-z 0.1 0.3 0.5  # compare the depth-shrink bound
    python benchmarks/rigid_tuning.py --inlier-px 1 2 4    # compare the inlier threshold
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from motiondepth.data.seurat_synth import EVAL_SEED_BASE, SeuratDataConfig, eval_clip
from motiondepth.eval.harness.seurat import clip_metrics
from motiondepth.eval.tapvid3d import mean_metrics
from motiondepth.seurat import rigid
from motiondepth.seurat.depth_source import DepthMaps, FlickeringDepth
from motiondepth.seurat.inference import scale_match


def score(clips: int, noisy: bool, inlier_px: float) -> dict[str, float]:
    cfg = SeuratDataConfig(window=8, grid=12, num_queries=256)
    metrics, times = [], []
    for i in range(clips):
        clip = eval_clip(EVAL_SEED_BASE + 9000 + i, 48, 4, cfg, noise=noisy)
        tracks, vis = clip.tracks.astype(np.float64), clip.visible
        t0 = time.perf_counter()
        lr = rigid.rigid_log_ratios(tracks, vis, clip.intrinsics, 8, 4, (clip.support, clip.support_visible), inlier_px)
        times.append(time.perf_counter() - t0)
        depth = scale_match(lr, tracks, vis, FlickeringDepth(DepthMaps.per_frame(clip.depth_maps), seed=i))[0]
        metrics.append(clip_metrics(clip, {"rigid": depth}, ("per_trajectory",))["rigid"]["per_trajectory"])
    m = mean_metrics(metrics)
    return {"apd": 100 * m["apd"], "tc_mm": 1000 * m["tc"], "abs_rel": m["abs_rel"],
            "s_per_clip": float(np.median(times))}  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clips", type=int, default=6)
    p.add_argument("--min-z", type=float, nargs="+", default=[rigid.MIN_Z])
    p.add_argument("--inlier-px", type=float, nargs="+", default=[rigid.INLIER_PX])
    a = p.parse_args()
    print("| tracks | MIN_Z | inlier px | APD | TC (mm) | AbsRel | s / clip |\n|---|---:|---:|---:|---:|---:|---:|")
    for noisy in (False, True):
        for min_z in a.min_z:
            rigid.MIN_Z = min_z
            for inlier in a.inlier_px:
                r = score(a.clips, noisy, inlier)
                print(f"| {'noisy' if noisy else 'exact'} | {min_z} | {inlier} | {r['apd']:.1f} | {r['tc_mm']:.1f} "
                      f"| {r['abs_rel']:.4f} | {r['s_per_clip']:.2f} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
