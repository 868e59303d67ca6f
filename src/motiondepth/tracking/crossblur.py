"""Blur-compensated Lucas–Kanade when the exposure blur kernels are known (e.g. from a gyroscope).

Why. A point's tracked position should be the centroid of its blur streak (docs/design.md §4), but hand
tremor makes streaks asymmetric, and matching two differently blurred images biases the match
towards the streaks' bright lobes. On the ``telephoto`` preset this bias (≈ 0.4 px per point,
correlated within image regions) is what separates KLT tracks from exact ones in the solver.

How. If frame ``a`` is the sharp image convolved with kernel ``h_a`` and frame ``b`` with ``h_b``,
then ``frame_a ⊛ h_b`` and ``frame_b ⊛ h_a`` are the same image (blurred by ``h_a ⊛ h_b``), apart
from the displacement of the streak centroids when both kernels are centred on their centroids.
Lucas–Kanade between these *cross-blurred* images therefore finds the centroid displacement
without the lobe bias. Kernels vary over the image (roll blurs the corners more than the centre,
and rolling shutter shifts each row's exposure window), so they are computed per tile and each
point is matched inside its tile.

Where the kernels come from. :func:`exposure_kernels` computes them from a rotation trace with
the imaging model of docs/design.md §3: in simulation the true trace, on real clips a time-aligned
gyroscope log (:mod:`~motiondepth.tracking.gyro_aided`) or the trace fitted to the video's own
blur (:mod:`~motiondepth.tracking.blur_fit`). They cannot be recovered from the per-frame
trajectory alone: at the presets' 16 frames per second the 6–12 Hz tremor is aliased, and
kernels interpolated from per-frame angles are worse than none (``benchmarks/foundation.py``
measures all of these).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np

from motiondepth.geometry.camera import Intrinsics, in_image, unproject
from motiondepth.geometry.pivot import project_pivot
from motiondepth.geometry.rotations import euler_to_matrix
from motiondepth.sensor.camera import CameraConfig
from motiondepth.sensor.color import srgb_to_linear
from motiondepth.sensor.trace import RotationTrace
from motiondepth.tracking.base import check_inputs
from motiondepth.tracking.klt import KLTConfig, KLTTracker, _lk, outward_frames
from motiondepth.types import Tracks, Trajectory


@dataclass
class BlurKernels:
    """Per-frame, per-tile exposure blur kernels.

    ``kernels[k][j][i]`` is frame ``k``'s kernel for tile row ``j``, column ``i`` of a
    ``tiles × tiles`` grid over the image: a small float32 image summing to 1, in convolution
    orientation for :func:`cv2.filter2D` (already flipped) and centred on the streak centroid.
    """

    kernels: list[list[list[np.ndarray]]]
    tiles: int
    image_size: tuple[int, int]  # (H, W)

    def tile_of(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Tile column and row (N,), (N,) of pixel positions (N, 2)."""
        return tile_index(xy, self.tiles, self.image_size)

    def tile_bounds(self, col: int, row: int) -> tuple[int, int, int, int]:
        """Pixel bounds ``(x0, x1, y0, y1)`` of a tile."""
        h, w = self.image_size
        return (col * w // self.tiles, (col + 1) * w // self.tiles, row * h // self.tiles, (row + 1) * h // self.tiles)


def tile_index(xy: np.ndarray, tiles: int, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Column and row (N,), (N,) in a ``tiles × tiles`` grid over an image of ``size`` (H, W) of pixels (N, 2)."""
    h, w = size
    col = np.clip((xy[:, 0] + 0.5) * tiles // w, 0, tiles - 1).astype(int)
    row = np.clip((xy[:, 1] + 0.5) * tiles // h, 0, tiles - 1).astype(int)
    return col, row


def tile_centres(tiles: int, size: tuple[int, int]) -> np.ndarray:
    """(tiles², 2) pixel centres of a ``tiles × tiles`` grid over an image of ``size`` (H, W), row-major."""
    h, w = size
    cx = (np.arange(tiles) + 0.5) * w / tiles - 0.5
    cy = (np.arange(tiles) + 0.5) * h / tiles - 0.5
    return np.stack(np.meshgrid(cx, cy), -1).reshape(-1, 2)


def kernel_camera(
    name: str, exposure_s: float, readout_s: float, pivot_m: float, size: tuple[int, int], num_frames: int,
    interval_s: float | None = None,
) -> CameraConfig:  # fmt: skip
    """The camera timing :func:`exposure_kernels` needs, from exposure and readout times of a real clip."""
    h, w = size
    return CameraConfig(
        name=name, exposure_s=exposure_s, row_time_s=readout_s / h, pivot_m=pivot_m, width=w, height=h,
        num_frames=num_frames, frame_interval_s=interval_s,
    )  # fmt: skip


def first_solve(
    tracks: Tracks,
    intrinsics: Intrinsics,
    pivot_m: float,
    depth_m: float,
    times: np.ndarray | None = None,
    solver=None,
    purpose: str = "this",
) -> Trajectory:
    """The rotation solved from the frame-0 points of ``tracks`` at a constant depth (lsq mode).

    The first step of gyro-aided and blur-fit tracking: depth barely moves the angles. ``purpose``
    names the caller in the error raised when fewer than 3 points are queried in frame 0.
    """
    from motiondepth.trajectory.optics import solve_trajectory

    first = tracks.queries[:, 0] == 0
    if first.sum() < 3:
        raise ValueError(f"{purpose} needs at least 3 points queried in frame 0")
    h, w = tracks.image_size
    return solve_trajectory(
        tracks.tracks[:, first].astype(np.float64), tracks.visible[:, first], np.full((h, w), depth_m),
        intrinsics, pivot_m, times, "lsq", config=solver, image_height=h,
    )  # fmt: skip


MAX_KERNEL_RADIUS = 256  # px: a blur longer than this is beyond what the trackers can undo (and would cost GBs)


def _splat(offsets: np.ndarray) -> np.ndarray:
    """Bilinear histogram of displacement samples (n, 2), flipped for filter2D, summing to 1.

    Raises:
        ValueError: the blur is longer than :data:`MAX_KERNEL_RADIUS` in any direction, or not finite.
    """
    u = -offsets  # filter2D correlates; a flipped kernel makes it a convolution
    extent = float(np.abs(u).max()) if len(u) else 0.0
    if not np.isfinite(extent) or extent > MAX_KERNEL_RADIUS:
        raise ValueError(f"a blur kernel reaches {extent:.3g} px, beyond the {MAX_KERNEL_RADIUS} px any exposure here "
                         "can blur")  # fmt: skip
    r = int(np.ceil(extent)) + 1
    k = np.zeros((2 * r + 1, 2 * r + 1), dtype=np.float64)
    x, y = u[:, 0] + r, u[:, 1] + r
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    fx, fy = x - x0, y - y0
    for dx, dy, wgt in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)), (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
        np.add.at(k, (y0 + dy, x0 + dx), wgt)
    return (k / k.sum()).astype(np.float32)


def exposure_kernels(
    trace: RotationTrace,
    camera: CameraConfig,
    intrinsics: Intrinsics,
    frame_starts: np.ndarray,
    tiles: int = 4,
    depth_m: float = 10.0,
    substeps: int = 256,
) -> BlurKernels:
    """Blur kernels at the tile centres of every frame, from a rotation trace (docs/design.md §3).

    Args:
        trace: camera orientation over time (the simulator's trace or an aligned gyro log).
        camera: exposure, row time, pivot and resolution.
        intrinsics: of the frames.
        frame_starts: (T,) start of each frame's first-row exposure, seconds on the trace's clock.
        tiles: the image is split into ``tiles × tiles`` regions with one kernel each.
        depth_m: scene depth used for the (small) pivot-translation part of the motion.
        substeps: samples of each exposure window.

    Returns:
        :class:`BlurKernels`.
    """
    h, w = camera.height, camera.width
    centres = tile_centres(tiles, (h, w))
    points = unproject(centres, np.full(len(centres), depth_m), intrinsics)  # (P, 3)
    sub = (np.arange(substeps) + 0.5) / substeps * camera.exposure_s
    out = []
    for start in np.asarray(frame_starts, dtype=np.float64):
        t = start + centres[:, 1:2] * camera.row_time_s + sub[None, :]  # (P, S)
        rot = euler_to_matrix(trace(t))  # (P, S, 3, 3)
        uv = project_pivot(points[:, None, None, :], rot, camera.pivot_m, intrinsics)[..., 0, :]  # (P, S, 2)
        ks = [_splat(p - p.mean(axis=0)) for p in uv]
        out.append([ks[j * tiles : (j + 1) * tiles] for j in range(tiles)])
    return BlurKernels(out, tiles, (h, w))


@dataclass
class CrossBlurConfig:
    """Settings of :func:`track_cross_blur` (Lucas–Kanade settings come from :class:`KLTConfig`)."""

    smooth_sigma_px: float = 1.5  # Gaussian on the cross-blurred images (noise, quantisation)
    margin_px: int = 48  # context around each tile for the filters and the search
    levels: int = 2  # pyramid levels (the initial guess is the plain KLT track)
    fb_threshold_px: float = 1.0  # forward–backward error for "visible"
    max_shift_px: float = 3.0  # farther than this from a visible plain-KLT position → not visible


def track_cross_blur(
    frames: np.ndarray,
    queries: np.ndarray,
    kernels: BlurKernels,
    config: CrossBlurConfig | None = None,
    klt: KLTConfig | None = None,
    init: Tracks | None = None,
) -> Tracks:
    """Track ``queries`` (N, 3) ``(t, x, y)`` through ``frames`` (T, H, W, 3) uint8 with known blur.

    Plain KLT tracks (``init``, computed when not given) supply the initial guesses; every point
    is then matched from its query frame directly to each other frame, between cross-blurred
    crops of its tile. Starting from KLT keeps KLT's search range (its full-image pyramid); the
    refinement only removes the blur bias, so a refined point that lands more than
    ``max_shift_px`` from its visible KLT position is a mismatch and marked not visible.
    """
    check_inputs(frames, queries)
    cfg = config or CrossBlurConfig()
    lk_cfg = klt or KLTConfig()
    t_len, h, w = frames.shape[:3]
    if kernels.image_size != (h, w) or len(kernels.kernels) != t_len:
        raise ValueError(
            f"kernels are for {len(kernels.kernels)} frames of {kernels.image_size}, video is {t_len} of {(h, w)}"
        )
    if init is None:
        init = KLTTracker(lk_cfg).track(frames, queries)
    elif init.tracks.shape != (t_len, len(queries), 2):
        raise ValueError(f"init tracks are {init.tracks.shape}, expected {(t_len, len(queries), 2)}")
    lin = [srgb_to_linear(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0) for f in frames]
    n = len(queries)
    tracks = np.zeros((t_len, n, 2), dtype=np.float32)
    visible = np.zeros((t_len, n), dtype=bool)
    m = cfg.margin_px

    def crop(img: np.ndarray, x0: int, y0: int, cw: int, ch: int) -> np.ndarray:
        """``img[y0:y0+ch, x0:x0+cw]`` with reflected borders where the window leaves the image."""
        pad = max(0, -x0, -y0, x0 + cw - w, y0 + ch - h)
        if pad:
            img = cv2.copyMakeBorder(img, pad, pad, pad, pad, cv2.BORDER_REFLECT101)
        return img[y0 + pad : y0 + pad + ch, x0 + pad : x0 + pad + cw]

    def to_u8(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if cfg.smooth_sigma_px > 0:
            a = cv2.GaussianBlur(a, (0, 0), cfg.smooth_sigma_px)
            b = cv2.GaussianBlur(b, (0, 0), cfg.smooth_sigma_px)
        s = 250.0 / max(float(a.max()), float(b.max()), 1e-6)
        return (a * s).astype(np.uint8), (b * s).astype(np.uint8)

    for tq in np.unique(queries[:, 0]).astype(int):
        sel_q = np.flatnonzero(queries[:, 0] == tq)
        q = queries[sel_q, 1:].astype(np.float32)
        tracks[tq, sel_q] = q
        visible[tq, sel_q] = True
        col, row = kernels.tile_of(q)
        for j, i in sorted(set(zip(row.tolist(), col.tolist(), strict=True))):
            inside = np.flatnonzero((row == j) & (col == i))
            idx = sel_q[inside]
            pts = q[inside]
            x0, x1, y0, y1 = kernels.tile_bounds(i, j)
            cw, ch = x1 - x0 + 2 * m, y1 - y0 + 2 * m
            off_q = np.array([x0 - m, y0 - m], dtype=np.float32)
            ref = crop(lin[tq], x0 - m, y0 - m, cw, ch)
            k_q = kernels.kernels[tq][j][i]
            for frames_k in outward_frames(tq, t_len):
                prev = pts.copy()
                for k in frames_k:
                    known = init.visible[k, idx]
                    guess = np.where(known[:, None], init.tracks[k, idx], prev)
                    # crop frame k where the tile has moved to, so the search stays inside the crop
                    shift = np.round(np.median(guess - pts, axis=0)).astype(int)
                    off_k = off_q + shift.astype(np.float32)
                    a = cv2.filter2D(ref, -1, kernels.kernels[k][j][i], borderType=cv2.BORDER_REFLECT101)
                    b = cv2.filter2D(
                        crop(lin[k], int(off_k[0]), int(off_k[1]), cw, ch), -1, k_q, borderType=cv2.BORDER_REFLECT101
                    )
                    a8, b8 = to_u8(a, b)
                    p0 = pts - off_q
                    fwd, ok_f = _lk(lk_cfg, a8, b8, p0, guess - off_k, cfg.levels)
                    back, ok_b = _lk(lk_cfg, b8, a8, fwd, None, cfg.levels)
                    pos = fwd + off_k
                    fb = np.linalg.norm(back - p0, axis=1)
                    vis = ok_f & ok_b & in_image(pos, (h, w)) & (fb < cfg.fb_threshold_px)
                    vis &= ~known | (np.linalg.norm(pos - guess, axis=1) <= cfg.max_shift_px)
                    tracks[k, idx] = pos
                    visible[k, idx] = vis
                    prev = np.where(vis[:, None], pos, prev)
    meta = {"tracker": "klt-cross-blur", "tiles": kernels.tiles, **asdict(cfg)}
    return Tracks(tracks, visible, queries.astype(np.float32), (h, w), meta=meta)
