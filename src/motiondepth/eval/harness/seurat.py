"""Seurat benchmark on held-out procedural clips (the paper's Tables 1, 4 and 6 in miniature).

Every method gets the same 2D query tracks and visibility — exact (an oracle tracker, like the
paper's "Oracle tracker*" rows) or, with ``noisy_tracks``, corrupted like a real tracker
(jitter, drift, false occlusions; the paper's CoTracker rows) — and differs only in how depth
over time is found. Ground truth always uses the exact tracks and visibility:

============================  ==============================================================
oracle depth                  per-frame ground-truth depth maps sampled at the tracks
per-frame depth (flickering)  :class:`FlickeringDepth`: GT with per-frame scale jitter + noise
+ Gaussian smoothing (1×/3×)  the same, smoothed over time per track (Table 6)
static depth per track        log ratio 0 (no depth change), scaled like Seurat: the floor a
                              ratio method must clear (beyond the papers: under per-track
                              scaling it scores well wherever depth changes little)
hand-crafted baseline         kNN kernel-density ratios (Eq. 4) over queries + supporting grid,
                              chained by Eq. 9 (its better mode), scaled like Seurat (Table 4)
rigid geometry                :mod:`motiondepth.seurat.rigid`: camera motion per window from the
                              supporting grid, each query's ratio from that rigid motion (beyond
                              the papers; the classical reference: exact on the static scene,
                              wrong on moving objects), chained and scaled like Seurat
Seurat, Eq. 9 chaining        the model's window ratios chained as in the paper (Eq. 9)
Seurat                        the same predictions chained in the predictor's mode (default
                              ``average``), both scaled by the flickering depth
============================  ==============================================================

Clips use seeds ``EVAL_SEED_BASE + i``, disjoint from training and validation seeds.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from motiondepth.data.seurat_synth import EVAL_SEED_BASE, SeuratDataConfig, eval_clip
from motiondepth.eval.tapvid3d import SCALINGS, mean_metrics, rescale_intrinsics, tapvid3d_metrics
from motiondepth.seurat.baselines import gaussian_smooth_depth, handcrafted_log_ratios, per_frame_depth
from motiondepth.seurat.depth_source import DepthMaps, FlickeringDepth
from motiondepth.seurat.inference import SeuratPredictor, scale_match, to_tracks3d
from motiondepth.seurat.rigid import window_priors
from motiondepth.seurat.windows import chain_log_ratios, window_starts

log = logging.getLogger(__name__)

ROWS = (
    "oracle depth",
    "per-frame depth (flickering)",
    "+ Gaussian smoothing (1 iter)",
    "+ Gaussian smoothing (3 iters)",
    "static depth per track",
    "hand-crafted baseline",
    "rigid geometry",
    "Seurat, Eq. 9 chaining",
    "Seurat",
)


def evaluate_clip(
    clip, predictor: SeuratPredictor, flicker_seed: int = 0, others: dict[str, SeuratPredictor] | None = None,
    stats: dict[str, int] | None = None,
) -> dict[str, dict[str, dict]]:  # fmt: skip
    """Metrics of every row on one clip, for every scaling mode: {row: {scaling: metrics}}.

    ``stats``, when given, counts the clip's ``windows`` and ``degenerate_windows`` (rigid geometry that fell
    back from a degenerate essential matrix, :class:`~motiondepth.seurat.rigid.RigidMotion`).

    ``others``: more Seurat models to compare, one row each (row name → predictor, its own chaining).
    """
    truth = DepthMaps.per_frame(clip.depth_maps)
    flicker = FlickeringDepth(truth, seed=flicker_seed)
    tracks, vis = clip.tracks.astype(np.float64), clip.visible
    w = predictor.cfg.window
    depths: dict[str, np.ndarray] = {}
    depths["oracle depth"] = per_frame_depth(tracks, vis, truth)
    noisy = per_frame_depth(tracks, vis, flicker)
    depths["per-frame depth (flickering)"] = noisy
    depths["+ Gaussian smoothing (1 iter)"] = gaussian_smooth_depth(noisy, 1.0, 1)
    depths["+ Gaussian smoothing (3 iters)"] = gaussian_smooth_depth(noisy, 1.0, 3)
    support = (clip.support, clip.support_visible)
    hand = handcrafted_log_ratios(tracks, vis, w, predictor.stride, support=support)  # Eq. 9 chaining: its best
    depths["static depth per track"] = scale_match(np.zeros_like(hand), tracks, vis, flicker)[0]
    depths["hand-crafted baseline"] = scale_match(hand, tracks, vis, flicker)[0]
    starts = window_starts(len(tracks), w, predictor.stride)
    priors = window_priors(tracks, vis, clip.intrinsics, starts, w, support)  # the rigid row, and the model's prior
    if stats is not None:  # windows whose essential-matrix start met degenerate geometry (fell back, counted)
        stats["windows"] = stats.get("windows", 0) + len(priors)
        stats["degenerate_windows"] = stats.get("degenerate_windows", 0) + sum(
            p.motion.degenerate_starts > 0 for p in priors
        )
    rigid = chain_log_ratios(np.stack([p.query_log_ratio for p in priors]), starts, len(tracks), predictor.chain)
    depths["rigid geometry"] = scale_match(rigid, tracks, vis, flicker)[0]
    wl, starts = predictor.window_log_ratios(
        tracks, vis, clip.image_size, support=support, intrinsics=clip.intrinsics, priors=priors
    )
    for row, mode in (("Seurat, Eq. 9 chaining", "last"), ("Seurat", predictor.chain)):
        lr = chain_log_ratios(wl, starts, len(tracks), mode)  # same predictions, two chainings
        depths[row] = scale_match(lr, tracks, vis, flicker)[0]
    for row, other in (others or {}).items():
        lr = other.log_ratios(tracks, vis, clip.image_size, support=support, intrinsics=clip.intrinsics)
        depths[row] = scale_match(lr, tracks, vis, flicker)[0]
    return clip_metrics(clip, depths)


def clip_metrics(clip, depths: dict[str, np.ndarray], scalings=SCALINGS) -> dict[str, dict[str, dict]]:
    """TAPVid-3D metrics of per-track depths (T, N) on ``clip``'s query tracks: {row: {scaling: metrics}}."""
    tracks, vis = clip.tracks.astype(np.float64), clip.visible
    gt_vis = clip.gt_visible
    gt = to_tracks3d(clip.gt_tracks.astype(np.float64), gt_vis, clip.depth.astype(np.float64), clip.intrinsics).xyz
    intr = rescale_intrinsics(clip.intrinsics.as_array(), clip.image_size)
    qf = clip.queries[:, 0]
    out: dict[str, dict[str, dict]] = {}
    for row, d in depths.items():
        pred = to_tracks3d(tracks, vis, np.maximum(d, 1e-6), clip.intrinsics).xyz
        out[row] = {s: tapvid3d_metrics(pred, vis, gt, gt_vis, intr, s, qf) for s in scalings}
    return out


