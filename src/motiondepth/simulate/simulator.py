"""Rolling-shutter, exposure-integrated shaky video from one RGB-D image (docs/design.md §3).

For every frame ``k`` and row ``r`` the exposure window is
``[t_k + r·τ_row, t_k + r·τ_row + τ_exp]``. A pixel's value is the mean, over ``M``
sub-samples of that window, of the sharp image at the back-projected location (paper Eq. 3),
averaged in linear light. The camera rotates about a pivot ``d`` metres behind it.

Back-projection uses the reference depth at the *output* pixel (small-motion approximation:
the scene point seen at pixel ``u`` at time ``t`` is assumed to have the depth the reference
image has at ``u``). Image motion is a few to tens of pixels, so this only matters within that
distance of a depth edge, and only through the small pivot-translation term (≈ d/Z of the
rotational shift). Pure rotation (``d = 0``) is exact.

Depth holes (zeros, as in Kinect data) are filled with the nearest valid depth for rendering
only, so no hole spreads into the blur; the ground-truth depth keeps them as 0.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import cv2
import numpy as np
from scipy import ndimage
from tqdm.auto import tqdm

from motiondepth.errors import InputError
from motiondepth.geometry.camera import Intrinsics, in_image, unproject
from motiondepth.geometry.pivot import project_pivot
from motiondepth.geometry.rotations import euler_to_matrix
from motiondepth.sensor.camera import CameraConfig
from motiondepth.sensor.color import linear_to_srgb_u8, srgb_to_linear
from motiondepth.sensor.trace import RotationTrace, span_times
from motiondepth.types import RGBDImage, Tracks

log = logging.getLogger(__name__)

DENSE_SAMPLES = (15, 30)


@dataclass
class ShakyVideo:
    """Simulator output: frames plus everything needed to score a method on them."""

    frames: np.ndarray  # (T, H, W, 3) uint8 sRGB
    timestamps: np.ndarray  # (T,) float64 s, start of each frame's first-row exposure
    trajectory: np.ndarray  # (T, 3) float64 rad, mean [roll, pitch, yaw] per frame span minus frame 0's
    centres: np.ndarray  # (T, 3) float64 m, mean camera centre per frame span minus frame 0's (pivot + translation)
    dense: dict[int, np.ndarray]  # S → (T, S, 3) float64 rad, S samples per frame span, minus frame 0's mean
    depth: np.ndarray  # (H, W) float32 metres, 0 = invalid (reference view)
    intrinsics: Intrinsics  # of the frames
    camera: CameraConfig  # resolved configuration
    trace: RotationTrace  # the rotation trace that drove the shake
    reference: RGBDImage  # sharp reference image at t = 0 (depth holes filled)
    blur_px: np.ndarray  # (T,) float64 length of the image-centre blur streak per frame, pixels
    meta: dict = field(default_factory=dict)  # source descriptions

    def groundtruth_arrays(self) -> dict[str, np.ndarray]:
        """The arrays written to ``groundtruth.npz``."""
        out = {
            "trajectory": self.trajectory,
            "centres": self.centres,
            "depth": self.depth,
            "intrinsics": self.intrinsics.as_array(),
            "timestamps": self.timestamps,
        }
        for s, arr in self.dense.items():
            out[f"trajectory_dense_{s}"] = arr
        return out


def prepare_rgbd(rgbd: RGBDImage, camera: CameraConfig) -> RGBDImage:
    """Centre-crop ``rgbd`` to the camera's aspect ratio and resize it to its resolution.

    Depth is resized with nearest-neighbour sampling so holes and occlusion edges stay sharp.
    Intrinsics follow the crop and resize.
    """
    h, w = rgbd.size
    if rgbd.rgb.shape[:2] != (h, w):
        raise InputError(rgbd.source, f"image is {rgbd.rgb.shape[1]}x{rgbd.rgb.shape[0]} but depth is {w}x{h}")
    target = camera.width / camera.height
    if w / h > target:
        cw, ch = round(h * target), h
    else:
        cw, ch = w, round(w / target)
    x0, y0 = (w - cw) // 2, (h - ch) // 2
    rgb = rgbd.rgb[y0 : y0 + ch, x0 : x0 + cw]
    depth = rgbd.depth[y0 : y0 + ch, x0 : x0 + cw]
    k = rgbd.intrinsics
    intr = Intrinsics(k.fx, k.fy, k.cx - x0, k.cy - y0)
    if (cw, ch) != (camera.width, camera.height):
        sx, sy = camera.width / cw, camera.height / ch
        interp = cv2.INTER_AREA if sx < 1 else cv2.INTER_LINEAR
        rgb = cv2.resize(rgb, (camera.width, camera.height), interpolation=interp)
        depth = cv2.resize(depth, (camera.width, camera.height), interpolation=cv2.INTER_NEAREST)
        intr = intr.scaled(sx, sy)
    return RGBDImage(np.ascontiguousarray(rgb), np.ascontiguousarray(depth), intr, rgbd.source)


def fill_depth(depth: np.ndarray) -> np.ndarray:
    """Replace invalid depth (≤ 0 or non-finite) by the nearest valid value."""
    invalid = ~(np.isfinite(depth) & (depth > 0))
    if not invalid.any():
        return depth.astype(np.float32)
    if invalid.all():
        raise ValueError("depth map has no valid pixel")
    idx = ndimage.distance_transform_edt(invalid, return_distances=False, return_indices=True)
    return depth[tuple(idx)].astype(np.float32)


def _frame_times(cam: CameraConfig, t0: float, m: int) -> np.ndarray:
    """Times (M, H) of the M sub-sample centres of every row's exposure in the frame starting at t0."""
    rows = np.arange(cam.height) * cam.row_time_s
    sub = (np.arange(m) + 0.5) / m * cam.exposure_s
    return t0 + sub[:, None] + rows[None, :]


