"""Rotations in the project's Euler convention (docs/design.md §2), vectorised over leading axes.

Angles are ``[roll, pitch, yaw]`` in radians: roll about +z (optical axis), pitch about +x,
yaw about +y, composed as ``R = Rz(roll) · Ry(yaw) · Rx(pitch)``, i.e.
``scipy.spatial.transform.Rotation.from_euler("ZYX", [roll, yaw, pitch])``.
``R`` maps camera coordinates to the reference frame (camera-to-reference).

Quaternions are scalar-last ``[x, y, z, w]`` (the scipy order), unit norm.
"""

from __future__ import annotations

import numpy as np


def euler_to_matrix(angles: np.ndarray) -> np.ndarray:
    """``[roll, pitch, yaw]`` (..., 3) → rotation matrices (..., 3, 3).

    Example:
        >>> np.round(euler_to_matrix(np.array([0.0, 0.0, np.pi / 2])), 6) + 0.0
        array([[ 0.,  0.,  1.],
               [ 0.,  1.,  0.],
               [-1.,  0.,  0.]])
    """
    a = np.asarray(angles, dtype=np.float64)
    cr, sr = np.cos(a[..., 0]), np.sin(a[..., 0])
    cp, sp = np.cos(a[..., 1]), np.sin(a[..., 1])
    cy, sy = np.cos(a[..., 2]), np.sin(a[..., 2])
    # Rz(r) @ Ry(y) @ Rx(p), written out.
    r = np.empty(a.shape[:-1] + (3, 3))
    r[..., 0, 0] = cr * cy
    r[..., 0, 1] = cr * sy * sp - sr * cp
    r[..., 0, 2] = cr * sy * cp + sr * sp
    r[..., 1, 0] = sr * cy
    r[..., 1, 1] = sr * sy * sp + cr * cp
    r[..., 1, 2] = sr * sy * cp - cr * sp
    r[..., 2, 0] = -sy
    r[..., 2, 1] = cy * sp
    r[..., 2, 2] = cy * cp
    return r


def matrix_to_euler(r: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., 3, 3) → ``[roll, pitch, yaw]`` (..., 3); yaw in [−π/2, π/2]."""
    r = np.asarray(r, dtype=np.float64)
    yaw = np.arcsin(np.clip(-r[..., 2, 0], -1.0, 1.0))
    pitch = np.arctan2(r[..., 2, 1], r[..., 2, 2])
    roll = np.arctan2(r[..., 1, 0], r[..., 0, 0])
    return np.stack([roll, pitch, yaw], -1)


def euler_derivatives(angles: np.ndarray) -> np.ndarray:
    """∂R/∂[roll, pitch, yaw] for :func:`euler_to_matrix`: (..., 3) → (..., 3, 3, 3).

    ``out[..., j, :, :]`` is the derivative of ``R`` with respect to angle ``j``, written out like the matrix
    itself (no matrix products: the bundle adjustment asks for one per observation). Used by the Gauss–Newton
    solvers for an exact Jacobian.

    Example:
        >>> a = np.array([0.1, -0.2, 0.3]); e = 1e-6
        >>> num = (euler_to_matrix(a + [0, e, 0]) - euler_to_matrix(a - [0, e, 0])) / (2 * e)
        >>> bool(np.allclose(euler_derivatives(a)[1], num, atol=1e-8))
        True
    """
    a = np.asarray(angles, dtype=np.float64)
    cr, sr = np.cos(a[..., 0]), np.sin(a[..., 0])
    cp, sp = np.cos(a[..., 1]), np.sin(a[..., 1])
    cy, sy = np.cos(a[..., 2]), np.sin(a[..., 2])
    d = np.zeros(a.shape[:-1] + (3, 3, 3))
    # roll: ∂Rz · Ry · Rx
    d[..., 0, 0, 0] = -sr * cy
    d[..., 0, 0, 1] = -sr * sy * sp - cr * cp
    d[..., 0, 0, 2] = -sr * sy * cp + cr * sp
    d[..., 0, 1, 0] = cr * cy
    d[..., 0, 1, 1] = cr * sy * sp - sr * cp
    d[..., 0, 1, 2] = cr * sy * cp + sr * sp
    # pitch: Rz · Ry · ∂Rx
    d[..., 1, 0, 1] = cr * sy * cp + sr * sp
    d[..., 1, 0, 2] = -cr * sy * sp + sr * cp
    d[..., 1, 1, 1] = sr * sy * cp - cr * sp
    d[..., 1, 1, 2] = -sr * sy * sp - cr * cp
    d[..., 1, 2, 1] = cy * cp
    d[..., 1, 2, 2] = -cy * sp
    # yaw: Rz · ∂Ry · Rx
    d[..., 2, 0, 0] = -cr * sy
    d[..., 2, 0, 1] = cr * cy * sp
    d[..., 2, 0, 2] = cr * cy * cp
    d[..., 2, 1, 0] = -sr * sy
    d[..., 2, 1, 1] = sr * cy * sp
    d[..., 2, 1, 2] = sr * cy * cp
    d[..., 2, 2, 0] = -cy
    d[..., 2, 2, 1] = -sy * sp
    d[..., 2, 2, 2] = -sy * cp
    return d


def _mat(*entries: np.ndarray) -> np.ndarray:
    return np.stack(entries, -1).reshape(entries[0].shape + (3, 3))


def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    """Unit quaternions ``[x, y, z, w]`` (..., 4) → rotation matrices (..., 3, 3)."""
    q = np.asarray(q, dtype=np.float64)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    x, y, z, w = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    return _mat(
        1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w),
        2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w),
        2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y),
    )  # fmt: skip


def matrix_to_quat(r: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., 3, 3) → unit quaternions ``[x, y, z, w]`` with w ≥ 0."""
    r = np.asarray(r, dtype=np.float64)
    m00, m11, m22 = r[..., 0, 0], r[..., 1, 1], r[..., 2, 2]
    # Shepperd's method: take the largest of the four squared components for stability.
    cand = np.stack([1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22, 1 + m00 + m11 + m22], -1)
    k = np.argmax(cand, axis=-1)
    q = np.empty(r.shape[:-2] + (4,))
    s = np.sqrt(np.take_along_axis(cand, k[..., None], -1)[..., 0]) * 2.0
    m = r
    s01, s02, s12 = m[..., 0, 1] + m[..., 1, 0], m[..., 0, 2] + m[..., 2, 0], m[..., 1, 2] + m[..., 2, 1]
    d21, d02, d10 = m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1]
    quarter = 0.25 * s
    opts = [  # (x, y, z, w) for each choice of the largest component
        (quarter, s01 / s, s02 / s, d21 / s),
        (s01 / s, quarter, s12 / s, d02 / s),
        (s02 / s, s12 / s, quarter, d10 / s),
        (d21 / s, d02 / s, d10 / s, quarter),
    ]
    for i, comps in enumerate(opts):
        sel = k == i
        for j in range(4):
            q[..., j] = np.where(sel, comps[j], q[..., j]) if i else comps[j]
    q = q * np.where(q[..., 3:4] < 0, -1.0, 1.0)
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def euler_to_quat(angles: np.ndarray) -> np.ndarray:
    """``[roll, pitch, yaw]`` (..., 3) → quaternions ``[x, y, z, w]`` (..., 4)."""
    a = np.asarray(angles, dtype=np.float64)
    half = 0.5 * a
    z = np.stack([np.zeros_like(half[..., 0])] * 2 + [np.sin(half[..., 0]), np.cos(half[..., 0])], -1)
    y = np.stack(
        [np.zeros_like(half[..., 2]), np.sin(half[..., 2]), np.zeros_like(half[..., 2]), np.cos(half[..., 2])], -1
    )
    x = np.stack(
        [np.sin(half[..., 1]), np.zeros_like(half[..., 1]), np.zeros_like(half[..., 1]), np.cos(half[..., 1])], -1
    )
    return quat_multiply(quat_multiply(z, y), x)


