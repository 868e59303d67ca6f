"""The focal length from the shake itself (beyond the papers; self-calibration from rotation).

Rotation angles scale with the focal length, so a clip without a calibration gives angles only as
good as the assumed field of view. Yet the shake carries the focal length: under a small yaw ``θ``
a point at normalised ``(x̂, ŷ)`` moves by (optics solver model, docs/design.md §4)

    Δu = −f θ (1 + x̂² + d/Z),    Δv = −f θ x̂ ŷ,    x̂ = (u − cx) / f

so, beside the common shift ``f θ``, the image edges move by ``f θ x̂²`` more than the centre and
the corners shear by ``f θ x̂ ŷ``. Both perspective terms scale with ``1 / f²`` given the shift: a
wrong focal length leaves a residual that grows towards the corners (at 60° the edge term is a
third of the shift). Pitch gives the same with x and y exchanged; roll is focal-free.

The pivot term ``d/Z`` is unknown per point, so each candidate focal length is scored after
:func:`~motiondepth.trajectory.parallax.pivot_parallax_depths` has fitted every point's depth and
the rotations (from a constant start: no depth map is needed). Then ``x̂²`` cannot hide in a
point's depth, which enters pitch and yaw alike. :func:`estimate_focal` scans the field of view
on a log grid, refines the minimum by a parabola and reports how sharp the minimum is.

Measured (``benchmarks/focal.py``): see docs/cli.md, *Focal length from the shake*.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from motiondepth.geometry.camera import Intrinsics
from motiondepth.trajectory.optics import SolverConfig
from motiondepth.trajectory.parallax import fit_cost, pivot_parallax_depths

HFOV_RANGE_DEG = (15.0, 130.0)  # fields of view searched by default
SHARPNESS_STEP = 1.1  # sharpness: cost at f / 1.1 and f · 1.1 over the minimum
MIN_SHARPNESS = 1.001  # a flatter minimum (on either side) is no minimum: the tracks do not move
MAX_RESIDUAL_PX = 1.5  # a worse fit at the estimate means tracks the model does not explain
MIN_TRUSTED_HFOV_DEG = 25.0  # narrower estimates are not trusted: they run wide (benchmarks/focal.py: 23.7° for 18.8°)


@dataclass
class FocalEstimate:
    """Result of :func:`estimate_focal`."""

    intrinsics: Intrinsics  # the input intrinsics with fx and fy scaled by ``scale``
    scale: float  # estimated focal length / the input's
    hfov_deg: float  # horizontal field of view of the estimate (width / 2 over fx)
    sharpness: tuple[float, float]  # profile cost at fx / 1.1 and fx · 1.1 over the cost at fx
    scales: np.ndarray = field(repr=False)  # (K,) profile: focal length / the input's
    costs: np.ndarray = field(repr=False)  # (K,) profile: robust reprojection cost, px²
    problem: str | None = None  # why the estimate is not trusted, or None
    residual_px: float = float("nan")  # robust residual (1.4826 × median) of the fit at the estimate, px

    @property
    def trusted(self) -> bool:
        return self.problem is None

    def as_dict(self) -> dict:
        """JSON-ready summary (config.json, tracks.npz meta)."""
        return {
            "fx_fy_cx_cy": self.intrinsics.as_array().tolist(),
            "scale": self.scale,
            "hfov_deg": self.hfov_deg,
            "sharpness": list(self.sharpness),
            "trusted": self.trusted,
            "problem": self.problem,
            "profile": {"scale": self.scales.tolist(), "cost_px2": self.costs.tolist()},
        }


def _fitted_depths(tracks, visible, intr, pivot_m, image_height, init_depth, config):
    """Per-point depths fitted by pivot parallax (NaN-free) and the fit's robust residual, px."""
    depth = np.broadcast_to(np.asarray(init_depth, dtype=np.float64), (tracks.shape[1],))
    fitted = pivot_parallax_depths(tracks, visible, intr, pivot_m, depth, image_height, rounds=2, config=config)
    ok = np.isfinite(fitted.depth)
    return np.where(ok, fitted.depth, np.nanmedian(fitted.depth) if ok.any() else 2.0), fitted.residual_px


def _cost_and_residual(tracks, visible, intr, pivot_m, image_height, init_depth=2.0, config=None):
    """Robust reprojection cost (px², :func:`~motiondepth.trajectory.parallax.fit_cost`) of the tracks at
    intrinsics ``intr`` after the per-point depths and the rotations are fitted (pivot parallax), and that
    fit's robust residual, px. With ``pivot_m == 0`` depth does not enter the model: the rotations alone are
    fitted and the residual is NaN."""
    depth = np.broadcast_to(np.asarray(init_depth, dtype=np.float64), (tracks.shape[1],))
    resid = float("nan")
    if pivot_m > 0:
        depth, resid = _fitted_depths(tracks, visible, intr, pivot_m, image_height, depth, config)
    return fit_cost(tracks, visible, depth, intr, pivot_m, image_height, config=config), resid


