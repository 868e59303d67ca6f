"""Rotation stabilisation: warp each frame to a steady camera with the recovered rotation.

Under the pivot model (docs/design.md §3.2) a frame at orientation ``R_k`` (camera-to-reference, the
rotation of ``trajectory.csv`` relative to frame 0) sees a distant point where frame 0 sees it
moved by the homography ``K R_kᵀ K⁻¹``. Warping frame k by ``K S_kᵀ R_k K⁻¹`` moves it to a camera
at orientation ``S_k``:
- ``S_k = I`` (``sigma_s = 0``) locks every frame to frame 0's view;
- ``S_k`` = the rotation path smoothed by a Gaussian of ``sigma_s`` seconds keeps the slow,
  intended motion and removes the shake (the smoothing acts around the path's straight-line fit, so
  a steady pan is kept up to the clip's ends).

Rolling shutter. Row r of a frame is exposed over ``[r·τ_row, r·τ_row + τ_exp]`` after the frame's
start (docs/design.md §3.3), so with a readout ``H·τ_row`` comparable to the shake's period each row sees
its own orientation: the frame is sheared and wobbles ("jello"), which one homography per frame
cannot undo. :func:`stabilize_frames` then warps row by row, ``x = K R_k(r)ᵀ S_k K⁻¹ u``, finding
each output pixel's source row ``r`` by a fixed-point iteration (the row moves by the image motion
within one readout, so three steps settle it). The per-row orientations come from
- :func:`readout_row_angles`: the solver's rolling-shutter rates (``Trajectory.readout_rotation``,
  fitted to the shear of the tracks; what ``motiondepth run`` uses). With a known readout every
  frame, frame 0 included, goes to a global-shutter view; without, frames keep frame 0's shear;
- :func:`row_angles`: a dense trajectory averaged over each row's exposure window, for a trace that
  resolves the motion within the readout (the simulator's ground truth, a gyro).
On simulated 25 fps clips with a 30 ms readout the solver's rates remove about 40 % of the
misalignment one homography per frame leaves (benchmarks/stabilize.py).

What stays in a stabilised clip is what the rotation does not explain: the pivot translation's
parallax (≈ d/Z of the rotational shift, small beyond arm's length), moving objects, the rolling
shutter's shear when the readout is unknown (one homography per frame), and the rotation's own
error. Watching the stabilised clip is therefore a direct check of a recovered trajectory. Pixels
that come from outside the source frame are black.
"""

from __future__ import annotations

from collections.abc import Iterator

import cv2
import numpy as np
from scipy.ndimage import gaussian_filter1d

from motiondepth.errors import InputError
from motiondepth.geometry.camera import Intrinsics
from motiondepth.geometry.rotations import euler_to_matrix


def _fill_gaps(angles: np.ndarray) -> np.ndarray:
    """Angles of frames the solver lost (NaN rows) interpolated in time; all lost → zeros."""
    a = np.array(angles, dtype=np.float64)
    ok = np.isfinite(a).all(1)
    if not ok.any():
        return np.zeros_like(a)
    idx = np.arange(len(a))
    for i in range(3):
        a[:, i] = np.interp(idx, idx[ok], a[ok, i])
    return a


def check_sigma(sigma_s: float) -> None:
    """The path-smoothing width must be a number ≥ 0 seconds (``--stabilize-sigma``)."""
    if not sigma_s >= 0:
        raise InputError("--stabilize-sigma", f"must be ≥ 0 seconds, got {sigma_s}")


def _target_rotations(angles: np.ndarray, times: np.ndarray | None, sigma_s: float) -> np.ndarray:
    """(T, 3, 3) orientations ``S_k`` of the stabilised camera (``angles`` already gap-filled)."""
    check_sigma(sigma_s)
    if sigma_s == 0:
        return np.broadcast_to(np.eye(3), (len(angles), 3, 3))
    dt = float(np.median(np.diff(times))) if times is not None and len(times) > 1 else 1 / 30
    # smooth around the straight line through the path, so that a steady pan is kept to the clip's ends
    idx = np.arange(len(angles), dtype=np.float64)
    trend = np.polyval(np.polyfit(idx, angles, 1), idx[:, None]) if len(angles) > 1 else angles
    return euler_to_matrix(trend + gaussian_filter1d(angles - trend, sigma_s / dt, axis=0, mode="nearest"))


