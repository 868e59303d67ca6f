"""Moving points: does the fused depth over time (the camera path for static points, Seurat for moving ones,
:mod:`motiondepth.seurat.fuse`) keep Seurat's accuracy where things move, and beat it where they do not?

Held-out animated procedural clips (``eval_clip``, seeds from ``EVAL_SEED_BASE``, never trained or tuned on):
a camera dollies and turns through a room while objects move. Every method gets the same query tracks (exact,
or tracker-like with ``--noisy``) and the same frame-0 depth (the ground truth at each query, times a per-clip
scale error, so that no method gets the scale for free); scored with TAPVid-3D APD (``per_trajectory`` scaling)
apart on the points of moving objects and on the static ones:

- **Seurat**: the shipped model's chained ratios (what ``run`` did before issue 46);
- **path alone**: every track as a static point moved by the camera path;
- **fused**: ``fuse_depth_over_time``, as ``run`` does it: first the hidden frames where the path puts a point and
  its patch is there are found again (``path_depth.recover_hidden``, on the clip's frames ray-cast with the moving
  objects where they are), and Seurat reads those tracks.

The camera path is the simulation's own (an oracle path: this measures the fusion's decision, not the solver;
on real clips the solved path is scored in ``real_footage.py``). Also counted: the hidden frames found again on
moving and on static tracks, and how many of them are wrong (the point truly hidden, or over 2 px off).

    python benchmarks/dynamic_fusion.py            # 12 clips, ≈ 3 min on 2 cores (most of it ray-casting)
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from motiondepth.data.seurat_synth import EVAL_SEED_BASE, eval_clip
from motiondepth.eval.tapvid3d import rescale_intrinsics, tapvid3d_metrics
from motiondepth.io.atomic import write_json_and_markdown
from motiondepth.seurat.depth_source import DepthMaps
from motiondepth.seurat.fuse import fuse_depth_over_time
from motiondepth.seurat.inference import SeuratPredictor, scale_match, to_tracks3d
from motiondepth.seurat.windows import chain_log_ratios
from motiondepth.trajectory.path_depth import path_tracks, static_prediction

METHODS = ("Seurat", "path alone", "fused")


def clip_frames(seed: int, clip) -> np.ndarray:
    """(T, H, W, 3) the clip ray-cast frame by frame, its objects where they are (the scene ``eval_clip`` made)."""
    from motiondepth.data.seurat_synth import SeuratDataConfig
    from motiondepth.scenes.animated import generate_animated_scene

    cfg = SeuratDataConfig()
    t = len(clip.tracks)
    scene = generate_animated_scene(seed, clip.intrinsics, clip.image_size, t, cfg.scene, cfg.motion)
    cam = scene.camera
    return np.stack([scene.at(k).render(clip.intrinsics, clip.image_size, cam.rotation[k], cam.translation[k]).rgb
                     for k in range(t)])  # fmt: skip


def seurat_depths(predictor: SeuratPredictor, clip, tracks: np.ndarray, vis: np.ndarray, maps) -> np.ndarray:
    """Seurat's chained ratios on ``tracks``, scale-matched to the frame-0 maps (what ``run`` did before issue 46)."""
    wl, starts = predictor.window_log_ratios(tracks, vis, clip.image_size, support=(clip.support, clip.support_visible),
                                             intrinsics=clip.intrinsics)  # fmt: skip
    lr = chain_log_ratios(wl, starts, len(tracks), predictor.chain)
    return scale_match(lr, tracks, vis, maps)[0]


