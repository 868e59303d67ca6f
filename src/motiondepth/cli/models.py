"""Training the learned models: ``train``, ``export-data`` (training shards) and ``models`` (the shipped
checkpoints). Registered on the main parser by :func:`add_commands`."""

from __future__ import annotations

import argparse
import time

from motiondepth import options as opt
from motiondepth.options import Range, number


def cmd_train(a: argparse.Namespace) -> int:
    from motiondepth.train.run import train

    t0 = time.perf_counter()
    metrics = train(a.model, a.preset, a.out, a.config, a.overrides, progress=True)
    summary = ", ".join(f"{k}={v:.4g}" for k, v in metrics.items()) or "stopped early (resume with the same command)"
    print(f"{a.out}: {summary} ({(time.perf_counter() - t0) / 60:.1f} min)")
    return 0


def cmd_export_data(a: argparse.Namespace) -> int:
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

        check_shake_spec(a.shake)  # --shake-scale, --indoor and the counts: their ranges are the parser's
        cfg = BlurDataConfig(size=a.size, num_frames=a.frames, shake=a.shake, shake_scale=a.shake_scale,
                             indoor_probability=a.indoor)  # fmt: skip
        export_shards(a.out, procedural_blur_sample, a.start_seed, a.count, a.shard_size, cfg, workers=a.workers)
        users = "blur-depth / trajectory"
    print(f"wrote {a.count} samples to {a.out} ({time.perf_counter() - t0:.1f} s); train on them with "
          f"'motiondepth train {users.split()[0]} ... shards={a.out}'")  # fmt: skip
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


def add_commands(sub) -> None:
    """Register ``train``, ``models`` and ``export-data``."""
    _add_train(sub)
    _add_models(sub)
    _add_export_data(sub)


def _add_train(sub) -> None:
    """Register ``train``."""
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


def _add_models(sub) -> None:
    """Register ``models``."""
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


def _add_export_data(sub) -> None:
    """Register ``export-data``."""
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
    x.add_argument("--start-seed", type=number(opt.SEED), default=0, metavar="S",
                   help="seed of the first clip; clip i uses S + i (default 0)")  # fmt: skip
    x.add_argument("--shard-size", type=number(Range(1, 10**5, integer=True)), default=256, metavar="K",
                   help="clips per shard file (default 256)")  # fmt: skip
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
    x.add_argument("--out", required=True, metavar="DIR", help="folder for the shards (resumes what is there)")
    x.set_defaults(func=cmd_export_data)