def stabilizing_homographies(
    angles: np.ndarray, intr: Intrinsics, times: np.ndarray | None = None, sigma_s: float = 0.0
) -> np.ndarray:
    """(T, 3, 3) homographies that take frame k's pixels to the stabilised view (module docstring).

    Args:
        angles: (T, 3) roll, pitch, yaw of each frame relative to frame 0, rad (NaN rows are filled
            in from their neighbours).
        intr: intrinsics of the frames.
        times: (T,) frame times, s (for ``sigma_s``; default 30 fps).
        sigma_s: Gaussian smoothing of the kept camera path, seconds; 0 locks to frame 0.
    """
    a = _fill_gaps(angles)
    target = _target_rotations(a, times, sigma_s)
    return intr.K @ np.swapaxes(target, -1, -2) @ euler_to_matrix(a) @ intr.K_inv


def row_angles(
    dense: np.ndarray, span_s: float, exposure_s: float, readout_s: float, height: int, subsamples: int = 16
) -> np.ndarray:
    """(T, H, 3) orientation of every row: the dense trace averaged over the row's exposure window.

    Args:
        dense: (T, S, 3) dense trajectory, rad: S samples at ``(j + ½)/S · span_s`` after each frame's
            start (``trajectory_dense.csv``), linearly interpolated between samples and held beyond
            the first and last.
        span_s: time the S samples of a frame cover, s (exposure + readout for the simulator; the
            frame interval for ``motiondepth run``, whatever the exposure).
        exposure_s: per-row exposure τ_exp, s.
        readout_s: time from the first row's start to the last row's start, ``H·τ_row``, s.
        height: H, rows.
        subsamples: points averaged over each exposure window.

    The rows' windows, ``[r·τ_row, r·τ_row + τ_exp]`` from the first row's start, are centred in the
    span: a frame's angle (the mean over its rows) sits at the middle of its dense samples, so when
    exposure and readout fill less than the span (a short exposure in a longer frame interval) the
    middle row is read at the span's centre, not at its start.
    """
    dense = np.asarray(dense, dtype=np.float64)
    if dense.ndim != 3 or dense.shape[2] != 3:
        raise InputError("dense trajectory", f"must be (frames, samples, 3), got {dense.shape}")
    if not (span_s > 0 and exposure_s >= 0 and readout_s >= 0 and height >= 1):
        raise InputError(
            "rolling-shutter timing",
            f"needs span > 0, exposure ≥ 0, readout ≥ 0 and rows ≥ 1 (got span {span_s} s, exposure "
            f"{exposure_s} s, readout {readout_s} s, {height} rows)",
        )
    t_len, s = dense.shape[:2]
    sample_t = (np.arange(s) + 0.5) / s * span_s
    row_start = (span_s - exposure_s - readout_s) / 2 + np.arange(height) / max(height - 1, 1) * readout_s
    query_t = (row_start[:, None] + (np.arange(subsamples) + 0.5) / subsamples * exposure_s).ravel()
    out = np.empty((t_len, height, 3))
    for k in range(t_len):
        for axis in range(3):
            out[k, :, axis] = np.interp(query_t, sample_t, dense[k, :, axis]).reshape(height, subsamples).mean(1)
    return out


def readout_row_angles(angles: np.ndarray, readout_rotation: np.ndarray, height: int) -> np.ndarray:
    """(T, H, 3) per-row orientation ``θ_k + (r − (H − 1)/2) / H · Δ_k`` (the solver's first-order model).

    Args:
        angles: (T, 3) per-frame angles (the middle row's), rad.
        readout_rotation: (T, 3) ``Δ_k``, the rotation from the top row to the bottom row, rad
            (:attr:`~motiondepth.types.Trajectory.readout_rotation`).
        height: H, rows.
    """
    angles, readout_rotation = np.asarray(angles, dtype=np.float64), np.asarray(readout_rotation, dtype=np.float64)
    if readout_rotation.shape != angles.shape:
        raise InputError("readout rotation", f"must be (frames, 3) = {angles.shape}, got {readout_rotation.shape}")
    s = (np.arange(height) - 0.5 * (height - 1)) / height
    return angles[:, None, :] + s[None, :, None] * readout_rotation[:, None, :]


MAP_STEP_PX = 8  # the row-by-row warp's source map is solved every this many pixels and interpolated between


def _row_warp_map(row_rot: np.ndarray, target: np.ndarray, intr: Intrinsics, ys: np.ndarray, xs: np.ndarray):
    """Source pixel (x, y) of output pixels ``ys × xs`` (module docstring): ``row_rot`` (H, 3, 3) per row."""
    h = len(row_rot)
    inv = intr.K @ np.swapaxes(row_rot, -1, -2) @ target @ intr.K_inv  # (H, 3, 3): output pixel → source
    gx, gy = np.meshgrid(xs, ys)
    u = np.stack([gx, gy, np.ones_like(gx)], -1)
    src_row = gy
    for _ in range(3):  # the source row depends on the row's orientation: fixed point
        x = np.einsum("hwij,hwj->hwi", inv[np.clip(np.rint(src_row), 0, h - 1).astype(np.int64)], u)
        src_row = x[..., 1] / x[..., 2]
    return x[..., 0] / x[..., 2], src_row


