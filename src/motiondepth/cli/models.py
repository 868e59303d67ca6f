"""Command-line commands of the learned models: ``train``, ``track-depth``, ``eval seurat``,
``eval tapvid3d``. Registered on the main parser by :func:`add_commands`."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from motiondepth import options as opt
from motiondepth.cli.common import CHAIN_CHOICES, add_device_argument, check_shake_scale, parse_intrinsics
from motiondepth.errors import InputError, check_device
from motiondepth.geometry.camera import DEFAULT_HFOV_DEG
from motiondepth.io.atomic import write_json_and_markdown
from motiondepth.io.trajectory import save_tracks3d
from motiondepth.models.weights import VIDEO_DEPTH_CHECKPOINT
from motiondepth.options import Range, number


def cmd_train(a: argparse.Namespace) -> int:
    from motiondepth.train.run import train

    t0 = time.perf_counter()
    metrics = train(a.model, a.preset, a.out, a.config, a.overrides, progress=True)
    summary = ", ".join(f"{k}={v:.4g}" for k, v in metrics.items()) or "stopped early (resume with the same command)"
    print(f"{a.out}: {summary} ({(time.perf_counter() - t0) / 60:.1f} min)")
    return 0


def _intrinsics_for(a: argparse.Namespace, tracks_intr, size: tuple[int, int]):
    from motiondepth.geometry.camera import Intrinsics
    from motiondepth.io.camera import read_camera_json

    if a.intrinsics:
        return parse_intrinsics(a.intrinsics), None
    if a.camera:
        cam = read_camera_json(a.camera)
        try:
            return Intrinsics.from_array(cam["intrinsics"]), None
        except KeyError:
            raise InputError(a.camera, "has no 'intrinsics' [fx, fy, cx, cy]") from None
        except (ValueError, TypeError) as exc:
            raise InputError(a.camera, f"'intrinsics': {exc}") from None
    if tracks_intr is not None:
        return Intrinsics.from_array(tracks_intr), None
    h, w = size
    return Intrinsics.from_hfov(a.hfov, w, h), f"no intrinsics given: assumed a {a.hfov:.0f}° horizontal field of view"


def cmd_track_depth(a: argparse.Namespace) -> int:
    from motiondepth.io.trajectory import load_tracks
    from motiondepth.seurat.depth_source import load_depth_source
    from motiondepth.seurat.inference import SeuratPredictor

    tracks, tracks_intr = load_tracks(a.tracks)
    size = tracks.image_size
    if min(size) <= 0:
        raise InputError(a.tracks, "tracks file has no image_size; needed to normalise positions")
    source = load_depth_source(a.depth, size, a.depth_scale)
    intr, warning = _intrinsics_for(a, tracks_intr, size)
    check_device(a.device)
    predictor = SeuratPredictor.from_pretrained(a.checkpoint, stride=a.stride, chain=a.chain, device=a.device)
    frames = None
    if a.video:
        from motiondepth.io.video import load_frames

        frames, _, _ = load_frames(a.video)
        if frames.shape[1:3] != tuple(size):
            raise InputError(a.video, f"video is {frames.shape[2]}x{frames.shape[1]}, tracks {size[1]}x{size[0]}")
        if len(frames) != tracks.num_frames:
            raise InputError(a.video, f"video has {len(frames)} frames, tracks {tracks.num_frames}")
    t0 = time.perf_counter()
    out = predictor.lift(tracks.tracks.astype(np.float64), tracks.visible, size, intr, source, tracks.queries,
                         frames=frames, method=a.method)  # fmt: skip
    save_tracks3d(a.out, out)
    z = out.depth[out.visible]
    if warning:
        print(f"warning: {warning}")
    print(
        f"wrote {a.out}: {out.xyz.shape[1]} tracks x {out.xyz.shape[0]} frames, depth {np.percentile(z, 5):.2f}–"
        f"{np.percentile(z, 95):.2f} m (5–95 %), {time.perf_counter() - t0:.2f} s"
    )
    return 0


def cmd_eval_seurat(a: argparse.Namespace) -> int:
    from motiondepth.eval.harness.seurat import evaluate_procedural, markdown_table
    from motiondepth.seurat.inference import SeuratPredictor

    if a.scenes < 1:
        raise InputError("--scenes", "need at least 1 scene")
    predictor = SeuratPredictor.from_pretrained(a.checkpoint, chain=a.chain)
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

    predictor = TapVid3DPredictor(a.method, a.checkpoint, a.support, a.depth_checkpoint, a.depth_model)
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


def cmd_export_data(a: argparse.Namespace) -> int:
    if a.count < 1 or a.shard_size < 1 or a.workers < 1:
        raise InputError("--count/--shard-size/--workers", "must be positive")
    t0 = time.perf_counter()
    if a.model == "seurat":
        from motiondepth.data.seurat_synth import SeuratDataConfig, export_shards

        export_shards(a.out, a.start_seed, a.count, a.shard_size, SeuratDataConfig(grid=a.grid, num_queries=a.queries),
                      workers=a.workers)  # fmt: skip
        users = "seurat"
    else:
        from motiondepth.data.blur_data import BlurDataConfig, procedural_blur_sample
        from motiondepth.data.shards import export_shards
        from motiondepth.simulate.shake import check_shake_spec

        check_shake_spec(a.shake)
        check_shake_scale(a.shake_scale)
        if not 0.0 <= a.indoor <= 1.0:
            raise InputError("--indoor", f"must be a share in [0, 1], got {a.indoor}")
        cfg = BlurDataConfig(size=a.size, num_frames=a.frames, shake=a.shake, shake_scale=a.shake_scale,
                             indoor_probability=a.indoor)  # fmt: skip
        export_shards(a.out, procedural_blur_sample, a.start_seed, a.count, a.shard_size, cfg, workers=a.workers)
        users = "blur-depth / trajectory"
    print(f"wrote {a.count} samples to {a.out} ({time.perf_counter() - t0:.1f} s); train on them with "
          f"'motiondepth train {users.split()[0]} ... shards={a.out}'")  # fmt: skip
    return 0


def cmd_depth(a: argparse.Namespace) -> int:
    from motiondepth.depth.blur import BlurPredictor
    from motiondepth.io.atomic import save_npz
    from motiondepth.io.video import FrameSelection, load_frames
    from motiondepth.viz.plots import save_depth_png

    if a.start < 0:
        raise InputError("--start", f"must be ≥ 0, got {a.start}")
    check_device(a.device)
    if a.depth_model:
        from motiondepth.depth.hf import HFDepthPredictor

        pred, used = HFDepthPredictor(a.depth_model, device=a.device), 2  # one frame is used; a clip has at least two
    else:
        pred = BlurPredictor(a.checkpoint, None, resize=not a.no_resize, device=a.device)
        used = pred.cfg.num_frames
    # only the frames the network reads are decoded and kept (a long clip costs no memory)
    frames, _, _ = load_frames(a.input, a.start + used, select=FrameSelection(start=a.start))
    t0 = time.perf_counter()
    depth = pred.depth(frames, source=str(a.input))
    dt = time.perf_counter() - t0
    out = Path(a.out)
    model = a.depth_model or a.checkpoint
    save_npz(out, depth=depth, checkpoint=np.array(str(model)), first_frame=np.array(a.start))
    png = out.with_suffix(".png")
    save_depth_png(png, depth)
    print(f"wrote {out} and {png}: depth {np.percentile(depth, 2):.2f}–{np.percentile(depth, 98):.2f} m "
          f"(2–98th percentile), median {np.median(depth):.2f} m; network {dt:.2f} s")  # fmt: skip
    return 0


def _defaults_by_checkpoint(parser: argparse.ArgumentParser, names: set[str], prefix: str = "") -> dict:
    """checkpoint name -> the 'command --option' places whose default it is (read off the parser itself)."""
    found: dict[str, list[str]] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for cmd, sub in action.choices.items():
                for k, v in _defaults_by_checkpoint(sub, names, f"{prefix} {cmd}".strip()).items():
                    found.setdefault(k, []).extend(v)
        elif isinstance(action.default, str) and action.default in names and action.option_strings:
            found.setdefault(action.default, []).append(f"{prefix} {action.option_strings[0]}")
    return found


def cmd_models(a: argparse.Namespace) -> int:
    import json

    from motiondepth.models.weights import available, describe

    if a.name:
        info = describe(a.name)
        print(json.dumps(info, indent=2, ensure_ascii=False))
        return 0
    names = available()
    infos = [describe(n) for n in names]
    if a.json:
        print(json.dumps([{k: v for k, v in i.items() if k != "card"} for i in infos], indent=2, ensure_ascii=False))
        return 0
    uses = _defaults_by_checkpoint(a.root_parser, set(names))  # set by cli.main
    print(f"{'name':<24} {'model':<19} {'params':>7} {'MB':>5} {'trained':>8}  validation (card)")
    for i in infos:
        val = ", ".join(f"{k} {v:.3g}" for k, v in i["validation"].items() if isinstance(v, (int, float)))
        mins = (
            f"{'≥' if i['trained_minutes_lower_bound'] else ''}{i['trained_minutes']:.0f} min"
            if i["trained_minutes"]
            else "?"
        )
        print(f"{i['name']:<24} {i['model'] or '?':<19} {i['parameters'] / 1e6:>6.2f}M {i['megabytes']:>5.1f} "
              f"{mins:>8}  {val}")  # fmt: skip
        if i["name"] in uses:
            print(f"{'':<24} default of: {', '.join(uses[i['name']])}")
    print("\n'motiondepth models NAME' prints a checkpoint's whole card (data, command, commit, history).")
    return 0


def cmd_eval_blur_depth(a: argparse.Namespace) -> int:
    from motiondepth.eval.harness.blur_depth import evaluate_procedural, markdown_table
    from motiondepth.simulate.shake import check_shake_spec

    if a.scenes < 1:
        raise InputError("--scenes", "must be at least 1")
    if a.blur_fit_scenes < 0:
        raise InputError("--blur-fit-scenes", "must be 0 or more")
    check_shake_spec(a.shake)
    check_shake_scale(a.shake_scale)
    skip = ("", "none")  # --ablation none / --trajectory-checkpoint none leave those rows out
    ablation = None if a.ablation.lower() in skip else a.ablation
    decoder = None if a.trajectory_checkpoint.lower() in skip else a.trajectory_checkpoint
    result = evaluate_procedural(a.checkpoint, ablation, decoder, a.scenes, a.seed,
                                 blur_fit_scenes=min(a.blur_fit_scenes, a.scenes), shake=a.shake,
                                 shake_scale=a.shake_scale)  # fmt: skip
    md = markdown_table(result)
    j, mdp = write_json_and_markdown(a.out, result, md)
    print(md)
    print(f"wrote {j} and {mdp}")
    return 0


def add_commands(sub, eval_sub) -> None:
    """Register the model commands on the top-level and ``eval`` sub-parsers."""
    t = sub.add_parser(
        "train",
        help="train a model (seurat, blur-depth, trajectory) with the generic loop",
        description="Train a model on procedural data. Resumes from OUT/checkpoint.pt when it exists (rerun the "
        "same command after an interruption). Multi-process: torchrun --nproc_per_node K -m motiondepth.train.run "
        "seurat --out DIR ... (gloo on CPU). Settings: --preset, then --config FILE (JSON/YAML), then key=value "
        "overrides such as train.steps=2000 train.lr=1e-3 model.hidden=64 data.num_queries=128 batch_size=4. "
        "The perspective-blur models train in two stages: 'blur-depth' (encoder + depth network), then "
        "'trajectory' (dense decoder; stage 1 frozen, loaded from depth_checkpoint=NAME_OR_PATH). "
        "Preset single-frame (blur-depth only) is the one-frame ablation.",
    )
    t.add_argument("model", choices=["seurat", "blur-depth", "trajectory"], help="which model")
    t.add_argument("--preset", default="small", choices=["small", "small-plain", "paper", "single-frame"],
                   help="model size preset (default small; for seurat, small-plain is small without the "
                   "geometry prior)")  # fmt: skip
    t.add_argument("--config", metavar="FILE", help="JSON or YAML file of setting overrides")
    t.add_argument("--out", required=True, metavar="DIR", help="run folder (checkpoints, logs, final weights)")
    t.add_argument("overrides", nargs="*", metavar="key=value", help="setting overrides, applied last")
    t.set_defaults(func=cmd_train)

    m = sub.add_parser(
        "models",
        help="list the shipped checkpoints (or show one's card)",
        description="List the checkpoints shipped with the package: model, size, training time, the metrics "
        "their cards record on held-out data, and which commands use each by default. With NAME_OR_PATH (a shipped "
        "name or a .safetensors file with its card), print that checkpoint's whole card as JSON, with its "
        "parameter count and weights hash.",
    )
    m.add_argument("name", nargs="?", metavar="NAME_OR_PATH")
    m.add_argument("--json", action="store_true", help="the list as JSON")
    m.set_defaults(func=cmd_models)

    x = sub.add_parser(
        "export-data",
        help="write training samples to disk in shards",
        description="Generate training samples (seeds START..START+COUNT-1) and write them as OUT/shard-XXXXX.npz "
        "plus OUT/index.json: 'seurat' = animated procedural windows, 'blur' = shaky rolling-shutter clips of "
        "procedural RGB-D scenes (for blur-depth and trajectory). Finished shards are kept, so an interrupted "
        "export resumes.",
    )
    x.add_argument("model", choices=["seurat", "blur"])
    x.add_argument(
        "--count", type=number(Range(1, 10**8, integer=True)), required=True, metavar="N", help="number of samples"
    )
    x.add_argument(
        "--workers",
        type=number(Range(1, 256, integer=True)),
        default=1,
        metavar="K",
        help="parallel processes (default 1)",
    )
    x.add_argument(
        "--size",
        type=number(Range(32, 4096, integer=True, unit="px")),
        default=224,
        metavar="PX",
        help="blur: frame side (small preset: 224)",
    )
    x.add_argument(
        "--frames",
        type=number(Range(2, 1000, integer=True)),
        default=12,
        metavar="T",
        help="blur: frames per clip (small preset: 12)",
    )
    x.add_argument("--shake", default="synthetic", metavar="synthetic|handheld|PATH",
                   help="blur: camera shake (handheld: real-gyro band energies; see simulate --help)")  # fmt: skip
    x.add_argument("--shake-scale", type=number(opt.SHAKE_SCALE), default=1.0, metavar="X",
                   help="blur: shake amplitude multiplier (handheld at 4 = the real gyro logs' amplitude)")  # fmt: skip
    x.add_argument("--indoor", type=number(Range(0.0, 1.0)), default=0.0, metavar="P",
                   help="blur: share of furnished indoor scenes (layout 'indoor', else 'room'; default 0)")  # fmt: skip
    x.add_argument("--start-seed", type=number(opt.SEED), default=0, metavar="S")
    x.add_argument("--shard-size", type=number(Range(1, 10**5, integer=True)), default=256, metavar="K")
    x.add_argument(
        "--grid",
        type=number(Range(2, 64, integer=True)),
        default=12,
        metavar="G",
        help="supporting grid side (small preset: 12)",
    )
    x.add_argument(
        "--queries", type=number(Range(1, 10**5, integer=True)), default=64, metavar="N", help="query tracks per window"
    )
    x.add_argument("--out", required=True, metavar="DIR")
    x.set_defaults(func=cmd_export_data)

    d = sub.add_parser(
        "track-depth",
        help="metric depth over time for 2D tracks (Seurat)",
        description="Lift 2D tracks to metric 3D: Seurat predicts each track's depth ratio over time in sliding "
        "windows, chains them, and scales each visible run by median matching against DEPTH (Eq. 10-11). Writes "
        "a TAPVid-3D-style .npz: tracks_XYZ (T,N,3) metres, visibility (T,N), fx_fy_cx_cy, queries_xyt.",
    )
    d.add_argument("tracks", metavar="TRACKS", help="tracks .npz (from 'motiondepth track' or any tracker: keys "
                   "tracks (T,N,2), visible (T,N), queries (N,3), image_size)")  # fmt: skip
    d.add_argument("--depth", required=True, metavar="DEPTH", help="metric depth: .npz/.npy 'depth' (H,W) for "
                   "frame 0 or (T,H,W) per frame, a 16-bit PNG, or a folder of per-frame maps")  # fmt: skip
    d.add_argument(
        "--depth-scale",
        type=number(opt.DEPTH_SCALE),
        metavar="M_PER_UNIT",
        help="metres per unit of integer depth images",
    )
    d.add_argument("--method", default="seurat", choices=["seurat", "rigid"], help="where the depth ratios come "
                   "from: the Seurat model (default) or rigid-scene geometry (camera motion per window from the "
                   "supporting tracks; exact on a static scene, wrong on moving objects; needs true "
                   "intrinsics)")  # fmt: skip
    d.add_argument("--checkpoint", default="seurat-small", metavar="NAME_OR_PATH",
                   help="default seurat-small (its window, stride and grid also serve --method rigid)")  # fmt: skip
    add_device_argument(d)
    d.add_argument("--video", metavar="VIDEO", help="re-track the supporting grid per window on this video "
                   "(default: the tracks visible at each window start support it)")  # fmt: skip
    d.add_argument("--intrinsics", metavar="FX,FY,CX,CY", help="camera intrinsics in pixels")
    d.add_argument("--camera", metavar="CAMERA.json", help="camera.json with intrinsics (alternative)")
    d.add_argument(
        "--hfov",
        type=number(opt.HFOV),
        default=DEFAULT_HFOV_DEG,
        metavar="DEG",
        help=f"horizontal field of view assumed without intrinsics (default {DEFAULT_HFOV_DEG:g})",
    )
    d.add_argument(
        "--stride",
        type=number(Range(1, 1000, integer=True)),
        metavar="S",
        help="window stride (default: the model's, 4)",
    )
    d.add_argument("--chain", choices=CHAIN_CHOICES, default="average", help="how overlapping windows are "
                   "chained: 'average' (default) links each window over all shared frames and averages them; "
                   "'last' is the paper's Eq. 9")  # fmt: skip
    d.add_argument("--out", required=True, metavar="TRACKS3D.npz", help="output file")
    d.set_defaults(func=cmd_track_depth)

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
    pt.add_argument("--checkpoint", default="seurat-small", metavar="NAME_OR_PATH",
                    help="Seurat checkpoint (its window, stride and grid also serve the baselines)")  # fmt: skip
    pt.add_argument("--support", default="video", choices=["video", "tracks"],
                    help="supporting grid: re-tracked on the video (default) or the visible tracks")  # fmt: skip
    pt.add_argument("--depth-checkpoint", default=VIDEO_DEPTH_CHECKPOINT, metavar="NAME_OR_PATH",
                    help=f"blur-depth checkpoint for the metric scale (default {VIDEO_DEPTH_CHECKPOINT})")  # fmt: skip
    pt.add_argument("--depth-model", metavar="DIR", help="a local Hugging Face metric depth model instead")
    pt.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    pt.set_defaults(func=cmd_predict_tapvid3d)

    dp = sub.add_parser(
        "depth",
        help="metric depth of the first frame from a shaky clip (blur network)",
        description="Predict the metric depth map of the first frame of a shaky clip with the blur-depth network "
        "(perspective-blur paper, section 3.3). INPUT is a video file, a folder of images or a 'motiondepth simulate' "
        "folder. Frames are "
        "resized to the checkpoint's square resolution and the depth map back to the input size. Writes OUT "
        "(.npz with 'depth' (H,W) metres) and a colour-mapped PNG beside it.",
    )
    dp.add_argument("input", metavar="VIDEO_OR_DIR")
    dp.add_argument("--checkpoint", default=VIDEO_DEPTH_CHECKPOINT, metavar="NAME_OR_PATH",
                    help=f"depth checkpoint (default {VIDEO_DEPTH_CHECKPOINT}, best on real indoor footage; "
                    "blur-depth-small is best on procedural clips)")  # fmt: skip
    dp.add_argument("--depth-model", metavar="DIR",
                    help="local Hugging Face metric depth model folder to use instead (see run)")  # fmt: skip
    dp.add_argument(
        "--start",
        type=number(Range(0, 10**8, integer=True)),
        default=0,
        metavar="K",
        help="first frame to use (default 0)",
    )
    dp.add_argument("--no-resize", action="store_true", help="refuse frames whose size differs from the checkpoint's")
    add_device_argument(dp)
    dp.add_argument("--out", required=True, metavar="DEPTH.npz")
    dp.set_defaults(func=cmd_depth)

    eb = eval_sub.add_parser(
        "blur-depth",
        help="blur-depth network and dense decoder vs. baselines on held-out procedural clips",
        description="Depth table (constant-depth baseline, single-frame ablation, the network; metric, no alignment) "
        "and trajectory table (post-interpolation vs the dense decoder at 15 and 30 samples per frame) on held-out "
        "simulated clips. Writes OUT (.json) and a markdown table next to it (.md).",
    )
    eb.add_argument("--checkpoint", default="blur-depth-small", metavar="NAME_OR_PATH")
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
    eb.add_argument("--out", required=True, metavar="RESULTS.json")
    eb.set_defaults(func=cmd_eval_blur_depth)

    es = eval_sub.add_parser(
        "seurat",
        help="Seurat vs. baselines on held-out procedural clips",
        description="Run Seurat and every baseline (oracle depth, flickering per-frame depth, + Gaussian smoothing, "
        "hand-crafted density baseline) on held-out procedural clips; TAPVid-3D metrics for each scaling mode. "
        "Writes OUT (.json) and a markdown table next to it (.md).",
    )
    es.add_argument("--checkpoint", default="seurat-small", metavar="NAME_OR_PATH")
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
    es.add_argument("--out", required=True, metavar="RESULTS.json")
    es.set_defaults(func=cmd_eval_seurat)

    et = eval_sub.add_parser(
        "tapvid3d",
        help="TAPVid-3D metrics for real benchmark files",
        description="Score predictions against TAPVid-3D ground truth: every GT/*.npz needs PRED/<same name>.npz "
        "with tracks_XYZ and visibility. Per-video APD, 3D-AJ, occlusion accuracy, TC, AbsRel, δ1 averaged over "
        "videos (fractions in [0, 1]); intrinsics rescaled to a 256 px short side.",
    )
    et.add_argument("--gt", required=True, metavar="DIR", help="folder of ground-truth .npz files")
    et.add_argument("--pred", required=True, metavar="DIR", help="folder of prediction .npz files")
    et.add_argument("--scaling", default="per_trajectory", choices=["median", "per_trajectory", "none"])
    et.add_argument("--out", required=True, metavar="RESULTS.json")
    et.set_defaults(func=cmd_eval_tapvid3d)
