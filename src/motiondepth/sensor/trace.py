"""Rotation traces and their times: the camera's orientation over time, the spans each frame integrates,
and the gyroscope's view of a trace (docs/design.md §2–3).

The vocabulary both sides speak: the simulator renders a :class:`RotationTrace`, the trackers and the
blur fit model one, a gyro log integrates to one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from motiondepth.geometry.rotations import body_rates, quat_multiply, rotvec_to_quat


@dataclass
class RotationTrace:
    """Camera orientation over time, relative to ``t = 0``."""

    times: np.ndarray  # (N,) float64 seconds, uniform spacing, times[0] == 0
    angles: np.ndarray  # (N, 3) float64 [roll, pitch, yaw] rad, angles[0] == 0
    source: str = "unknown"  # description for camera.json
    positions: np.ndarray | None = None  # (N, 3) float64 metres: the camera centre's move beyond the pivot's, in
    # the t = 0 camera's axes, positions[0] == 0 (None: the pivot model alone, docs/design.md §3.2)

    @property
    def dt(self) -> float:
        return float(self.times[1] - self.times[0])

    @property
    def duration(self) -> float:
        return float(self.times[-1])

    def __call__(self, t: np.ndarray) -> np.ndarray:
        """Linearly interpolated angles at times ``t`` (...,) → (..., 3)."""
        t = np.asarray(t, dtype=np.float64)
        pos = np.clip(t / self.dt, 0.0, len(self.times) - 1.0)
        i0 = np.minimum(pos.astype(np.int64), len(self.times) - 2)
        frac = (pos - i0)[..., None]
        return self.angles[i0] * (1.0 - frac) + self.angles[i0 + 1] * frac

    def position(self, t: np.ndarray) -> np.ndarray:
        """Linearly interpolated camera-centre offsets (…, 3) metres at times ``t`` (zeros without ``positions``)."""
        t = np.asarray(t, dtype=np.float64)
        if self.positions is None:
            return np.zeros((*t.shape, 3))
        pos = np.clip(t / self.dt, 0.0, len(self.times) - 1.0)
        i0 = np.minimum(pos.astype(np.int64), len(self.times) - 2)
        frac = (pos - i0)[..., None]
        return self.positions[i0] * (1.0 - frac) + self.positions[i0 + 1] * frac


def rate_integral(t: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Running integral (N, 3) of rates ``w`` (N, 3) sampled at ``t`` (N,), trapezoid rule, 0 at ``t[0]``.

    Per axis, with no rotation composition: the small-angle angles of a gyro log, and the integral
    whose differences give mean rates over intervals.
    """
    return np.concatenate([np.zeros((1, 3)), np.cumsum(0.5 * (w[1:] + w[:-1]) * np.diff(t)[:, None], 0)])


def integrate_gyro(t: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Integrate body-frame angular velocity to orientation quaternions (N, 4), q[0] = identity.

    Uses the midpoint rule per interval: ``q_{i+1} = q_i ⊗ exp(½ (ω_i + ω_{i+1}) Δt)``, so
    ``R(t)`` is camera-to-reference as in docs/design.md §2.
    """
    dt = np.diff(t)[:, None]
    steps = rotvec_to_quat(0.5 * (w[1:] + w[:-1]) * dt)
    q = np.empty((len(t), 4))
    q[0] = [0.0, 0.0, 0.0, 1.0]
    for i in range(len(steps)):  # sequential by nature; N ≤ ~10⁵ samples
        q[i + 1] = quat_multiply(q[i], steps[i])
        q[i + 1] /= np.linalg.norm(q[i + 1])
    return q


def gyro_from_trace(trace: RotationTrace) -> tuple[np.ndarray, np.ndarray]:
    """What a gyroscope fixed to the camera logs along ``trace``: ``(t, w)``, (N-1,) s and (N-1, 3) rad/s.

    The mean body angular velocity over each trace interval, ``rotvec(R_iᵀ R_{i+1}) / Δt``, in
    camera axes (x right, y down, z forward), stamped at the interval's midpoint; integrating it
    (:func:`integrate_gyro`) gives the trace back to within the sampling interval's curvature.
    """
    return 0.5 * (trace.times[1:] + trace.times[:-1]), body_rates(trace.angles, trace.times)


def span_times(starts: np.ndarray, span_s: float, samples: int) -> np.ndarray:
    """(T, S) times of ``samples`` uniform samples over each frame's span: the dense trajectory's
    (docs/design.md §3.5)."""
    return np.asarray(starts)[:, None] + (np.arange(samples) + 0.5) / samples * span_s
