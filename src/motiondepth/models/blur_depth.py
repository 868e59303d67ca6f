"""Metric depth from perspective blur (perspective-blur paper §3.2–3.3, Fig. 3a and 4; docs/design.md §5).

Pipeline of :class:`BlurDepthNet`, for a clip of T frames and window length S:

1. **Multi-frame features** (§3.2): a DINOv2-architecture ViT encodes every frame; the patch
   features of K blocks are concatenated and fused by a linear (1 × 1) layer to width D.
2. **Window embedding** (Fig. 4a): the S frames of each window are concatenated on channels and
   a 3 × 3 convolution maps S·D back to D. Windows: n = T // S (trailing frames are dropped).
3. **Self-Window** (Eq. 6): L self-attention + FFN layers over the patch tokens of each window
   (learned 2-D position embedding). Shared with the trajectory decoder.
4. **Cross-Window** (Eq. 7): backward incremental aggregation from the last window to the first;
   the refined later window is key/value, the earlier window the query (Fig. 4c).
5. **Output head** (Fig. 4b): conv halving channels, bilinear upsampling to the input size, two
   convolution + activation stages; the last predicts log depth (offset so an untrained
   network outputs ``depth_init``), exponentiated to positive metric depth (metres).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from motiondepth.models.vit import ViT, ViTConfig

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass
class BlurDepthConfig:
    """Sizes of :class:`BlurDepthNet` and of the trajectory decoder (presets in :data:`PRESETS`)."""

    encoder: str = "vitb14"  # ViT preset: vits14 | vitb14 (DINOv2 releases) | tiny
    feature_layers: tuple[int, ...] = (2, 5, 8, 11)  # K encoder blocks whose features are fused
    image_size: int = 518  # square input side, pixels (multiple of 14)
    num_frames: int = 30  # T
    window: int = 6  # S, frames per window
    hidden: int = 384  # D
    heads: int = 8
    self_layers: int = 6  # Self-Window layers
    cross_layers: int = 2  # Cross-Window layers
    traj_layers: int = 6  # trajectory decoder layers
    traj_pool: int = 0  # pool image tokens to this grid side in the decoder (0 = keep all)
    angle_scale: float = 1e-3  # radians per unit of the decoder's trajectory tokens
    head_channels: int = 32  # width of the output head's last stages
    depth_init: float = 4.0  # metres an untrained head outputs (typical scene depth)
    extra: dict = field(default_factory=dict)  # free-form notes saved with checkpoints

    @classmethod
    def from_dict(cls, d: dict) -> BlurDepthConfig:
        """From a checkpoint card's ``model_config`` (JSON turns tuples into lists)."""
        cfg = cls(**d)
        cfg.feature_layers = tuple(cfg.feature_layers)
        return cfg


PRESETS: dict[str, BlurDepthConfig] = {
    "paper": BlurDepthConfig(),
    "small": BlurDepthConfig(
        encoder="tiny",
        feature_layers=(1, 3),
        image_size=224,
        num_frames=12,
        window=4,
        hidden=128,
        heads=4,
        self_layers=2,
        cross_layers=1,
        traj_layers=2,
        traj_pool=8,
        head_channels=16,
    ),
}


def frames_tensor(frames) -> Tensor:
    """Clip(s) as the network reads them: (…, T, H, W, 3) uint8 array → (…, T, 3, H, W) float in [0, 1]."""
    import numpy as np

    x = torch.from_numpy(np.ascontiguousarray(frames)).float().div_(255.0)
    return x.movedim(-1, -3)


def config_from_preset(name: str, **overrides) -> BlurDepthConfig:
    if name not in PRESETS:
        raise KeyError(f"unknown blur-depth preset {name!r}; choose from {sorted(PRESETS)}")
    return replace(PRESETS[name], **overrides)


class Layer(nn.Module):
    """Pre-norm attention (self, or cross onto ``ctx``) + FFN."""

    def __init__(self, dim: int, heads: int, cross: bool = False) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.norm_ctx = nn.LayerNorm(dim) if cross else None
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm2 = nn.LayerNorm(dim)
        self.ffn = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, x: Tensor, ctx: Tensor | None = None) -> Tensor:
        q = self.norm(x)
        kv = q if ctx is None else self.norm_ctx(ctx)
        x = x + self.attn(q, kv, kv, need_weights=False)[0]
        return x + self.ffn(self.norm2(x))


class SelfWindow(nn.Module):
    """Stacked self-attention + FFN over the patch tokens of one window (or frame)."""

    def __init__(self, dim: int, heads: int, layers: int, grid: int) -> None:
        super().__init__()
        self.grid = grid
        self.pos = nn.Parameter(torch.zeros(1, dim, grid, grid))
        nn.init.trunc_normal_(self.pos, std=0.02)
        self.layers = nn.ModuleList(Layer(dim, heads) for _ in range(layers))

    def forward(self, x: Tensor) -> Tensor:
        """(B, D, h, w) → (B, h·w, D) tokens."""
        h, w = x.shape[-2:]
        pos = self.pos if (h, w) == (self.grid, self.grid) else F.interpolate(self.pos, (h, w), mode="bilinear")
        t = (x + pos).flatten(2).transpose(1, 2)
        for layer in self.layers:
            t = layer(t)
        return t