def _blur_length_px(trace: RotationTrace, cam: CameraConfig, t0: float, focal: float, near_m: float = np.inf) -> float:
    """Length of the image-centre streak over the first row's exposure, pixels (translation: at ``near_m``)."""
    t = t0 + np.linspace(0.0, cam.exposure_s, 64)
    a = trace(t)
    r_max = 0.5 * np.hypot(cam.width, cam.height)
    step = np.diff(a, axis=0)
    # pitch/yaw move the centre by f·θ; roll moves the corners by r·θ; a translation moves near points by f·ΔC/Z
    shift = np.hypot(focal * np.hypot(step[:, 1], step[:, 2]), r_max * np.abs(step[:, 0]))
    if trace.positions is not None:
        shift = shift + focal * np.linalg.norm(np.diff(trace.position(t), axis=0), axis=1) / near_m
    return float(np.sum(shift))


def simulate(
    rgbd: RGBDImage,
    camera: CameraConfig,
    trace: RotationTrace,
    seed: int = 0,
    progress: bool = False,
) -> ShakyVideo:
    """Render a shaky rolling-shutter video of a static RGB-D scene.

    Args:
        rgbd: sharp RGB image with metric z-depth and intrinsics; resized to the camera's
            resolution by :func:`prepare_rgbd`.
        camera: timing, pivot, resolution and noise settings.
        trace: rotation trace starting at 0; must cover ``camera.duration_s``.
        seed: seed of the sensor noise (only used when ``camera.noise_std > 0``).
        progress: show a progress bar over frames.

    Returns:
        :class:`ShakyVideo` with frames, ground truth and the resolved configuration.
    """
    if trace.duration < camera.duration_s - 1e-9:
        raise InputError(
            trace.source, f"rotation trace lasts {trace.duration:.3f} s; the video needs {camera.duration_s:.3f} s"
        )
    ref = prepare_rgbd(rgbd, camera)
    valid = np.isfinite(ref.depth) & (ref.depth > 0)
    if not valid.any():
        raise InputError(rgbd.source, "depth map has no valid (positive) value")
    depth_filled = fill_depth(ref.depth)
    intr = ref.intrinsics
    h, w = camera.height, camera.width
    k_mat, k_inv = intr.K, intr.K_inv
    pivot = np.array([0.0, 0.0, -camera.pivot_m])

    sharp = srgb_to_linear(ref.rgb.astype(np.float32) / 255.0)
    inv_z = (1.0 / depth_filled).astype(np.float32)
    xs = np.arange(w, dtype=np.float32)[None, :]
    rows = np.arange(h, dtype=np.float64)
    rng = np.random.default_rng(seed)
    # worst-case depth scaling of the pivot term for the sub-sample count
    depth_gain = 1.0 + camera.pivot_m / float(depth_filled.min())

    frames = np.empty((camera.num_frames, h, w, 3), dtype=np.uint8)
    blur = np.empty(camera.num_frames)
    starts = np.arange(camera.num_frames) * camera.interval_s
    focal = 0.5 * (intr.fx + intr.fy)
    for k in tqdm(range(camera.num_frames), desc="simulate", disable=not progress, leave=False):
        blur[k] = _blur_length_px(trace, camera, starts[k], focal, float(depth_filled.min()))
        m = int(
            np.clip(
                np.ceil(blur[k] * depth_gain / camera.max_subsample_step_px),
                camera.min_subsamples,
                camera.max_subsamples,
            )
        )
        times = _frame_times(camera, starts[k], m)  # (M, H)
        rot = euler_to_matrix(trace(times))  # (M, H, 3, 3)
        # pixel in the reference: K(Z·R·K⁻¹u + C) ∝ (K R K⁻¹) u + (K C)/Z, with C = P − R P (+ the translation)
        a = k_mat @ rot @ k_inv  # (M, H, 3, 3)
        b = (pivot - rot @ pivot + trace.position(times)) @ k_mat.T  # (M, H, 3)
        offs = a[..., 1] * rows[None, :, None] + a[..., 2]  # (M, H, 3): row and constant terms
        acc = np.zeros((h, w, 3), dtype=np.float32)
        for j in range(m):
            aj = a[j, :, :, 0].astype(np.float32)
            oj = offs[j].astype(np.float32)
            bj = b[j].astype(np.float32)
            den = aj[:, 2:3] * xs + oj[:, 2:3] + bj[:, 2:3] * inv_z
            np.reciprocal(den, out=den)
            mx = (aj[:, 0:1] * xs + oj[:, 0:1] + bj[:, 0:1] * inv_z) * den
            my = (aj[:, 1:2] * xs + oj[:, 1:2] + bj[:, 1:2] * inv_z) * den
            acc += cv2.remap(sharp, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
        acc *= 1.0 / m
        if camera.noise_std > 0:
            acc += rng.normal(0.0, camera.noise_std, acc.shape).astype(np.float32)
        frames[k] = linear_to_srgb_u8(acc)

    trajectory, dense = groundtruth_trajectory(trace, camera)
    centres = groundtruth_centres(trace, camera)
    gt_depth = np.where(valid, ref.depth, 0.0).astype(np.float32)
    reference = RGBDImage(ref.rgb, depth_filled, intr, ref.source)
    log.info("simulated %d frames %dx%d, centre blur median %.1f px", camera.num_frames, w, h, np.median(blur))
    return ShakyVideo(
        frames, starts, trajectory, centres, dense, gt_depth, intr, camera, trace, reference, blur,
        meta={"rgbd_source": rgbd.source, "shake_source": trace.source},
    )  # fmt: skip


def groundtruth_trajectory(
    trace: RotationTrace, camera: CameraConfig, dense_samples: tuple[int, ...] = DENSE_SAMPLES
) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """Sparse and dense ground truth (docs/design.md §3.5).

    Sparse: mean angles over each frame's span ``[t_k, t_k + τ_exp + H·τ_row]`` minus frame 0's.
    Dense: ``S`` samples at the centres of ``S`` equal sub-intervals of the same span, minus
    frame 0's sparse mean.

    Returns:
        ``(trajectory (T, 3), {S: (T, S, 3)})``.
    """
    starts = np.arange(camera.num_frames) * camera.interval_s
    span = camera.frame_span_s
    # the trace is piecewise linear, so 512 samples give the mean to ~1e-7 relative
    mean = trace(span_times(starts, span, 512)).mean(axis=1)
    ref = mean[0].copy()
    dense = {s: trace(span_times(starts, span, s)) - ref for s in dense_samples}
    return mean - ref, dense


def groundtruth_centres(trace: RotationTrace, camera: CameraConfig) -> np.ndarray:
    """Mean camera centre (T, 3) metres over each frame's span, minus frame 0's: the pivot's ``P − R P`` plus the
    trace's translation, in the t = 0 camera's axes (frame 0's, to first order in its mean rotation)."""
    from motiondepth.geometry.pivot import camera_centre

    starts = np.arange(camera.num_frames) * camera.interval_s
    t = span_times(starts, camera.frame_span_s, 512)
    c = camera_centre(euler_to_matrix(trace(t)), camera.pivot_m) + trace.position(t)
    mean = c.mean(axis=1)
    return mean - mean[0]


def mean_projection(
    video: ShakyVideo, points: np.ndarray, substeps: int = 32, frames: np.ndarray | None = None
) -> np.ndarray:
    """Where reference-frame points appear in every frame: mean projection over each exposure.

    A blurred point's tracked position is approximately the mean of its projections over its
    row's exposure window; the row follows the point (rolling shutter).

    Args:
        video: simulator output.
        points: (N, 3) scene points in the reference camera frame, metres.
        substeps: sub-samples of each exposure window.
        frames: indices of the frames to project (default all).

    Returns:
        (T, N, 2) pixel positions (T = number of selected frames).
    """
    cam, intr = video.camera, video.intrinsics
    sub = (np.arange(substeps) + 0.5) / substeps * cam.exposure_s
    start = (video.timestamps if frames is None else video.timestamps[frames])[:, None]
    rows = np.broadcast_to(project_pivot(points, np.eye(3), cam.pivot_m, intr)[:, 1], (len(start), len(points)))
    for _ in range(2):  # the row depends on where the point lands; two passes converge
        t = start[..., None] + np.clip(rows, 0, cam.height - 1)[..., None] * cam.row_time_s + sub
        rot = euler_to_matrix(video.trace(t))  # (T, N, S, 3, 3)
        # X_c = Rᵀ (X − C) with C = P − R P + T: the pivot model seen from X − T
        moved = points[None, :, None, :] - video.trace.position(t)  # (T, N, S, 3)
        uv = project_pivot(moved[..., None, :], rot, cam.pivot_m, intr)[..., 0, :]
        mean = uv.mean(axis=2)
        rows = mean[..., 1]
    return mean


def groundtruth_tracks(video: ShakyVideo, queries_xy: np.ndarray) -> Tracks:
    """Exact tracks of frame-0 query pixels, from the simulator's geometry.

    Each query's scene point is found by inverting :func:`mean_projection` for frame 0
    (fixed-point iteration on the reference pixel); its depth is the reference depth there.
    """
    q = np.asarray(queries_xy, dtype=np.float64)
    depth = video.reference.depth
    h, w = depth.shape
    u = q.copy()
    for _ in range(5):
        ui = np.clip(np.round(u).astype(np.int64), 0, [w - 1, h - 1])
        pts = unproject(u, depth[ui[:, 1], ui[:, 0]], video.intrinsics)
        u = u + (q - mean_projection(video, pts, frames=np.array([0]))[0])
    tracks = mean_projection(video, pts).astype(np.float32)
    _t, n = tracks.shape[:2]
    inside = in_image(tracks, (h, w))
    queries = np.concatenate([np.zeros((n, 1)), q], 1).astype(np.float32)
    return Tracks(tracks, inside, queries, (h, w), meta={"tracker": "groundtruth"})