def quat_to_euler(q: np.ndarray) -> np.ndarray:
    """Quaternions ``[x, y, z, w]`` (..., 4) → ``[roll, pitch, yaw]`` (..., 3)."""
    return matrix_to_euler(quat_to_matrix(q))


def quat_multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product ``a ⊗ b`` of ``[x, y, z, w]`` quaternions (broadcasting)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    ax, ay, az, aw = np.moveaxis(a, -1, 0)
    bx, by, bz, bw = np.moveaxis(b, -1, 0)
    return np.stack(
        [
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
            aw * bw - ax * bx - ay * by - az * bz,
        ],
        -1,
    )


def rotvec_to_quat(v: np.ndarray) -> np.ndarray:
    """Rotation vectors (..., 3) (axis · angle, rad) → quaternions ``[x, y, z, w]`` (..., 4)."""
    v = np.asarray(v, dtype=np.float64)
    angle = np.linalg.norm(v, axis=-1, keepdims=True)
    half = 0.5 * angle
    # sin(θ/2)/θ → 1/2 as θ → 0; the series keeps tiny gyro steps exact.
    k = np.where(angle > 1e-8, np.sin(half) / np.where(angle > 1e-8, angle, 1.0), 0.5 - angle**2 / 48.0)
    return np.concatenate([v * k, np.cos(half)], -1)


def body_rates(angles: np.ndarray, times: np.ndarray) -> np.ndarray:
    """(T, 3) orientations at ``times`` (T,) → (T-1, 3) mean body angular velocity over each interval, rad/s.

    ``rotvec(R_kᵀ R_{k+1}) / Δt`` in camera axes: what a gyroscope fixed to the camera integrates to
    over the interval.
    """
    from scipy.spatial.transform import Rotation

    r = euler_to_matrix(np.asarray(angles, dtype=np.float64))
    rel = np.einsum("tji,tjk->tik", r[:-1], r[1:])  # R_kᵀ R_{k+1}
    return Rotation.from_matrix(rel).as_rotvec() / np.diff(times)[:, None]


def parse_axes(axes: str) -> tuple[np.ndarray, np.ndarray]:
    """``"xyz"``-style remap: letter i is the raw axis for camera axis i, uppercase negates."""
    if len(axes) != 3 or sorted(axes.lower()) != ["x", "y", "z"]:
        raise ValueError(f"axes must be a permutation of 'xyz' with optional capitals, got {axes!r}")
    idx = np.array(["xyz".index(c.lower()) for c in axes])
    sign = np.array([-1.0 if c.isupper() else 1.0 for c in axes])
    return idx, sign
