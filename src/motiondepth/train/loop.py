"""One generic training loop for every model in motiondepth.

A model plugs in through a :class:`Task` (build the model, make batch ``i`` from a seed, compute
the loss, validate). The loop owns everything else: seeding, AdamW with linear warm-up then linear
decay, gradient clipping, multi-process data parallelism (``torchrun``; gloo on CPU, nccl on
GPU), a progress bar, JSON-lines logs, periodic validation on a fixed held-out set, and
checkpoints that let an interrupted run continue exactly where it stopped.

Batches are a pure function of ``(seed, step, rank)``, so resuming needs no data-loader state.

Run layout (``out``)::

    config.json        resolved task + training config
    checkpoint.pt      latest full state (model, optimiser, schedule, step), atomically replaced
    log.jsonl          one line per logged step / validation
    model.safetensors  final weights + model.json card (written by the task at the end)
"""

from __future__ import annotations

import gc
import json
import logging
import os
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn

from motiondepth.io.atomic import atomic_path, write_json

log = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    """Optimisation and bookkeeping (paper defaults for Seurat: lr 5e-4, wd 1e-5, 1k warm-up)."""

    steps: int = 100_000  # optimiser steps
    lr: float = 5e-4  # peak learning rate
    weight_decay: float = 1e-5  # AdamW weight decay
    warmup: int = 1000  # linear warm-up steps, then linear decay to 0 at ``steps``
    grad_clip: float = 1.0  # global gradient-norm clip (0 = off)
    seed: int = 0  # base seed for weights and batches
    log_every: int = 50  # steps between log lines
    val_every: int = 1000  # steps between validations (0 = only at the end)
    ckpt_every: int = 500  # steps between checkpoints
    max_minutes: float = 0.0  # stop (with a checkpoint) after this wall time; 0 = no limit
    threads: int = 0  # torch CPU threads per process (0 = torch default)
    init: str = ""  # fine-tune: start from these weights (shipped name or .safetensors path), unless resuming
    device: str = ""  # "cuda", "cpu" or "" (a GPU when there is one)
    amp: bool = False  # bfloat16 autocast for the forward pass and loss (GPU runs)
    prefetch: int = 0  # batches built ahead in background threads while the model trains (0 = none)


class Task(Protocol):
    """What a model provides to :func:`fit`."""

    name: str

    def build_model(self) -> nn.Module: ...

    def batch(self, step: int, rank: int, world: int) -> Any:
        """The training batch of ``step`` for process ``rank`` (deterministic)."""

    def loss(self, model: nn.Module, batch: Any) -> tuple[torch.Tensor, dict[str, float]]: ...

    def validate(self, model: nn.Module) -> dict[str, float]:
        """Metrics on the fixed held-out set (called on rank 0 with the unwrapped model)."""

    def config_dict(self) -> dict: ...

    def finish(self, model: nn.Module, out: Path, metrics: dict[str, float], train_cfg: TrainConfig) -> None:
        """Export the final model (weights + card)."""


def lr_factor(step: int, warmup: int, total: int) -> float:
    """Linear warm-up to 1, then linear decay to 0 at ``total``."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    return max(0.0, (total - step) / max(1, total - warmup))


def to_device(obj: Any, device: torch.device | str) -> Any:
    """``obj`` with every tensor inside (dicts, lists, tuples) moved to ``device``; the rest as is."""
    if isinstance(obj, torch.Tensor):
        return obj.to(device, non_blocking=True)
    if isinstance(obj, dict):
        return {k: to_device(v, device) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_device(v, device) for v in obj)
    return obj


def model_device(model: nn.Module) -> torch.device:
    """Where ``model``'s weights live (validation moves its held-out batches there)."""
    return next(model.parameters()).device


def _train_device(cfg: TrainConfig, rank: int) -> torch.device:
    from motiondepth.errors import InputError, check_device

    if cfg.device not in ("", "cpu", "cuda"):
        raise InputError("train.device", f"must be 'cuda', 'cpu' or '' (a GPU if any), not {cfg.device!r}")
    if cfg.device:
        check_device(cfg.device, "train.device")  # a GPU asked for must be there
    if cfg.device == "cpu" or not torch.cuda.is_available():
        return torch.device("cpu")
    return torch.device("cuda", rank % torch.cuda.device_count())


class _Batches:
    """Training batches of consecutive steps, built ``ahead`` steps early in background threads.

    Batches are pure functions of the step, so prefetching changes nothing but the wall time.
    """

    def __init__(self, task: Task, rank: int, world: int, device: torch.device, ahead: int) -> None:
        self.task, self.rank, self.world, self.device, self.ahead = task, rank, world, device, ahead
        self._pool = None
        self._pending: dict[int, Any] = {}
        if ahead > 0:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(ahead, thread_name_prefix="batch")

    def _make(self, step: int) -> Any:
        batch = self.task.batch(step, self.rank, self.world)
        if self.device.type == "cuda":
            batch = to_device(batch, self.device)
        return batch

    def get(self, step: int, last: int) -> Any:
        if self._pool is None:
            return self._make(step)
        for s in range(step, min(step + self.ahead + 1, last)):
            if s not in self._pending:
                self._pending[s] = self._pool.submit(self._make, s)
        return self._pending.pop(step).result()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)


