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

import logging
from dataclasses import dataclass, field

import numpy as np

from motiondepth.data.seurat_synth import fill_occluded, support_grid, window_starts
from motiondepth.errors import InputError
from motiondepth.geometry.camera import Intrinsics, unproject
from motiondepth.seurat.depth_source import DepthSource

log = logging.getLogger(__name__)


@dataclass
class Tracks3D:
    """Metric 3D tracks in the camera frame of each frame (TAPVid-3D convention)."""

    xyz: np.ndarray  # (T, N, 3) float32 metres
    visible: np.ndarray  # (T, N) bool
    intrinsics: Intrinsics
    queries: np.ndarray  # (N, 3) (t, x, y)
    depth: np.ndarray  # (T, N) z in metres (= xyz[..., 2])
    meta: dict = field(default_factory=dict)

    def save(self, path) -> None:
        """TAPVid-3D-style ``.npz``: ``tracks_XYZ``, ``visibility``, ``fx_fy_cx_cy``, ``queries_xyt``."""
        from motiondepth.io.atomic import save_npz

        q = self.queries
        save_npz(
            path, tracks_XYZ=self.xyz.astype(np.float32), visibility=self.visible.astype(bool),
            fx_fy_cx_cy=self.intrinsics.as_array().astype(np.float32),
            queries_xyt=np.stack([q[:, 1], q[:, 2], q[:, 0]], -1).astype(np.float32),
        )  # fmt: skip

    @classmethod
    def load(cls, path) -> Tracks3D:
        """Read a file written by :meth:`save` (or any TAPVid-3D-style ``.npz`` with those keys)."""

        from motiondepth.io.npz import read_npz

        d = read_npz(path, ("tracks_XYZ", "visibility", "fx_fy_cx_cy"), "3D tracks file")
        xyz, vis, k, q = d["tracks_XYZ"], d["visibility"].astype(bool), d["fx_fy_cx_cy"], d.get("queries_xyt")
        try:
            intr = Intrinsics.from_array(np.asarray(k, dtype=np.float64).ravel())
        except (ValueError, TypeError) as exc:
            raise InputError(path, f"'fx_fy_cx_cy': {exc}") from None
        if q is not None and q.shape != (xyz.shape[1], 3):
            raise InputError(path, f"'queries_xyt' must be (N, 3) for the {xyz.shape[1]} tracks, got {q.shape}")
        if xyz.ndim != 3 or xyz.shape[-1] != 3 or vis.shape != xyz.shape[:2]:
            raise InputError(path, f"tracks_XYZ {xyz.shape} / visibility {vis.shape} are not (T, N, 3) / (T, N)")
        queries = np.zeros((xyz.shape[1], 3), np.float32) if q is None else np.stack([q[:, 2], q[:, 0], q[:, 1]], -1)
        return cls(xyz, vis, intr, queries, xyz[..., 2].copy())


def check_tracks(tracks: np.ndarray, visible: np.ndarray, window: int, source: str = "tracks") -> None:
    """Clear errors for inputs Seurat cannot use."""
    if tracks.ndim != 3 or tracks.shape[-1] != 2 or visible.shape != tracks.shape[:2]:
        raise InputError(source, f"tracks must be (T, N, 2) with visibility (T, N); got {tracks.shape}, "
                                 f"{visible.shape}")  # fmt: skip
    if not np.all(np.isfinite(tracks)):
        raise InputError(source, f"{int((~np.isfinite(tracks)).any(-1).sum())} track positions are NaN/inf")
    if tracks.shape[0] < window:
        raise InputError(source, f"{tracks.shape[0]} frames is fewer than one Seurat window ({window} frames)")
    if tracks.shape[1] == 0:
        raise InputError(source, "no tracks")
    if not visible.any():
        raise InputError(source, "every track is invisible in every frame")


def check_support(support: np.ndarray, starts: np.ndarray, window: int) -> None:
    """A clear error when the supporting tracks are not one (W, Ns, 2) block per window start."""
    if support.shape[:2] != (len(starts), window):
        raise InputError("support", f"need supporting tracks (K={len(starts)}, W={window}, Ns, 2), got {support.shape}")


