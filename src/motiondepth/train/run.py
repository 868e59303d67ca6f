"""Resolve a training run from a preset, an optional JSON/YAML config file and ``key=value``
overrides, then hand it to the generic loop. Used by ``motiondepth train`` and by torchrun.

Override keys: ``train.<field>`` for :class:`~motiondepth.train.loop.TrainConfig`, anything else
for the task config (``model.hidden=64``, ``data.num_queries=128``, ``batch_size=4`` …).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from motiondepth.errors import InputError
from motiondepth.train.loop import TrainConfig, apply_overrides, fit, parse_overrides

# per-preset optimiser defaults (the paper's for `paper`; a CPU-sized schedule for `small`)
TRAIN_PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "seurat": {
        "small": {"steps": 2500, "lr": 1e-3, "warmup": 200, "val_every": 250, "ckpt_every": 200, "log_every": 25},
        "small-plain": {"steps": 6000, "lr": 1e-3, "warmup": 200, "val_every": 400, "ckpt_every": 200, "log_every": 25},
        "paper": {"steps": 100_000, "warmup": 1000, "val_every": 2000, "ckpt_every": 1000},
    },
    "blur-depth": {
        "small": {"steps": 2000, "lr": 5e-4, "warmup": 100, "val_every": 250, "ckpt_every": 50, "log_every": 10},
        "single-frame": {"steps": 2000, "lr": 5e-4, "warmup": 100, "val_every": 250, "ckpt_every": 100},
        "paper": {"steps": 50_000, "lr": 1e-4, "warmup": 1000, "val_every": 2000, "ckpt_every": 1000},
    },
    "trajectory": {
        "small": {"steps": 1000, "lr": 5e-4, "warmup": 50, "val_every": 250, "ckpt_every": 50, "log_every": 10},
        "paper": {"steps": 20_000, "lr": 1e-4, "warmup": 500, "val_every": 2000, "ckpt_every": 1000},
    },
}
MODELS = tuple(TRAIN_PRESETS)


def read_config_file(path: str | Path | None) -> dict[str, Any]:
    """A nested dict from a JSON (or, when PyYAML is installed, YAML) file."""
    if path is None:
        return {}
    p = Path(path)
    if not p.is_file():
        raise InputError(p, "config file not found")
    text = p.read_text()
    if p.suffix in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise InputError(p, "YAML configs need PyYAML (pip install pyyaml); or use JSON") from None
        data = yaml.safe_load(text)
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(p, f"not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise InputError(p, "config must be a mapping of settings")
    return data


def _merge(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def resolve_run(model: str, preset: str, config_file=None, overrides=()):
    """(task, TrainConfig) for ``model`` in ``preset`` with file and command-line overrides."""
    settings = _merge(read_config_file(config_file), parse_overrides(overrides))
    train_over = settings.pop("train", {})
    if model == "seurat":
        from motiondepth.train.seurat_task import SeuratTask as task_cls
        from motiondepth.train.seurat_task import make_task_config
    elif model == "blur-depth":
        from motiondepth.train.blur_task import BlurDepthTask as task_cls
        from motiondepth.train.blur_task import make_blur_task_config as make_task_config
    elif model == "trajectory":
        from motiondepth.train.blur_task import TrajectoryTask as task_cls
        from motiondepth.train.blur_task import make_trajectory_task_config as make_task_config
    else:
        raise InputError("model", f"unknown model {model!r}; choose from {', '.join(MODELS)}")
    try:
        task_cfg = make_task_config(preset)
    except KeyError as exc:
        raise InputError("--preset", str(exc)) from None
    try:
        apply_overrides(task_cfg, settings, "task")
    except (KeyError, ValueError) as exc:
        raise InputError(config_file or "overrides", str(exc.args[0])) from None
    if model == "seurat":
        task_cfg.data.window, task_cfg.data.grid = task_cfg.model.window, task_cfg.model.grid
    elif model == "blur-depth":
        task_cfg.data.size = task_cfg.model.image_size
    try:
        task = task_cls(task_cfg)
    except ValueError as exc:
        raise InputError(config_file or "settings", str(exc)) from None
    train_cfg = TrainConfig(**TRAIN_PRESETS[model].get(preset, {}))
    try:
        apply_overrides(train_cfg, train_over, "train")
    except (KeyError, ValueError) as exc:
        raise InputError(config_file or "overrides", str(exc.args[0])) from None
    return task, train_cfg


def train(model: str, preset: str, out: str | Path, config_file=None, overrides=(), progress: bool = True):
    """Resolve and run; returns the final validation metrics."""
    task, train_cfg = resolve_run(model, preset, config_file, overrides)
    return fit(task, train_cfg, out, progress=progress)


def main(argv: list[str] | None = None) -> int:
    """``python -m motiondepth.train.run MODEL --preset P --out DIR [k=v ...]`` (torchrun entry)."""
    import argparse
    import logging

    p = argparse.ArgumentParser(description="train a motiondepth model (torchrun-friendly entry point)")
    p.add_argument("model")
    p.add_argument("--preset", default="small")
    p.add_argument("--config")
    p.add_argument("--out", required=True)
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("overrides", nargs="*")
    a = p.parse_intermixed_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    train(a.model, a.preset, a.out, a.config, a.overrides, progress=not a.no_progress)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