def _dist_setup() -> tuple[int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not torch.distributed.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        torch.distributed.init_process_group(backend)
    rank = torch.distributed.get_rank() if world > 1 else 0
    return rank, world


def _save_checkpoint(path: Path, model: nn.Module, opt, sched, step: int, extra: dict) -> None:
    state = {
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),
        "scheduler": sched.state_dict(),
        "step": step,
        "torch_rng": torch.get_rng_state(),
        **extra,
    }
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


RESUME_KEYS = ("model", "optimizer", "scheduler", "step", "torch_rng")


def load_resume_state(path: Path) -> dict:
    """The resume state of ``path`` (a ``checkpoint.pt`` written by this loop), loaded with ``weights_only=True``.

    Only tensors and plain types can come out of it: a planted file whose pickle would build any other
    object (and so could run code) is refused before anything in it runs.

    Raises:
        InputError: not a checkpoint this loop wrote (unreadable, truncated, other objects, missing keys).
    """
    import pickle
    import zipfile

    from motiondepth.errors import InputError

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise InputError(path, f"holds objects other than tensors and plain values, refused (nothing in it was "
                         f"run){': ' + first[:160] if first else ''}; delete it to start over") from None  # fmt: skip
    except (OSError, RuntimeError, EOFError, ValueError, zipfile.BadZipFile) as exc:
        raise InputError(path, f"not a readable training checkpoint ({type(exc).__name__}); delete it to start "
                         "over") from None  # fmt: skip
    if not isinstance(state, dict) or any(k not in state for k in RESUME_KEYS):
        have = sorted(state) if isinstance(state, dict) else type(state).__name__
        raise InputError(path, f"not a training checkpoint of this loop (needs {list(RESUME_KEYS)}, has {have})")
    if not isinstance(state["model"], dict):
        raise InputError(path, f"'model' must be a state dict of tensors, got {type(state['model']).__name__}")
    return state


def _resume(ckpt: Path, model: nn.Module, opt, sched) -> int:
    """Model, optimizer, scheduler and random state from ``ckpt`` (:func:`load_resume_state`); the step reached.
    A checkpoint of another model or optimizer is named in one line."""
    from motiondepth.errors import InputError
    from motiondepth.models.weights import load_into

    state = load_resume_state(ckpt)
    load_into(model, state["model"], ckpt, type(model).__name__)  # strict, with the keys named
    try:
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
    except (RuntimeError, ValueError, KeyError, TypeError) as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(ckpt, f"does not fit this run's optimizer ({detail}); give a new --out "
                         "or delete the file to start over") from None  # fmt: skip
    torch.set_rng_state(state["torch_rng"])
    return int(state["step"])


def fit(task: Task, cfg: TrainConfig, out: str | Path, progress: bool = True) -> dict[str, float]:
    """Train ``task`` into ``out``, resuming from ``out/checkpoint.pt`` when it exists.

    Under ``torchrun --nproc_per_node K`` each process trains on its own batches and DDP averages
    gradients; rank 0 logs, validates and writes files.

    Returns:
        The last validation metrics.
    """
    from tqdm import tqdm

    rank, world = _dist_setup()
    device = _train_device(cfg, rank)
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    out = Path(out)
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)  # identical initial weights on every rank
    model = task.build_model()
    model = model.to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, cfg.warmup, cfg.steps))
    ckpt = out / "checkpoint.pt"
    start = 0
    if ckpt.is_file():
        start = _resume(ckpt, model, opt, sched)
        if rank == 0:
            log.info("resumed %s from step %d", out, start)
    elif cfg.init:
        load_init_weights(model, cfg.init)
    run_cfg = {"task": task.name, "task_config": task.config_dict(), "train": asdict(cfg), "world_size": world}
    if rank == 0:
        write_json(out / "config.json", run_cfg)
    net = nn.parallel.DistributedDataParallel(model) if world > 1 else model
    batches = _Batches(task, rank, world, device, cfg.prefetch)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.amp)
    t_start = time.monotonic()
    metrics: dict[str, float] = {}
    logf = open(out / "log.jsonl", "a") if rank == 0 else None
    bar = tqdm(total=cfg.steps, initial=start, desc=f"train {task.name}", disable=not progress or rank != 0)
    step = start
    try:
        net.train()
        while step < cfg.steps:
            batch = batches.get(step, cfg.steps)
            with autocast:
                loss, parts = task.loss(net, batch)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"non-finite loss at step {step}: {parts}")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip > 0:
                nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            sched.step()
            step += 1
            bar.update(1)
            timed_out = cfg.max_minutes > 0 and (time.monotonic() - t_start) > 60 * cfg.max_minutes
            if rank == 0:
                if step % cfg.log_every == 0 or step == cfg.steps:
                    rec = {"step": step, "loss": float(loss.detach()), "lr": sched.get_last_lr()[0], **parts}
                    rec["seconds"] = round(time.monotonic() - t_start, 2)  # since this process started training
                    logf.write(json.dumps(rec) + "\n")
                    logf.flush()
                    bar.set_postfix(loss=f"{float(loss.detach()):.4f}")
                if (cfg.val_every and step % cfg.val_every == 0) or step == cfg.steps:
                    metrics = _validate(task, model, step, logf)
                if step % cfg.ckpt_every == 0 or step == cfg.steps or timed_out:
                    _save_checkpoint(ckpt, model, opt, sched, step, {"run_config": run_cfg})
            if world > 1:  # every rank must agree on stopping
                flag = torch.tensor([1.0 if timed_out else 0.0], device=device)
                torch.distributed.all_reduce(flag)
                timed_out = bool(flag.item() > 0)
            if timed_out:
                log.warning("stopping at step %d: max_minutes=%s reached (resume to continue)", step, cfg.max_minutes)
                break
        if rank == 0 and step >= cfg.steps:
            if not metrics:
                metrics = _validate(task, model, step, logf)
            task.finish(model, out, metrics, cfg)
    finally:
        batches.close()
        bar.close()
        if logf is not None:
            logf.close()
        if world > 1 and torch.distributed.is_initialized():
            # Drop the DDP wrapper first: its reducer holds the process group, and a group whose
            # gloo worker threads outlive destroy_process_group and die during interpreter
            # shutdown can abort the process ("terminate called without an active exception").
            del net
            gc.collect()
            torch.distributed.barrier()
            torch.distributed.destroy_process_group()
    return metrics


