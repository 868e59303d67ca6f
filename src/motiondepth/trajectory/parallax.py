"""Metric depth of the tracked points from pivot parallax (beyond the papers; docs/design.md §3 physics).

A hand rotates the camera about a pivot ``d`` behind it, so every rotation ``R`` also moves the
optical centre by ``(I − Rᵀ) P`` with ``P = (0, 0, −d)``: a few millimetres for a degree of shake
at ``d = 0.2`` m. Near points shift more than far ones — the same perspective effect the blur
network reads inside each exposure, here measured between frames on the tracks. With the
rotations known, each point's inverse depth ``ρ`` is a one-parameter fit:

    ρ · x_c = Rᵀ r + ρ (I − Rᵀ) P,   r = K⁻¹ [u₀, v₀, 1]ᵀ,   u = π(x_c) (+ the rolling-shutter term)

:func:`pivot_parallax_depths` alternates the robust rotation solve (:func:`solve_lsq`, with its
rolling-shutter rates) and per-point Gauss–Newton on ``ρ`` (Huber-weighted), and returns each
point's depth with a standard deviation from the fit's Fisher information. The scale is metric
*given the pivot distance*: depth is proportional to the assumed ``d``.

:func:`rescale_depth_map` then turns a dense depth map with unreliable scale (the blur network on
footage unlike its training data) metric: ``global`` multiplies it by the robust median ratio of
parallax to map depth over reliable points; ``local`` multiplies by a smooth field of those ratios
(Gaussian-weighted interpolation in log space), which also corrects large-scale shape.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from motiondepth.geometry.camera import Intrinsics, unproject
from motiondepth.geometry.rotations import euler_to_matrix
from motiondepth.trajectory.optics import SolverConfig, angle_jacobian, project_pivot, sample_depth, solve_lsq


@dataclass
class PointDepths:
    """Per-point metric depth from pivot parallax."""

    depth: np.ndarray  # (N,) metres (NaN where not estimable)
    sigma: np.ndarray  # (N,) one-sigma depth uncertainty, metres
    angles: np.ndarray  # (T, 3) rotations of the last joint solve, rad
    residual_px: float  # robust RMS of the final fit, pixels

    @property
    def reliable(self) -> np.ndarray:
        """Points whose depth is known to 25 % (one sigma) or better."""
        return np.isfinite(self.depth) & (self.sigma < 0.25 * self.depth)


def _prediction(rho, rays, rot, pivot_m, intr):
    """Pixels (T, N, 2) and d(pixel)/dρ (T, N, 2) of points at inverse depth ``rho`` (N,)."""
    a = np.einsum("tji,nj->tni", rot, rays)  # Rᵀ r
    p = np.array([0.0, 0.0, -pivot_m])
    b = p[None] - np.einsum("tji,j->ti", rot, p)  # (I − Rᵀ) P
    num = a + rho[None, :, None] * b[:, None, :]  # ρ x_c
    iz = 1.0 / num[..., 2]
    uv = np.stack([intr.fx * num[..., 0] * iz + intr.cx, intr.fy * num[..., 1] * iz + intr.cy], -1)
    du = intr.fx * (b[:, None, 0] - num[..., 0] * iz * b[:, None, 2]) * iz
    dv = intr.fy * (b[:, None, 1] - num[..., 1] * iz * b[:, None, 2]) * iz
    return uv, np.stack([du, dv], -1)


def _rs_offsets(theta, nu, rays, rho, pivot_m, intr, s):
    """Rolling-shutter term ``s_i J_ki ν_k`` of :func:`solve_lsq` as pixel offsets (T, N, 2)."""
    xp = rays / rho[:, None]
    xp[:, 2] += pivot_m
    ju, jv = angle_jacobian(xp, theta, *project_pivot(xp, theta, pivot_m), intr)  # (T, 3, N)
    return np.stack([np.einsum("tk,tkn->tn", nu, ju), np.einsum("tk,tkn->tn", nu, jv)], -1) * s[None, :, None]


def _row_offsets(p0: np.ndarray, height: float) -> np.ndarray:
    return (p0[:, 1] - 0.5 * (height - 1.0)) / height


def _residual_mask(visible: np.ndarray) -> np.ndarray:
    """Observations a residual is taken on: visible now and in frame 0, frame 0 itself left out."""
    valid = visible & visible[:1]
    valid[0] = False
    return valid


def _solved_motion(tracks, visible, rho, rays, s, intr, pivot_m, config, image_height):
    """Rotations solved for inverse depths ``rho``: angles (T, 3), matrices, rolling-shutter offsets (T, N, 2)."""
    theta, nu = solve_lsq(tracks, visible, 1.0 / rho, intr, pivot_m, config=config, image_height=image_height,
                          return_rates=True)  # fmt: skip
    return theta, euler_to_matrix(theta), _rs_offsets(theta, nu, rays, rho, pivot_m, intr, s)


def fit_cost(
    tracks: np.ndarray,
    visible: np.ndarray,
    depth: np.ndarray,
    intr: Intrinsics,
    pivot_m: float,
    image_height: int,
    huber_px: float = 0.3,
    config: SolverConfig | None = None,
) -> float:
    """Mean Huber reprojection cost (px²) of the tracks with the rotations solved for ``depth`` (N,).

    Scanning ``depth · k`` over k shows how well the tracks fix the common depth scale: a flat
    profile means the scale is not observable (see docs/results.md, pipeline results).
    """
    return _fit(tracks, visible, depth, intr, pivot_m, image_height, huber_px, config)[0]


def _fit(tracks, visible, depth, intr, pivot_m, image_height, huber_px=0.3, config=None) -> tuple[float, np.ndarray]:
    """:func:`fit_cost` and the rotations (T, 3) it was solved with."""
    tracks = np.asarray(tracks, dtype=np.float64)
    rho = 1.0 / np.asarray(depth, dtype=np.float64)
    rays = unproject(tracks[0], 1.0, intr)
    s = _row_offsets(tracks[0], image_height)
    theta, rot, rs = _solved_motion(tracks, visible, rho, rays, s, intr, pivot_m, config, image_height)
    uv, _ = _prediction(rho, rays, rot, pivot_m, intr)
    d = np.linalg.norm(uv + rs - tracks, axis=-1)[_residual_mask(visible)]
    return float(np.mean(np.where(d < huber_px, 0.5 * d**2, huber_px * (d - 0.5 * huber_px)))), theta


@dataclass
class ScaleCheck:
    """What a common depth scale of ½× and 2× does to the motion fit (:func:`scale_check`)."""

    cost_ratio: np.ndarray  # (2,) fit cost at depth / factor and depth · factor over the cost at depth
    rotation_ratio: np.ndarray  # (2,) RMS rotation solved there over the RMS rotation at depth


def scale_check(
    tracks: np.ndarray,
    visible: np.ndarray,
    depth: np.ndarray,
    intr: Intrinsics,
    pivot_m: float,
    image_height: int,
    factor: float = 2.0,
    config: SolverConfig | None = None,
) -> ScaleCheck:
    """How firmly the tracks fix the common depth scale, and how much the rotation depends on it.

    The motion is solved at ``depth / factor``, ``depth`` (N,) and ``depth · factor``.

    Returns:
        :class:`ScaleCheck`: the :func:`fit_cost` ratios to the cost at ``depth``, and the RMS
        rotation's. Cost ratios near 1 mean the tracks cannot tell the scale apart from half or
        twice it (the usual case for KLT tracks of handheld shake, ``benchmarks/parallax_scale.py``;
        exact tracks give ratios well above 1); the rotation ratios then say how far the measured
        shake could be off (for pitch and yaw the image shift is ≈ f·θ·(1 + d/Z)). NaN without
        3 valid depths.
    """
    ok = np.isfinite(depth) & (depth > 0)
    if ok.sum() < 3:
        return ScaleCheck(np.array([np.nan, np.nan]), np.array([np.nan, np.nan]))
    args = (tracks[:, ok], visible[:, ok])
    fits = [_fit(*args, f * depth[ok], intr, pivot_m, image_height, config=config) for f in (1 / factor, 1.0, factor)]
    cost = np.array([fits[0][0], fits[2][0]]) / max(fits[1][0], 1e-12)
    rms = [float(np.sqrt(np.mean(np.nan_to_num(theta) ** 2))) for _, theta in fits]
    return ScaleCheck(cost, np.array([rms[0], rms[2]]) / max(rms[1], 1e-12))


def pivot_parallax_depths(
    tracks: np.ndarray,
    visible: np.ndarray,
    intr: Intrinsics,
    pivot_m: float,
    init_depth: np.ndarray | float = 2.0,
    image_height: int | None = None,
    depth_range: tuple[float, float] = (0.1, 100.0),
    rounds: int = 3,
    huber_px: float = 0.3,
    config: SolverConfig | None = None,
) -> PointDepths:
    """Alternate rotation solves and per-point inverse-depth fits (see the module docstring).

    Args:
        tracks: (T, N, 2) pixel tracks of points queried in frame 0; visible: (T, N).
        init_depth: (N,) starting depths (e.g. the network's at the points) or one value.
        depth_range: depths are kept inside this range, metres.

    Returns:
        :class:`PointDepths`; points never visible after frame 0 get NaN depth.
    """
    if pivot_m <= 0:
        raise ValueError("pivot parallax needs a pivot distance > 0")
    tracks = np.asarray(tracks, dtype=np.float64)
    t_len, n = visible.shape
    p0 = tracks[0]
    rays = unproject(p0, 1.0, intr)
    depth = np.broadcast_to(np.asarray(init_depth, dtype=np.float64), (n,)).copy()
    depth = np.where(
        np.isfinite(depth) & (depth > 0), depth, np.nanmedian(depth[depth > 0]) if (depth > 0).any() else 2.0
    )
    rho = 1.0 / np.clip(depth, *depth_range)
    height = 2.0 * intr.cy + 1.0 if image_height is None else float(image_height)
    s = _row_offsets(p0, height)
    valid = _residual_mask(visible)
    lo, hi = 1.0 / depth_range[1], 1.0 / depth_range[0]
    info = np.zeros(n)
    sigma_px = 1.0
    theta = np.zeros((t_len, 3))
    for _ in range(rounds):
        theta, rot, rs = _solved_motion(tracks, visible, rho, rays, s, intr, pivot_m, config, image_height)
        for _ in range(3):  # Gauss–Newton on ρ, IRLS Huber weights
            uv, j = _prediction(rho, rays, rot, pivot_m, intr)
            r = uv + rs - tracks  # (T, N, 2)
            dist = np.linalg.norm(r, axis=-1)
            w = valid * np.minimum(1.0, huber_px / np.maximum(dist, 1e-12))
            jj = (w[..., None] * j * j).sum((0, 2))
            jr = (w[..., None] * j * r).sum((0, 2))
            step = -jr / np.maximum(jj, 1e-12)
            rho = np.clip(rho + np.where(jj > 0, step, 0.0), lo, hi)
        info = jj
        sigma_px = 1.4826 * np.median(dist[valid]) if valid.any() else 1.0
    depth = np.where(info > 0, 1.0 / rho, np.nan)
    sigma_rho = sigma_px / np.sqrt(np.maximum(info, 1e-300))
    sigma = np.where(info > 0, sigma_rho / rho**2, np.inf)  # dZ = dρ / ρ²
    return PointDepths(depth, sigma, theta, float(sigma_px))


def rescale_depth_map(
    depth_map: np.ndarray, points_xy: np.ndarray, points: PointDepths, mode: str = "local", min_points: int = 20
) -> tuple[np.ndarray, dict]:
    """Make ``depth_map`` (H, W) agree with reliable parallax depths at ``points_xy`` (N, 2).

    Returns:
        (rescaled map, info: ``mode`` actually used, ``scale`` (median ratio), ``points`` used, and in ``local``
        mode ``confidence`` (H, W) in [0, 1]: how much of each pixel's correction comes from nearby parallax
        points rather than the global scale).
        With fewer than ``min_points`` reliable points the map is returned unchanged (mode "none").
    """
    ok = points.reliable
    net = sample_depth(depth_map, points_xy)
    ok &= np.isfinite(net) & (net > 0)
    info = {"points": int(ok.sum()), "mode": mode, "scale": 1.0}
    if ok.sum() < min_points or mode == "none":
        info["mode"] = "none"
        return depth_map.astype(np.float32), info
    log_ratio = np.log(points.depth[ok] / net[ok])
    scale = float(np.exp(np.median(log_ratio)))
    info["scale"] = scale
    if mode == "global":
        return (depth_map * scale).astype(np.float32), info
    if mode != "local":
        raise ValueError(f"unknown rescale mode {mode!r}; use local, global or none")
    # smooth log-ratio field: Gaussian-weighted mean of the points' log ratios (weights by certainty)
    h, w = depth_map.shape
    k = 64.0 / max(h, w)  # work on a ≤ 64 px grid
    gh, gw = max(2, round(h * k)), max(2, round(w * k))
    xy = points_xy[ok] * np.array([gw / w, gh / h])
    rel = points.sigma[ok] / points.depth[ok]
    wt = 1.0 / np.maximum(rel, 0.02) ** 2
    num = np.zeros((gh, gw))
    den = np.zeros((gh, gw))
    xi = np.clip(np.round(xy[:, 0]).astype(int), 0, gw - 1)
    yi = np.clip(np.round(xy[:, 1]).astype(int), 0, gh - 1)
    np.add.at(num, (yi, xi), wt * (log_ratio - np.log(scale)))
    np.add.at(den, (yi, xi), wt)
    spacing = np.sqrt(gh * gw / max(ok.sum(), 1))
    sig = 1.5 * spacing
    num = cv2.GaussianBlur(num, (0, 0), sig, borderType=cv2.BORDER_REPLICATE)
    den = cv2.GaussianBlur(den, (0, 0), sig, borderType=cv2.BORDER_REPLICATE)
    # where data is thin the field falls back to the global scale
    field = num / (den + 0.05 * den.max())
    field = cv2.resize(field, (w, h), interpolation=cv2.INTER_LINEAR)
    # per pixel, the share of the field that comes from parallax points (1) rather than the global fallback (0)
    info["confidence"] = cv2.resize(den / (den + 0.05 * den.max()), (w, h), interpolation=cv2.INTER_LINEAR).astype(
        np.float32
    )
    return (depth_map * scale * np.exp(field)).astype(np.float32), info


def interpolate_depth_ratio(
    depth_map: np.ndarray, points_xy: np.ndarray, depth: np.ndarray, sigma: np.ndarray,
    max_rel_sigma: float = 0.1, min_points: int = 20,
) -> tuple[np.ndarray, dict]:  # fmt: skip
    """``depth_map`` (H, W) times the points' depth ratio to it, interpolated linearly between them.

    The ratio ``depth / depth_map`` of every reliable point (``sigma / depth`` below ``max_rel_sigma``) is
    interpolated in log space over their Delaunay triangulation (outside it, the nearest point's ratio). So
    the map keeps its own edges and shape between the points while matching them where they are dense
    (thousands of parallax points from :func:`~motiondepth.trajectory.small_motion.triangulate_tracks`);
    the smooth field of :func:`rescale_depth_map` suits a few dozen.

    Returns:
        (map, info: ``mode`` ``interpolated`` (or ``none`` with fewer than ``min_points``), ``scale`` (median
        ratio), ``points``, ``confidence`` (H, W) in [0, 1]: 1 at a point, falling off with the distance to
        the nearest one over twice their typical spacing: how much to trust the parallax there).
    """
    from scipy.interpolate import LinearNDInterpolator, NearestNDInterpolator
    from scipy.ndimage import distance_transform_edt
    from scipy.spatial import QhullError

    h, w = depth_map.shape
    xy = np.asarray(points_xy, np.float64)
    ok = np.isfinite(depth) & (depth > 0) & np.isfinite(sigma) & (sigma < max_rel_sigma * depth)
    ok &= (xy[:, 0] >= 0) & (xy[:, 0] <= w - 1) & (xy[:, 1] >= 0) & (xy[:, 1] <= h - 1)
    net = np.full(len(xy), np.nan)
    net[ok] = sample_depth(depth_map, xy[ok])
    ok &= np.isfinite(net) & (net > 0)
    info = {"points": int(ok.sum()), "mode": "interpolated", "scale": 1.0}
    if ok.sum() < min_points:
        info["mode"] = "none"
        return depth_map.astype(np.float32), info
    log_ratio = np.log(depth[ok] / net[ok])
    base = float(np.median(log_ratio))
    info["scale"] = float(np.exp(base))
    yy, xx = np.mgrid[:h, :w]
    try:
        field = LinearNDInterpolator(xy[ok], log_ratio - base, fill_value=np.nan)(xx, yy)
    except QhullError:  # degenerate (collinear) points: the nearest point's ratio everywhere
        field = np.full((h, w), np.nan)
    outside = ~np.isfinite(field)  # beyond the points' hull: the nearest point's ratio
    if outside.any():
        field[outside] = NearestNDInterpolator(xy[ok], log_ratio - base)(xx[outside], yy[outside])
    empty = np.ones((h, w), bool)
    ij = np.round(xy[ok]).astype(int)
    empty[ij[:, 1], ij[:, 0]] = False
    spacing = np.sqrt(h * w / ok.sum())
    conf = np.exp(-((distance_transform_edt(empty) / (2.0 * spacing)) ** 2))
    info["confidence"] = conf.astype(np.float32)
    return (depth_map * np.exp(base + field)).astype(np.float32), info
