"""Simulator-backed samples for the blur-depth network and the dense trajectory decoder (docs/design.md §6).

A sample turns one RGB-D image into a shaky rolling-shutter clip with a camera preset drawn per
sample (``phone`` = short focus or ``telephoto``, labelled as in the paper §4.1) and returns the
frames, the ground-truth depth and dense trajectories, and the *solver's* sparse trajectory: the
optics solver (lsq mode) run on the ground-truth grid tracks (the mean projection of each query
point over its exposure, i.e. what an ideal tracker reports), as at inference — never the ground
truth itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from motiondepth.geometry.pivot import DEFAULT_PIVOT_M
from motiondepth.simulate import camera_preset, groundtruth_tracks, load_shake, simulate
from motiondepth.tracking.grid import query_grid
from motiondepth.trajectory import solve_trajectory

CAMERAS = ("phone", "telephoto")


@dataclass
class BlurDataConfig:
    """Clip settings (the single source of data defaults)."""

    size: int = 224  # square frame side, pixels
    num_frames: int = 12  # T
    telephoto_probability: float = 0.5  # share of telephoto samples (the rest: phone)
    shake: str = "synthetic"  # shake source: synthetic, handheld (real-gyro band energies) or a gyro/angle log path
    shake_scale: float = 1.0  # amplitude multiplier of the shake
    grid_half: int = 6  # query grid half-width count for the solver ((2i+1)² points)
    pivot_m: float = DEFAULT_PIVOT_M  # rotation pivot behind the camera, metres
    metric_cues: bool = True  # procedural scenes with world-unit texture and object sizes (SceneConfig)
    indoor_probability: float = 0.0  # share of scenes with the furnished ``indoor`` layout (the rest: ``room``)


def procedural_blur_sample(seed: int, cfg: BlurDataConfig | None = None) -> dict[str, np.ndarray]:
    """:func:`blur_sample` of procedural scene ``seed`` rendered at ``cfg.size`` (the default data)."""
    return sample_from_clip(*procedural_clip(seed, cfg))


def procedural_clip(seed: int, cfg: BlurDataConfig | None = None):
    """:func:`simulate_clip` of procedural scene ``seed`` rendered at ``cfg.size``."""
    from motiondepth.data.rgbd_sources import ProceduralSource

    cfg = cfg or BlurDataConfig()
    layout = "indoor" if np.random.default_rng([seed, 4711]).random() < cfg.indoor_probability else "room"
    source = ProceduralSource(size=(cfg.size, cfg.size), metric_cues=cfg.metric_cues, layout=layout)
    return simulate_clip(source[seed], seed, cfg)


def flip_sample(sample: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Mirror a sample left-right (augmentation; exact for the imaging model).

    x → −x flips the sign of rotations about the optical (roll) and vertical (yaw) axes and keeps
    pitch; rows, hence the rolling shutter, are unchanged; cx → W − 1 − cx.
    """
    sign = np.array([-1.0, 1.0, -1.0], dtype=np.float32)
    out = dict(sample)
    out["frames"] = np.ascontiguousarray(sample["frames"][:, :, ::-1])
    out["depth"] = np.ascontiguousarray(sample["depth"][:, ::-1])
    for key in ("sparse", "sparse_gt", "dense_15", "dense_30"):
        out[key] = sample[key] * sign
    intr = sample["intrinsics"].copy()
    intr[2] = sample["frames"].shape[2] - 1 - intr[2]
    out["intrinsics"] = intr
    return out


def simulate_clip(rgbd, seed: int, cfg: BlurDataConfig | None = None):
    """The simulation behind :func:`blur_sample`: ``(video, camera, grid tracks, solve)``.

    ``video`` is the :class:`~motiondepth.simulate.ShakyVideo`, ``camera`` its resolved
    :class:`~motiondepth.simulate.CameraConfig`, the tracks are the ground-truth tracks of the
    solver's query grid and the solve is the optics solver's (lsq) result on them.
    """
    cfg = cfg or BlurDataConfig()
    rng = np.random.default_rng([seed, 31337])
    name = CAMERAS[int(rng.random() < cfg.telephoto_probability)]
    cam = camera_preset(name, width=cfg.size, height=cfg.size, num_frames=cfg.num_frames, pivot_m=cfg.pivot_m)
    trace = load_shake(cfg.shake, cam.duration_s, cam.trace_dt_s, seed=seed, scale=cfg.shake_scale, start_s=None)
    video = simulate(rgbd, cam, trace, seed=seed)
    grid = query_grid(cfg.grid_half, (cam.height, cam.width), video.intrinsics)
    tracks = groundtruth_tracks(video, grid)
    solved = solve_trajectory(tracks.tracks, tracks.visible, video.depth, video.intrinsics, cam.pivot_m, mode="lsq")
    return video, cam, tracks, solved


def blur_sample(rgbd, seed: int, cfg: BlurDataConfig | None = None) -> dict[str, np.ndarray]:
    """One training/evaluation sample from an RGB-D image.

    Returns:
        ``frames`` (T, H, W, 3) uint8, ``depth`` (H, W) float32 m (0 = invalid), ``sparse`` (T, 3)
        solver trajectory rad, ``sparse_gt`` (T, 3), ``dense_15`` (T, 15, 3), ``dense_30``
        (T, 30, 3) ground truth rad, ``intrinsics`` (4,), ``telephoto`` () bool.
    """
    return sample_from_clip(*simulate_clip(rgbd, seed, cfg))


def sample_from_clip(video, cam, tracks, solved) -> dict[str, np.ndarray]:
    """:func:`blur_sample`'s arrays from a :func:`simulate_clip` result (``tracks`` is not needed)."""
    return {
        "frames": video.frames,
        "depth": video.depth.astype(np.float32),
        "sparse": solved.angles.astype(np.float32),
        "sparse_gt": video.trajectory.astype(np.float32),
        "dense_15": video.dense[15].astype(np.float32),
        "dense_30": video.dense[30].astype(np.float32),
        "intrinsics": video.intrinsics.as_array().astype(np.float32),
        "telephoto": np.array(cam.name == "telephoto"),
    }
