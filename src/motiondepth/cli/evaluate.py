"""Evaluation on held-out data: ``eval seurat``, ``eval blur-depth``, ``eval tapvid3d`` and ``predict-tapvid3d``."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from motiondepth import options as opt
from motiondepth.cli.common import CHAIN_CHOICES, add_deprecated_alias
from motiondepth.errors import InputError
from motiondepth.io.atomic import write_json_and_markdown
from motiondepth.models.weights import VIDEO_DEPTH_CHECKPOINT
from motiondepth.options import Range, number


def cmd_eval_seurat(a: argparse.Namespace) -> int:
    from motiondepth.eval.harness.seurat import evaluate_procedural, markdown_table
    from motiondepth.seurat.inference import SeuratPredictor

    predictor = SeuratPredictor.from_pretrained(a.seurat_checkpoint, chain=a.chain)
    result = evaluate_procedural(predictor, a.scenes, a.seed, a.frames, a.queries, a.noisy_tracks)
    md = "\n".join(markdown_table(result, s) for s in ("per_trajectory", "median", "none"))
    j, m = write_json_and_markdown(a.out, result, md)
    print(markdown_table(result, "per_trajectory"))
    if result["degenerate_windows"]:
        print(f"rigid geometry: {result['degenerate_windows']} of {result['windows']} windows met a degenerate "
              "essential matrix and fell back to the other starts (the no-motion one among them)")  # fmt: skip
    print(f"wrote {j} and {m}")
    return 0


def cmd_predict_tapvid3d(a: argparse.Namespace) -> int:
    from motiondepth.eval.harness.predict_tapvid3d import TapVid3DPredictor

    predictor = TapVid3DPredictor(a.method, a.seurat_checkpoint, a.support, a.depth_checkpoint, a.depth_model)
    t0 = time.perf_counter()
    res = predictor.predict_dirs(a.gt, a.out, progress=not a.quiet)
    kept = f"; kept {len(res['kept'])} already there" if res["kept"] else ""
    print(
        f"wrote {len(res['predicted'])} prediction(s) ({a.method}) to {a.out}{kept} in {time.perf_counter() - t0:.1f} s"
    )
    return 0


def cmd_eval_tapvid3d(a: argparse.Namespace) -> int:
    from motiondepth.eval.tapvid3d import evaluate_dirs

    result = evaluate_dirs(a.gt, a.pred, a.scaling)
    m = result["mean"]
    md = (
        f"TAPVid-3D, {result['videos']} videos, scaling {a.scaling}\n\n"
        "| 3D-AJ ↑ | APD ↑ | OA ↑ | TC ↓ | AbsRel ↓ | δ1 ↑ |\n"
        f"|---:|---:|---:|---:|---:|---:|\n| {100 * m['3d_aj']:.1f} | {100 * m['apd']:.1f} | "
        f"{100 * m['occlusion_accuracy']:.1f} | {m['tc']:.4f} | {m['abs_rel']:.4f} | {m['delta1']:.3f} |\n"
    )
    j, mdp = write_json_and_markdown(a.out, result, md)
    print(md)
    print(f"wrote {j} and {mdp}")
    return 0


def cmd_eval_blur_depth(a: argparse.Namespace) -> int:
    from motiondepth.eval.harness.blur_depth import evaluate_procedural, markdown_table
    from motiondepth.simulate.shake import check_shake_spec

    check_shake_spec(a.shake)  # --scenes, --blur-fit-scenes and --shake-scale: their ranges are the parser's
    skip = ("", "none")  # --ablation none / --trajectory-checkpoint none leave those rows out
    ablation = None if a.ablation.lower() in skip else a.ablation
    decoder = None if a.trajectory_checkpoint.lower() in skip else a.trajectory_checkpoint
    result = evaluate_procedural(a.depth_checkpoint, ablation, decoder, a.scenes, a.seed,
                                 blur_fit_scenes=min(a.blur_fit_scenes, a.scenes), shake=a.shake,
                                 shake_scale=a.shake_scale)  # fmt: skip
    md = markdown_table(result)
    j, mdp = write_json_and_markdown(a.out, result, md)
    print(md)
    print(f"wrote {j} and {mdp}")
    return 0


def cmd_eval_trajectory(a: argparse.Namespace) -> int:
    from motiondepth.eval.trajectory_metrics import trajectory_metrics
    from motiondepth.io.trajectory import read_trajectory_csv

    pred = read_trajectory_csv(a.pred)
    from motiondepth.io.npz import read_npz

    gt_path = Path(a.gt)
    gt = read_npz(gt_path, ("trajectory",), "ground-truth file")["trajectory"]
    if gt.shape != pred.angles.shape:
        raise InputError(a.pred, f"has {len(pred.angles)} frames but {gt_path} has {len(gt)}")
    print(json.dumps(trajectory_metrics(pred.angles, gt, a.floor), indent=2))
    return 0


def add_eval_group(sub):
    """Register the ``eval`` group with ``eval trajectory``; returns its sub-parsers for the model evaluations."""
    e = sub.add_parser("eval", help="score results against ground truth")
    esub = e.add_subparsers(dest="what", required=True, metavar="WHAT")
    et = esub.add_parser(
        "trajectory",
        help="trajectory metrics (AbsRel, e1, e2, RMSE) as JSON",
        description="Print AbsRel, e1, e2 (relative angle error over samples above --floor) and RMSE in arcminutes.",
    )
    et.add_argument("--pred", required=True, metavar="TRAJECTORY.csv", help="estimated trajectory")
    et.add_argument("--gt", required=True, metavar="GROUNDTRUTH.npz", help="groundtruth.npz from simulate")
    et.add_argument(
        "--floor",
        type=number(Range(0.0, 1.0, unit="rad")),
        default=1e-3,
        metavar="RAD",
        help="ignore |truth| below this in relative metrics (default 1e-3 rad)",
    )
    et.set_defaults(func=cmd_eval_trajectory)
    return esub


def add_commands(sub, eval_sub) -> None:
    """Register ``predict-tapvid3d`` and the model evaluations under ``eval``."""
    _add_predict_tapvid3d(sub)
    _add_eval_blur_depth(eval_sub)
    _add_eval_seurat(eval_sub)
    _add_eval_tapvid3d(eval_sub)


def _add_predict_tapvid3d(sub) -> None:
    """Register ``predict-tapvid3d``."""
    pt = sub.add_parser(
        "predict-tapvid3d",
        help="lift TAPVid-3D files' 2D tracks to 3D (Seurat or a baseline) for 'eval tapvid3d'",
        description="For every ground-truth GT/*.npz, write OUT/<same name>.npz with tracks_XYZ and visibility: "
        "the ground truth's 3D tracks projected to 2D with its intrinsics (the depth-from-tracks setting), the "
        "supporting grid re-tracked on the decoded video, log depth ratios over time from --method, scaled by "
        "median matching against the first frame's metric depth (blur network, or --depth-model). Files already "
        "in OUT are kept, so an interrupted run resumes. Then: motiondepth eval tapvid3d --gt GT --pred OUT.",
    )
    pt.add_argument("--gt", required=True, metavar="DIR", help="folder of TAPVid-3D ground-truth .npz files")
    pt.add_argument("--out", required=True, metavar="DIR", help="folder for the prediction files")
    pt.add_argument("--method", default="seurat", choices=["seurat", "handcrafted", "rigid", "static"],
                    help="Seurat (default), the hand-crafted baseline (Eq. 4), rigid-scene geometry, or static "
                    "depth per track")  # fmt: skip
    pt.add_argument("--seurat-checkpoint", default="seurat-small", metavar="NAME_OR_PATH",
                    help="Seurat checkpoint (default seurat-small; its window, stride and grid also serve the "
                    "baselines; was --checkpoint, still accepted)")  # fmt: skip
    add_deprecated_alias(pt, "--checkpoint", "--seurat-checkpoint", "seurat_checkpoint", "NAME_OR_PATH")
    pt.add_argument("--support", default="video", choices=["video", "tracks"],
                    help="supporting grid: re-tracked on the video (default) or the visible tracks")  # fmt: skip
    pt.add_argument("--depth-checkpoint", default=VIDEO_DEPTH_CHECKPOINT, metavar="NAME_OR_PATH",
                    help=f"blur-depth checkpoint for the metric scale (default {VIDEO_DEPTH_CHECKPOINT})")  # fmt: skip
    pt.add_argument("--depth-model", metavar="DIR", help="a local Hugging Face metric depth model instead")
    pt.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    pt.set_defaults(func=cmd_predict_tapvid3d)


def _add_eval_blur_depth(eval_sub) -> None:
    """Register ``eval blur-depth``."""
    eb = eval_sub.add_parser(
        "blur-depth",
        help="blur-depth network and dense decoder vs. baselines on held-out procedural clips",
        description="Depth table (constant-depth baseline, single-frame ablation, the network; metric, no alignment) "
        "and trajectory table (post-interpolation vs the dense decoder at 15 and 30 samples per frame) on held-out "
        "simulated clips. Writes OUT (.json) and a markdown table next to it (.md).",
    )
    eb.add_argument("--depth-checkpoint", default="blur-depth-small", metavar="NAME_OR_PATH",
                    help="blur-depth checkpoint to score (default blur-depth-small; was --checkpoint, still "
                    "accepted)")  # fmt: skip
    add_deprecated_alias(eb, "--checkpoint", "--depth-checkpoint", "depth_checkpoint", "NAME_OR_PATH")
    eb.add_argument("--ablation", default="blur-depth-single-frame", metavar="NAME_OR_PATH",
                    help="single-frame ablation checkpoint (skipped when not shipped; 'none' skips it)")  # fmt: skip
    eb.add_argument("--trajectory-checkpoint", default="trajectory-small", metavar="NAME_OR_PATH",
                    help="dense trajectory decoder ('none': depth rows only)")  # fmt: skip
    eb.add_argument(
        "--scenes",
        type=number(Range(1, 10**5, integer=True)),
        default=32,
        metavar="N",
        help="number of clips (default 32)",
    )
    eb.add_argument(
        "--seed", type=number(opt.SEED), default=0, metavar="S", help="selects a disjoint set of held-out clips"
    )
    eb.add_argument("--blur-fit-scenes", type=number(Range(0, 10**5, integer=True)), default=0, metavar="K",
                    help="also fit the rotation trace to the blur (no learning) on the first K clips: how "
                    "much of the motion inside each exposure the blur reveals (≈ 15 s per 224 px clip)")  # fmt: skip
    eb.add_argument("--shake", default="synthetic", metavar="synthetic|handheld|PATH",
                    help="camera shake of the clips (the shipped checkpoints were trained on synthetic)")  # fmt: skip
    eb.add_argument("--shake-scale", type=number(opt.SHAKE_SCALE), default=1.0, metavar="X",
                    help="shake amplitude multiplier (handheld at 4 = the real gyro logs' amplitude)")  # fmt: skip
    eb.add_argument("--out", required=True, metavar="RESULTS.json", help="results JSON; a markdown table is written "
                    "beside it")  # fmt: skip
    eb.set_defaults(func=cmd_eval_blur_depth)


def _add_eval_seurat(eval_sub) -> None:
    """Register ``eval seurat``."""
    es = eval_sub.add_parser(
        "seurat",
        help="Seurat vs. baselines on held-out procedural clips",
        description="Run Seurat and every baseline (oracle depth, flickering per-frame depth, + Gaussian smoothing, "
        "hand-crafted density baseline) on held-out procedural clips; TAPVid-3D metrics for each scaling mode. "
        "Writes OUT (.json) and a markdown table next to it (.md).",
    )
    es.add_argument("--seurat-checkpoint", default="seurat-small", metavar="NAME_OR_PATH",
                    help="Seurat checkpoint to score (default seurat-small; was --checkpoint, still "
                    "accepted)")  # fmt: skip
    add_deprecated_alias(es, "--checkpoint", "--seurat-checkpoint", "seurat_checkpoint", "NAME_OR_PATH")
    es.add_argument(
        "--scenes",
        type=number(Range(1, 10**5, integer=True)),
        default=20,
        metavar="N",
        help="number of clips (default 20)",
    )
    es.add_argument(
        "--seed", type=number(opt.SEED), default=0, metavar="S", help="selects a disjoint set of held-out clips"
    )
    es.add_argument(
        "--frames",
        type=number(Range(8, 10**4, integer=True)),
        default=48,
        metavar="T",
        help="frames per clip (default 48)",
    )
    es.add_argument(
        "--queries",
        type=number(Range(1, 10**5, integer=True)),
        default=256,
        metavar="N",
        help="query tracks per clip (default 256)",
    )
    es.add_argument("--noisy-tracks", action="store_true", help="corrupt the 2D tracks like a real tracker")
    es.add_argument("--chain", choices=CHAIN_CHOICES, default="average", help="Seurat's window chaining "
                    "(see track-depth); the hand-crafted baseline always uses Eq. 9, its better mode")  # fmt: skip
    es.add_argument("--out", required=True, metavar="RESULTS.json", help="results JSON; a markdown table is written "
                    "beside it")  # fmt: skip
    es.set_defaults(func=cmd_eval_seurat)


def _add_eval_tapvid3d(eval_sub) -> None:
    """Register ``eval tapvid3d``."""
    et = eval_sub.add_parser(
        "tapvid3d",
        help="TAPVid-3D metrics for real benchmark files",
        description="Score predictions against TAPVid-3D ground truth: every GT/*.npz needs PRED/<same name>.npz "
        "with tracks_XYZ and visibility. Per-video APD, 3D-AJ, occlusion accuracy, TC, AbsRel, δ1 averaged over "
        "videos (fractions in [0, 1]); intrinsics rescaled to a 256 px short side.",
    )
    et.add_argument("--gt", required=True, metavar="DIR", help="folder of ground-truth .npz files")
    et.add_argument("--pred", required=True, metavar="DIR", help="folder of prediction .npz files")
    et.add_argument("--scaling", default="per_trajectory", choices=["median", "per_trajectory", "none"],
                    help="how predictions are scaled to the ground truth: per track at its query frame "
                    "(per_trajectory, default), by the ratio of median 3D norms (median), or not at all "
                    "(none)")  # fmt: skip
    et.add_argument("--out", required=True, metavar="RESULTS.json", help="results JSON; a markdown table is written "
                    "beside it")  # fmt: skip
    et.set_defaults(func=cmd_eval_tapvid3d)
