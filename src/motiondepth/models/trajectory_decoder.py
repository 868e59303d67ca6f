"""Dense trajectory decoder (perspective-blur paper §3.4, Fig. 3b; DESIGN §5).

The sparse per-frame trajectory from the optics solver is upsampled linearly to S samples per
frame (the post-interpolation baseline), embedded as a token sequence of T·S tokens, and fused
with image tokens: every frame's fused encoder features pass through the depth network's
Self-Window (shared weights, frozen in stage 2) and are concatenated on channels with the depth
decoder's last features. Each of L layers is self-attention over the trajectory tokens,
cross-attention to the image tokens, and an FFN; a linear head predicts a correction to the
interpolation, so an untrained decoder reproduces post-interpolation exactly.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from motiondepth.models.blur_depth import BlurDepthConfig, Layer, SelfWindow


def interpolate_trajectory(sparse: Tensor, samples: int) -> Tensor:
    """Post-interpolation: (B, T, 3) per-frame angles → (B, T, S, 3) dense samples.

    Sample j of frame k sits at time k + (j + 0.5)/S − 0.5 (frame units, the sparse value being
    the frame's mean angle, placed at its centre); values are linear between frame centres and
    extrapolated linearly beyond the first and last centre.

    Example:
        >>> interpolate_trajectory(torch.tensor([[[0.0], [1.0]]]).expand(1, 2, 3), 2)[0, :, :, 0].tolist()
        [[-0.25, 0.25], [0.75, 1.25]]
    """
    b, t, c = sparse.shape
    if t < 2:
        return sparse[:, :, None].expand(b, t, samples, c).clone()
    u = torch.arange(t * samples, dtype=sparse.dtype, device=sparse.device)
    u = (u + 0.5) / samples - 0.5  # (T·S,) in frame units
    k0 = u.floor().clamp(0, t - 2).long()
    a = (u - k0.to(u.dtype))[None, :, None]
    dense = sparse[:, k0] * (1 - a) + sparse[:, k0 + 1] * a
    return dense.view(b, t, samples, c)


def _time_encoding(n: int, dim: int, device, dtype) -> Tensor:
    pos = torch.arange(n, device=device, dtype=dtype)[:, None]
    freq = torch.exp(torch.arange(0, dim, 2, device=device, dtype=dtype) * (-math.log(10000.0) / dim))
    enc = torch.zeros(n, dim, device=device, dtype=dtype)
    enc[:, 0::2] = torch.sin(pos * freq)
    enc[:, 1::2] = torch.cos(pos * freq)
    return enc


class TrajectoryDecoder(nn.Module):
    """Sparse trajectory + image and depth features → dense trajectory."""

    def __init__(self, cfg: BlurDepthConfig, self_window: SelfWindow) -> None:
        super().__init__()
        self.cfg = cfg
        d = cfg.hidden
        self.self_window = self_window  # shared with the depth network (frozen in stage 2)
        self.image_proj = nn.Linear(2 * d, d)
        self.traj_embed = nn.Linear(3, d)
        self.layers_self = nn.ModuleList(Layer(d, cfg.heads) for _ in range(cfg.traj_layers))
        self.layers_cross = nn.ModuleList(Layer(d, cfg.heads, cross=True) for _ in range(cfg.traj_layers))
        self.head = nn.Linear(d, 3)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, sparse: Tensor, frame_features: Tensor, depth_features: Tensor, samples: int) -> Tensor:
        """Dense trajectory.

        Args:
            sparse: (B, T, 3) per-frame [roll, pitch, yaw] radians from the optics solver.
            frame_features: (B, T', D, h, w) fused encoder features (``BlurDepthNet`` output).
            depth_features: (B, D, h, w) the depth decoder's last features.
            samples: S, samples per frame (15 or 30).

        Returns:
            (B, T, S, 3) dense angles, radians.
        """
        b, t, _ = sparse.shape
        base = interpolate_trajectory(sparse, samples)
        tf, d, h, w = frame_features.shape[1:]
        per_frame = self.self_window(frame_features.reshape(b * tf, d, h, w))  # (B·T', h·w, D)
        depth_tok = depth_features.flatten(2).transpose(1, 2)  # (B, h·w, D)
        img = torch.cat([per_frame.view(b, tf, h * w, d), depth_tok[:, None].expand(b, tf, h * w, d)], -1)
        img = self.image_proj(img)  # (B, T', h·w, D)
        if self.cfg.traj_pool and h > self.cfg.traj_pool:
            g = self.cfg.traj_pool
            img = img.view(b * tf, h, w, d).permute(0, 3, 1, 2)
            img = F.adaptive_avg_pool2d(img, g).flatten(2).transpose(1, 2).reshape(b, tf, g * g, d)
        img = img + _time_encoding(tf, d, img.device, img.dtype)[None, :, None]
        img = img.reshape(b, -1, d)
        n = t * samples
        x = self.traj_embed(base.reshape(b, n, 3) / self.cfg.angle_scale)
        frame_time = (torch.arange(n, device=x.device, dtype=x.dtype) + 0.5) / samples - 0.5
        x = x + _time_encoding(n, d, x.device, x.dtype)[None] * 0.5 + self._frame_code(frame_time, d)[None]
        for ls, lc in zip(self.layers_self, self.layers_cross, strict=True):
            x = lc(ls(x), img)
        return base + self.head(x).view(b, t, samples, 3) * self.cfg.angle_scale

    @staticmethod
    def _frame_code(frame_time: Tensor, dim: int) -> Tensor:
        """Continuous time in frame units, sin/cos coded, so tokens align with image-frame codes."""
        freq = torch.exp(torch.arange(0, dim, 2, device=frame_time.device, dtype=frame_time.dtype)
                         * (-math.log(10000.0) / dim))  # fmt: skip
        enc = torch.zeros(len(frame_time), dim, device=frame_time.device, dtype=frame_time.dtype)
        enc[:, 0::2] = torch.sin(frame_time[:, None] * freq) * 0.5
        enc[:, 1::2] = torch.cos(frame_time[:, None] * freq) * 0.5
        return enc
