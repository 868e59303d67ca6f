"""Two-stage training of the perspective-blur models for the generic loop (paper §4.2).

Stage 1 (:class:`BlurDepthTask`, ``motiondepth train blur-depth``): encoder + depth network on
metric depth. Loss: the scale-aware SILog of Eigen et al. (2014),
``sqrt(mean g² − λ (mean g)²)`` with ``g = log d̂ − log d`` over valid pixels and λ = 0.85 (the
remaining 0.15 of the squared mean log error penalises a wrong global scale, which a metric
network must get right), plus ``l1_weight · mean |g|``, which keeps per-pixel errors honest where
SILog alone tolerates a uniform offset.

Stage 2 (:class:`TrajectoryTask`, ``motiondepth train trajectory``): the stage-1 network is loaded
from a checkpoint and frozen (encoder, window embedding, Self-Window, Cross-Window, head); only
the decoder's own layers train. Loss: L1 between predicted and ground-truth dense angles in
milliradians, with S drawn per step from ``samples`` so one decoder serves S = 15 and 30.

Both read samples from :func:`motiondepth.data.blur_data.procedural_blur_sample` (on the fly) or
from shards exported once (``motiondepth export-data blur``), flip them left-right at random
(exact for the imaging model), and validate on fixed held-out seeds.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from motiondepth.data import VAL_SEED_BASE
from motiondepth.data.blur_data import BlurDataConfig, flip_sample, procedural_blur_sample
from motiondepth.data.shards import ShardReader
from motiondepth.models.blur_depth import BlurDepthConfig, BlurDepthNet, config_from_preset, frames_tensor
from motiondepth.models.trajectory_decoder import TrajectoryDecoder, blur_spectra, interpolate_trajectory
from motiondepth.train.loop import model_device, to_device
from motiondepth.train.seurat_task import git_commit

# `single-frame` is the paper's ablation: the same network seeing one frame (window of 1)
MODEL_PRESETS = {"small": "small", "paper": "paper", "single-frame": "small"}


@dataclass
class BlurDepthTaskConfig:
    """Everything that defines a stage-1 run besides the optimiser."""

    preset: str = "small"
    model: BlurDepthConfig = field(default_factory=lambda: config_from_preset("small"))
    data: BlurDataConfig = field(default_factory=BlurDataConfig)
    batch_size: int = 4  # clips per process and step
    silog_lambda: float = 0.85  # λ of SILog (1 = fully scale-invariant)
    l1_weight: float = 1.0  # weight of mean |log d̂ − log d|
    flip: bool = True  # random left-right mirroring
    data_seed: int = 0  # training clips use seeds data_seed·10⁸ + index
    val_samples: int = 16  # fixed held-out validation clips
    shards: str = ""  # folder from ``motiondepth export-data blur`` to read instead of simulating
    preload: bool = False  # read all shards into memory first (fast random access, e.g. for GPU runs)
    encoder_weights: str = ""  # official DINOv2 ViT-S/14 or ViT-B/14 .pth to start from (default: from scratch)


def make_blur_task_config(preset: str = "small") -> BlurDepthTaskConfig:
    if preset not in MODEL_PRESETS:
        raise KeyError(f"unknown blur-depth preset {preset!r}; choose from {sorted(MODEL_PRESETS)}")
    model = config_from_preset(MODEL_PRESETS[preset])
    if preset == "single-frame":
        model = dataclasses.replace(model, num_frames=1, window=1)
    data = BlurDataConfig(size=model.image_size, num_frames=max(model.num_frames, 1))
    if preset == "single-frame":
        data.num_frames = config_from_preset("small").num_frames  # same clips as `small`; the model uses frame 0
    return BlurDepthTaskConfig(preset=preset, model=model, data=data, batch_size=4 if preset != "paper" else 2)


def collate(samples: list[dict[str, np.ndarray]], num_frames: int) -> dict[str, Tensor]:
    return {
        "frames": frames_tensor(np.stack([s["frames"][:num_frames] for s in samples])),
        "depth": torch.from_numpy(np.stack([s["depth"] for s in samples])).float(),
        "sparse": torch.from_numpy(np.stack([s["sparse"][:num_frames] for s in samples])).float(),
        "dense_15": torch.from_numpy(np.stack([s["dense_15"][:num_frames] for s in samples])).float(),
        "dense_30": torch.from_numpy(np.stack([s["dense_30"][:num_frames] for s in samples])).float(),
        "focal_rel": torch.tensor([s["intrinsics"][0] / s["frames"].shape[2] for s in samples]).float(),
    }


def silog_loss(pred: Tensor, gt: Tensor, lam: float, l1_weight: float) -> tuple[Tensor, dict[str, float]]:
    """SILog (λ) + ``l1_weight`` · mean |g| over pixels with gt > 0, averaged over the batch."""
    valid = gt > 0
    g = torch.where(valid, torch.log(pred.clamp_min(1e-6)) - torch.log(gt.clamp_min(1e-6)), torch.zeros_like(pred))
    n = valid.flatten(1).sum(1).clamp_min(1).to(pred)
    mean = g.flatten(1).sum(1) / n
    mean_sq = (g**2).flatten(1).sum(1) / n
    silog = torch.sqrt((mean_sq - lam * mean**2).clamp_min(1e-8)).mean()
    l1 = (g.abs().flatten(1).sum(1) / n).mean()
    return silog + l1_weight * l1, {"silog": float(silog.detach()), "l1_log": float(l1.detach())}


def batch_abs_rel(pred: Tensor, gt: Tensor) -> tuple[float, float]:
    """Per-image mean AbsRel and δ1 summed over the batch (divide by the image count)."""
    valid = gt > 0
    rel = torch.where(valid, (pred - gt).abs() / gt.clamp_min(1e-6), torch.zeros_like(pred))
    ratio = torch.maximum(pred / gt.clamp_min(1e-6), gt / pred.clamp_min(1e-6))
    n = valid.flatten(1).sum(1).clamp_min(1)
    abs_rel = rel.flatten(1).sum(1) / n
    d1 = ((ratio < 1.25) & valid).flatten(1).sum(1) / n
    return float(abs_rel.sum()), float(d1.sum())


class _BlurDataMixin:
    cfg: Any

    def _init_data(self) -> None:
        self._shards = ShardReader(self.cfg.shards, preload=self.cfg.preload) if self.cfg.shards else None
        self._val: list[dict[str, Tensor]] | None = None
        self._t0 = time.monotonic()

    def _sample(self, index: int) -> dict[str, np.ndarray]:
        if self._shards is not None:
            s = self._shards[index]
        else:
            s = procedural_blur_sample(self.cfg.data_seed * 100_000_000 + index, self.cfg.data)
        if self._flipped(index):
            s = flip_sample(s)
        return s

    def _flipped(self, index: int) -> bool:
        return bool(self.cfg.flip and np.random.default_rng([self.cfg.data_seed, index, 7]).random() < 0.5)

    def _num_frames(self) -> int:
        """Frames of a clip the model reads."""
        raise NotImplementedError

    def _indices(self, step: int, rank: int, world: int) -> list[int]:
        """Sample indices of one process's batch at ``step`` (consecutive across processes)."""
        b = self.cfg.batch_size
        first = (step * world + rank) * b
        return list(range(first, first + b))

    def batch(self, step: int, rank: int, world: int) -> dict[str, Tensor]:
        return collate([self._sample(i) for i in self._indices(step, rank, world)], self._num_frames())

    def _val_batches(self, device: torch.device) -> list[dict[str, Tensor]]:
        """The fixed held-out batches, on ``device``."""
        if self._val is None:
            samples = [procedural_blur_sample(VAL_SEED_BASE + i, self.cfg.data) for i in range(self.cfg.val_samples)]
            self._val = [collate(samples[i : i + 4], self._num_frames()) for i in range(0, len(samples), 4)]
        return [to_device(b, device) for b in self._val]


