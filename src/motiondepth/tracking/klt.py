"""Weight-free pyramidal Lucas–Kanade tracker with a forward–backward check (OpenCV).

Each point is matched from its query frame *directly* to every other frame (no chaining, so no
drift), starting from its position in the neighbouring, already tracked frame (so large
cumulative motion stays within the pyramid's reach). A point is visible in a frame when
tracking back from there to the query frame lands within the forward–backward threshold.

Blur-aware pre-smoothing. Under long exposures a point's blur streak is not symmetric (hand
tremor dwells at the turning points of its oscillation, giving two-lobed streaks), and plain LK
locks onto a lobe instead of the streak's centroid, which is where the imaging model puts the
point (docs/design.md §4: tracked position ≈ mean projection over the exposure). Low-pass filtering
both images with a Gaussian wider than about half the streak makes the streak single-lobed, so
the SSD optimum moves to the centroid: on simulated phone video this cut the per-frame mean
tracking bias from ~0.2–1 px to ~0.02 px. The width is chosen per video from its measured
inter-frame motion (a proxy for the streak length), and images smoothed by more than ~2 px are
downsampled so the cost stays flat.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import asdict, dataclass

import cv2
import numpy as np
from tqdm.auto import tqdm

from motiondepth.geometry.camera import in_image
from motiondepth.tracking.base import check_inputs, register_tracker
from motiondepth.tracking.grid import query_grid
from motiondepth.types import Tracks

log = logging.getLogger(__name__)


@dataclass
class KLTConfig:
    """Lucas–Kanade settings."""

    win_size: int = 21  # square search window, pixels (of the possibly downsampled image)
    max_level: int = 4  # pyramid levels above the base image
    iterations: int = 40  # maximum iterations per level
    epsilon: float = 0.005  # convergence threshold on the update, pixels
    fb_threshold_px: float = 1.0  # forward–backward error for "visible", at least this many pixels …
    fb_threshold_per_sigma: float = 0.3  # … or this multiple of the smoothing sigma, whichever is larger
    min_eig_threshold: float = 1e-4  # OpenCV's minimum spatial-gradient eigenvalue (textureless → lost)
    smooth_sigma_px: float | None = None  # Gaussian pre-smoothing; None = from the video's motion
    sigma_per_motion: float = 1.0  # auto sigma = this × median inter-frame motion (px)
    min_sigma_px: float = 1.0  # auto sigma lower bound
    max_sigma_px: float = 6.0  # auto sigma upper bound (telephoto, 8 px motion: AbsRel 0.060 at 12 px, 0.047 at 6)
    downsample_above_sigma_px: float = 2.0  # smooth more than this → downsample by floor(sigma / this)


def _lk(
    cfg: KLTConfig, prev: np.ndarray, nxt: np.ndarray, pts: np.ndarray, init: np.ndarray | None, levels: int
) -> tuple[np.ndarray, np.ndarray]:
    flags = cv2.OPTFLOW_USE_INITIAL_FLOW if init is not None else 0
    out, status, _ = cv2.calcOpticalFlowPyrLK(
        prev, nxt, pts.reshape(-1, 1, 2).astype(np.float32),
        None if init is None else init.reshape(-1, 1, 2).astype(np.float32).copy(),
        winSize=(cfg.win_size, cfg.win_size), maxLevel=levels,
        criteria=(cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, cfg.iterations, cfg.epsilon),
        flags=flags, minEigThreshold=cfg.min_eig_threshold,
    )  # fmt: skip
    return out.reshape(-1, 2), status.reshape(-1).astype(bool)


def outward_frames(tq: int, t_len: int) -> tuple[range, range]:
    """Frame indices away from query frame ``tq``: forwards to the end, then backwards to 0.

    Trackers walk each in turn so a point's previous position is a close initial guess.
    """
    return range(tq + 1, t_len), range(tq - 1, -1, -1)


def estimate_motion_px(gray: list[np.ndarray], cfg: KLTConfig) -> float:
    """Median frame-to-frame image motion of a coarse 9 × 9 grid, pixels (cheap, half resolution)."""
    small = [cv2.resize(g, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA) for g in gray]
    pts = query_grid(4, small[0].shape[:2])
    steps = []
    for a, b in itertools.pairwise(small):
        nxt, ok = _lk(cfg, a, b, pts, None, 3)
        if ok.any():
            steps.append(np.median(np.linalg.norm(nxt[ok] - pts[ok], axis=1)))
    return 2.0 * float(np.median(steps)) if steps else 0.0


class KLTTracker:
    """OpenCV pyramidal Lucas–Kanade behind the :class:`~motiondepth.tracking.base.Tracker` interface."""

    name = "klt"

    def __init__(self, config: KLTConfig | None = None, progress: bool = False, **overrides: object) -> None:
        cfg = config or KLTConfig()
        self.config = KLTConfig(**{**asdict(cfg), **overrides})
        self.progress = progress  # a tqdm bar over frames

    def track(self, frames: np.ndarray, queries: np.ndarray) -> Tracks:
        """Track ``queries`` (N, 3) ``(t, x, y)`` through ``frames`` (T, H, W, 3) uint8."""
        check_inputs(frames, queries)
        c = self.config
        t_len, h, w = frames.shape[:3]
        gray = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames]
        sigma = c.smooth_sigma_px
        motion = None
        if sigma is None:
            motion = estimate_motion_px(gray, c)
            sigma = float(np.clip(c.sigma_per_motion * motion, c.min_sigma_px, c.max_sigma_px))
        scale = max(1, int(sigma // c.downsample_above_sigma_px)) if sigma > c.downsample_above_sigma_px else 1
        if sigma > 0:
            gray = [cv2.GaussianBlur(g, (0, 0), sigma) for g in gray]
        if scale > 1:
            gray = [cv2.resize(g, None, fx=1 / scale, fy=1 / scale, interpolation=cv2.INTER_AREA) for g in gray]
        levels = max(1, c.max_level - int(np.log2(scale)))
        fb_thr = max(c.fb_threshold_px, c.fb_threshold_per_sigma * sigma) / scale
        gh, gw = gray[0].shape
        # pixel-centre-aware mapping between full and downsampled coordinates
        to_small = lambda p: (p + 0.5) / scale - 0.5
        to_full = lambda p: (p + 0.5) * scale - 0.5
        log.debug("klt: motion %s px, sigma %.2f px, downsample %d", motion, sigma, scale)

        n = len(queries)
        bar = tqdm(total=t_len, desc="track (klt)", unit="frame", disable=not self.progress, leave=False)
        tracks = np.zeros((t_len, n, 2), dtype=np.float32)
        visible = np.zeros((t_len, n), dtype=bool)
        for tq in np.unique(queries[:, 0]).astype(int):
            sel = np.flatnonzero(queries[:, 0] == tq)
            q = queries[sel, 1:].astype(np.float32)
            qs = to_small(q)
            tracks[tq, sel] = q
            visible[tq, sel] = True
            for frames_k in outward_frames(tq, t_len):
                prev_pos = qs
                for k in frames_k:
                    fwd, ok_f = _lk(c, gray[tq], gray[k], qs, prev_pos, levels)
                    back, ok_b = _lk(c, gray[k], gray[tq], fwd, None, levels)
                    fb = np.linalg.norm(back - qs, axis=1)
                    vis = ok_f & ok_b & in_image(fwd, (gh, gw)) & (fb < fb_thr)
                    tracks[k, sel] = to_full(fwd)
                    visible[k, sel] = vis
                    # lost points keep their last good position as the next initial guess
                    prev_pos = np.where(vis[:, None], fwd, prev_pos)
                    bar.update(1)
        bar.close()
        meta = {"tracker": self.name, **asdict(c), "smooth_sigma_px": sigma, "downsample": scale, "motion_px": motion}
        return Tracks(tracks, visible, queries.astype(np.float32), (h, w), meta=meta)


register_tracker("klt", KLTTracker)
