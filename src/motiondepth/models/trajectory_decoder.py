"""Dense trajectory decoder (perspective-blur paper §3.4, Fig. 3b; docs/design.md §5).

The sparse per-frame trajectory from the optics solver is upsampled linearly to S samples per
frame (the post-interpolation baseline), embedded as a token sequence of T·S tokens, and fused
with image tokens: every frame's fused encoder features pass through the depth network's
Self-Window (shared weights, frozen in stage 2) and are concatenated on channels with the depth
decoder's last features. Each of L layers is self-attention over the trajectory tokens,
cross-attention to the image tokens, and an FFN; a linear head predicts a correction to the
interpolation, so an untrained decoder reproduces post-interpolation exactly.

Departure from the paper: a blur-spectrum pathway. The image tokens above come from an encoder
trained from scratch on procedural clips and pooled to a coarse grid; they do not show the
*shape* of each frame's blur, and the decoder with them alone stayed at interpolation's error
(0.168 vs 0.170 on default-shake clips, 0.306 vs 0.309 on handheld-shake ones). What the blur
says about the rotation inside a frame is in the frame's power spectrum: frame k is the scene
convolved with kernel h_k, so
``log|F_k(ω)|² − mean_k log|F_k(ω)|² = log|H_k(ω)|² − mean_k log|H_k(ω)|²`` — the scene's own
spectrum cancels, leaving the kernels' (each kernel up to its direction of travel).
:func:`blur_spectra` computes these texture-free log spectra per frame (2 × 2 tiles,
15 × 15 low-frequency bins per tile; separate tiles show roll, whose blur varies across the
image). A linear fit from them predicts the per-frame variance of the true
intra-frame path with R² 0.98 (0.85 for the part interpolation misses). :class:`SpectrumPrior`,
an MLP per frame over the spectra of frames k−1…k+1, the solver's angles of frames k−2…k+2 and
the focal length, adds a first correction to the interpolation; the token layers then refine
that. In a scratch study (the spectrum MLP alone, no image tokens, 1216 training clips with
the `handheld` shake, 64 held out), the error fell from 0.287 (interpolation) to 0.154, against
0.229 for the same MLP without spectra and 0.162 with the tiles' spectra averaged.
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


#: the prior predicts corrections at this many samples per frame, resampled linearly to S
PRIOR_SAMPLES = 30
SPECTRUM_TILES = 2  # tiles per image side, one spectrum each
SPECTRUM_BINS = 15  # low-frequency bins per spectrum side (odd: DC is a bin's centre, so bins mirror exactly)


def blur_spectra(frames: Tensor, tiles: int = SPECTRUM_TILES, bins: int = SPECTRUM_BINS) -> Tensor:
    """Texture-free blur spectra: (B, T, 3, H, W) sRGB in [0, 1] → (B, T, tiles²·bins²).

    Per frame and tile: linear-light grey, mean removed, Hann window, power spectrum (DC at the
    centre), averaged over ``k × k`` blocks into ``bins × bins`` bins (the ``bins·k`` frequencies
    centred on DC, ``k`` the largest odd number ≤ tile / bins), log, minus its mean over the clip's frames, which
    removes the scene's own spectrum (module docstring). Tiles in row-major order.
    """
    b, t, _, h, w = frames.shape
    # linear light: the torch twin of scenes.procedural.srgb_to_linear (which is NumPy-only)
    x = torch.where(frames <= 0.04045, frames / 12.92, ((frames.clamp_min(0) + 0.055) / 1.055) ** 2.4).mean(2)
    th, tw = h // tiles, w // tiles
    k = min(th, tw) // bins
    k -= 1 - k % 2  # odd, so the bins·k frequencies are symmetric about DC
    if k < 1:
        raise ValueError(f"frames of {h} × {w} are too small for {tiles} × {tiles} tiles of {bins} bins")
    win = torch.outer(torch.hann_window(th, periodic=False, dtype=x.dtype, device=x.device),
                      torch.hann_window(tw, periodic=False, dtype=x.dtype, device=x.device))  # fmt: skip
    n = bins * k
    r0, c0 = th // 2 - n // 2, tw // 2 - n // 2
    out = []
    for i in range(tiles):
        for j in range(tiles):
            c = x[:, :, i * th : (i + 1) * th, j * tw : (j + 1) * tw]
            c = (c - c.mean((-2, -1), keepdim=True)) * win
            p = torch.fft.fftshift(torch.fft.fft2(c).abs() ** 2, dim=(-2, -1))[..., r0 : r0 + n, c0 : c0 + n]
            out.append(torch.log(p.reshape(b, t, bins, k, bins, k).mean((3, 5)) + 1e-8))
    spec = torch.stack(out, 2)  # (B, T, tiles², bins, bins)
    return (spec - spec.mean(1, keepdim=True)).flatten(2)


class SpectrumPrior(nn.Module):
    """Per frame: spectra of frames k−1…k+1, solver angles of frames k−2…k+2, focal → correction.

    The correction is predicted at :data:`PRIOR_SAMPLES` samples per frame and resampled
    linearly to the S asked for (sample j at (j + 0.5)/S of the frame, as the ground truth).
    """

    def __init__(self, angle_scale: float, hidden: int = 512) -> None:
        super().__init__()
        self.angle_scale = angle_scale
        nin = 5 * 3 + 3 * SPECTRUM_TILES**2 * SPECTRUM_BINS**2 + 1 + 2
        self.mlp = nn.Sequential(nn.Linear(nin, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU(),
                                 nn.Linear(hidden, PRIOR_SAMPLES * 3))  # fmt: skip
        nn.init.zeros_(self.mlp[-1].weight)
        nn.init.zeros_(self.mlp[-1].bias)

    def forward(self, sparse: Tensor, spectra: Tensor, focal_rel: Tensor, samples: int) -> Tensor:
        """(B, T, 3) rad, (B, T, tiles²·bins²), (B,) focal / image width → (B, T, S, 3) rad correction."""
        b, t, _ = sparse.shape
        pad = torch.cat([sparse[:, :1], sparse[:, :1], sparse, sparse[:, -1:], sparse[:, -1:]], 1)
        win = pad[:, torch.arange(t)[:, None] + torch.arange(5)[None]] - sparse[:, :, None]  # (B, T, 5, 3)
        pad_s = torch.cat([spectra[:, :1], spectra, spectra[:, -1:]], 1)
        spec = pad_s[:, torch.arange(t)[:, None] + torch.arange(3)[None]].flatten(2)  # (B, T, 3·tiles²·bins²)
        edge = torch.zeros(b, t, 2, dtype=sparse.dtype, device=sparse.device)
        edge[:, 0, 0] = 1
        edge[:, -1, 1] = 1
        focal = torch.log(focal_rel)[:, None, None].expand(b, t, 1).to(sparse.dtype)
        x = torch.cat([win.flatten(2) / (5 * self.angle_scale), spec, focal, edge], -1)
        c = self.mlp(x).view(b * t, PRIOR_SAMPLES, 3).transpose(1, 2)
        if samples != PRIOR_SAMPLES:
            c = F.interpolate(c, size=samples, mode="linear", align_corners=False)
        return c.transpose(1, 2).reshape(b, t, samples, 3) * self.angle_scale


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
        self.prior = SpectrumPrior(cfg.angle_scale)
        self.image_proj = nn.Linear(2 * d, d)
        self.traj_embed = nn.Linear(3, d)
        self.layers_self = nn.ModuleList(Layer(d, cfg.heads) for _ in range(cfg.traj_layers))
        self.layers_cross = nn.ModuleList(Layer(d, cfg.heads, cross=True) for _ in range(cfg.traj_layers))
        self.head = nn.Linear(d, 3)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    @torch.no_grad()
    def image_tokens(self, frame_features: Tensor, depth_features: Tensor) -> Tensor:
        """The frozen part of the image pathway: (B, T', g², 2D) tokens before the projection.

        Every frame's fused features through the shared Self-Window, concatenated with the depth
        decoder's features and average-pooled to ``cfg.traj_pool`` (the projection that follows is
        linear, so pooling first gives the same tokens). Nothing here is trained in stage 2, so
        training may cache it per clip.
        """
        b, tf, d, h, w = frame_features.shape
        per_frame = self.self_window(frame_features.reshape(b * tf, d, h, w))  # (B·T', h·w, D)
        depth_tok = depth_features.flatten(2).transpose(1, 2)  # (B, h·w, D)
        img = torch.cat([per_frame.view(b, tf, h * w, d), depth_tok[:, None].expand(b, tf, h * w, d)], -1)
        if self.cfg.traj_pool and h > self.cfg.traj_pool:
            g = self.cfg.traj_pool
            img = img.view(b * tf, h, w, 2 * d).permute(0, 3, 1, 2)
            img = F.adaptive_avg_pool2d(img, g).flatten(2).transpose(1, 2).reshape(b, tf, g * g, 2 * d)
        return img

    def forward(self, sparse: Tensor, image_tokens: Tensor, spectra: Tensor, focal_rel: Tensor,
                samples: int) -> Tensor:  # fmt: skip
        """Dense trajectory.

        Args:
            sparse: (B, T, 3) per-frame [roll, pitch, yaw] radians from the optics solver.
            image_tokens: (B, T', n, 2D) from :meth:`image_tokens`.
            spectra: (B, T, tiles²·bins²) from :func:`blur_spectra` of the same T frames.
            focal_rel: (B,) focal length over image width (fx / W).
            samples: S, samples per frame (15 or 30).

        Returns:
            (B, T, S, 3) dense angles, radians.
        """
        b, t, _ = sparse.shape
        if spectra.shape[:2] != (b, t):
            raise ValueError(f"spectra {tuple(spectra.shape)} do not match the trajectory {tuple(sparse.shape)}")
        base = interpolate_trajectory(sparse, samples) + self.prior(sparse, spectra, focal_rel, samples)
        img = self.image_proj(image_tokens)  # (B, T', n, D)
        tf, d = img.shape[1], img.shape[-1]
        img = img + _time_encoding(tf, d, img.device, img.dtype)[None, :, None]
        img = img.reshape(b, -1, d)
        n = t * samples
        x = self.traj_embed(base.reshape(b, n, 3) / self.cfg.angle_scale)
        frame_time = (torch.arange(n, device=x.device, dtype=x.dtype) + 0.5) / samples - 0.5
        x = x + _time_encoding(n, d, x.device, x.dtype)[None] * 0.5 + self._frame_code(frame_time, d)[None]
        for ls, lc in zip(self.layers_self, self.layers_cross, strict=True):
            x = lc(ls(x), img)
        return base + self.head(x).view(b, t, samples, 3) * self.cfg.angle_scale

    def decode(self, frames: Tensor, sparse: Tensor, net_out: dict[str, Tensor], focal_rel: Tensor,
               samples: int) -> Tensor:  # fmt: skip
        """Convenience: frames (B, T, 3, H, W) in [0, 1] and ``BlurDepthNet`` output → dense."""
        tokens = self.image_tokens(net_out["frame_features"], net_out["features"])
        return self(sparse, tokens, blur_spectra(frames[:, : sparse.shape[1]]), focal_rel, samples)

    @staticmethod
    def _frame_code(frame_time: Tensor, dim: int) -> Tensor:
        """Continuous time in frame units, sin/cos coded, so tokens align with image-frame codes."""
        freq = torch.exp(torch.arange(0, dim, 2, device=frame_time.device, dtype=frame_time.dtype)
                         * (-math.log(10000.0) / dim))  # fmt: skip
        enc = torch.zeros(len(frame_time), dim, device=frame_time.device, dtype=frame_time.dtype)
        enc[:, 0::2] = torch.sin(frame_time[:, None] * freq) * 0.5
        enc[:, 1::2] = torch.cos(frame_time[:, None] * freq) * 0.5
        return enc