MIN_OWN_SUPPORT = 16  # fewer query tracks visible at a window start: interpolate a grid instead


def support_from_tracks(
    tracks: np.ndarray, visible: np.ndarray, starts: np.ndarray, window: int, grid: int, size: tuple[int, int],
    neighbours: int = 8,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Supporting tracks from the query tracks themselves (when no video is at hand).

    Each window's supporting set is the query tracks visible at its first frame, evenly thinned
    to one count for all windows (at most 4·G²; the model takes any number). These are real
    trajectories, as the re-tracked grid is; a grid interpolated from them is not. On held-out
    procedural clips (exact tracks, 256 queries, first-frame depth, per-trajectory APD) they score
    0.579 against 0.596 for the true grid, where the interpolated grid scored 0.464, below the
    0.498 of keeping every depth constant. When fewer than :data:`MIN_OWN_SUPPORT` tracks are
    visible at some window start, every window falls back to a G × G grid interpolated from its
    ``neighbours`` nearest visible tracks (inverse-distance weights on their displacements; a grid
    point is visible where at least half of them are).

    Returns:
        (K, W, Ns, 2) positions and (K, W, Ns) visibility.
    """
    filled = fill_occluded(tracks, visible)
    alive = [np.flatnonzero(visible[s]) for s in starts]
    count = min(min(len(a) for a in alive), 4 * grid * grid)
    if count >= MIN_OWN_SUPPORT:
        pick = [a[np.linspace(0, len(a) - 1, count).round().astype(int)] for a in alive]
        return (np.stack([filled[s : s + window][:, i] for s, i in zip(starts, pick, strict=True)]),
                np.stack([visible[s : s + window][:, i] for s, i in zip(starts, pick, strict=True)]))  # fmt: skip
    g = support_grid(grid, size)
    out = np.zeros((len(starts), window, len(g), 2))
    vis = np.zeros((len(starts), window, len(g)), dtype=bool)
    for k, (s, a) in enumerate(zip(starts, alive, strict=True)):
        if len(a) == 0:
            out[k] = g
            continue
        d = np.linalg.norm(g[:, None] - filled[s, a][None], axis=-1)  # (G², M)
        m = min(neighbours, len(a))
        nn = np.argpartition(d, m - 1, axis=1)[:, :m]
        wgt = 1.0 / (np.take_along_axis(d, nn, 1) + 1.0)
        wgt /= wgt.sum(1, keepdims=True)
        seg = filled[s : s + window][:, a]  # (W, M, 2)
        disp = seg - seg[:1]
        out[k] = g + np.einsum("gm,wgmc->wgc", wgt, disp[:, nn])
        vis[k] = visible[s : s + window][:, a][:, nn].mean(-1) >= 0.5
    return out, vis


def support_from_video(
    frames: np.ndarray, starts: np.ndarray, window: int, grid: int, tracker=None
) -> tuple[np.ndarray, np.ndarray]:
    """Re-track the supporting grid from every window start on the video (paper §3.4).

    Args:
        frames: (T, H, W, 3) uint8 RGB.
        tracker: a :class:`~motiondepth.tracking.base.Tracker` (default KLT).
    """
    from motiondepth.tracking.base import make_tracker
    from motiondepth.tracking.grid import grid_queries

    tracker = tracker or make_tracker("klt")
    g = support_grid(grid, frames.shape[1:3])
    out, vis = [], []
    for s in starts:
        tr = tracker.track(frames[s : s + window], grid_queries(g, 0))
        out.append(tr.tracks)
        vis.append(tr.visible)
    return np.stack(out), np.stack(vis)


CHAIN_MODES = ("average", "last")


def _check_chain_mode(mode: str) -> None:
    if mode not in CHAIN_MODES:
        raise ValueError(f"unknown chaining mode {mode!r}; use one of {', '.join(CHAIN_MODES)}")


def chain_log_ratios(
    window_log_ratios: np.ndarray, starts: np.ndarray, num_frames: int, mode: str = "average"
) -> np.ndarray:
    """Accumulate window-wise log ratios into log ratios w.r.t. frame 0.

    Args:
        window_log_ratios: (K, W, N) ℓ of each window w.r.t. its first frame.
        starts: (K,) window start frames (increasing, each start inside the previous window).
        num_frames: T.
        mode: ``"last"`` — Eq. 9 of the paper: window i's offset is window i−1's chained value at
            i's first frame, and frame t takes the last window containing it. ``"average"`` —
            window i's offset is the mean, over every frame it shares with the earlier windows,
            of (chained value − ℓ_i), and each frame is the mean of all its windows' estimates.
            The two agree when the windows are mutually consistent.

    Returns:
        (T, N) log ratio of every frame w.r.t. frame 0.

    Example:
        >>> l = np.log(np.array([[1.0, 1.1, 1.2, 1.3], [1.0, 1.1, 1.2, 1.3]]))[..., None]
        >>> np.exp(chain_log_ratios(l, np.array([0, 2]), 6, mode="last"))[:, 0].round(3).tolist()
        [1.0, 1.1, 1.2, 1.32, 1.44, 1.56]
    """
    _check_chain_mode(mode)
    k, w, n = window_log_ratios.shape
    total = np.zeros((num_frames, n))
    count = np.zeros((num_frames, 1))
    base = np.zeros(n)
    covered = 0  # frames [0, covered) have at least one estimate
    for i in range(k):
        s = int(starts[i])
        e = min(s + w, num_frames)
        lr = window_log_ratios[i, : e - s]
        if i > 0:
            step = s - int(starts[i - 1])
            if not 0 < step < w:
                raise ValueError(f"window {i} starts at {s}, not inside window {i - 1} (start {starts[i - 1]})")
            if mode == "last":
                base = base + window_log_ratios[i - 1, step]
            else:
                ov = slice(s, min(covered, e))
                base = (total[ov] / count[ov] - lr[: ov.stop - s]).mean(0)
        if mode == "last":
            total[s:e] = base + lr
            count[s:e] = 1
        else:
            total[s:e] += base + lr
            count[s:e] += 1
        covered = max(covered, e)
    return total / np.maximum(count, 1)


def visible_runs(visible: np.ndarray) -> np.ndarray:
    """Label consecutive visible frames per track: (T, N) → (T, N) run id (−1 when occluded).

    Run ids are unique per track and increase with time.
    """
    v = np.asarray(visible, dtype=bool)
    starts = v & ~np.vstack([np.zeros((1, v.shape[1]), dtype=bool), v[:-1]])
    ids = np.cumsum(starts, axis=0) - 1
    return np.where(v, ids, -1)


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
        self, model, stride: int | None = None, query_chunk: int = 512, chain: str = "average", device="cpu"
    ) -> None:
        """``device``: where the model runs (e.g. "cuda" for the ``paper`` preset); tracks in and out stay NumPy."""
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
                priors = window_priors(tracks, visible, intrinsics, starts, w, support)
            elif len(priors) != len(starts):
                raise InputError("priors", f"{len(priors)} window priors for {len(starts)} windows")
            prior = {k: v.to(dev) for k, v in prior_tensors(list(priors)).items()}
        out = np.zeros(q.shape[:3], dtype=np.float64)
        with torch.inference_mode():
            for a in range(0, q.shape[2], self.query_chunk):
                b = a + self.query_chunk
                chunk = None
                if prior is not None:
                    chunk = {**prior, "query_log_ratio": prior["query_log_ratio"][:, :, a:b],
                             "query_residual": prior["query_residual"][:, a:b]}  # fmt: skip
                res = self.model(st, sv, torch.from_numpy(q[:, :, a:b]).float().to(dev),
                                 torch.from_numpy(qv[:, :, a:b]).float().to(dev), size, support_output=False,
                                 prior=chunk)  # fmt: skip
                out[:, :, a:b] = res["query"][-1].cpu().numpy()
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
