"""Seurat's windows (paper §3.1–3.4, Eq. 9): where windows start, the supporting grid of each window,
occluded positions filled, the checks every input gets, and the chaining of per-window ratios.

Shared by the learned model (:mod:`motiondepth.seurat.inference`), rigid geometry
(:mod:`motiondepth.seurat.rigid`) and the training data (:mod:`motiondepth.data.seurat_synth`).
"""

from __future__ import annotations

import numpy as np

from motiondepth.errors import InputError


def support_grid(grid: int, size: tuple[int, int], margin: float = 0.03) -> np.ndarray:
    """(G², 2) pixel positions of the supporting grid, row-major, spanning the image."""
    h, w = size
    xs = np.linspace(margin * (w - 1), (1 - margin) * (w - 1), grid)
    ys = np.linspace(margin * (h - 1), (1 - margin) * (h - 1), grid)
    gy, gx = np.meshgrid(ys, xs, indexing="ij")
    return np.stack([gx.ravel(), gy.ravel()], -1)


def fill_occluded(tracks: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """Replace occluded positions by the last visible one (before the first: the first visible).

    Args:
        tracks: (..., T, N, 2) positions.
        visible: (..., T, N) bool.

    Returns:
        Filled copy; tracks never visible keep their (finite-ised) input positions.
    """
    tracks = np.nan_to_num(np.asarray(tracks, dtype=np.float64), nan=0.0)
    vis = np.asarray(visible, dtype=bool)
    t = vis.shape[-2]
    idx = np.where(vis, np.arange(t).reshape((t, 1)), -1)
    last = np.maximum.accumulate(idx, axis=-2)
    first = np.where(vis.any(-2, keepdims=True), np.argmax(vis, axis=-2)[..., None, :], np.arange(t).reshape((t, 1)))
    src = np.where(last >= 0, last, first)
    return np.take_along_axis(tracks, src[..., None].repeat(2, -1), axis=-3)


def window_starts(num_frames: int, window: int, stride: int) -> np.ndarray:
    """Window start frames covering ``num_frames`` (the last window ends at the last frame)."""
    if num_frames < window:
        raise ValueError(f"need at least one window: {num_frames} frames < window {window}")
    if not 0 < stride < window:
        raise ValueError(f"stride must be in (0, window={window}), got {stride}")
    starts = list(range(0, num_frames - window + 1, stride))
    if starts[-1] != num_frames - window:
        starts.append(num_frames - window)
    return np.array(starts)


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
