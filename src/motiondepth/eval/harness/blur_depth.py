"""Held-out evaluation of the perspective-blur models (tables in the style of the paper's 1–2).

Clips: procedural RGB-D scenes turned into shaky rolling-shutter clips by the simulator
(:func:`motiondepth.data.blur_data.procedural_blur_sample`), seeds ``EVAL_SEED_BASE + 10⁴·seed
+ i`` (never reached by training, which uses seeds below 10⁹), both camera presets.

Depth rows (metric, no alignment, per-image metrics averaged over clips):

- ``constant depth``: every pixel gets one constant, the median ground-truth depth over 64
  *training* scenes (what a network that learned nothing but the data's typical depth outputs);
- ``single-frame ablation``: the same architecture trained the same way on frame 0 alone
  (checkpoint ``blur-depth-single-frame``), when available;
- ``network``: the blur-depth checkpoint on the full clip.

Trajectory rows: the solver's sparse trajectory (on ground-truth grid tracks, as in training)
upsampled linearly (``post-interpolation``) vs the dense decoder, at S = 15 and 30.

Model-based reference (``blur_fit_scenes`` > 0, on the first clips only): the rotation trace fitted
to the clip's blur by :func:`motiondepth.tracking.blur_fit.fit_blur_trace` (no learning; the same
ground-truth grid tracks and solver trajectory as the decoder gets, the network's median depth for
the small pivot term). It shows how much of the motion inside each exposure the blur at this
resolution reveals at all, next to interpolation and the decoder on the same clips, with the
clips' median centre blur length in pixels.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from tqdm import tqdm

from motiondepth.data import EVAL_SEED_BASE
from motiondepth.data.blur_data import BlurDataConfig, procedural_clip, sample_from_clip
from motiondepth.errors import InputError
from motiondepth.eval.depth_metrics import depth_metrics, mean_depth_metrics
from motiondepth.eval.trajectory_metrics import trajectory_metrics
from motiondepth.models.blur_depth import frames_tensor
from motiondepth.models.trajectory_decoder import blur_spectra, interpolate_trajectory
from motiondepth.trajectory.continuous import continuous_dense

MAX_DEPTH = 100.0  # metres; procedural scenes stay well inside
DEPTH_KEYS = ("abs_rel", "sq_rel", "rmse", "rmse_log", "delta1", "delta2", "delta3")


def constant_depth(size: int, metric_cues: bool = True, scenes: int = 64) -> float:
    """Median ground-truth depth over ``scenes`` training scenes (seeds 0…)."""
    from motiondepth.data.rgbd_sources import ProceduralSource

    src = ProceduralSource(size=(size, size), metric_cues=metric_cues)
    return float(np.median(np.concatenate([src[i].depth[src[i].depth > 0] for i in range(scenes)])))


def _depth_row(preds: list[np.ndarray], gts: list[np.ndarray], tele: list[bool]) -> dict:
    per = [depth_metrics(p, g, max_depth=MAX_DEPTH) for p, g in zip(preds, gts, strict=True)]
    row = {k: v for k, v in mean_depth_metrics(per).items() if k in DEPTH_KEYS or k == "num_images"}
    for name, flag in (("phone", False), ("telephoto", True)):
        sub = [m["abs_rel"] for m, t in zip(per, tele, strict=True) if t == flag]
        row[f"abs_rel_{name}"] = float(np.mean(sub)) if sub else float("nan")
    # scaled per clip by the ratio of medians: the error left once the global scale is right
    scaled = [depth_metrics(p, g, max_depth=MAX_DEPTH, align="median") for p, g in zip(preds, gts, strict=True)]
    row["abs_rel_median_scaled"] = float(np.mean([m["abs_rel"] for m in scaled]))
    return row


def _traj_row(preds: list[np.ndarray], gts: list[np.ndarray]) -> dict:
    per = [trajectory_metrics(p, g) for p, g in zip(preds, gts, strict=True)]
    return {k: float(np.nanmean([m[k] for m in per])) for k in ("abs_rel", "e1", "e2", "rmse_arcmin")}


def blur_fit_dense(clip, depth_m: float, samples=(15, 30)) -> dict:
    """Model-based dense trajectory of a :func:`~motiondepth.data.blur_data.simulate_clip` result
    (module docstring): S → (T, S, 3) rad.

    Also returns ``blur_px`` (median centre blur length of the clip's frames) and ``seconds``.
    """
    from motiondepth.tracking.blur_fit import fit_blur_trace

    video, cam, tracks, solved = clip
    t0 = time.perf_counter()
    fit = fit_blur_trace(video.frames, tracks, solved.angles, cam, video.intrinsics, video.timestamps, depth_m,
                         progress=False)  # fmt: skip
    out = {n: fit.dense(n, solved.angles) for n in samples}
    return out | {"blur_px": float(np.median(video.blur_px)), "seconds": time.perf_counter() - t0}


def evaluate_procedural(
    depth_checkpoint: str = "blur-depth-small",
    ablation_checkpoint: str | None = "blur-depth-single-frame",
    trajectory_checkpoint: str | None = "trajectory-small",
    scenes: int = 32,
    seed: int = 0,
    progress: bool = True,
    blur_fit_scenes: int = 0,
    shake: str = "synthetic",
    shake_scale: float = 1.0,
) -> dict:
    """Depth and trajectory tables on held-out procedural clips (see the module docstring).

    ``shake`` is the clips' camera shake (:func:`motiondepth.simulate.load_shake`) and
    ``shake_scale`` its amplitude multiplier; the shipped checkpoints were trained on ``synthetic``.
    """
    from motiondepth.depth.blur import BlurPredictor, load_decoder
    from motiondepth.models.blur_depth import BlurDepthNet
    from motiondepth.models.weights import available

    net = BlurDepthNet.from_pretrained(depth_checkpoint)
    # a single-frame network is evaluated on the default clips (its frame 0), as the ablation row is
    frames = net.cfg.num_frames if net.cfg.num_frames > 1 else BlurDataConfig().num_frames
    cfg = BlurDataConfig(size=net.cfg.image_size, num_frames=frames, shake=shake, shake_scale=shake_scale)
    if net.cfg.num_frames == 1 and trajectory_checkpoint:
        raise InputError(str(depth_checkpoint), "is a single-frame network; the trajectory rows need a multi-frame "
                         "one (pass --trajectory-checkpoint none)")  # fmt: skip
    ablation = None
    if ablation_checkpoint and (ablation_checkpoint in available() or not ablation_checkpoint.startswith("blur-")):
        ablation = BlurPredictor(ablation_checkpoint, None)
    decoder = None
    if trajectory_checkpoint and (trajectory_checkpoint in available() or not trajectory_checkpoint.startswith("traj")):
        decoder = load_decoder(trajectory_checkpoint, net)
    const = constant_depth(cfg.size, cfg.metric_cues)
    rows: dict[str, list] = {"constant depth": [], "single-frame ablation": [], "network": []}
    gts, tele = [], []
    traj: dict[str, list] = {}
    times = []
    ref: dict[str, list] = {}
    ref_blur, ref_s = [], []
    for i in tqdm(range(scenes), desc="eval blur-depth", disable=not progress):
        clip = procedural_clip(EVAL_SEED_BASE + 10_000 * seed + i, cfg)
        s = sample_from_clip(*clip)
        gts.append(s["depth"])
        tele.append(bool(s["telephoto"]))
        x = frames_tensor(s["frames"])[None]
        t0 = time.perf_counter()
        with torch.no_grad():
            out = net(x[:, : net.cfg.num_frames])
        times.append(time.perf_counter() - t0)
        rows["network"].append(out["depth"][0].numpy())
        rows["constant depth"].append(np.full_like(s["depth"], const))
        if ablation is not None:
            rows["single-frame ablation"].append(ablation.depth(s["frames"]))
        traj.setdefault("sparse (solver)", []).append((s["sparse"], s["sparse_gt"]))
        sparse = torch.from_numpy(s["sparse"])[None].float()
        if decoder is not None:  # the decoder's inputs, shared by both sample counts
            focal = torch.tensor([s["intrinsics"][0] / s["frames"].shape[2]])
            tokens = decoder.image_tokens(out["frame_features"], out["features"])
            spectra = blur_spectra(x)
        for n in (15, 30):
            gt = s[f"dense_{n}"]
            traj.setdefault(f"post-interpolation S={n}", []).append((interpolate_trajectory(sparse, n)[0].numpy(), gt))
            if decoder is not None:
                with torch.no_grad():
                    dense = decoder(sparse, tokens, spectra, focal, n)[0].numpy()
                traj.setdefault(f"decoder S={n}", []).append((dense, gt))
                # what run and BlurPredictor give: the pieces joined into one path, frame means held to the solver
                traj.setdefault(f"decoder, continuous S={n}", []).append((continuous_dense(dense, s["sparse"]), gt))
        if i < blur_fit_scenes:
            fit = blur_fit_dense(clip, float(out["depth"].median()))  # the clip simulated once for both
            ref_blur.append(fit["blur_px"])
            ref_s.append(fit["seconds"])
            for n in (15, 30):
                for name in (f"post-interpolation S={n}", f"decoder S={n}"):
                    if name in traj:
                        ref.setdefault(name, []).append(traj[name][-1])
                ref.setdefault(f"blur fit (model-based) S={n}", []).append((fit[n], s[f"dense_{n}"]))
    depth = {name: _depth_row(p, gts, tele) for name, p in rows.items() if p}
    trajectory = {name: _traj_row([a for a, _ in v], [b for _, b in v]) for name, v in traj.items()}
    return {
        "scenes": scenes,
        "seed": seed,
        "seeds": f"{EVAL_SEED_BASE} + 10000·{seed} + [0, {scenes})",
        "telephoto_share": float(np.mean(tele)),
        "constant_depth_m": const,
        "depth_checkpoint": depth_checkpoint,
        "ablation_checkpoint": ablation_checkpoint if ablation is not None else None,
        "trajectory_checkpoint": trajectory_checkpoint if decoder is not None else None,
        "data": {"size": cfg.size, "num_frames": cfg.num_frames, "shake": cfg.shake, "shake_scale": cfg.shake_scale},
        "depth": depth,
        "trajectory": trajectory,
        "network_seconds_per_clip_median": float(np.median(times)),
    } | ({
        "model_based_reference": {
            "scenes": len(ref_blur),
            "blur_px_median": float(np.median(ref_blur)),
            "fit_seconds_median": float(np.median(ref_s)),
            "trajectory": {name: _traj_row([a for a, _ in v], [b for _, b in v]) for name, v in sorted(ref.items())},
        }
    } if ref_blur else {})  # fmt: skip


def _scale_text(scale: float) -> str:
    return "" if scale == 1.0 else f" × {scale:g}"


def markdown_table(result: dict) -> str:
    lines = [
        f"Held-out procedural clips: {result['scenes']} (seeds {result['seeds']}), "
        f"{result['data']['num_frames']} frames at {result['data']['size']} px, "
        f"{result['data'].get('shake', 'synthetic')} shake{_scale_text(result['data'].get('shake_scale', 1.0))}, "
        f"{100 * result['telephoto_share']:.0f}% telephoto. Metric depth, no alignment (last column: each clip "
        "scaled by its ratio of medians).",
        "",
        "| depth | AbsRel ↓ | SqRel ↓ | RMSE (m) ↓ | δ1 ↑ | δ2 ↑ | δ3 ↑ | AbsRel phone | AbsRel tele "
        "| AbsRel, median-scaled ↓ |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, m in result["depth"].items():
        lines.append(
            f"| {name} | {m['abs_rel']:.3f} | {m['sq_rel']:.3f} | {m['rmse']:.3f} | {m['delta1']:.3f} | "
            f"{m['delta2']:.3f} | {m['delta3']:.3f} | {m['abs_rel_phone']:.3f} | {m['abs_rel_telephoto']:.3f} | "
            f"{m.get('abs_rel_median_scaled', float('nan')):.3f} |"
        )
    lines += ["", "| trajectory | AbsRel ↓ | e1 ↑ | e2 ↑ | RMSE (′) ↓ |", "|---|---|---|---|---|"]
    for name, m in result["trajectory"].items():
        lines.append(f"| {name} | {m['abs_rel']:.3f} | {m['e1']:.3f} | {m['e2']:.3f} | {m['rmse_arcmin']:.3f} |")
    if "model_based_reference" in result:
        ref = result["model_based_reference"]
        lines += [
            "",
            f"Model-based reference on the first {ref['scenes']} clips (median centre blur "
            f"{ref['blur_px_median']:.2f} px; fit {ref['fit_seconds_median']:.0f} s per clip): the trace fitted to "
            "the blur without learning, beside interpolation and the decoder on the same clips.",
            "",
            "| trajectory (same clips) | AbsRel ↓ | e1 ↑ | e2 ↑ | RMSE (′) ↓ |",
            "|---|---|---|---|---|",
        ]
        for name, m in ref["trajectory"].items():
            lines.append(f"| {name} | {m['abs_rel']:.3f} | {m['e1']:.3f} | {m['e2']:.3f} | {m['rmse_arcmin']:.3f} |")
    return "\n".join(lines) + "\n"
