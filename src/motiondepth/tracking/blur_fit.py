"""Blind exposure kernels: the camera's rotation *inside* each exposure, fitted to the blur.

Why. Blur-compensated tracking (:mod:`motiondepth.tracking.crossblur`) needs each frame's blur
kernels, and those follow the camera's rotation during the exposure. A gyroscope gives that
rotation (:mod:`motiondepth.tracking.gyro_aided`); the per-frame trajectory does not, because
hand tremor (6–12 Hz) is aliased at 16–30 frames per second. But the blur itself records it:
every frame's streaks are the image of the rotation path over its exposure, and the frames
follow one another without gaps (docs/design.md §3: frame interval = exposure + readout), so the
streaks of all frames together cover the whole rotation trace. This module fits that trace.

How (:func:`fit_blur_trace`). If frame ``a`` is the sharp image ``I`` convolved with kernel
``h_a`` and frame ``b`` with ``h_b``, then ``frame_a ⊛ h_b = I ⊛ h_a ⊛ h_b = frame_b ⊛ h_a``.
The trace is a piecewise-linear curve of (roll, pitch, yaw) knots every ``knot_dt_s``; for every
pair of consecutive frames and every image tile, the two kernels it implies (the tile centre's
projected path over that row's exposure window, linearised about the frame's solved angles,
splatted with a small Gaussian and centred on its centroid) must make the two cross-blurred
crops equal. The crops follow the tile through the video by the KLT tracks' median
displacement, whose sub-pixel part is a free parameter per frame and tile (KLT's own estimate
is biased by the blur, which is the point of the exercise). The loss, the squared difference of
the cross-blurred crops over their variance, is minimised over knots and offsets by L-BFGS in
PyTorch, with a small penalty on the knots' second differences; coarse to fine (wider splats
first), as the loss has local minima. The crops stay inside the image (reflected borders would
mirror the blur), so border tiles are compared a little inwards of their centres.

What the blur cannot say: a kernel is centred on its centroid, so the trace's mean over each
frame is unobserved, and a kernel is the same for a path and that path run backwards. A penalty
holds the trace's frame means near the rotation solve's, and the trace is continuous, which
together fix the direction of most frames' paths (without them, many come out time reversed;
with them, a few still can on real textures, e.g. 3 of 30 frames of a real-gyro phone clip).
:meth:`BlurFit.dense` gives a *dense trajectory*: the solve's per-frame means and the
intra-frame shape from the blur.

Frame 0 matters most: every track is measured against it, so a wrong frame-0 kernel biases
them all (a real-gyro phone clip: lsq AbsRel 0.113 with only frame 0's shape fitted wrong, 0.021
with it right), and it has one neighbour only. It is therefore also compared with frames
2 … 1 + ``reference_pairs``, and kernel samples that stray out of the kernel window are
penalised (``window_weight``): a normalised kernel silently loses them, which let the fit drop
the parts of frame 0's path that did not suit it.

:func:`track_with_blur_fit` chains plain KLT → rotation solve → fit → kernels → cross-blur
Lucas–Kanade, the video-alone counterpart of ``track_with_gyro``. ``benchmarks/foundation.py``
measures both against kernels from the true trace.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace

import cv2
import numpy as np
from tqdm import tqdm

from motiondepth.errors import InputError
from motiondepth.geometry.camera import Intrinsics, unproject
from motiondepth.geometry.pivot import DEFAULT_PIVOT_M, project_pivot
from motiondepth.geometry.rotations import euler_to_matrix
from motiondepth.sensor.camera import CameraConfig
from motiondepth.sensor.color import srgb_to_linear
from motiondepth.sensor.trace import RotationTrace, span_times
from motiondepth.tracking.crossblur import (
    CrossBlurConfig,
    exposure_kernels,
    first_solve,
    kernel_camera,
    tile_centres,
    tile_index,
    track_cross_blur,
)
from motiondepth.tracking.klt import KLTTracker
from motiondepth.trajectory.continuous import continuous_dense
from motiondepth.types import Tracks


@dataclass
class BlurFitConfig:
    """Settings of :func:`fit_blur_trace` (defaults measured on the simulator's presets)."""

    tiles: int = 4  # tiles per image side, one kernel each
    crop_px: int = 96  # side of the compared region of each tile
    kernel_radius_px: int = 16  # kernels reach this far from their centroid
    knot_dt_s: float = 6e-3  # spacing of the trace's knots (hand shake is below ≈ 20 Hz)
    substeps: int = 48  # samples of each exposure window
    sigma_px: float = 1.0  # Gaussian splat of the kernels (smooth in the knots)
    coarse_sigma_px: float = 2.5  # … during the first half of the iterations (coarse to fine: fewer local minima)
    iterations: int = 100  # L-BFGS iterations
    smoothness: float = 1e-4  # weight of the knots' second differences (mrad²)
    mean_weight: float = 1e-2  # weight of the frame means' distance to the rotation solve (mrad²)
    min_points: int = 3  # visible tracked points a tile needs in a frame to be compared there
    reference_pairs: int = 3  # frame 0 is also compared with frames 2 … 1 + this (see fit_blur_trace)
    window_weight: float = 1.0  # weight of kernel samples straying beyond the window (px², see fit_blur_trace)

    def __post_init__(self) -> None:
        if self.tiles < 1 or self.crop_px < 16 or self.kernel_radius_px < 2 or self.substeps < 4:
            raise ValueError(f"invalid blur-fit settings: {self}")
        if not 0 < self.knot_dt_s <= 0.05 or self.iterations < 1 or self.sigma_px <= 0:
            raise ValueError(f"invalid blur-fit settings: {self}")


@dataclass
class BlurFit:
    """A rotation trace fitted to the blur of a video.

    ``trace`` is what the blur determines: its shape inside every frame (time 0 = the first
    frame's first-row exposure start). Its mean over a frame is not observed and drifts; the
    per-frame means are ``angles``, from the rotation solve. :meth:`dense` combines the two.
    """

    trace: RotationTrace
    angles: np.ndarray  # (T, 3) per-frame rotation of the solve the fit started from
    starts: np.ndarray  # (T,) frame starts on the trace's clock
    span_s: float  # exposure + readout of a frame
    loss_start: float  # cross-blur loss of the initial (interpolated) trace
    loss_end: float  # … of the fitted one
    evaluations: int
    seconds: float

    def dense(self, samples: int, angles: np.ndarray | None = None, continuous: bool = True) -> np.ndarray:
        """(T, S, 3) dense trajectory: ``samples`` uniform times over each frame's span (docs/design.md §3.5).

        Each frame keeps the fitted shape, moved so that its mean is the frame's angle (``angles``,
        default the solve's; pass a later, better per-frame trajectory to use that instead). Those moves
        differ from frame to frame; with ``continuous`` (the default) the pieces are joined into one
        continuous path with the same frame means (:func:`~motiondepth.trajectory.continuous.continuous_dense`).
        """
        means = self.angles if angles is None else np.asarray(angles, dtype=np.float64)
        times = span_times(self.starts, self.span_s, samples)
        d = self.trace(times)
        d = d - _frame_means(self.trace, self.starts, self.span_s)[:, None] + means[:, None]
        if not continuous or len(self.starts) < 2:
            return d
        interval = float(np.median(np.diff(self.starts)))
        return continuous_dense(d, means, (times - self.starts[0]) / interval)

    def summary(self) -> dict:
        return {
            "loss_start": self.loss_start,
            "loss_end": self.loss_end,
            "evaluations": self.evaluations,
            "seconds": round(self.seconds, 2),
        }


def trace_from_frames(
    angles: np.ndarray, interval_s: float, dt: float = 1e-3, span_s: float | None = None
) -> RotationTrace:
    """A smooth rotation trace whose mean over every frame's span equals ``angles`` (T, 3).

    The cumulative integral is interpolated by a cubic spline through the frame boundaries and
    differentiated (histopolation), so each span keeps its mean. Time 0 is the first frame's
    start; frames start every ``interval_s`` and span ``span_s`` (default: the interval).
    """
    from scipy.interpolate import CubicSpline

    angles = np.asarray(angles, dtype=np.float64)
    edges = np.arange(len(angles) + 1) * interval_s
    cumulative = np.concatenate([np.zeros((1, 3)), np.cumsum(angles * interval_s, axis=0)])
    rate = CubicSpline(edges, cumulative, axis=0).derivative()
    end = edges[-1] + max(0.0, (span_s or interval_s) - interval_s)
    times = np.arange(0.0, end + dt, dt)
    return RotationTrace(times, rate(times), "interpolated from per-frame angles")


def _frame_means(trace: RotationTrace, starts: np.ndarray, span_s: float, samples: int = 64) -> np.ndarray:
    return trace(span_times(starts, span_s, samples)).mean(axis=1)


def _tile_offsets(tracks: Tracks, centres: np.ndarray, tiles: int, min_points: int) -> tuple[np.ndarray, np.ndarray]:
    """Each tile's position in every frame from its frame-0 points' median displacement.

    Returns (T, P, 2) positions and (T, P) whether enough of the tile's points are visible.
    """
    first = tracks.queries[:, 0] == 0
    tr, vis = tracks.tracks[:, first].astype(np.float64), tracks.visible[:, first]
    h, w = tracks.image_size
    q = tr[0]
    col, row = tile_index(q, tiles, (h, w))
    disp = tr - q[None]
    everywhere = np.array([np.median(d[v], axis=0) if v.any() else np.zeros(2) for d, v in zip(disp, vis, strict=True)])
    pos = np.repeat(centres[None], len(tr), axis=0) + everywhere[:, None]
    ok = np.zeros(pos.shape[:2], dtype=bool)
    for p in range(len(centres)):
        sel = np.flatnonzero(row * tiles + col == p)
        for k in range(len(tr)):
            v = sel[vis[k, sel]]
            if len(v) >= min_points:
                pos[k, p] = centres[p] + np.median(disp[k, v], axis=0)
                ok[k, p] = True
    return pos, ok


def _anchored_tiles(
    tracks: Tracks, cfg: BlurFitConfig, size: tuple[int, int], half: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Image tiles and their positions in every frame: ((P, 2) anchors, (T, P, 2) positions, (T, P) tracked,
    crop half-size). The compared crops must stay inside the image (reflected borders would mirror the
    blur), so each tile is anchored at its centre moved inwards, and the crops shrink if the clip drifts far."""
    h, w = size
    r = cfg.kernel_radius_px
    centres = tile_centres(cfg.tiles, (h, w))
    pos, ok = _tile_offsets(tracks, centres, cfg.tiles, cfg.min_points)
    drift = pos - centres[None]
    reach = int(np.ceil(np.abs(drift).max())) + 2
    half = min(half, (min(h, w) - 2 * reach) // 2 - 1)
    if half < r + 8:
        raise ValueError(
            f"blur fit: a {w}×{h} video that drifts {reach} px leaves no room for {2 * (r + 8)} px crops "
            "(use a shorter clip or a smaller kernel radius)"
        )
    anchors = np.clip(centres, half + reach, np.array([w, h]) - half - reach)
    return anchors, anchors[None] + drift, ok, half


def _angle_jacobian(
    anchors: np.ndarray, angles: np.ndarray, depth_m: float, pivot_m: float, intrinsics: Intrinsics
) -> np.ndarray:
    """(T, P, 2, 3): how the anchors' pixels move with the angles at each frame's rotation (central differences,
    the anchors' points at ``depth_m``)."""
    points = unproject(anchors, np.full(len(anchors), depth_m), intrinsics)[None, :, None, :]  # (1, P, 1, 3)
    jac = np.zeros((len(angles), len(anchors), 2, 3))
    eps = 1e-5
    for a in range(3):
        step = np.zeros(3)
        step[a] = eps
        up = project_pivot(points, euler_to_matrix(angles + step)[:, None], pivot_m, intrinsics)[:, :, 0]
        dn = project_pivot(points, euler_to_matrix(angles - step)[:, None], pivot_m, intrinsics)[:, :, 0]
        jac[..., a] = (up - dn) / (2 * eps)
    return jac


def _tile_crops(frames: np.ndarray, pos: np.ndarray, half: int) -> tuple[np.ndarray, np.ndarray]:
    """Crops (T, P, 2·half, 2·half) that follow each tile, in linear light, and their integer origins (T, P, 2)."""
    origin = np.round(pos).astype(int)
    n = 2 * half
    crops = np.zeros((len(frames), pos.shape[1], n, n), dtype=np.float32)
    for k, f in enumerate(frames):
        g = srgb_to_linear(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0)
        for p, (x, y) in enumerate(origin[k]):
            crops[k, p] = g[y - half : y + half, x - half : x + half]
    return crops, origin


def _compared_pairs(ok: np.ndarray, reference_pairs: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The frame pairs whose cross-blurred crops are compared: ((K,) first, (K,) second, (K, P) tile in both).

    Consecutive frames, plus frame 0 with a few later ones: every track is measured against frame 0, so a
    wrong frame-0 kernel biases them all, and one neighbour alone leaves it poorly determined (measured: a
    real-gyro phone clip, lsq AbsRel 0.113 with the fitted frame-0 shape, 0.021 with the true one and every
    other frame fitted).
    """
    t_len = len(ok)
    pi = np.arange(t_len - 1)
    pj = pi + 1
    extra = np.arange(2, min(t_len, 2 + reference_pairs))
    pi, pj = np.concatenate([pi, np.zeros_like(extra)]), np.concatenate([pj, extra])
    both = ok[pi] & ok[pj]  # (pairs, tiles): the tile is compared in that pair
    if not both.any():
        raise ValueError("blur fit: no image tile keeps enough tracked points in two consecutive frames")
    return pi, pj, both


def fit_blur_trace(
    frames: np.ndarray,
    tracks: Tracks,
    angles: np.ndarray,
    camera: CameraConfig,
    intrinsics: Intrinsics,
    starts: np.ndarray,
    depth_m: float = 2.0,
    config: BlurFitConfig | None = None,
    progress: bool = True,
    device="cpu",
) -> BlurFit:
    """The rotation trace over the whole clip, fitted to its blur (module docstring).

    Args:
        frames: (T, H, W, 3) uint8 RGB.
        tracks: tracks of points queried in frame 0 (plain KLT is enough: only each tile's
            median displacement, to the pixel, is used).
        angles: (T, 3) per-frame rotation solved from the tracks (the trace keeps these means).
        camera: exposure, row time and pivot of the clip (its resolution must match ``frames``).
        intrinsics: of the frames.
        starts: (T,) first-row exposure start of every frame, seconds; the trace's time 0 is
            ``starts[0]``.
        depth_m: scene depth for the (small) pivot-translation part of the motion.
        device: where the fit's tensors live (e.g. "cuda"; the same fit, its speed there not measured).

    Returns:
        :class:`BlurFit`.
    """
    import torch

    cfg = config or BlurFitConfig()
    frames = np.asarray(frames)
    t_len, h, w = frames.shape[:3]
    starts = np.asarray(starts, dtype=np.float64) - float(starts[0])
    angles = np.asarray(angles, dtype=np.float64)
    if t_len < 2 or angles.shape != (t_len, 3) or starts.shape != (t_len,) or tracks.num_frames != t_len:
        raise ValueError(
            f"blur fit needs ≥ 2 frames with matching angles (T, 3), starts (T,) and tracks; got frames "
            f"{frames.shape}, angles {angles.shape}, starts {starts.shape}, tracks of {tracks.num_frames} frames"
        )
    if (camera.height, camera.width) != (h, w):
        raise ValueError(f"camera is {camera.width}×{camera.height}, frames are {w}×{h}")
    t0 = time.perf_counter()
    span = camera.frame_span_s
    r, half = cfg.kernel_radius_px, cfg.crop_px // 2 + cfg.kernel_radius_px
    interval = float(np.median(np.diff(starts)))
    init = trace_from_frames(angles, interval, 1e-3, span)

    anchors, pos, ok, half = _anchored_tiles(tracks, cfg, (h, w), half)
    n = 2 * half
    jac = _angle_jacobian(anchors, angles, depth_m, camera.pivot_m, intrinsics)
    crops, origin = _tile_crops(frames, pos, half)
    pi, pj, both = _compared_pairs(ok, cfg.reference_pairs)
    dev = torch.device(device)
    f32 = torch.float32
    pair_w = torch.tensor(both.astype(np.float32), device=dev)

    # trace knots and the interpolation weights of every exposure sample
    knot_t = np.arange(0.0, starts[-1] + span + cfg.knot_dt_s, cfg.knot_dt_s)
    sub = (np.arange(cfg.substeps) + 0.5) / cfg.substeps * camera.exposure_s
    ts = starts[:, None, None] + anchors[None, :, 1:2] * camera.row_time_s + sub[None, None, :]  # (T, P, M)
    u = ts / cfg.knot_dt_s
    i0 = np.clip(np.floor(u).astype(int), 0, len(knot_t) - 2)
    frac = torch.tensor(u - i0, dtype=f32, device=dev)[..., None]
    i0 = torch.tensor(i0, device=dev)

    # every frame's mean over its span, as interpolation weights of the knots
    u = span_times(starts, span, 32) / cfg.knot_dt_s
    m0 = np.clip(np.floor(u).astype(int), 0, len(knot_t) - 2)
    mfrac = torch.tensor(u - m0, dtype=f32, device=dev)[..., None]
    m0 = torch.tensor(m0, device=dev)
    target = torch.tensor(angles * 1e3, dtype=f32, device=dev)

    jac_t = torch.tensor(jac, dtype=f32, device=dev)
    knots = torch.tensor(init(knot_t) * 1e3, dtype=f32, device=dev, requires_grad=True)  # mrad
    sub_px = torch.tensor(pos - origin, dtype=f32, device=dev, requires_grad=True)
    grid = torch.arange(-r, r + 1, dtype=f32, device=dev)
    # circular convolution at the crop's own size: a kernel occupies indices 0 … 2r, so outputs from
    # index 2r on (the compared ``inner`` region) never wrap and equal the linear convolution
    size = (n, n)
    spectra = torch.fft.rfft2(torch.tensor(crops, device=dev), s=size)
    pi, pj = torch.as_tensor(pi, device=dev), torch.as_tensor(pj, device=dev)
    spec_i, spec_j = spectra[pi], spectra[pj]  # constant: gathered once, not at every evaluation
    inner = slice(2 * r, n)

    def kernels(sigma: float) -> tuple[torch.Tensor, torch.Tensor]:
        """Kernels (T, P, 2r+1, 2r+1) and how far (px) their samples stray beyond the window."""
        th = knots[i0] * (1 - frac) + knots[i0 + 1] * frac  # (T, P, M, 3) mrad
        th = th - th.mean(2, keepdim=True)
        uv = torch.einsum("tpij,tpmj->tpmi", jac_t, th) * 1e-3 + sub_px[:, :, None, :]  # (T, P, M, 2) px
        gx = torch.exp(-0.5 * ((grid - uv[..., 0:1]) / sigma) ** 2)
        gy = torch.exp(-0.5 * ((grid - uv[..., 1:2]) / sigma) ** 2)
        k = torch.einsum("tpmy,tpmx->tpyx", gy, gx)
        return k / k.sum((-1, -2), keepdim=True), torch.relu(uv.abs() - (r - 2 * sigma))

    def losses(sigma: float) -> tuple[torch.Tensor, torch.Tensor]:
        k, stray = kernels(sigma)
        fk = torch.fft.rfft2(k, s=size)
        a = torch.fft.irfft2(spec_i * fk[pj], s=size)[..., inner, inner]
        b = torch.fft.irfft2(spec_j * fk[pi], s=size)[..., inner, inner]
        num = ((a - b) ** 2).sum((-1, -2))
        den = (a - a.mean((-1, -2), keepdim=True)).square().sum((-1, -2))
        den = den + (b - b.mean((-1, -2), keepdim=True)).square().sum((-1, -2))
        data = (pair_w * num / den.clamp_min(1e-8)).sum() / pair_w.sum()
        d2 = knots[2:] - 2 * knots[1:-1] + knots[:-2]
        means = (knots[m0] * (1 - mfrac) + knots[m0 + 1] * mfrac).mean(1)
        means = means - means[0] + target[0]  # angles are relative to frame 0; the trace's zero is free
        prior = cfg.smoothness * d2.square().mean() + cfg.mean_weight * (means - target).square().mean()
        # samples pushed out of the kernel window vanish from the kernel, so without this the fit can
        # drop inconvenient parts of a path (seen at the first frame's start: 3.7× the true extent)
        prior = prior + cfg.window_weight * stray.square().mean()
        return data, data + prior

    with torch.no_grad():
        loss_start = float(losses(cfg.sigma_px)[0])
    evals = 0
    steps = max(2, int(np.ceil(cfg.iterations / 10)))
    bar = tqdm(total=steps, desc="blur fit", unit="×10 it", disable=not progress, leave=False)

    def stage(sigma: float, stage_steps: int) -> None:
        # a new L-BFGS per stage: its curvature history belongs to the previous objective
        opt = torch.optim.LBFGS([knots, sub_px], lr=1, max_iter=10, history_size=20, line_search_fn="strong_wolfe")

        def closure() -> torch.Tensor:
            nonlocal evals
            evals += 1
            opt.zero_grad()
            total = losses(sigma)[1]
            total.backward()
            return total

        for _ in range(stage_steps):
            opt.step(closure)
            bar.update(1)

    stage(cfg.coarse_sigma_px, steps // 2)
    stage(cfg.sigma_px, steps - steps // 2)
    bar.close()
    with torch.no_grad():
        loss_end = float(losses(cfg.sigma_px)[0])
    trace = RotationTrace(knot_t, knots.detach().double().cpu().numpy() * 1e-3, "fitted to the blur")
    return BlurFit(trace, angles, starts, span, loss_start, loss_end, evals, time.perf_counter() - t0)


def exposure_problem(exposure_s: float, interval_s: float) -> str | None:
    """Why an exposure cannot be blur-fitted at this frame interval, or None when it can.

    The fit chains consecutive exposures, so an exposure must be positive and no longer than the
    interval (5 % tolerance for rounded metadata).
    """
    if exposure_s <= 0:
        return f"exposure {exposure_s * 1e3:g} ms must be positive"
    if exposure_s > 1.05 * interval_s + 1e-9:
        return f"exposure {exposure_s * 1e3:g} ms is longer than the frame interval {interval_s * 1e3:.1f} ms"
    return None


def track_with_blur_fit(
    frames: np.ndarray,
    queries: np.ndarray,
    times: np.ndarray,
    intrinsics: Intrinsics,
    exposure_s: float,
    readout_s: float = 0.0,
    pivot_m: float = DEFAULT_PIVOT_M,
    depth_m: float = 2.0,
    solver=None,
    init: Tracks | None = None,
    config: BlurFitConfig | None = None,
    cross_blur: CrossBlurConfig | None = None,
    progress: bool = True,
    device="cpu",
) -> tuple[Tracks, BlurFit]:
    """Blur-compensated tracks of ``queries`` (N, 3) from the video alone (module docstring).

    Args:
        times: (T,) frame timestamps, seconds (only their spacing is used: the first-row
            exposure of frame ``k`` starts at ``times[k] − times[0]`` on the fitted trace's clock).
        exposure_s, readout_s: the camera's exposure per row and rolling-shutter readout.
        pivot_m, depth_m: imaging model of the rotation solve and the kernels.
        solver: :class:`~motiondepth.trajectory.SolverConfig` of the rotation solve.
        init: plain KLT tracks, if already computed.
        device: where the fit runs (:func:`fit_blur_trace`).

    Returns:
        the tracks (``meta["blur_fit"]`` holds the fit's summary) and the :class:`BlurFit`,
        whose trace is a dense trajectory of the clip.
    """
    t_len, h, w = frames.shape[:3]
    times = np.asarray(times, dtype=np.float64)
    if len(times) != t_len:
        raise ValueError(f"need {t_len} frame times, got {len(times)}")
    interval = float(np.median(np.diff(times))) if t_len > 1 else 0.0
    problem = exposure_problem(exposure_s, interval)
    if problem:
        raise ValueError(problem)
    init = init if init is not None else KLTTracker().track(frames, queries)
    traj = first_solve(init, intrinsics, pivot_m, depth_m, solver=solver, purpose="the blur fit")
    cam = kernel_camera("blur-fit", exposure_s, readout_s, pivot_m, (h, w), t_len, interval)
    cfg = config or BlurFitConfig()
    starts = times - times[0]
    fit = fit_blur_trace(frames, init, np.nan_to_num(traj.angles), cam, intrinsics, starts, depth_m, cfg, progress,
                         device)  # fmt: skip
    try:
        kernels = exposure_kernels(fit.trace, cam, intrinsics, starts, cfg.tiles, depth_m)
    except ValueError as exc:  # a fitted motion no exposure can blur (kernels are capped)
        raise InputError("--blur-fit", f"{exc}: the fitted motion is beyond this clip's blur") from None
    out = track_cross_blur(frames, queries, kernels, cross_blur, init=init)
    out = replace(out, meta={**out.meta, "blur_fit": fit.summary() | {"config": asdict(cfg)}})
    return out, fit