def estimate_focal(
    tracks: np.ndarray,
    visible: np.ndarray,
    intr: Intrinsics,
    pivot_m: float,
    image_size: tuple[int, int],
    hfov_range: tuple[float, float] = HFOV_RANGE_DEG,
    step: float = 0.05,
    config: SolverConfig | None = None,
    min_sharpness: float = MIN_SHARPNESS,
) -> FocalEstimate:
    """Focal length that best explains the tracks of a shaky clip (see the module docstring).

    ``fx`` and ``fy`` are scaled together (square pixels stay square) and the principal point is
    kept. The profile is scanned over ``hfov_range`` in log steps of ``step``; the minimum is refined
    by a parabola through its neighbours.

    Args:
        tracks: (T, N, 2) pixel tracks of points queried in frame 0; visible: (T, N).
        intr: starting intrinsics (their aspect ratio and principal point are kept).
        pivot_m: pivot distance ``d``, metres (0: rotation about the optical centre).
        image_size: (H, W) of the frames.
        hfov_range: horizontal fields of view searched, degrees.
        step: log-spacing of the scan (0.05 ≈ 5 % in focal length).
        min_sharpness: a minimum flatter than this (cost ratio at ±10 %) is not trusted.

    Returns:
        :class:`FocalEstimate`; ``problem`` says why it is not trusted, first match: a flat minimum
        (no motion to tell by), a minimum at the edge of the range, a poor fit (robust residual over
        :data:`MAX_RESIDUAL_PX`: tracks lost in strong blur, moving objects), or an estimate narrower
        than :data:`MIN_TRUSTED_HFOV_DEG`.

    Raises:
        ValueError: tracks of the wrong shape, fewer than 2 frames, or an empty range.
    """
    tracks = np.asarray(tracks, dtype=np.float64)
    visible = np.asarray(visible, dtype=bool)
    if tracks.ndim != 3 or tracks.shape[-1] != 2 or visible.shape != tracks.shape[:2]:
        raise ValueError(f"tracks must be (T, N, 2) with visible (T, N); got {tracks.shape}, {visible.shape}")
    if len(tracks) < 2:
        raise ValueError(f"need at least 2 frames to estimate a focal length, got {len(tracks)}")
    lo_deg, hi_deg = hfov_range
    if not 0 < lo_deg < hi_deg < 180:
        raise ValueError(f"hfov_range must be increasing within (0, 180)°, got {hfov_range}")
    height, width = image_size

    def f_of(hfov_deg: float) -> float:
        return Intrinsics.from_hfov(hfov_deg, width, height).fx

    # the scan runs over log(focal / fx), from the widest to the narrowest field of view
    l_lo, l_hi = np.log(f_of(hi_deg) / intr.fx), np.log(f_of(lo_deg) / intr.fx)
    grid = np.linspace(l_lo, l_hi, max(int(np.ceil((l_hi - l_lo) / step)) + 1, 5))
    h = grid[1] - grid[0]

    def at(log_scale: float) -> Intrinsics:  # the start's focal length times exp(log_scale)
        k = float(np.exp(log_scale))
        return replace(intr, fx=intr.fx * k, fy=intr.fy * k)

    def cost(log_scale: float) -> float:
        return _cost_and_residual(tracks, visible, at(log_scale), pivot_m, height, config=config)[0]

    costs = np.array([cost(v) for v in grid])
    i = int(np.argmin(costs))
    if i in (0, len(grid) - 1):
        best = grid[i]
    else:
        y0, y1, y2 = costs[i - 1 : i + 2]
        curv = y0 - 2.0 * y1 + y2
        best = grid[i] + (0.5 * h * (y0 - y2) / curv if curv > 0 else 0.0)
    est = at(best)
    c_at_best, resid = _cost_and_residual(tracks, visible, est, pivot_m, height, config=config)
    if pivot_m <= 0:  # the fit's residual all the same: a 1 mm pivot stands in for none (depths barely matter)
        resid = _fitted_depths(tracks, visible, est, 1e-3, height, 2.0, config)[1]
    c_best = min(c_at_best, float(costs[i]))
    steps = (-np.log(SHARPNESS_STEP), np.log(SHARPNESS_STEP))
    sharp = tuple(float(cost(best + s) / max(c_best, 1e-12)) if c_best > 0 else 1.0 for s in steps)
    hfov = est.hfov_deg(width)
    barely = (
        f"the tracks barely tell focal lengths apart (cost +{100 * max(min(sharp) - 1, 0):.2f} % at ±10 %): "
        "too little shake, or motion the rotation model does not explain"
    )
    if costs.max() <= costs.min() * min_sharpness + 1e-12:  # flat everywhere (0 to rounding without motion)
        problem = barely
    elif i in (0, len(grid) - 1):
        side = "the wide end" if i == 0 else "the narrow end"
        problem = (
            f"the best field of view is at the edge of the range searched, "
            f"{hfov_range[0]:g}–{hfov_range[1]:g}° ({side})"
        )
    elif min(sharp) < min_sharpness:
        problem = barely
    elif resid > MAX_RESIDUAL_PX:
        problem = (
            f"the tracks fit the rotation model poorly (robust residual {resid:.1f} px at the best focal length, "
            f"more than {MAX_RESIDUAL_PX:g} px): strong blur, moving objects, or not a shaky rotation"
        )
    elif hfov < MIN_TRUSTED_HFOV_DEG:
        problem = (
            f"the estimate, {hfov:.1f}°, is narrower than {MIN_TRUSTED_HFOV_DEG:g}°, where the perspective terms "
            "that carry the focal length are too weak to trust (simulated 19° and 12° lenses came out 21 % "
            "and 58 % wide)"
        )
    else:
        problem = None
    return FocalEstimate(est, float(np.exp(best)), hfov, sharp, np.exp(grid), costs, problem, resid)
