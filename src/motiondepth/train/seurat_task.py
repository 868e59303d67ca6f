"""Seurat training task for the generic loop: data, window-wise log-ratio loss, validation, export.

Loss (Seurat Eq. 7–8): L1 between predicted and ground-truth log depth ratios w.r.t. each
window's first frame, on both the query and the supporting branch, averaged over supervised
entries, summed over refinement iterations with weights γ^(K−1−k) (later passes count more).
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from motiondepth.data.seurat_synth import VAL_SEED_BASE, SeuratDataConfig, ShardReader, window_sample
from motiondepth.models.seurat import Seurat, SeuratConfig, config_from_preset, prior_tensors
from motiondepth.seurat.windows import fill_occluded
from motiondepth.train.loop import model_device, to_device


@dataclass
class SeuratTaskConfig:
    """Everything that defines a Seurat training run besides the optimiser."""

    preset: str = "small"  # model preset the run started from
    model: SeuratConfig = field(default_factory=lambda: config_from_preset("small"))
    data: SeuratDataConfig = field(default_factory=SeuratDataConfig)
    batch_size: int = 8  # windows per process and step
    iteration_gamma: float = 0.8  # weight γ^(K−1−k) of refinement pass k
    support_weight: float = 1.0  # weight of the supporting-branch loss
    data_seed: int = 0  # training windows use seeds data_seed·10⁸ + index
    val_samples: int = 64  # fixed held-out validation windows
    shards: str = ""  # folder written by ``export_shards`` to read instead of generating


def make_task_config(preset: str = "small") -> SeuratTaskConfig:
    """Task defaults for a model preset (data grid and window follow the model)."""
    model = config_from_preset(preset)
    data = SeuratDataConfig(window=model.window, grid=model.grid)
    if preset == "paper":
        data.num_queries = 256  # N_q of the paper's supplement
    return SeuratTaskConfig(preset=preset, model=model, data=data, batch_size=8 if preset == "small" else 1)


def collate(samples: list[dict[str, np.ndarray]], geometry: bool = False) -> dict[str, Tensor]:
    """Stack window samples into model inputs (occluded positions filled) and targets.

    With ``geometry``, each window's rigid-geometry prior (:func:`~motiondepth.seurat.rigid.geometry_prior`)
    is computed from its tracks and intrinsics and stacked under ``prior``.
    """
    out: dict[str, Tensor] = {}
    if geometry:
        out["prior"] = prior_tensors([_sample_prior(s) for s in samples])
    for name in ("support", "query"):
        tracks = np.stack([fill_occluded(s[f"{name}_tracks"], s[f"{name}_visible"]) for s in samples])
        out[f"{name}_tracks"] = torch.from_numpy(tracks).float()
        for key in ("visible", "log_ratio", "valid"):
            out[f"{name}_{key}"] = torch.from_numpy(np.stack([s[f"{name}_{key}"] for s in samples]))
    out["image_size"] = torch.from_numpy(np.stack([s["image_size"] for s in samples])).float()
    return out


def _sample_prior(sample: dict[str, np.ndarray]):
    from motiondepth.geometry.camera import Intrinsics
    from motiondepth.seurat.rigid import geometry_prior

    if "intrinsics" not in sample:
        raise ValueError("training windows without 'intrinsics' (shards from an older export?): a geometry-prior "
                         "model needs them; export the shards again")  # fmt: skip
    return geometry_prior(sample["support_tracks"], sample["support_visible"], sample["query_tracks"],
                          sample["query_visible"], Intrinsics.from_array(sample["intrinsics"]))  # fmt: skip


def masked_l1(pred: Tensor, target: Tensor, valid: Tensor) -> Tensor:
    v = valid.to(pred)
    return ((pred - target).abs() * v).sum() / v.sum().clamp_min(1.0)


def git_commit() -> str:
    try:
        root = Path(__file__).resolve().parents[3]
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


class SeuratTask:
    """Implements :class:`motiondepth.train.loop.Task` for :class:`Seurat`."""

    name = "seurat"

    def __init__(self, cfg: SeuratTaskConfig) -> None:
        if cfg.data.window != cfg.model.window or cfg.data.grid != cfg.model.grid:
            raise ValueError(
                f"data window/grid ({cfg.data.window}, {cfg.data.grid}) must match the model's "
                f"({cfg.model.window}, {cfg.model.grid})"
            )
        self.cfg = cfg
        self._shards = ShardReader(cfg.shards) if cfg.shards else None
        self._val: list[dict[str, Tensor]] | None = None
        self._t0 = time.monotonic()

    def build_model(self) -> nn.Module:
        return Seurat(self.cfg.model)

    def _sample(self, index: int) -> dict[str, np.ndarray]:
        if self._shards is not None:
            return self._shards[index]
        return window_sample(self.cfg.data_seed * 100_000_000 + index, self.cfg.data)

    def batch(self, step: int, rank: int, world: int) -> dict[str, Tensor]:
        b = self.cfg.batch_size
        first = (step * world + rank) * b
        return collate([self._sample(first + j) for j in range(b)], self.cfg.model.geometry_prior)

    def loss(self, model: nn.Module, batch: dict[str, Tensor]) -> tuple[Tensor, dict[str, float]]:
        out = model(
            batch["support_tracks"], batch["support_visible"], batch["query_tracks"], batch["query_visible"],
            batch["image_size"], prior=batch.get("prior"),
        )  # fmt: skip
        k = len(out["query"])
        total = batch["query_tracks"].new_zeros(())
        parts: dict[str, float] = {}
        for i, (ls, lq) in enumerate(zip(out["support"], out["query"], strict=False)):
            w = self.cfg.iteration_gamma ** (k - 1 - i)
            l_q = masked_l1(lq, batch["query_log_ratio"], batch["query_valid"])
            l_s = masked_l1(ls, batch["support_log_ratio"], batch["support_valid"])
            total = total + w * (l_q + self.cfg.support_weight * l_s)
            if i == k - 1:
                parts = {"l1_query": float(l_q.detach()), "l1_support": float(l_s.detach())}
        return total, parts

    def validate(self, model: nn.Module) -> dict[str, float]:
        if self._val is None:
            samples = [window_sample(VAL_SEED_BASE + i, self.cfg.data) for i in range(self.cfg.val_samples)]
            geo = self.cfg.model.geometry_prior
            self._val = [collate(samples[i : i + 16], geo) for i in range(0, len(samples), 16)]
        sums = {"l1_query": 0.0, "l1_support": 0.0, "l1_query_zero": 0.0}
        if self.cfg.model.geometry_prior:
            sums["l1_query_prior"] = 0.0  # the rigid-geometry ratios the model starts from
        count = 0.0
        for batch in (to_device(b, model_device(model)) for b in self._val):
            n = float(batch["query_valid"].sum())
            out = model(
                batch["support_tracks"], batch["support_visible"], batch["query_tracks"], batch["query_visible"],
                batch["image_size"], prior=batch.get("prior"),
            )  # fmt: skip
            sums["l1_query"] += n * float(masked_l1(out["query"][-1], batch["query_log_ratio"], batch["query_valid"]))
            sums["l1_support"] += n * float(
                masked_l1(out["support"][-1], batch["support_log_ratio"], batch["support_valid"])
            )
            zero = torch.zeros_like(batch["query_log_ratio"])
            sums["l1_query_zero"] += n * float(masked_l1(zero, batch["query_log_ratio"], batch["query_valid"]))
            if "prior" in batch:
                rigid = batch["prior"]["query_log_ratio"]
                sums["l1_query_prior"] += n * float(masked_l1(rigid, batch["query_log_ratio"], batch["query_valid"]))
            count += n
        return {k: v / max(count, 1.0) for k, v in sums.items()}

    def config_dict(self) -> dict:
        return asdict(self.cfg)

    def finish(self, model: nn.Module, out: Path, metrics: dict[str, float], train_cfg: Any) -> None:
        from motiondepth.models.weights import save_weights

        steps = train_cfg.steps
        card = {
            "model": "seurat",
            "name": f"seurat-{self.cfg.preset}",
            "model_config": asdict(self.cfg.model),
            "data": {
                "generator": "motiondepth.data.seurat_synth.window_sample (animated procedural scenes)",
                "config": asdict(self.cfg.data),
                "seeds": f"data_seed·10⁸ + [0, {steps * self.cfg.batch_size}) per process",
                "windows_seen": steps * self.cfg.batch_size,
                "validation_seeds": f"{VAL_SEED_BASE} + [0, {self.cfg.val_samples})",
            },
            "training": {**dataclasses.asdict(train_cfg), "batch_size": self.cfg.batch_size,
                         "iteration_gamma": self.cfg.iteration_gamma, "support_weight": self.cfg.support_weight},
            "command": " ".join(sys.argv),
            "git_commit": git_commit(),
            "torch": torch.__version__,
            "validation": metrics,
            "trained_minutes_this_process": round((time.monotonic() - self._t0) / 60.0, 1),
        }  # fmt: skip
        save_weights(model, out / "model.safetensors", card)