class BlurDepthTask(_BlurDataMixin):
    """Stage 1: :class:`BlurDepthNet` on metric depth."""

    name = "blur-depth"

    def __init__(self, cfg: BlurDepthTaskConfig) -> None:
        if cfg.data.size != cfg.model.image_size:
            raise ValueError(f"data.size {cfg.data.size} must equal model.image_size {cfg.model.image_size}")
        if cfg.data.num_frames < cfg.model.num_frames:
            raise ValueError(f"data.num_frames {cfg.data.num_frames} < model.num_frames {cfg.model.num_frames}")
        self.cfg = cfg
        self._init_data()

    def _num_frames(self) -> int:
        return self.cfg.model.num_frames

    def build_model(self) -> nn.Module:
        if not self.cfg.encoder_weights:
            return BlurDepthNet(self.cfg.model)
        from motiondepth.models.vit import ViTConfig, load_dinov2

        encoder = load_dinov2(self.cfg.encoder_weights, ViTConfig.preset(self.cfg.model.encoder))
        return BlurDepthNet(self.cfg.model, encoder=encoder)

    def loss(self, model: nn.Module, batch: dict[str, Tensor]) -> tuple[Tensor, dict[str, float]]:
        pred = model(batch["frames"])["depth"]
        return silog_loss(pred, batch["depth"], self.cfg.silog_lambda, self.cfg.l1_weight)

    def validate(self, model: nn.Module) -> dict[str, float]:
        rel = d1 = 0.0
        n = 0
        for batch in self._val_batches(model_device(model)):
            pred = model(batch["frames"])["depth"]
            a, b = batch_abs_rel(pred, batch["depth"])
            rel, d1, n = rel + a, d1 + b, n + len(pred)
        return {"abs_rel": rel / n, "delta1": d1 / n}

    def config_dict(self) -> dict:
        return asdict(self.cfg)

    def finish(self, model: nn.Module, out: Path, metrics: dict[str, float], train_cfg: Any) -> None:
        from motiondepth.models.weights import save_weights

        card = _card(self, "blur-depth", f"blur-depth-{self.cfg.preset}", metrics, train_cfg)
        card["model_config"] = asdict(self.cfg.model)
        card["loss"] = f"SILog(λ={self.cfg.silog_lambda}) + {self.cfg.l1_weight}·mean|log d̂ − log d|"
        save_weights(model, out / "model.safetensors", card)


