"""Seurat training and evaluation data from animated procedural scenes (docs/design.md §5–6).

A *window sample* is what one training step sees for one clip: W frames of supporting grid
tracks (a G × G grid seeded at the window's first frame, as at inference) and of random query
tracks (seeded at random frames, so some start occluded or inside the window), each with
visibility and ground-truth z-depth. An *evaluation clip* is longer: query tracks over all T
frames, a supporting grid re-initialised at every window start, and a metric depth map per frame.

Everything is a pure function of a seed, so the training loop needs no data state to resume, and
the same samples can be exported to disk in shards (:func:`export_shards`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from motiondepth.data import EVAL_SEED_BASE as EVAL_SEED_BASE  # re-exported
from motiondepth.data import VAL_SEED_BASE as VAL_SEED_BASE  # re-exported
from motiondepth.data import shards
from motiondepth.data.shards import ShardReader as ShardReader  # re-exported
from motiondepth.geometry.camera import Intrinsics
from motiondepth.geometry.rotations import matrix_to_euler
from motiondepth.scenes.animated import AnimatedScene, MotionConfig, SurfacePoints, generate_animated_scene
from motiondepth.scenes.procedural import SceneConfig
from motiondepth.seurat.windows import support_grid, window_starts


@dataclass
class TrackNoise:
    """Tracker-like corruption of exact tracks, so models trained on them survive real trackers."""

    enabled: bool = True
    jitter_px: tuple[float, float] = (0.0, 0.5)  # per-frame Gaussian jitter std range, pixels
    drift_px: tuple[float, float] = (0.0, 0.15)  # random-walk drift std per frame range, pixels
    dropout: float = 0.02  # chance per visible point and frame to start a false occlusion
    dropout_len: tuple[int, int] = (1, 3)  # length range of a false occlusion, frames


@dataclass
class SeuratDataConfig:
    """Sample generation settings (the single source of data defaults)."""

    image_sizes: list[tuple[int, int]] = field(default_factory=lambda: [(256, 256), (192, 256), (256, 192)])
    hfov_deg: tuple[float, float] = (40.0, 80.0)  # horizontal field of view range
    window: int = 8  # W, frames per window
    grid: int = 12  # G, supporting grid side (G × G tracks); small preset 12, paper 24
    grid_margin: float = 0.03  # grid inset from the border, fraction of each side
    num_queries: int = 64  # query tracks per sample
    min_depth_m: float = 0.05  # depths below this (behind or at the camera) are not supervised
    max_log_ratio: float = 1.4  # |log ratio| above this is not supervised (points leaving the scene)
    noise: TrackNoise = field(default_factory=TrackNoise)
    scene: SceneConfig = field(default_factory=lambda: SceneConfig(near_m=0.8, far_m=8.0))
    motion: MotionConfig = field(default_factory=MotionConfig)


def _corrupt(rng: np.random.Generator, xy: np.ndarray, vis: np.ndarray, noise: TrackNoise):
    if not noise.enabled:
        return xy, vis
    t, n = vis.shape
    jitter = rng.uniform(*noise.jitter_px)
    drift = rng.uniform(*noise.drift_px)
    xy = xy + rng.normal(0, jitter, (t, n, 2)) + np.cumsum(rng.normal(0, drift, (t, n, 2)), 0)
    vis = vis.copy()
    starts = (rng.random((t, n)) < noise.dropout) & vis
    for ti, ni in zip(*np.nonzero(starts), strict=False):
        vis[ti : ti + int(rng.integers(noise.dropout_len[0], noise.dropout_len[1] + 1)), ni] = False
    return xy, vis


def _track(scene: AnimatedScene, pts: SurfacePoints, frames: np.ndarray | None = None):
    """``scene.track`` with positions behind the camera (NaN) set far outside the image."""
    xy, depth, vis = scene.track(pts, frames)
    return np.nan_to_num(xy, nan=-1e3), depth, vis


def _camera(rng: np.random.Generator, cfg: SeuratDataConfig) -> tuple[Intrinsics, tuple[int, int]]:
    h, w = cfg.image_sizes[int(rng.integers(len(cfg.image_sizes)))]
    return Intrinsics.from_hfov(rng.uniform(*cfg.hfov_deg), w, h), (h, w)


def _log_ratio(depth: np.ndarray, cfg: SeuratDataConfig) -> tuple[np.ndarray, np.ndarray]:
    """Window-wise log depth ratio w.r.t. the first frame (Eq. 7) and where it is supervised."""
    d0 = depth[:1]
    ok = (depth > cfg.min_depth_m) & (d0 > cfg.min_depth_m)
    lr = np.log(np.where(ok, depth, 1.0) / np.where(ok, d0, 1.0))
    ok &= np.abs(lr) <= cfg.max_log_ratio
    return np.where(ok, lr, 0.0).astype(np.float32), ok


def _random_queries(rng: np.random.Generator, scene: AnimatedScene, n: int, frames: int):
    h, w = scene.size
    qt = rng.integers(0, frames, n)
    qxy = np.stack([rng.uniform(0, w - 1, n), rng.uniform(0, h - 1, n)], -1)
    prim = np.empty(n, dtype=np.int64)
    local = np.empty((n, 3))
    for f in np.unique(qt):
        sel = qt == f
        pts = scene.surface_points(int(f), qxy[sel])
        prim[sel], local[sel] = pts.prim, pts.local
    return SurfacePoints(prim, local), np.concatenate([qt[:, None], qxy], 1)


def window_sample(seed: int, cfg: SeuratDataConfig | None = None) -> dict[str, np.ndarray]:
    """One training sample: a W-frame window with supporting grid and query tracks.

    Returns:
        dict of float32/bool arrays: ``support_tracks`` (W, G², 2) px, ``support_visible``
        (W, G²), ``support_log_ratio`` / ``support_valid`` (W, G²), ``query_tracks`` (W, Nq, 2),
        ``query_visible``, ``query_log_ratio``, ``query_valid`` (W, Nq), ``image_size`` (2,) = (H, W),
        ``intrinsics`` (4,) = (fx, fy, cx, cy).
        Tracks are tracker-like (noise, false occlusions) and occluded positions are *not* filled
        (the model does that, as at inference).
    """
    cfg = cfg or SeuratDataConfig()
    rng = np.random.default_rng([seed, 104729])
    intr, size = _camera(rng, cfg)
    scene = generate_animated_scene(seed, intr, size, cfg.window, cfg.scene, cfg.motion)
    grid = scene.surface_points(0, support_grid(cfg.grid, size, cfg.grid_margin))
    queries, _ = _random_queries(rng, scene, cfg.num_queries, cfg.window)
    out: dict[str, np.ndarray] = {"image_size": np.array(size, dtype=np.float32),
                                  "intrinsics": intr.as_array().astype(np.float32)}  # fmt: skip
    for name, pts in (("support", grid), ("query", queries)):
        xy, depth, vis = _track(scene, pts)
        xy, vis = _corrupt(rng, xy, vis, cfg.noise)
        lr, ok = _log_ratio(depth, cfg)
        out[f"{name}_tracks"] = xy.astype(np.float32)
        out[f"{name}_visible"] = vis
        out[f"{name}_log_ratio"] = lr
        out[f"{name}_valid"] = ok
    return out


@dataclass
class EvalClip:
    """A held-out clip with everything the Seurat evaluation needs (exact, noise-free by default)."""

    tracks: np.ndarray  # (T, N, 2) query tracks as a tracker would give them (noisy if requested), px
    visible: np.ndarray  # (T, N) bool, tracker-like
    gt_tracks: np.ndarray  # (T, N, 2) exact projections, px
    gt_visible: np.ndarray  # (T, N) bool, exact visibility
    depth: np.ndarray  # (T, N) ground-truth z, metres
    queries: np.ndarray  # (N, 3) (t, x, y)
    support: np.ndarray  # (K, W, G², 2) supporting grid tracks per window start
    support_visible: np.ndarray  # (K, W, G²)
    window_starts: np.ndarray  # (K,) first frame of each window
    depth_maps: np.ndarray  # (T, H, W) float32 ground-truth z-depth maps
    intrinsics: Intrinsics
    image_size: tuple[int, int]  # (H, W)
    seed: int
    # the camera path relative to frame 0 (design.md §2): (T, 3) [roll, pitch, yaw] rad, camera to frame 0, and
    # (T, 3) camera centres in frame 0's camera axes, metres; and which query tracks sit on a moving object
    angles: np.ndarray | None = None
    centres: np.ndarray | None = None
    moving: np.ndarray | None = None  # (N,) bool


def eval_clip(
    seed: int, num_frames: int = 24, stride: int = 4, cfg: SeuratDataConfig | None = None, noise: bool = False
) -> EvalClip:
    """A longer held-out clip for evaluation (queries at random frames, a support grid per window)."""
    cfg = cfg or SeuratDataConfig()
    rng = np.random.default_rng([seed, 15485863])
    intr, size = _camera(rng, cfg)
    scene = generate_animated_scene(seed, intr, size, num_frames, cfg.scene, cfg.motion)
    pts, queries = _random_queries(rng, scene, cfg.num_queries, num_frames)
    xy, depth, vis = _track(scene, pts)
    gt_xy, gt_vis = xy.astype(np.float32), vis.copy()
    starts = window_starts(num_frames, cfg.window, stride)
    grid_xy = support_grid(cfg.grid, size, cfg.grid_margin)
    sup, sup_vis = [], []
    for s in starts:
        g = scene.surface_points(int(s), grid_xy)
        gxy, _, gvis = _track(scene, g, np.arange(s, s + cfg.window))
        if noise:
            gxy, gvis = _corrupt(rng, gxy, gvis, cfg.noise)
        sup.append(gxy)
        sup_vis.append(gvis)
    if noise:
        xy, vis = _corrupt(rng, xy, vis, cfg.noise)
    maps = np.stack([scene.depth_map(f) for f in range(num_frames)])
    rot, pos = scene.camera.rotation, scene.camera.translation
    rel = np.einsum("ji,tjk->tik", rot[0], rot)  # R_0ᵀ R_k: camera k to camera 0
    moves = np.array([np.ptp(p.translation, axis=0).max() > 1e-9 or np.ptp(p.rotation, axis=0).max() > 1e-9
                      for p in scene.object_poses])  # fmt: skip
    return EvalClip(
        tracks=xy.astype(np.float32),
        visible=vis,
        gt_tracks=gt_xy,
        gt_visible=gt_vis,
        depth=depth.astype(np.float32),
        queries=queries[:, [0, 1, 2]].astype(np.float32),
        support=np.stack(sup).astype(np.float32),
        support_visible=np.stack(sup_vis),
        window_starts=starts,
        depth_maps=maps,
        intrinsics=intr,
        image_size=size,
        seed=seed,
        angles=matrix_to_euler(rel),
        centres=(pos - pos[0]) @ rot[0],
        moving=moves[pts.prim] if len(moves) else np.zeros(len(queries), bool),
    )


def export_shards(out_dir: str | Path, start_seed: int, count: int, shard_size: int = 256, cfg=None,
                  progress: bool = True, workers: int = 1) -> Path:  # fmt: skip
    """Write ``count`` window samples (seeds ``start_seed …``) in shards (see :mod:`motiondepth.data.shards`)."""
    return shards.export_shards(out_dir, window_sample, start_seed, count, shard_size, cfg or SeuratDataConfig(),
                                progress, workers)  # fmt: skip
