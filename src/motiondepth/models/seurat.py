"""Seurat: depth ratios over time from 2D point tracks (Seurat §3.3; docs/design.md §5).

Two branches read one temporal window of W frames:

* the **supporting branch** sees a G × G grid of tracks seeded at the window's first frame;
  each layer is temporal self-attention (per track, over the W frames) then spatial
  self-attention (per frame, over the G² tracks) — Eq. 5;
* the **query branch** sees each query track on its own: temporal self-attention, then
  cross-attention from each query token to the supporting tokens *of the same frame* taken
  from the previous supporting layer (Eq. 6). Queries never attend to one another, so a
  prediction does not depend on which other queries were asked.

Both branches end in a ratio head that regresses the log depth ratio ℓ_t = log(d_t / d_0)
w.r.t. the window's first frame (Eq. 7). The whole stack runs ``iterations`` times; each pass
embeds the current estimate and adds a correction (iterative refinement, as in CoTracker).

Input embedding (the paper leaves it open; docs/design.md §5): per token, with positions normalised by
half the long image side about the image centre,
``[p, s·(p − p_0), sin/cos(2^k π p), sin/cos(2^k π s·(p − p_0)), visible]`` where p_0 is the
track's position at the window's first frame and s = ``motion_scale``, mapped by a linear layer,
plus a learned per-frame time embedding and a linear embedding of the current ℓ estimate.
Occluded positions are replaced by the last visible position (first visible before that).

The embedding also carries *local spread* features (our addition, documented as such): for each
k in ``neighbours``, the log change of the RMS distance from a track to its k nearest
supporting tracks, chosen at the window's first frame, and the share of those neighbours that
are visible. For a rigid, fronto-parallel patch, −(log spread change) is exactly the log depth
ratio of Eq. 4, so the network starts from the density cue the paper motivates and learns
what Eq. 4 cannot model (surface orientation, occlusion edges, tracker noise, context). Only
supporting tracks serve as neighbours, so queries stay independent of one another.

**Geometry prior** (``geometry_prior=True``, the ``small`` preset and the shipped ``seurat-small``;
our addition, beyond the paper): each window's camera motion is first solved from the supporting
tracks as if the scene were rigid (:func:`motiondepth.seurat.rigid.geometry_prior`), which gives
every track a rigid-geometry log ratio and an RMS reprojection residual. The refinement then starts
from those ratios instead of from zero (the heads are zero-initialised, so an untrained model
returns them exactly), and the embedding reads three more features per token: the rigid log ratio
(×10), log(1 + residual) of the track and log(1 + residual) of the window (pixels, capped at
``RESIDUAL_CAP_PX``). The network thus learns corrections where rigid geometry fails: tracks on
independently moving objects (large residual), tracker noise, windows without parallax. Queries
stay independent: a query's prior depends on the supporting tracks and on its own track only.
The model then needs the tracks' intrinsics at inference. Why: on held-out procedural clips the
paper's input alone reached about 1.15× the hand-crafted baseline's APD at CPU scale, rigid
geometry alone about 2.3× (``benchmarks/seurat.py``); the prior gives the network the exact
static-scene ratios it could not learn at this size.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass
class SeuratConfig:
    """Architecture of :class:`Seurat` (presets in :data:`PRESETS`)."""

    hidden: int = 384  # token width D
    heads: int = 8  # attention heads
    layers: int = 2  # L, layers per branch
    mlp_ratio: float = 4.0  # MLP width as a multiple of D
    grid: int = 24  # G, supporting grid side (G² supporting tracks)
    window: int = 8  # W, frames per window
    stride: int = 4  # S, inference window stride (S < W)
    iterations: int = 4  # refinement passes (train and inference)
    num_freqs: int = 6  # Fourier bands per coordinate in the input embedding
    motion_scale: float = 8.0  # gain on window-relative displacement before encoding
    neighbours: tuple[int, ...] = (4, 12)  # k of the local-spread features (empty: none)
    geometry_prior: bool = False  # start from rigid-geometry ratios and read their residuals (module doc)


_SMALL = SeuratConfig(hidden=64, heads=4, layers=2, mlp_ratio=2.0, grid=12, iterations=4, geometry_prior=True)
PRESETS: dict[str, SeuratConfig] = {
    "paper": SeuratConfig(),
    "small": _SMALL,
    "small-plain": replace(_SMALL, geometry_prior=False),  # the same model without the prior
}


def config_from_preset(name: str, **overrides) -> SeuratConfig:
    """A preset, optionally with fields replaced."""
    if name not in PRESETS:
        raise KeyError(f"unknown Seurat preset {name!r}; choose from {sorted(PRESETS)}")
    return replace(PRESETS[name], **overrides)


#: Geometry-prior models: rigid log ratios are clamped to ±PRIOR_CLAMP (about e² either way) before
#: they start the refinement, residuals to RESIDUAL_CAP_PX before log(1 + r) encodes them.
PRIOR_CLAMP = 2.0
RESIDUAL_CAP_PX = 100.0


class Attention(nn.Module):
    """Multi-head attention of ``x`` (B, N, D) onto ``ctx`` (B, M, D)."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"hidden {dim} not divisible by heads {heads}")
        self.heads = heads
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: Tensor, ctx: Tensor) -> Tensor:
        b, n, d = x.shape
        h = self.heads
        if ctx is x:  # self-attention: one projection for q, k and v (same result, less work)
            w = torch.cat([self.q.weight, self.kv.weight])
            qkv = F.linear(x, w, torch.cat([self.q.bias, self.kv.bias]))
            q, k, v = qkv.view(b, n, 3, h, d // h).permute(2, 0, 3, 1, 4)
        else:
            q = self.q(x).view(b, n, h, d // h).transpose(1, 2)
            k, v = self.kv(ctx).view(b, ctx.shape[1], 2, h, d // h).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(b, n, d))


class Block(nn.Module):
    """Pre-norm attention + MLP; self-attention when no context is given."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float, cross: bool = False) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.norm_ctx = nn.LayerNorm(dim) if cross else None
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: Tensor, ctx: Tensor | None = None) -> Tensor:
        y = self.norm(x)
        kv = y if ctx is None else self.norm_ctx(ctx)
        x = x + self.attn(y, kv)
        return x + self.mlp(self.norm2(x))


def _temporal(block: Block, h: Tensor) -> Tensor:
    """Attention over frames, per track: (B, W, N, D) → (B, W, N, D)."""
    b, w, n, d = h.shape
    x = h.permute(0, 2, 1, 3).reshape(b * n, w, d)
    return block(x).view(b, n, w, d).permute(0, 2, 1, 3)


def _spatial(block: Block, h: Tensor, ctx: Tensor | None = None) -> Tensor:
    """Attention over tracks, per frame (onto ``ctx`` tracks of the same frame if given)."""
    b, w, n, d = h.shape
    x = h.reshape(b * w, n, d)
    c = None if ctx is None else ctx.reshape(b * w, ctx.shape[2], d)
    return block(x, c).view(b, w, n, d)


def local_spread(
    tracks: Tensor, support: Tensor, support_visible: Tensor, k: int, exclude_self: bool
) -> tuple[Tensor, Tensor]:
    """Log RMS-distance change to the k nearest supporting tracks (chosen at frame 0).

    Args:
        tracks: (B, W, N, 2) tracks whose neighbourhoods are measured.
        support: (B, W, Ns, 2) supporting tracks (occluded positions filled).
        support_visible: (B, W, Ns) float visibility.
        k: neighbourhood size.
        exclude_self: the tracks are the supporting tracks themselves (skip distance 0).

    Returns:
        (B, W, N) log(spread_t / spread_0) and (B, W, N) share of visible neighbours.
    """
    b, w, n, _ = tracks.shape
    ns = support.shape[2]
    k = min(k, ns - int(exclude_self))
    d0 = torch.cdist(tracks[:, 0], support[:, 0])  # (B, N, Ns)
    if exclude_self:
        d0 = d0 + torch.eye(n, ns, device=d0.device, dtype=d0.dtype) * 1e9
    idx = d0.topk(k, dim=-1, largest=False).indices  # (B, N, k)
    flat = idx.reshape(b, 1, n * k, 1).expand(b, w, n * k, 2)
    nb = torch.gather(support, 2, flat).view(b, w, n, k, 2)
    spread = ((nb - tracks[:, :, :, None]) ** 2).sum(-1).mean(-1).clamp_min(1e-6)  # (B, W, N)
    vis = torch.gather(support_visible, 2, idx.reshape(b, 1, n * k).expand(b, w, n * k)).view(b, w, n, k)
    return 0.5 * torch.log(spread / spread[:, :1]), vis.mean(-1)


class TrackEmbedding(nn.Module):
    """Static per-token features (positions, motion, visibility, local spread) plus time and ℓ."""

    def __init__(self, cfg: SeuratConfig) -> None:
        super().__init__()
        self.cfg = cfg
        in_dim = 4 + 8 * cfg.num_freqs + 1 + 2 * len(cfg.neighbours) + 3 * cfg.geometry_prior
        self.static = nn.Linear(in_dim, cfg.hidden)
        self.ratio = nn.Linear(2, cfg.hidden)
        self.time = nn.Parameter(torch.zeros(1, cfg.window, 1, cfg.hidden))
        nn.init.trunc_normal_(self.time, std=0.02)
        self.register_buffer("freqs", math.pi * 2.0 ** torch.arange(cfg.num_freqs).float(), persistent=False)

    def features(
        self, tracks: Tensor, visible: Tensor, image_size: Tensor, support: Tensor, support_visible: Tensor,
        is_support: bool, prior: tuple[Tensor, Tensor, Tensor] | None = None,
    ) -> Tensor:  # fmt: skip
        """(B, W, N, 2) px, (B, W, N), (B, 2) (H, W), support (B, W, Ns, 2) → (B, W, N, D).

        ``prior`` (geometry-prior models): rigid log ratios (B, W, N), the tracks' residuals (B, N)
        and the window's (B,), pixels.
        """
        size = image_size.to(tracks)
        centre = (size.flip(-1) - 1) / 2  # (B, 2) as (cx, cy)
        half = size.max(-1).values / 2
        p = (tracks - centre[:, None, None]) / half[:, None, None, None]
        rel = (p - p[:, :1]) * self.cfg.motion_scale
        both = torch.cat([p, rel], -1)  # (B, W, N, 4)
        ang = both[..., None] * self.freqs  # (B, W, N, 4, F)
        four = torch.cat([ang.sin(), ang.cos()], -1).flatten(-2)
        parts = [both, four, visible.to(tracks)[..., None]]
        sv = support_visible.to(tracks)
        for k in self.cfg.neighbours:
            spread, nb_vis = local_spread(tracks, support, sv, k, exclude_self=is_support)
            parts += [-10.0 * spread[..., None], nb_vis[..., None]]
        if self.cfg.geometry_prior:
            ratio, res, win = prior
            w, n = tracks.shape[1:3]
            res = torch.log1p(res.clamp(0.0, RESIDUAL_CAP_PX))[:, None, :, None].expand(-1, w, -1, -1)
            win = torch.log1p(win.clamp(0.0, RESIDUAL_CAP_PX))[:, None, None, None].expand(-1, w, n, -1)
            parts += [10.0 * ratio[..., None], res, win]
        return self.static(torch.cat(parts, -1)) + self.time[:, : tracks.shape[1]]

    def forward(self, static: Tensor, log_ratio: Tensor) -> Tensor:
        r = log_ratio[..., None]
        return static + self.ratio(torch.cat([r, 10.0 * r], -1))


PRIOR_KEYS = ("support_log_ratio", "support_residual", "query_log_ratio", "query_residual", "window_residual")


def prior_tensors(priors) -> dict[str, Tensor]:
    """Batch per-window :class:`~motiondepth.seurat.rigid.GeometryPrior` records as ``Seurat``'s ``prior``."""
    return {k: torch.tensor(np.stack([getattr(p, k) for p in priors]), dtype=torch.float32) for k in PRIOR_KEYS}


class Seurat(nn.Module):
    """Two-branch spatio-temporal transformer predicting window-wise log depth ratios."""

    def __init__(self, cfg: SeuratConfig | None = None) -> None:
        super().__init__()
        cfg = cfg or SeuratConfig()
        self.cfg = cfg
        d, h, m = cfg.hidden, cfg.heads, cfg.mlp_ratio
        self.embed_s = TrackEmbedding(cfg)
        self.embed_q = TrackEmbedding(cfg)
        self.s_time = nn.ModuleList(Block(d, h, m) for _ in range(cfg.layers))
        self.s_space = nn.ModuleList(Block(d, h, m) for _ in range(cfg.layers))
        self.q_time = nn.ModuleList(Block(d, h, m) for _ in range(cfg.layers))
        self.q_cross = nn.ModuleList(Block(d, h, m, cross=True) for _ in range(cfg.layers))
        self.head_s = nn.Sequential(nn.LayerNorm(d), nn.Linear(d, 1))
        self.head_q = nn.Sequential(nn.LayerNorm(d), nn.Linear(d, 1))
        for head in (self.head_s, self.head_q):  # start from "no depth change"
            nn.init.zeros_(head[1].weight)
            nn.init.zeros_(head[1].bias)

    def forward(
        self,
        support_tracks: Tensor,
        support_visible: Tensor,
        query_tracks: Tensor,
        query_visible: Tensor,
        image_size: Tensor,
        iterations: int | None = None,
        support_output: bool = True,
        prior: dict[str, Tensor] | None = None,
    ) -> dict[str, list[Tensor]]:
        """Predict log depth ratios w.r.t. each window's first frame.

        Args:
            support_tracks: (B, W, Ns, 2) supporting grid tracks, pixels (x, y), seeded at frame 0
                of the window; occluded positions already filled (see ``fill_occluded``).
            support_visible: (B, W, Ns) bool or float visibility.
            query_tracks: (B, W, Nq, 2) query tracks, pixels, occluded positions filled.
            query_visible: (B, W, Nq) visibility.
            image_size: (B, 2) image (H, W) in pixels, for coordinate normalisation.
            iterations: refinement passes (default ``cfg.iterations``).
            support_output: also predict the last pass's supporting ratios. With ``False`` (for
                inference, where only queries are wanted) the last pass skips the last supporting
                layer and head, which nothing downstream reads; the query outputs are identical.
            prior: for ``geometry_prior`` models (required there, ignored otherwise), the fields of
                :class:`~motiondepth.seurat.rigid.GeometryPrior` batched as tensors:
                ``support_log_ratio`` (B, W, Ns), ``support_residual`` (B, Ns), ``query_log_ratio``
                (B, W, Nq), ``query_residual`` (B, Nq), ``window_residual`` (B,).

        Returns:
            ``{"support": [ℓ_s], "query": [ℓ_q]}``: one (B, W, Ns) / (B, W, Nq) tensor per
            iteration, the last one being the prediction (``support`` is one shorter with
            ``support_output=False``); ℓ[:, 0] = 0 exactly.
        """
        if support_tracks.shape[1] > self.cfg.window or query_tracks.shape[1] != support_tracks.shape[1]:
            raise ValueError(
                f"window length mismatch: support {tuple(support_tracks.shape)}, query "
                f"{tuple(query_tracks.shape)}, model window {self.cfg.window}"
            )
        ls = support_tracks.new_zeros(support_tracks.shape[:3])
        lq = query_tracks.new_zeros(query_tracks.shape[:3])
        ps = pq = None
        if self.cfg.geometry_prior:
            if prior is None:
                raise ValueError("this Seurat model starts from rigid-geometry priors: pass prior= (seurat.rigid)")
            clip = PRIOR_CLAMP
            ls, lq = prior["support_log_ratio"].clamp(-clip, clip), prior["query_log_ratio"].clamp(-clip, clip)
            ps = (ls, prior["support_residual"], prior["window_residual"])
            pq = (lq, prior["query_residual"], prior["window_residual"])
        static_s = self.embed_s.features(support_tracks, support_visible, image_size, support_tracks,
                                         support_visible, is_support=True, prior=ps)  # fmt: skip
        static_q = self.embed_q.features(query_tracks, query_visible, image_size, support_tracks,
                                         support_visible, is_support=False, prior=pq)  # fmt: skip
        out: dict[str, list[Tensor]] = {"support": [], "query": []}
        passes = iterations or self.cfg.iterations
        for it in range(passes):
            hs = self.embed_s(static_s, ls.detach())
            hq = self.embed_q(static_q, lq.detach())
            need_support = support_output or it < passes - 1
            for layer, (s_t, s_x, q_t, q_x) in enumerate(
                zip(self.s_time, self.s_space, self.q_time, self.q_cross, strict=False)
            ):
                hq = _spatial(q_x, _temporal(q_t, hq), ctx=hs)  # cross-attend to h_s^{l-1}
                if need_support or layer < self.cfg.layers - 1:
                    hs = _spatial(s_x, _temporal(s_t, hs))
            lq = lq.detach() + self.head_q(hq)[..., 0]
            lq = lq - lq[:, :1]
            out["query"].append(lq)
            if need_support:
                ls = ls.detach() + self.head_s(hs)[..., 0]
                ls = ls - ls[:, :1]
                out["support"].append(ls)
        return out

    def adapt_init_state(self, state: dict[str, Tensor]) -> dict[str, Tensor]:
        """Start a geometry-prior model from a plain one's weights (the ``init`` of training).

        The plain model's input layers gain zero columns for the three prior features (they are the
        last ones) and its ratio heads are zeroed, so the adapted network starts out returning the
        rigid-geometry ratios exactly while its attention layers keep what they learned about how
        tracks move. Any other state is returned unchanged (and must then fit strictly).
        """
        if not self.cfg.geometry_prior:
            return state
        state = dict(state)
        adapted = False
        for branch in ("embed_s", "embed_q"):
            key = f"{branch}.static.weight"
            mine = self.state_dict()[key]
            if key in state and state[key].shape[1] == mine.shape[1] - 3:
                state[key] = torch.cat([state[key], state[key].new_zeros(mine.shape[0], 3)], 1)
                adapted = True
        if adapted:
            for head in ("head_s", "head_q"):
                for name in ("weight", "bias"):
                    state[f"{head}.1.{name}"] = torch.zeros_like(state[f"{head}.1.{name}"])
        return state

    @classmethod
    def from_pretrained(cls, name_or_path: str) -> Seurat:
        """Load shipped weights by name (``"seurat-small"``) or a ``.safetensors`` path, strictly."""
        from motiondepth.errors import InputError
        from motiondepth.models.weights import load_into, load_weights

        state, card = load_weights(name_or_path, expect_model="seurat")
        try:
            model = cls(SeuratConfig(**card["model_config"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(name_or_path, f"card has no usable model_config ({exc})") from None
        load_into(model, state, name_or_path, "seurat")
        model.card = card
        return model.eval()

    def config_dict(self) -> dict:
        return asdict(self.cfg)
