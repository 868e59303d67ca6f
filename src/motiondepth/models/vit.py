"""A Vision Transformer with the DINOv2 architecture (patch 14, no registers), multi-layer features.

Module names mirror the official DINOv2 code, so the ``.pth`` files released by its authors
(``dinov2_vits14_pretrain.pth``, ``dinov2_vitb14_pretrain.pth``) load strictly with
:func:`load_dinov2` — no timm, no torchvision, nothing downloaded. Without a checkpoint the
encoder trains from scratch.

Architecture (DINOv2 §4 / its ``vision_transformer.py``): 14 × 14 patch embedding (conv), a class
token, learned position embeddings for a 37 × 37 patch grid (518 px) interpolated bicubically to
other sizes, pre-norm blocks (LayerNorm ε = 1e-6, multi-head self-attention with a fused qkv
projection, LayerScale, GELU MLP ×4, LayerScale), a final LayerNorm.

Example:
    >>> enc = ViT(ViTConfig.preset("tiny"))
    >>> feats = enc(torch.zeros(1, 3, 56, 56), layers=(1, 3))
    >>> [tuple(f.shape) for f in feats]
    [(1, 192, 4, 4), (1, 192, 4, 4)]
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from motiondepth.errors import InputError


@dataclass
class ViTConfig:
    """Encoder size (presets: ``vits14``, ``vitb14`` = the DINOv2 releases; ``tiny`` for CPU tests)."""

    dim: int = 768  # token width
    depth: int = 12  # transformer blocks
    heads: int = 12  # attention heads
    mlp_ratio: float = 4.0  # MLP width / dim
    patch: int = 14  # patch size, pixels
    pos_grid: int = 37  # position-embedding grid side (518 / 14)
    layerscale: float = 1e-5  # LayerScale init (DINOv2 default)

    @classmethod
    def preset(cls, name: str) -> ViTConfig:
        table = {
            "vits14": cls(dim=384, depth=12, heads=6),
            "vitb14": cls(dim=768, depth=12, heads=12),
            "tiny": cls(dim=192, depth=4, heads=3, pos_grid=16),
        }
        if name not in table:
            raise KeyError(f"unknown ViT preset {name!r}; choose from {sorted(table)}")
        return table[name]


class PatchEmbed(nn.Module):
    def __init__(self, patch: int, dim: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(3, dim, patch, patch)

    def forward(self, x: Tensor) -> Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)  # (B, h·w, D)


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(b, n, d))


class LayerScale(nn.Module):
    def __init__(self, dim: int, init: float) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.full((dim,), init))

    def forward(self, x: Tensor) -> Tensor:
        return x * self.gamma


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, cfg: ViTConfig) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(cfg.dim, eps=1e-6)
        self.attn = Attention(cfg.dim, cfg.heads)
        self.ls1 = LayerScale(cfg.dim, cfg.layerscale)
        self.norm2 = nn.LayerNorm(cfg.dim, eps=1e-6)
        self.mlp = Mlp(cfg.dim, int(cfg.dim * cfg.mlp_ratio))
        self.ls2 = LayerScale(cfg.dim, cfg.layerscale)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.ls1(self.attn(self.norm1(x)))
        return x + self.ls2(self.mlp(self.norm2(x)))


class ViT(nn.Module):
    """DINOv2-architecture encoder returning patch features of chosen blocks."""

    def __init__(self, cfg: ViTConfig | None = None) -> None:
        super().__init__()
        cfg = cfg or ViTConfig()
        self.cfg = cfg
        self.patch_embed = PatchEmbed(cfg.patch, cfg.dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, cfg.dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + cfg.pos_grid**2, cfg.dim))
        self.mask_token = nn.Parameter(torch.zeros(1, cfg.dim))  # unused here; kept for strict loading
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.depth))
        self.norm = nn.LayerNorm(cfg.dim, eps=1e-6)
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.normal_(self.cls_token, std=1e-6)

    def _pos(self, h: int, w: int) -> Tensor:
        pos = self.pos_embed
        g = self.cfg.pos_grid
        if h == g and w == g:
            return pos
        patch = pos[:, 1:].reshape(1, g, g, -1).permute(0, 3, 1, 2)
        patch = F.interpolate(patch, size=(h, w), mode="bicubic", align_corners=False)
        return torch.cat([pos[:, :1], patch.flatten(2).transpose(1, 2)], 1)

    def forward(self, images: Tensor, layers: tuple[int, ...] | None = None) -> list[Tensor]:
        """Patch features of ``layers``.

        Args:
            images: (B, 3, H, W) normalised RGB; H and W multiples of the patch size (14).
            layers: 0-based block indices (default: the last four); the last block's output is
                passed through the final norm, as in DINOv2's ``get_intermediate_layers``.

        Returns:
            One (B, D, H/14, W/14) map per requested layer.
        """
        b, _, hh, ww = images.shape
        p = self.cfg.patch
        if hh % p or ww % p:
            raise ValueError(f"image size {hh}x{ww} is not a multiple of the patch size {p}")
        layers = tuple(range(self.cfg.depth - 4, self.cfg.depth)) if layers is None else tuple(layers)
        if not layers or min(layers) < 0 or max(layers) >= self.cfg.depth:
            raise ValueError(f"layers must be within 0..{self.cfg.depth - 1}, got {layers}")
        h, w = hh // p, ww // p
        x = self.patch_embed(images)
        x = torch.cat([self.cls_token.expand(b, -1, -1), x], 1) + self._pos(h, w)
        out = []
        for i, blk in enumerate(self.blocks):
            x = blk(x)
            if i in layers:
                y = self.norm(x)[:, 1:]
                out.append(y.transpose(1, 2).reshape(b, -1, h, w))
            if i == max(layers):
                break
        return out


_CHUNKED = re.compile(r"^blocks\.\d+\.(\d+)\.")


def official_key(key: str) -> str:
    """Normalise a DINOv2 checkpoint key: drop ``module.``/``backbone.`` prefixes and the
    block-chunk level of FSDP checkpoints (``blocks.1.4.`` → ``blocks.4.``)."""
    for prefix in ("module.", "backbone.", "teacher.backbone."):
        if key.startswith(prefix):
            key = key[len(prefix) :]
    return _CHUNKED.sub(r"blocks.\1.", key)


def load_dinov2(path: str | Path, cfg: ViTConfig | None = None) -> ViT:
    """A :class:`ViT` with official DINOv2 weights from a local ``.pth`` file, loaded strictly.

    The size (ViT-S/14 or ViT-B/14) is read from the file unless ``cfg`` is given.

    Raises:
        InputError: missing/unreadable file, or keys/shapes that are not a register-free DINOv2.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "DINOv2 checkpoint not found")
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for corrupt files
        raise InputError(path, f"not a readable PyTorch checkpoint ({type(exc).__name__}: {exc})") from None
    if isinstance(raw, dict) and "model" in raw and isinstance(raw["model"], dict):
        raw = raw["model"]
    state = {official_key(k): v for k, v in raw.items()}
    if any(k.startswith("register_tokens") for k in state):
        raise InputError(path, "this is a DINOv2 *with registers* checkpoint; use the register-free release")
    if "pos_embed" not in state or "patch_embed.proj.weight" not in state:
        raise InputError(path, "not a DINOv2 ViT checkpoint (no pos_embed / patch_embed.proj.weight)")
    if cfg is None:
        dim = state["pos_embed"].shape[-1]
        depth = 1 + max(int(k.split(".")[1]) for k in state if k.startswith("blocks."))
        grid = math.isqrt(state["pos_embed"].shape[1] - 1)
        cfg = ViTConfig(dim=dim, depth=depth, heads=dim // 64, pos_grid=grid)
    model = ViT(cfg)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise InputError(path, f"weights do not match a DINOv2 ViT ({str(exc).splitlines()[0]})") from None
    return model