def _card(task, model: str, name: str, metrics: dict[str, float], train_cfg: Any) -> dict:
    cfg = task.cfg
    return {
        "model": model,
        "name": name,
        "data": {
            "generator": "motiondepth.data.blur_data.procedural_blur_sample (procedural RGB-D → shaky RS clip)",
            "config": asdict(cfg.data),
            "shards": cfg.shards or None,
            "seeds": f"data_seed·10⁸ + index, data_seed={cfg.data_seed}",
            "clips_seen": train_cfg.steps * cfg.batch_size,
            "validation_seeds": f"{VAL_SEED_BASE} + [0, {cfg.val_samples})",
            "flip": cfg.flip,
        },
        "training": {**dataclasses.asdict(train_cfg), "batch_size": cfg.batch_size},
        "command": " ".join(sys.argv),
        "git_commit": git_commit(),
        "torch": torch.__version__,
        "validation": metrics,
        "trained_minutes_this_process": round((time.monotonic() - task._t0) / 60.0, 1),
    }


# ---------------------------------------------------------------------------------------------
# stage 2


class BlurTrajectoryModel(nn.Module):
    """Frozen stage-1 network + trainable dense trajectory decoder.

    The decoder's image tokens depend on frozen weights only, so with a finite set of training
    clips (shards) they are computed once per clip and mirror state and kept in memory (float16),
    keyed by ``keys``; a step then costs the decoder alone.
    """

    def __init__(self, depth_net: BlurDepthNet) -> None:
        super().__init__()
        self.depth_net = depth_net
        for p in self.depth_net.parameters():
            p.requires_grad_(False)
        self.decoder = TrajectoryDecoder(depth_net.cfg, depth_net.self_window)
        self._token_cache: dict[tuple[int, bool], Tensor] = {}

    def train(self, mode: bool = True) -> BlurTrajectoryModel:
        super().train(mode)
        self.depth_net.eval()  # frozen
        return self

    def _tokens(self, frames: Tensor, keys: list | None) -> tuple[Tensor, Tensor | None]:
        if keys is not None and all(k in self._token_cache for k in keys):
            return torch.stack([self._token_cache[k] for k in keys]).float(), None
        with torch.no_grad():
            out = self.depth_net(frames)
            tokens = self.decoder.image_tokens(out["frame_features"], out["features"])
        if keys is not None:
            for k, tok in zip(keys, tokens, strict=True):
                self._token_cache[k] = tok.half()
        return tokens, out["depth"]

    def forward(self, frames: Tensor, sparse: Tensor, samples: int, focal_rel: Tensor,
                keys: list | None = None) -> dict[str, Tensor]:  # fmt: skip
        tokens, depth = self._tokens(frames, keys)
        spectra = blur_spectra(frames[:, : sparse.shape[1]])
        dense = self.decoder(sparse, tokens, spectra, focal_rel, samples)
        return {"depth": depth, "dense": dense}

    def decoder_state(self) -> dict[str, Tensor]:
        """The decoder's own weights (the shared Self-Window lives in the depth checkpoint)."""
        return {k: v for k, v in self.decoder.state_dict().items() if not k.startswith("self_window.")}