def clip_scores(seed: int, predictor: SeuratPredictor, noisy: bool) -> dict | None:
    clip = eval_clip(seed, num_frames=24, noise=noisy)
    if clip.moving is None or not clip.moving.any() or clip.moving.all():
        return None
    tracks, vis = clip.tracks.astype(np.float64), clip.visible
    rng = np.random.default_rng(seed)
    scale = float(np.exp(rng.normal(0, 0.2)))  # the frame-0 map's scale error, one per clip
    maps = DepthMaps.per_frame(clip.depth_maps * scale)
    seurat_depth = seurat_depths(predictor, clip, tracks, vis, maps)
    q = clip.queries
    prior = clip.depth[np.rint(q[:, 0]).astype(int), np.arange(len(q))] * scale  # each query's depth, scaled
    path = (clip.intrinsics, clip.angles, clip.centres, clip.image_size)
    pred = path_tracks(tracks, vis, q, prior, *path)
    # as run: hidden frames found again where the path puts the point, then the path and Seurat on those tracks
    fusion = static_prediction(clip_frames(seed, clip), tracks, vis, q, prior, *path)
    xy, seen, found = fusion.tracks.astype(np.float64), fusion.visible, fusion.recovered
    fused_seurat = seurat_depth if not found.any() else seurat_depths(predictor, clip, xy, seen, maps)
    seurat = to_tracks3d(xy, seen, np.maximum(fused_seurat, 1e-6), clip.intrinsics, clip.queries)
    fused = fuse_depth_over_time(seurat, fusion.pred.depth, fusion.pred.residual_px, fusion.pred.xy, xy)
    depths = {"Seurat": (seurat_depth, tracks, vis), "path alone": (pred.depth, tracks, vis),
              "fused": (fused.depth, xy, seen)}  # fmt: skip
    gt = to_tracks3d(clip.gt_tracks.astype(np.float64), clip.gt_visible, clip.depth.astype(np.float64),
                     clip.intrinsics).xyz  # fmt: skip
    intr = rescale_intrinsics(clip.intrinsics.as_array(), clip.image_size)
    out = {"seed": seed, "moving_tracks": int(clip.moving.sum()), "tracks": len(q),
           "fused_sources_on_moving": {}, "scores": {}}  # fmt: skip
    wrong = found & (~clip.gt_visible | (np.linalg.norm(xy - clip.gt_tracks, axis=-1) > 2.0))
    moving = np.broadcast_to(clip.moving, found.shape)
    out["found_again"] = {}
    for part, sel in (("moving", moving), ("static", ~moving)):
        out["found_again"] |= {part: int((found & sel).sum()), part + "_wrong": int((wrong & sel).sum()),
                               part + "_hidden": int((~vis & sel).sum())}  # fmt: skip
    src = np.asarray(fused.meta["source"])
    for i, name in enumerate(fused.meta["source_names"]):
        out["fused_sources_on_moving"][name] = int((src[clip.moving] == i).sum())
    for name, (d, at, seen_at) in depths.items():
        xyz = to_tracks3d(at, seen_at, np.maximum(np.nan_to_num(d, nan=1e-6), 1e-6), clip.intrinsics).xyz
        out["scores"][name] = {}
        for part, sel in (("moving", clip.moving), ("static", ~clip.moving)):
            m = tapvid3d_metrics(xyz[:, sel], seen_at[:, sel], gt[:, sel], clip.gt_visible[:, sel], intr,
                                 "per_trajectory", q[sel, 0])  # fmt: skip
            out["scores"][name][part] = round(float(m["apd"]), 4)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clips", type=int, default=12)
    ap.add_argument("--noisy", action="store_true", help="tracker-like tracks (jitter, drift, false occlusions)")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "dynamic_fusion.json"))
    a = ap.parse_args()
    predictor = SeuratPredictor.from_pretrained()
    rows = []
    seed = EVAL_SEED_BASE
    while len(rows) < a.clips:
        r = clip_scores(seed, predictor, a.noisy)
        seed += 1
        if r is not None:
            rows.append(r)
            print(r)
    med = {m: {p: float(np.median([r["scores"][m][p] for r in rows])) for p in ("moving", "static")} for m in METHODS}
    worst = {m: {p: float(np.min([r["scores"][m][p] for r in rows])) for p in ("moving", "static")} for m in METHODS}
    # a clip holds 1–10 moving tracks: the mean over every moving track of every clip is the steadier figure
    n = np.array([r["moving_tracks"] for r in rows], np.float64)
    pooled = {m: float(np.sum(n * [r["scores"][m]["moving"] for r in rows]) / n.sum()) for m in METHODS}
    result = {"clips": rows, "median_apd": med, "worst_apd": worst, "pooled_moving_apd": pooled,
              "noisy_tracks": a.noisy}  # fmt: skip
    lines = ["| method | APD moving, per track over all clips | APD moving (median / worst clip) | "
             "APD static (median / worst clip) |", "|---|---:|---:|---:|"]  # fmt: skip
    for m in METHODS:
        lines.append(f"| {m} | {pooled[m]:.3f} | {med[m]['moving']:.3f} / {worst[m]['moving']:.3f} | "
                     f"{med[m]['static']:.3f} / {worst[m]['static']:.3f} |")  # fmt: skip
    found = {k: sum(r["found_again"][k] for r in rows) for k in rows[0]["found_again"]}
    result["found_again"] = found
    lines += ["", f"Hidden frames found again where the path puts the point (`fused`): {found['static']} of the "
              f"{found['static_hidden']} hidden (track, frame) pairs of static tracks ({found['static_wrong']} wrong: "
              f"truly hidden or over 2 px off), {found['moving']} of the {found['moving_hidden']} of moving ones "
              f"({found['moving_wrong']} wrong)."]  # fmt: skip
    kind = "tracker-like" if a.noisy else "exact"
    md = (f"# Moving points: fused depth over time vs Seurat ({len(rows)} held-out animated clips, {kind} tracks, "
          f"{int(n.sum())} moving tracks, oracle camera path)\n\n" + "\n".join(lines) + "\n")  # fmt: skip
    out = Path(a.out)
    if a.noisy:
        out = out.with_name(out.stem + "_noisy" + out.suffix)
    write_json_and_markdown(out, result, md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
