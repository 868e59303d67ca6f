"""Seurat inference: sliding windows, ratio chaining and metric scale matching (Seurat §3.4–3.5).

1. The video is cut into windows of W frames with stride S < W (the last window is aligned to
   the last frame, so any length ≥ W works).
2. Every window gets its own supporting grid, seeded at its first frame (re-tracked from the
   video, or given by the caller); without either, the query tracks visible at the window's first
   frame support it (:func:`support_from_tracks`).
3. The model predicts each query's log depth ratio w.r.t. the window's first frame; windows are
   batched (they are independent) and queries chunked (they are independent too).
4. Ratios are chained across windows. ``chain="last"`` is the paper's Eq. 9: each window is
   linked to the previous one at a single frame and frame t takes the last window containing it.
   ``chain="average"`` (default; beyond the paper) links each window over *all* frames it shares
   with the windows before it and averages every window's estimate of a frame, so one noisy
   prediction at a link frame no longer shifts the rest of the track (measured in
   ``benchmarks/seurat.py``: higher APD, lower TC than Eq. 9 on the same predictions).
5. Each visible run of a track is scaled by median matching against a metric depth source
   (Eq. 10–11), with bilinear sampling of the depth maps.
"""

from __future__ import annotations

import itertools
import logging

import numpy as np

from motiondepth.errors import InputError
from motiondepth.geometry.camera import Intrinsics, unproject
from motiondepth.seurat.depth_source import DepthSource
from motiondepth.seurat.windows import (
    _check_chain_mode,
    chain_log_ratios,
    check_support,
    check_tracks,
    fill_occluded,
    support_from_tracks,
    support_from_video,
    visible_runs,
    window_starts,
)
from motiondepth.types import Tracks3D

log = logging.getLogger(__name__)


def scale_match(
    log_ratio: np.ndarray, tracks: np.ndarray, visible: np.ndarray, source: DepthSource
) -> tuple[np.ndarray, np.ndarray]:
    """Metric depth by piecewise median scale matching per visible run (Eq. 10–11).

    For every run of consecutive visible frames of a track, the scale is median(d_MDE) /
    median(r̂) over the run's frames the source covers. Occluded frames take the scale of the
    previous run (the next one before the first run); runs without any depth sample likewise
    borrow a neighbour's; tracks with no depth sample at all take the median scale of
    all tracks relative to their ratios (and are flagged).

    Returns:
        depth (T, N) metres and ``scaled`` (N,) bool: the track had its own depth samples.
    """
    t, n = log_ratio.shape
    ratio = np.exp(log_ratio)
    d_mde = np.full((t, n), np.nan)
    for f in source.frames():
        if 0 <= f < t:
            d_mde[f] = source.sample(int(f), tracks[f])
    runs = visible_runs(visible)
    scale = np.full((t, n), np.nan)
    own = np.zeros(n, dtype=bool)
    for i in range(n):
        r_i = runs[:, i]
        scales = []
        for run in range(r_i.max() + 1):
            sel = (r_i == run) & np.isfinite(d_mde[:, i])
            scales.append(np.median(d_mde[sel, i]) / np.median(ratio[sel, i]) if sel.any() else np.nan)
        scales = np.asarray(scales)
        if not np.isfinite(scales).any():
            continue
        own[i] = True
        known = np.flatnonzero(np.isfinite(scales))
        for run in np.flatnonzero(~np.isfinite(scales)):  # borrow from the nearest run with a scale
            scales[run] = scales[known[np.argmin(np.abs(known - run))]]
        per_frame = np.where(r_i >= 0, scales[np.maximum(r_i, 0)], np.nan)
        # occluded frames: previous run's scale, else the next run's
        idx = np.where(r_i >= 0, np.arange(t), -1)
        prev = np.maximum.accumulate(idx)
        nxt = np.minimum.accumulate(np.where(r_i >= 0, np.arange(t), t)[::-1])[::-1]
        src_f = np.where(prev >= 0, prev, nxt)
        scale[:, i] = per_frame[np.clip(src_f, 0, t - 1)]
    if not own.all():
        fallback = np.nanmedian(scale[:, own]) if own.any() else np.nan
        if not np.isfinite(fallback):
            raise InputError("depth", "the depth source has no valid depth at any visible track position")
        log.warning("%d of %d tracks have no depth sample; they use the median scale", int((~own).sum()), n)
        scale[:, ~own] = fallback
    return scale * ratio, own