def _lerp_weights(n_fine: int, n_coarse: int) -> tuple[np.ndarray, np.ndarray]:
    """Left coarse index and weight of the right one for every fine index, the two grids sharing their ends."""
    pos = np.arange(n_fine) * ((n_coarse - 1) / max(n_fine - 1, 1))
    left = np.minimum(pos.astype(np.int64), n_coarse - 2)
    return left, (pos - left).astype(np.float32)


class _RowWarper:
    """Warps frames of one size row by row. The source map is smooth (a homography that changes by a
    tiny rotation from row to row), so it is solved on a grid every :data:`MAP_STEP_PX` pixels and
    interpolated bilinearly to every pixel: a tenth of the time on a 1080p frame (0.025 s against 0.25 s),
    within 0.01 px (median; at most 0.06 px, where the per-pixel solve's row lookup rounds to whole rows)
    of the map solved at every pixel on the shaken test clip (tests/trajectory/test_stabilize.py)."""

    def __init__(self, h: int, w: int, intr: Intrinsics, step: int = MAP_STEP_PX) -> None:
        self.intr = intr
        self.ys = np.linspace(0.0, h - 1.0, max(int(np.ceil((h - 1) / step)) + 1, 2))
        self.xs = np.linspace(0.0, w - 1.0, max(int(np.ceil((w - 1) / step)) + 1, 2))
        self.wy, self.wx = _lerp_weights(h, len(self.ys)), _lerp_weights(w, len(self.xs))

    def upsample(self, coarse: np.ndarray) -> np.ndarray:
        """(len(ys), len(xs)) grid values → (H, W) float32, bilinear (exact, unlike cv2.remap's 1/32 steps)."""
        (iy, ty), (ix, tx) = self.wy, self.wx
        c = coarse.astype(np.float32)
        rows = c[iy] * (1 - ty[:, None]) + c[iy + 1] * ty[:, None]  # (H, len(xs))
        return rows[:, ix] * (1 - tx) + rows[:, ix + 1] * tx

    def __call__(self, frame: np.ndarray, row_rot: np.ndarray, target: np.ndarray) -> np.ndarray:
        map_x, map_y = (self.upsample(c) for c in _row_warp_map(row_rot, target, self.intr, self.ys, self.xs))
        return cv2.remap(frame, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)


def stabilize_frames(
    frames: np.ndarray,
    angles: np.ndarray,
    intr: Intrinsics,
    times: np.ndarray | None = None,
    sigma_s: float = 0.0,
    rows: np.ndarray | None = None,
) -> np.ndarray:
    """Frames (T, H, W, 3) uint8 warped to the stabilised camera (:func:`stabilizing_homographies`).

    With ``rows`` (T, H, 3), per-row orientations (:func:`readout_row_angles`, :func:`row_angles`),
    each row is warped with its own rotation, which also removes the rolling shutter's shear and
    wobble; frames whose row angles are not finite fall back to their per-frame angle.
    :func:`iter_stabilized_frames` gives the same frames one at a time.
    """
    return np.stack(list(iter_stabilized_frames(frames, angles, intr, times, sigma_s, rows)))


def iter_stabilized_frames(
    frames: np.ndarray,
    angles: np.ndarray,
    intr: Intrinsics,
    times: np.ndarray | None = None,
    sigma_s: float = 0.0,
    rows: np.ndarray | None = None,
) -> Iterator[np.ndarray]:
    """:func:`stabilize_frames` frame by frame (to write a long clip without a second copy in memory); the
    inputs are checked at the call, before the first frame."""
    frames = np.asarray(frames)
    if len(angles) != len(frames):
        raise InputError("trajectory", f"has {len(angles)} frames, the video {len(frames)}")
    h, w = frames.shape[1:3]
    if rows is None:
        hom = stabilizing_homographies(angles, intr, times, sigma_s)
        return (
            cv2.warpPerspective(f, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
            for f, m in zip(frames, hom, strict=True)
        )
    rows = np.asarray(rows, dtype=np.float64)
    if rows.shape != (len(frames), h, 3):
        raise InputError("row angles", f"must be (frames, rows, 3) = ({len(frames)}, {h}, 3), got {rows.shape}")
    a = _fill_gaps(angles)
    target = _target_rotations(a, times, sigma_s)
    lost = ~np.isfinite(rows).all(axis=(1, 2))
    rows = np.where(lost[:, None, None], a[:, None, :], rows)
    warp = _RowWarper(h, w, intr)
    return (warp(f, euler_to_matrix(r), s) for f, r, s in zip(frames, rows, target, strict=True))