class OutputHead(nn.Module):
    """Fig. 4b: halve channels, upsample to the input size, two conv + activation stages."""

    def __init__(self, dim: int, channels: int, depth_init: float = 4.0) -> None:
        super().__init__()
        self.reduce = nn.Conv2d(dim, dim // 2, 3, padding=1)
        self.conv1 = nn.Conv2d(dim // 2, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, 1, 1)
        self.log_offset = math.log(depth_init)

    def forward(self, x: Tensor, size: tuple[int, int]) -> Tensor:
        x = F.interpolate(self.reduce(x), size=size, mode="bilinear", align_corners=False)
        x = F.relu(self.conv1(x))
        log_depth = (self.conv2(x)[:, 0] + self.log_offset).clamp(-7.0, 7.0)  # 1 mm … 1 km
        return torch.exp(log_depth)


class BlurDepthNet(nn.Module):
    """Encoder + window embedding + Self-Window + Cross-Window + output head."""

    def __init__(self, cfg: BlurDepthConfig | None = None, encoder: ViT | None = None) -> None:
        super().__init__()
        cfg = cfg or BlurDepthConfig()
        self.cfg = cfg
        self.encoder = encoder or ViT(ViTConfig.preset(cfg.encoder))
        enc = self.encoder.cfg
        if cfg.image_size % enc.patch:
            raise ValueError(f"image_size {cfg.image_size} is not a multiple of the patch size {enc.patch}")
        grid = cfg.image_size // enc.patch
        self.fuse = nn.Conv2d(enc.dim * len(cfg.feature_layers), cfg.hidden, 1)  # the "linear layers" of §3.2
        self.window_embed = nn.Conv2d(cfg.window * cfg.hidden, cfg.hidden, 3, padding=1)
        self.self_window = SelfWindow(cfg.hidden, cfg.heads, cfg.self_layers, grid)
        self.cross_window = nn.ModuleList(Layer(cfg.hidden, cfg.heads, cross=True) for _ in range(cfg.cross_layers))
        self.head = OutputHead(cfg.hidden, cfg.head_channels, cfg.depth_init)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def frame_features(self, frames: Tensor) -> Tensor:
        """Fused multi-layer features per frame: (B, T, 3, H, W) in [0, 1] → (B, T, D, h, w)."""
        b, t, _, h, w = frames.shape
        x = (frames.reshape(b * t, 3, h, w) - self.mean) / self.std
        feats = self.encoder(x, self.cfg.feature_layers)
        fused = self.fuse(torch.cat(feats, 1))
        return fused.view(b, t, *fused.shape[1:])

    def forward(self, frames: Tensor) -> dict[str, Tensor]:
        """Predict the metric depth of the first frame from a blurred clip.

        Args:
            frames: (B, T, 3, H, W) RGB in [0, 1], H = W = ``cfg.image_size``; T ≥ S frames
                (the first (T // S)·S are used).

        Returns:
            ``depth`` (B, H, W) metres (> 0), ``features`` (B, D, h, w) the Cross-Window output
            (input of the head; the trajectory decoder reuses it), ``frame_features``
            (B, T', D, h, w) fused encoder features of the frames used.
        """
        b, t, c, h, w = frames.shape
        s = self.cfg.window
        if c != 3 or h != self.cfg.image_size or w != self.cfg.image_size:
            raise ValueError(
                f"frames must be (B, T, 3, {self.cfg.image_size}, {self.cfg.image_size}); got {tuple(frames.shape)} "
                "(resize the clip to the checkpoint's resolution first)"
            )
        if t < s:
            raise ValueError(f"{t} frames is fewer than one window of {s}")
        n = t // s
        ff = self.frame_features(frames[:, : n * s])  # (B, nS, D, h', w')
        d, gh, gw = ff.shape[2:]
        win = self.window_embed(ff.reshape(b * n, s * d, gh, gw))  # frames of a window concatenated on channels
        tokens = self.self_window(win).view(b, n, gh * gw, d)
        ctx = tokens[:, -1]
        for i in range(n - 2, -1, -1):  # backward incremental: last window → first (Eq. 7)
            q = tokens[:, i]
            for layer in self.cross_window:
                q = layer(q, ctx)
            ctx = q
        feat = ctx.transpose(1, 2).reshape(b, d, gh, gw)
        return {"depth": self.head(feat, (h, w)), "features": feat, "frame_features": ff}

    def config_dict(self) -> dict:
        return asdict(self.cfg)

    def adapt_init_state(self, state: dict[str, Tensor]) -> dict[str, Tensor]:
        """Inflate a single-frame checkpoint (window 1) to this model's window (the ``init`` of training).

        The single-frame model's window embedding becomes the first frame's slot of this one (the
        other frames' slots start at zero) and the Cross-Window layers start as the identity (zero
        output projections), so the inflated network starts out computing exactly the single-frame
        model's depth for frame 0 and training can only add what the other frames say. Any other
        state is returned unchanged (and must then fit strictly).
        """
        key = "window_embed.weight"
        if key not in state or self.cfg.window == 1 or state[key].shape[1] != self.cfg.hidden:
            return state
        state = dict(state)
        w = torch.zeros_like(self.window_embed.weight)
        w[:, : self.cfg.hidden] = state[key]
        state[key] = w
        for name, value in self.state_dict().items():
            if not name.startswith("cross_window."):
                continue
            if ".attn.out_proj." in name or ".ffn.2." in name:  # the residual branches' outputs
                state[name] = torch.zeros_like(value)
            elif name not in state or state[name].shape != value.shape:  # untrained in the checkpoint anyway
                state[name] = value
        return state

    @classmethod
    def from_pretrained(cls, name_or_path: str) -> BlurDepthNet:
        """Load a blur-depth checkpoint by name (``"blur-depth-small"``) or path, strictly."""
        from motiondepth.errors import InputError
        from motiondepth.models.weights import load_into, load_weights

        state, card = load_weights(name_or_path, expect_model="blur-depth")
        try:
            model = cls(BlurDepthConfig.from_dict(card["model_config"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(name_or_path, f"card has no usable model_config ({exc})") from None
        load_into(model, state, name_or_path, "blur-depth")
        model.card = card
        return model.eval()