class SeuratPredictor:
    """Model wrapper: tracks (+ support, + depth source) → log ratios and metric 3D tracks.

    Example:
        >>> pred = SeuratPredictor.from_pretrained("seurat-small")  # doctest: +SKIP
        >>> tracks3d = pred.lift(tracks, visible, size, intrinsics, depth_source)  # doctest: +SKIP
    """

    def __init__(
        self, model, stride: int | None = None, query_chunk: int = 512, chain: str = "average", device="cpu",
        window_batch: int = 16, progress: bool = False,
    ) -> None:  # fmt: skip
        """``device``: where the model runs (e.g. "cuda" for the ``paper`` preset); tracks in and out stay NumPy.
        ``window_batch``: windows per forward pass (each window is independent; a long clip's windows go in
        batches, which bounds the memory and lets ``progress`` show a bar over them)."""
        import torch

        self.device = torch.device(device)
        self.model = model.eval().to(self.device)
        self.cfg = model.cfg
        self.stride = self.cfg.stride if stride is None else stride
        if not (isinstance(self.stride, (int, np.integer)) and 1 <= self.stride < self.cfg.window):
            # windows must overlap to be chained (module docstring, step 1)
            w = self.cfg.window
            raise InputError("--stride", f"must be a whole number from 1 to {w - 1} (below the model's "
                             f"{w}-frame window, so windows overlap), got {stride!r}")  # fmt: skip
        self.query_chunk = query_chunk
        self.window_batch, self.progress = max(1, int(window_batch)), progress
        _check_chain_mode(chain)
        self.chain = chain

    @classmethod
    def from_pretrained(cls, name_or_path: str = "seurat-small", **kwargs) -> SeuratPredictor:
        from motiondepth.models.seurat import Seurat

        return cls(Seurat.from_pretrained(name_or_path), **kwargs)

    def supporting_tracks(
        self, tracks: np.ndarray, visible: np.ndarray, image_size: tuple[int, int], starts: np.ndarray,
        frames: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """The supporting grid of each window: re-tracked on ``frames`` if given, else from the tracks."""
        if frames is not None:
            return support_from_video(frames, starts, self.cfg.window, self.cfg.grid)
        return support_from_tracks(tracks, visible, starts, self.cfg.window, self.cfg.grid, image_size)

    def window_log_ratios(
        self, tracks: np.ndarray, visible: np.ndarray, image_size: tuple[int, int],
        support: tuple[np.ndarray, np.ndarray] | None = None, frames: np.ndarray | None = None,
        intrinsics: Intrinsics | None = None, priors: list | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """Per-window log ratios (K, W, N) and the window starts (K,).

        Models with a geometry prior (``cfg.geometry_prior``, e.g. ``seurat-small``) need the
        tracks' ``intrinsics``; they are not read otherwise. ``priors``: those windows' priors
        when already solved (:func:`~motiondepth.seurat.rigid.window_priors` with the same tracks,
        windows and support), instead of solving them again.
        """
        import torch
        from tqdm.auto import tqdm

        from motiondepth.models.seurat import prior_tensors

        w = self.cfg.window
        check_tracks(tracks, visible, w)
        starts = window_starts(len(tracks), w, self.stride)
        if support is None:
            support = self.supporting_tracks(tracks, visible, image_size, starts, frames)
        sup, sup_vis = support
        check_support(sup, starts, w)
        filled = fill_occluded(tracks, visible)
        q = np.stack([filled[s : s + w] for s in starts])
        qv = np.stack([visible[s : s + w] for s in starts])
        sup_f = fill_occluded(sup, sup_vis)
        dev = self.device
        size = torch.tensor([image_size] * len(starts), dtype=torch.float32, device=dev)
        st, sv = torch.from_numpy(sup_f).float().to(dev), torch.from_numpy(sup_vis).float().to(dev)
        prior = None
        if self.cfg.geometry_prior:
            from motiondepth.seurat.rigid import window_priors

            if priors is None:
                if intrinsics is None:
                    raise InputError("intrinsics", "this Seurat model starts from rigid-scene geometry and needs "
                                     "the camera intrinsics (fx, fy, cx, cy) of the tracks")  # fmt: skip
                priors = window_priors(tracks, visible, intrinsics, starts, w, support, progress=self.progress)
            elif len(priors) != len(starts):
                raise InputError("priors", f"{len(priors)} window priors for {len(starts)} windows")
            prior = {k: v.to(dev) for k, v in prior_tensors(list(priors)).items()}
        out = np.zeros(q.shape[:3], dtype=np.float64)
        batches = range(0, len(starts), self.window_batch)
        parts = list(itertools.product(batches, range(0, q.shape[2], self.query_chunk)))
        with torch.inference_mode():
            for k0, a in tqdm(parts, desc="Seurat", unit="batch", disable=not self.progress, leave=False):
                k1, b = k0 + self.window_batch, a + self.query_chunk
                chunk = None
                if prior is not None:
                    chunk = {key: v[k0:k1] for key, v in prior.items()}
                    chunk |= {"query_log_ratio": prior["query_log_ratio"][k0:k1, :, a:b],
                              "query_residual": prior["query_residual"][k0:k1, a:b]}  # fmt: skip
                res = self.model(st[k0:k1], sv[k0:k1], torch.from_numpy(q[k0:k1, :, a:b]).float().to(dev),
                                 torch.from_numpy(qv[k0:k1, :, a:b]).float().to(dev), size[k0:k1],
                                 support_output=False, prior=chunk)  # fmt: skip
                out[k0:k1, :, a:b] = res["query"][-1].cpu().numpy()
        return out, starts

    def log_ratios(self, tracks, visible, image_size, support=None, frames=None, intrinsics=None) -> np.ndarray:
        """(T, N) chained log depth ratios w.r.t. frame 0 (``intrinsics``: see :meth:`window_log_ratios`)."""
        wl, starts = self.window_log_ratios(tracks, visible, image_size, support, frames, intrinsics)
        return chain_log_ratios(wl, starts, len(tracks), self.chain)

    def lift(
        self, tracks: np.ndarray, visible: np.ndarray, image_size: tuple[int, int], intrinsics: Intrinsics,
        source: DepthSource, queries: np.ndarray | None = None, support=None, frames=None, method: str = "seurat",
    ) -> Tracks3D:  # fmt: skip
        """Metric 3D tracks: chained ratios scaled by ``source`` and unprojected.

        ``method="rigid"`` takes the ratios from rigid-scene geometry instead of the model
        (:mod:`motiondepth.seurat.rigid`), with the same windows, supporting tracks and chaining.
        """
        if method == "seurat":
            lr = self.log_ratios(tracks, visible, image_size, support, frames, intrinsics)
        elif method == "rigid":
            from motiondepth.seurat.rigid import rigid_log_ratios

            check_tracks(tracks, visible, self.cfg.window)
            if support is None:
                starts = window_starts(len(tracks), self.cfg.window, self.stride)
                support = self.supporting_tracks(tracks, visible, image_size, starts, frames)
            lr = rigid_log_ratios(tracks, visible, intrinsics, self.cfg.window, self.stride, support, chain=self.chain)
        else:
            raise InputError("--method", f"unknown method {method!r}; choose seurat or rigid")
        depth, own = scale_match(lr, tracks, visible, source)
        return to_tracks3d(tracks, visible, depth, intrinsics, queries, {"method": method, "scaled": own})


def to_tracks3d(tracks, visible, depth, intrinsics: Intrinsics, queries=None, meta=None) -> Tracks3D:
    """Unproject (T, N, 2) pixels at (T, N) depths into camera-frame 3D tracks."""
    xyz = unproject(tracks, depth, intrinsics).astype(np.float32)
    if queries is None:
        first = np.argmax(visible, 0)
        queries = np.stack([first, tracks[first, np.arange(tracks.shape[1]), 0],
                            tracks[first, np.arange(tracks.shape[1]), 1]], -1)  # fmt: skip
    return Tracks3D(xyz, np.asarray(visible, bool), intrinsics, np.asarray(queries, np.float32),
                    depth.astype(np.float32), dict(meta or {}))  # fmt: skip