def evaluate_procedural(
    predictor: SeuratPredictor, scenes: int = 20, seed: int = 0, num_frames: int = 24, num_queries: int = 256,
    noisy_tracks: bool = False, progress: bool = True, others: dict[str, SeuratPredictor] | None = None,
) -> dict:  # fmt: skip
    """Every row (and a row per model in ``others``) on ``scenes`` held-out clips: mean metrics per row and scaling."""
    from tqdm import tqdm

    cfg = SeuratDataConfig(window=predictor.cfg.window, grid=predictor.cfg.grid, num_queries=num_queries)
    per_clip = []
    t_model = []
    stats: dict[str, int] = {}
    for i in tqdm(range(scenes), desc="eval seurat", disable=not progress):
        clip = eval_clip(EVAL_SEED_BASE + seed * 10_000 + i, num_frames, predictor.stride, cfg, noise=noisy_tracks)
        t0 = time.perf_counter()
        per_clip.append(evaluate_clip(clip, predictor, flicker_seed=seed * 10_000 + i, others=others, stats=stats))
        t_model.append(time.perf_counter() - t0)
    table = {
        row: {s: mean_metrics([c[row][s] for c in per_clip]) for s in SCALINGS} for row in (*ROWS, *(others or {}))
    }
    return {
        "scenes": scenes, "seed": seed, "num_frames": num_frames, "num_queries": num_queries,
        "noisy_tracks": noisy_tracks, "eval_seed_base": EVAL_SEED_BASE,
        "window": predictor.cfg.window, "stride": predictor.stride,
        "checkpoint": getattr(predictor.model, "card", {}).get("name", "custom"),
        "table": table,
        "windows": stats.get("windows", 0), "degenerate_windows": stats.get("degenerate_windows", 0),
    }  # fmt: skip


def markdown_table(result: dict, scaling: str = "per_trajectory") -> str:
    """Paper-style table (×100 for APD/3D-AJ, like the papers; TC in mm/frame²)."""
    lines = [
        f"Seurat on {result['scenes']} held-out procedural clips ({result['num_frames']} frames, "
        f"{result['num_queries']} queries, {'noisy' if result['noisy_tracks'] else 'exact'} 2D tracks), "
        f"scaling: {scaling}",
        "",
        "| method | 3D-AJ ↑ | APD ↑ | TC ↓ (mm) | AbsRel ↓ | δ1 ↑ |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row, by_scaling in result["table"].items():
        m = by_scaling[scaling]
        lines.append(
            f"| {row} | {100 * m['3d_aj']:.1f} | {100 * m['apd']:.1f} | {1000 * m['tc']:.2f} | "
            f"{m['abs_rel']:.4f} | {m['delta1']:.3f} |"
        )
    return "\n".join(lines) + "\n"