def load_init_weights(model: nn.Module, name_or_path: str) -> None:
    """Load a checkpoint's weights into ``model`` strictly (the ``init`` of a fine-tuning run).

    Raises:
        InputError: unreadable checkpoint, or weights that do not fit the model (other
            architecture or preset).
    """
    from motiondepth.models.weights import load_into, load_weights

    state, _ = load_weights(name_or_path)
    if hasattr(model, "adapt_init_state"):  # e.g. a multi-frame model started from a single-frame one
        state = model.adapt_init_state(state)
    load_into(model, state, name_or_path, type(model).__name__)


def _validate(task: Task, model: nn.Module, step: int, logf) -> dict[str, float]:
    model.eval()
    with torch.no_grad():
        metrics = task.validate(model)
    model.train()
    logf.write(json.dumps({"step": step, "val": metrics}) + "\n")
    logf.flush()
    log.info("step %d validation: %s", step, ", ".join(f"{k}={v:.4g}" for k, v in metrics.items()))
    return metrics


def parse_overrides(pairs: Iterable[str]) -> dict[str, Any]:
    """``["train.steps=100", "model.hidden=64"]`` → nested dict with JSON-parsed values."""
    out: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            raise ValueError(f"override {pair!r} is not key=value")
        key, raw = pair.split("=", 1)
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        node = out
        parts = key.strip().split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    return out


def _checked_value(current: Any, value: Any, name: str) -> Any:
    """``value`` for a field holding ``current``, of the same kind (a number for a number, finite; a flag for a
    flag; text for text), else ``ValueError`` naming the setting."""
    import math

    def bad(want: str) -> ValueError:
        return ValueError(f"{name}: expected {want}, got {value!r}")

    if isinstance(current, bool):
        if not isinstance(value, bool):
            raise bad("true or false")
    elif isinstance(current, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad("a whole number")
    elif isinstance(current, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise bad("a finite number")
        value = float(value)
    elif isinstance(current, str):
        if not isinstance(value, str):
            raise bad("text")
    elif isinstance(current, tuple):
        if not isinstance(value, (list, tuple)):
            raise bad("a list")
        value = tuple(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and name.startswith("train.") and value < 0:
        raise ValueError(f"{name}: must be ≥ 0, got {value!r}")  # no training setting is negative
    return value


def apply_overrides(obj: Any, overrides: dict[str, Any], where: str = "config") -> Any:
    """Set dataclass fields (recursively) from a nested dict; unknown keys raise ``KeyError``, values of the
    wrong kind (text for a number, NaN, …) ``ValueError``."""
    import dataclasses

    for key, value in overrides.items():
        if not dataclasses.is_dataclass(obj) or key not in {f.name for f in dataclasses.fields(obj)}:
            raise KeyError(f"unknown setting {where}.{key}")
        current = getattr(obj, key)
        if dataclasses.is_dataclass(current) and isinstance(value, dict):
            apply_overrides(current, value, f"{where}.{key}")
        elif isinstance(value, dict) and not isinstance(current, dict):
            raise ValueError(f"{where}.{key}: is a setting, not a group of settings")
        else:
            setattr(obj, key, _checked_value(current, value, f"{where}.{key}"))
    return obj