@dataclass
class TrajectoryTaskConfig:
    """Everything that defines a stage-2 run besides the optimiser."""

    depth_checkpoint: str = "blur-depth-small"  # stage-1 weights (name, .safetensors or run folder)
    preset: str = "small"
    data: BlurDataConfig = field(default_factory=BlurDataConfig)
    samples: tuple[int, ...] = (15, 30)  # S per frame; one drawn per step
    batch_size: int = 4
    flip: bool = True
    data_seed: int = 0
    val_samples: int = 16
    shards: str = ""
    preload: bool = False


def make_trajectory_task_config(preset: str = "small") -> TrajectoryTaskConfig:
    if preset not in ("small", "paper"):
        raise KeyError(f"unknown trajectory preset {preset!r}; choose from ['paper', 'small']")
    model = config_from_preset(preset)
    return TrajectoryTaskConfig(
        depth_checkpoint=f"blur-depth-{preset}",
        preset=preset,
        data=BlurDataConfig(size=model.image_size, num_frames=model.num_frames),
        batch_size=4 if preset == "small" else 2,
    )


def trajectory_l1(pred: Tensor, gt: Tensor) -> Tensor:
    return (pred - gt).abs().mean() * 1e3  # milliradians


class TrajectoryTask(_BlurDataMixin):
    """Stage 2: :class:`TrajectoryDecoder` on dense angles, stage 1 frozen."""

    name = "trajectory"

    def __init__(self, cfg: TrajectoryTaskConfig) -> None:
        self.cfg = cfg
        self._depth_net = BlurDepthNet.from_pretrained(cfg.depth_checkpoint)
        m = self._depth_net.cfg
        if cfg.data.size != m.image_size or cfg.data.num_frames < m.num_frames:
            raise ValueError(
                f"data (size {cfg.data.size}, {cfg.data.num_frames} frames) does not fit the depth checkpoint "
                f"(size {m.image_size}, {m.num_frames} frames)"
            )
        self._init_data()

    def _num_frames(self) -> int:
        return self._depth_net.cfg.num_frames

    def build_model(self) -> nn.Module:
        return BlurTrajectoryModel(self._depth_net)

    def batch(self, step: int, rank: int, world: int) -> dict[str, Tensor]:
        out = super().batch(step, rank, world)
        out["samples"] = self.cfg.samples[step % len(self.cfg.samples)]
        if self._shards is not None:  # a finite clip set: the frozen image tokens are cached per clip
            out["keys"] = [(i % len(self._shards), self._flipped(i)) for i in self._indices(step, rank, world)]
        return out

    def loss(self, model: nn.Module, batch: dict[str, Tensor]) -> tuple[Tensor, dict[str, float]]:
        step_samples = batch["samples"]
        out = model(batch["frames"], batch["sparse"], step_samples, batch["focal_rel"], batch.get("keys"))
        loss = trajectory_l1(out["dense"], batch[f"dense_{step_samples}"])
        return loss, {f"l1_mrad_{step_samples}": float(loss.detach())}

    def validate(self, model: nn.Module) -> dict[str, float]:
        from motiondepth.eval.trajectory_metrics import trajectory_metrics

        res: dict[str, float] = {}
        for s in self.cfg.samples:
            dec, lin = [], []
            for batch in self._val_batches(model_device(model)):
                pred = model(batch["frames"], batch["sparse"], s, batch["focal_rel"])["dense"].float().cpu()
                batch = to_device(batch, "cpu")
                base = interpolate_trajectory(batch["sparse"], s)
                for i in range(len(pred)):
                    gt = batch[f"dense_{s}"][i].numpy()
                    dec.append(trajectory_metrics(pred[i].numpy(), gt)["abs_rel"])
                    lin.append(trajectory_metrics(base[i].numpy(), gt)["abs_rel"])
            res[f"abs_rel_{s}"] = float(np.mean(dec))
            res[f"abs_rel_{s}_interp"] = float(np.mean(lin))
        return res

    def config_dict(self) -> dict:
        return asdict(self.cfg)

    def finish(self, model: nn.Module, out: Path, metrics: dict[str, float], train_cfg: Any) -> None:
        from motiondepth.models.weights import save_weights

        card = _card(self, "trajectory-decoder", f"trajectory-{self.cfg.preset}", metrics, train_cfg)
        card["depth_checkpoint"] = self.cfg.depth_checkpoint
        card["depth_checkpoint_card"] = getattr(self._depth_net, "card", {}).get("name")
        card["model_config"] = asdict(self._depth_net.cfg)
        card["samples"] = list(self.cfg.samples)
        card["loss"] = "L1 on dense angles, mrad"
        save_weights(model.decoder_state(), out / "model.safetensors", card)
