"""The metric scale of a solved camera path from the camera's accelerometer (visual–inertial alignment).

On a 6-DoF clip the images fix the camera centres only up to one scale factor: translation and depth enter
the projection as their product. An accelerometer measures the specific force ``f = Rᵀ (C̈ − g)`` in its own
axes, in metres per second squared, so the path's acceleration in metres is measurable. This module finds the
factor ``s`` that turns the run's centres ``C`` (in the depth prior's scale) into metres, as visual–inertial
odometry does when it starts up (VINS-Mono's linear alignment, Qin et al., T-RO 2018), at the position level:

    s (C_k − C_k0) = v_w τ + ½ g τ² + ∬ R P̂ᵀ (a − b) dt²,   τ = t_k − t_k0,

over windows ``w`` of about a second (each with its own start velocity ``v_w``; shorter clips are one window),
with ``R`` the camera-to-reference rotation from the run, ``P̂`` the accelerometer's axes in the camera's,
``g`` gravity in the reference camera's axes (9.81 m/s², direction unknown), ``b`` the accelerometer's bias
(a prior of :data:`BIAS_SIGMA`), and the log's clock offset. Unknowns: ``s``, ``g``'s direction, ``b`` and the
``v_w`` (robust least squares); the axes (the 24 right-handed axis maps) and the offset (a grid search)
are found from the data unless given.

The scale's uncertainty comes from the fit: the residuals' variance times the inverse normal matrix, widened
for the residuals' correlation from frame to frame (double integration makes them smooth). Where the motion
is too small for the accelerometer to see (:data:`MAX_RELATIVE_SIGMA`), no scale is given and ``why`` says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from motiondepth.geometry.rotations import euler_to_matrix, parse_axes
from motiondepth.io.accel_log import STANDARD_GRAVITY as GRAVITY
from motiondepth.io.accel_log import AccelLog
from motiondepth.sensor.gyro import axes_string, signed_permutations

WINDOW_S = 1.0  # length of one alignment window; they overlap by half
BIAS_SIGMA = 0.3  # m/s², prior on each axis of the accelerometer's bias (phones and the Kinect: ≈ 0.05–0.3)
MAX_OFFSET_S = 0.1  # the offset search's range, ± seconds
OFFSET_STEP_S = 0.005
MAX_RELATIVE_SIGMA = 0.2  # a scale known worse than this (one σ, relative) is not used
SEARCH_S = 2.0  # the axes and offset searches fit this much of the clip's start


def _signed_matrix(idx: np.ndarray, sign: np.ndarray) -> np.ndarray:
    """The 3 × 3 signed permutation with ``sign[i]`` in row ``i``, column ``idx[i]``."""
    m = np.zeros((3, 3))
    m[range(3), idx] = sign
    return m


def right_handed_axes() -> list[np.ndarray]:
    """The 24 signed permutation matrices with determinant +1 (an accelerometer's axes are right-handed)."""
    maps = (_signed_matrix(idx, sign) for idx, sign in signed_permutations())
    return [p for p in maps if np.linalg.det(p) > 0]


def axes_name(p: np.ndarray) -> str:
    """The map ``p`` (accelerometer reading = ``p`` · camera vector) in ``--gyro-axes``' words: letter ``i`` is the
    accelerometer axis that camera axis ``i`` (x right, y down, z forward) reads, a capital negated: ``"XYz"`` for
    the Kinect's."""
    q = p.T  # camera vector = q · reading
    idx = np.argmax(np.abs(q), 1)
    return axes_string(idx, q[range(3), idx])


def parse_axes_name(name: str) -> np.ndarray:
    """The matrix of :func:`axes_name`'s string; ValueError when it is not one."""
    return _signed_matrix(*parse_axes(name)).T


@dataclass
class AccelScale:
    """What :func:`accel_scale` found."""

    scale: float | None  # metres per unit of the run's centres; None: not measurable on this clip
    sigma: float | None  # one σ of ``scale``, relative (0.05: 5 %)
    axes: str  # camera axis i = accelerometer axis axes[i], a capital negated (axes_name; --gyro-axes' words)
    axes_found: bool
    offset_s: float  # added to the log's times to put them on the frames' clock
    offset_found: bool
    gravity: list[float]  # m/s² in the first frame's camera axes
    bias: list[float]  # m/s², the accelerometer's axes
    residual_mm: float  # RMS position residual of the fit
    windows: int
    motion_ms2: float  # RMS of the path's acceleration in m/s² at the found scale (what the accelerometer saw)
    why: str  # how it went, in a sentence (why there is no scale, when there is none)
    runner_up: dict = field(default_factory=dict)  # the second-best axes and their cost ratio

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _integrals(ta: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and second integrals from ``ta[0]`` of samples ``u`` (N, …) at times ``ta`` (trapezoid)."""
    dt = np.diff(ta)[:, None] if u.ndim == 2 else np.diff(ta)[:, None, None]
    v = np.concatenate([np.zeros_like(u[:1]), np.cumsum((u[1:] + u[:-1]) / 2 * dt, 0)])
    d = np.concatenate([np.zeros_like(u[:1]), np.cumsum((v[1:] + v[:-1]) / 2 * dt, 0)])
    return v, d


class _Problem:
    """The alignment at one axes map and offset: the integrals sampled at the frames, per window."""

    def __init__(self, times, angles, centres, log: AccelLog, p: np.ndarray, offset: float, windows):
        ta = log.times + offset
        sel = (ta >= times[0] - 0.05) & (ta <= times[-1] + 0.05)
        ta, a = ta[sel], log.values[sel]
        r = euler_to_matrix(np.stack([np.interp(ta, times, angles[:, i]) for i in range(3)], 1))  # (N, 3, 3)
        rp = r @ p.T  # accelerometer axes → reference camera axes
        ua = np.einsum("nij,nj->ni", rp, a)
        va, da = _integrals(ta, ua)
        vb, db = _integrals(ta, rp)  # (N, 3, 3): the same integrals of a unit bias on each axis
        at = lambda x: np.stack([np.interp(times, ta, x[:, i]) for i in range(x.shape[1])], 1)
        self.va, self.da = at(va), at(da)
        self.vb = at(vb.reshape(len(ta), 9)).reshape(-1, 3, 3)
        self.db = at(db.reshape(len(ta), 9)).reshape(-1, 3, 3)
        self.times, self.centres, self.windows = times, centres, windows
        self.g0 = -np.mean(ua, 0)  # gravity: against the mean specific force

    def residuals(self, x: np.ndarray) -> np.ndarray:
        s, gdir, b = x[0], x[1:4], x[4:7]
        g = gdir / max(np.linalg.norm(gdir), 1e-12) * GRAVITY
        out = []
        for w, (k0, k1) in enumerate(self.windows):
            v = x[7 + 3 * w : 10 + 3 * w]
            k = np.arange(k0, k1 + 1)
            tau = (self.times[k] - self.times[k0])[:, None]
            da = self.da[k] - self.da[k0] - self.va[k0] * tau
            db = self.db[k] - self.db[k0] - self.vb[k0] * tau[..., None]
            pos = s * (self.centres[k] - self.centres[k0])
            out.append((pos - v * tau - 0.5 * g * tau**2 - da + db @ b).ravel())
        # in the run's units (metres / s): the run's centres carry the noise, the accelerometer's double integral
        # hardly any, so the misfit is measured where the noise is and s is not pulled towards 0 by it
        return np.concatenate([*out, b / BIAS_SIGMA * 1e-3]) / abs(s)  # the bias prior: 1 mm per σ

    def fit(self):
        from scipy.optimize import least_squares

        x0 = np.concatenate([[1.0], self.g0, np.zeros(3), np.zeros(3 * len(self.windows))])
        sol = least_squares(self.residuals, x0, method="lm", x_scale="jac")
        if sol.x[0] < 0:  # the mirror solution: a flipped scale with gravity reversed is the same fit
            x1 = sol.x.copy()
            x1[0] = -x1[0]
            sol = least_squares(self.residuals, x1, method="lm", x_scale="jac")
        return sol


def _windows(times: np.ndarray) -> list[tuple[int, int]]:
    """Frame index ranges of :data:`WINDOW_S`, overlapping by half (one window for shorter clips)."""
    if times[-1] - times[0] <= 1.5 * WINDOW_S:
        return [(0, len(times) - 1)]
    out, k0 = [], 0
    while True:
        k1 = int(np.searchsorted(times, times[k0] + WINDOW_S))
        if k1 >= len(times) - 1 or times[-1] - times[k0] < 1.5 * WINDOW_S:
            out.append((k0, len(times) - 1))
            return out
        out.append((k0, k1))
        k0 = int(np.searchsorted(times, times[k0] + WINDOW_S / 2))


def accel_scale(times: np.ndarray, angles: np.ndarray, centres: np.ndarray, log: AccelLog,
                axes: str | None = None, offset_s: float | None = None) -> AccelScale:  # fmt: skip
    """The metric scale of ``centres`` (K, 3) (module docstring).

    Args:
        times: (K,) the frames' times on the log's clock (before ``offset_s``).
        angles: (K, 3) camera-to-reference ``[roll, pitch, yaw]`` of each frame; NaN rows are interpolated.
        centres: (K, 3) the camera centres in the reference camera's axes, in the run's scale.
        axes: the accelerometer's axes (:func:`axes_name`), else found.
        offset_s: seconds added to the log's times, else searched within ± :data:`MAX_OFFSET_S`.
    """
    times = np.asarray(times, np.float64)
    ok = np.isfinite(angles).all(1) & np.isfinite(centres).all(1)
    angles = np.stack([np.interp(times, times[ok], angles[ok, i]) for i in range(3)], 1)
    centres = np.stack([np.interp(times, times[ok], centres[ok, i]) for i in range(3)], 1)
    windows = _windows(times)
    candidates = [parse_axes_name(axes)] if axes else right_handed_axes()
    offsets = [float(offset_s)] if offset_s is not None else list(np.arange(-MAX_OFFSET_S, MAX_OFFSET_S + 1e-9,
                                                                            OFFSET_STEP_S))  # fmt: skip

    # the searches look at the first SEARCH_S seconds only (their answer does not change along a clip)
    ks = int(np.searchsorted(times, times[0] + SEARCH_S, side="right"))
    part = (times[:ks], angles[:ks], centres[:ks], log)
    part_windows = _windows(part[0])

    def cost(p, off) -> float:
        sol = _Problem(*part, p, off, part_windows).fit()
        return sol.cost if sol.x[0] > 0 else np.inf

    # axes at the middle offset, then the offset with those axes, then the axes again at that offset
    off = offsets[len(offsets) // 2]
    ranked = sorted(((cost(p, off), i) for i, p in enumerate(candidates)), key=lambda z: z[0])
    p = candidates[ranked[0][1]]
    if len(offsets) > 1:
        off = min(offsets, key=lambda o: cost(p, o))
        ranked = sorted(((cost(q, off), i) for i, q in enumerate(candidates)), key=lambda z: z[0])
        p = candidates[ranked[0][1]]
    prob = _Problem(times, angles, centres, log, p, off, windows)
    sol = prob.fit()
    res = sol.fun[:-3]  # in the run's units (residuals); times |s|: metres
    n, m = len(res), len(sol.x)
    var = float(res @ res) / max(n - m, 1)
    try:
        cov = np.linalg.inv(sol.jac.T @ sol.jac) * var
        rho = _lag1(res.reshape(-1, 3))
        sigma = float(np.sqrt(max(cov[0, 0], 0.0) * (1 + rho) / max(1 - rho, 1e-3))) / max(abs(sol.x[0]), 1e-12)
    except np.linalg.LinAlgError:
        sigma = float("inf")
    s = float(sol.x[0])
    g = sol.x[1:4] / np.linalg.norm(sol.x[1:4]) * GRAVITY
    acc = np.diff(s * centres, 2, axis=0) / np.diff(times)[1:, None] ** 2
    motion = float(np.sqrt(np.mean(acc**2)))
    runner = {}
    if len(ranked) > 1 and np.isfinite(ranked[1][0]):
        ratio = ranked[1][0] / max(ranked[0][0], 1e-12)
        runner = {"axes": axes_name(candidates[ranked[1][1]]), "cost_ratio": round(float(ratio), 2)}
    usable = s > 0 and np.isfinite(sigma) and sigma <= MAX_RELATIVE_SIGMA
    span = times[-1] - times[0]
    why = (f"scale {s:.3g} ± {sigma:.0%} from the accelerometer over {span:.1f} s ({len(windows)} window(s), "
           f"{motion:.2g} m/s² RMS of motion)") if usable else (
           f"the accelerometer cannot give the scale on this clip: ± {sigma:.0%} (at most ± "
           f"{MAX_RELATIVE_SIGMA:.0%} is used) from {span:.1f} s with {motion:.2g} m/s² RMS of motion; a longer "
           "clip or more movement (a second or more, a few m/s²) would")  # fmt: skip
    return AccelScale(
        scale=s if usable else None, sigma=round(sigma, 4) if np.isfinite(sigma) else None, axes=axes_name(p),
        axes_found=axes is None, offset_s=round(off, 4), offset_found=offset_s is None,
        gravity=[round(float(x), 4) for x in g], bias=[round(float(x), 4) for x in sol.x[4:7]],
        residual_mm=round(float(np.sqrt(np.mean(res**2))) * abs(s) * 1000, 3), windows=len(windows),
        motion_ms2=round(motion, 3), why=why, runner_up=runner,
    )  # fmt: skip


def _lag1(r: np.ndarray) -> float:
    """The residuals' lag-1 autocorrelation (K, 3), clipped to [0, 0.98]."""
    r = r - r.mean(0)
    den = float((r * r).sum())
    return float(np.clip((r[1:] * r[:-1]).sum() / den, 0.0, 0.98)) if den > 0 else 0.0
