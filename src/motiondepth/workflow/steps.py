"""The pipeline's computing steps, each a plain function: tracks, focal length, depth, rotation, dense
trajectory and depth over time."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from motiondepth.errors import InputError
from motiondepth.geometry.camera import DEFAULT_HFOV_DEG, Intrinsics
from motiondepth.geometry.pivot import DEFAULT_PIVOT_M
from motiondepth.types import RunWarning, Tracks, Tracks3D, Trajectory
from motiondepth.workflow.config import FOCAL_AUTO, DepthRescale, MotionFit


def track_points(
    frames: np.ndarray,
    intrinsics: Intrinsics | None,
    grid_half: int = 12,
    tracker: str = "klt",
    progress: bool = False,
) -> Tracks:
    """Track the paper's query grid ((2·grid_half + 1)² points placed in frame 0) through ``frames``."""
    from motiondepth.tracking.grid import track_frames

    opts = {"progress": progress} if tracker == "klt" else {}
    try:
        return track_frames(frames, grid_half, intrinsics, tracker, **opts)
    except ValueError as exc:
        raise InputError("tracking", str(exc)) from None


def make_tracks(
    frames: np.ndarray,
    times: np.ndarray,
    intr: Intrinsics,
    grid_half: int,
    tracker: str,
    pivot_m: float,
    solver,
    imported: Tracks | None = None,
    auto_focal: bool = False,
    blur_fit: tuple[float, float] | None = None,
    gyro=None,
    progress: bool = False,
    device: str = "cpu",
    recorded: np.ndarray | None = None,
) -> tuple[Tracks, Intrinsics]:
    """The tracks ``run`` solves from, and the intrinsics they were made with: the tracking policy in one place.

    1. the user's tracks (``imported``), or the query grid tracked by ``tracker``;
    2. ``auto_focal`` (``--hfov auto``): the focal length estimated from them (KLT's tracks fix it well enough for
       the blur kernels), kept when trusted;
    3. blur-compensated tracks: with ``blur_fit`` ((exposure s, readout s), ``--blur-fit``) the exposure's motion
       fitted to the blur, else with a ``gyro`` log (:class:`~motiondepth.tracking.gyro_aided.GyroAid`);
    4. with either, the focal length estimated again on the compensated tracks.

    ``tracks.meta["focal"]`` records the estimates. ``recorded``: (H, W) bool, the recorded pixels of undistorted
    frames (the gyro's alignment tracks none near the black margin).
    """
    tr = imported if imported is not None else track_points(frames, intr, grid_half, tracker, progress=progress)
    found, focal = intr, None
    if auto_focal:
        est = estimate_focal_length(tr, intr, pivot_m, solver)
        focal = est.as_dict()
        found = est.intrinsics if est.trusted else intr
    if blur_fit is not None:
        from motiondepth.tracking.blur_fit import track_with_blur_fit

        exposure, readout = blur_fit
        tr = track_with_blur_fit(frames, tr.queries, times, found, exposure, readout, pivot_m, solver=solver,
                                 init=tr, progress=progress, device=device)[0]  # fmt: skip
    elif gyro is not None:
        from motiondepth.tracking.gyro_aided import track_with_gyro

        tr = track_with_gyro(frames, tr.queries, times, found, gyro, pivot_m, solver=solver, init=tr, recorded=recorded)
    if auto_focal and (blur_fit is not None or gyro is not None) and found is not intr:
        est = estimate_focal_length(tr, intr, pivot_m, solver)  # again on the blur-compensated tracks
        focal = est.as_dict() | {"from_klt": focal}
        found = est.intrinsics if est.trusted else found
    if focal is not None:
        tr.meta["focal"] = focal
    return tr, found


def estimate_focal_length(tracks: Tracks, intrinsics: Intrinsics, pivot_m: float = DEFAULT_PIVOT_M, solver=None):
    """The focal length that best explains the tracks' motion (:func:`~motiondepth.trajectory.focal.estimate_focal`):
    a :class:`~motiondepth.trajectory.focal.FocalEstimate`, whose ``intrinsics`` keep the aspect ratio and
    principal point of ``intrinsics`` and whose ``problem`` says when the shake cannot tell."""
    from motiondepth.trajectory.focal import estimate_focal

    try:
        return estimate_focal(tracks.tracks, tracks.visible, intrinsics, pivot_m, tracks.image_size, config=solver)
    except ValueError as exc:
        raise InputError("--hfov auto", str(exc)) from None


def estimate_depth(
    frames: np.ndarray,
    predictor=None,
    depth_file: str | Path | None = None,
    depth_scale: float | None = None,
    source: str = "frames",
) -> np.ndarray:
    """Metric depth (H, W) metres of frame 0: from ``depth_file`` if given, else the blur network (``predictor``;
    default: the checkpoint ``run`` uses, :data:`~motiondepth.models.weights.VIDEO_DEPTH_CHECKPOINT`).

    A depth file of another resolution with the same aspect ratio is resized (nearest neighbour,
    so holes stay holes).
    """
    h, w = frames.shape[1:3]
    if depth_file is not None:
        from motiondepth.io.depth import load_depth

        d = load_depth(depth_file, depth_scale)
        if d.shape != (h, w):
            dh, dw = d.shape
            if abs(dw / dh - w / h) > 0.01 * w / h:
                raise InputError(
                    depth_file, f"depth map is {dw}x{dh}, a different aspect ratio from the {w}x{h} frames"
                )
            d = cv2.resize(d, (w, h), interpolation=cv2.INTER_NEAREST)
        return d.astype(np.float32)
    if predictor is None:  # the step-by-step path gives what run gives
        from motiondepth.depth.blur import BlurPredictor
        from motiondepth.models.weights import VIDEO_DEPTH_CHECKPOINT

        predictor = BlurPredictor(VIDEO_DEPTH_CHECKPOINT, trajectory_checkpoint=None)
    return predictor.depth(frames, source=source)


def scale_to_distance(depth: np.ndarray, distance_m: float) -> tuple[np.ndarray, float]:
    """Scale a depth map so its median over valid pixels is ``distance_m`` (a distance the user knows).

    The rotation's accuracy hinges on the depth's global scale (for pitch and yaw the image shift is
    ≈ f·θ·(1 + d/Z)), and a known distance to the scene fixes it where the video cannot. ``run``
    applies it after the pivot-parallax rescale, whose local field keeps shaping the map.

    Returns:
        (depth map, the factor applied).
    """
    check_scene_distance(distance_m)
    valid = np.isfinite(depth) & (depth > 0)
    if not valid.any():
        raise InputError("--scene-distance", "the depth map has no valid pixel to scale")
    scale = float(distance_m / np.median(depth[valid]))
    return (depth * scale).astype(np.float32), scale


def check_scene_distance(distance_m: float | None) -> None:
    if distance_m is not None and not (np.isfinite(distance_m) and distance_m > 0):
        raise InputError("--scene-distance", f"{distance_m} m is not a distance (a positive number of metres)")


def check_rescale_mode(mode: str) -> None:
    """``--depth-rescale`` is local, global or none (the Python API does not go through the parser's choices)."""
    if mode not in ("local", "global", "none"):
        raise InputError("--depth-rescale", f"unknown mode {mode!r}; use local, global or none")


def rescale_by_parallax(
    depth: np.ndarray,
    tracks: Tracks,
    intrinsics: Intrinsics,
    pivot_m: float = DEFAULT_PIVOT_M,
    mode: str = "local",
    solver=None,
) -> tuple[np.ndarray, DepthRescale]:
    """Check and correct a depth map's metric scale with the pivot parallax of the tracks.

    The tracked points' own depths follow from how the rotation about the pivot moves them
    (:mod:`motiondepth.trajectory.parallax`); the map is multiplied by their robust ratio to it,
    as one factor (``global``) or a smooth field (``local``). ``none`` returns the map unchanged.

    Returns:
        (depth map, :class:`~motiondepth.workflow.config.DepthRescale`: the ``mode`` used, ``scale``, reliable
        ``points``, per-point ``depth_m``/``sigma_m``, and the scale check's ratios).
    """
    from motiondepth.trajectory.optics import sample_depth
    from motiondepth.trajectory.parallax import pivot_parallax_depths, rescale_depth_map, scale_check

    check_rescale_mode(mode)
    if mode == "none" or pivot_m <= 0:
        return depth, DepthRescale()
    xy = tracks.tracks[0].astype(np.float64)
    pts = pivot_parallax_depths(tracks.tracks, tracks.visible, intrinsics, pivot_m, sample_depth(depth, xy),
                                image_height=tracks.image_size[0], config=solver)  # fmt: skip
    out, info = rescale_depth_map(depth, xy, pts, mode)
    if info["mode"] != "none":  # can the tracks tell this scale from half or twice it, and what hangs on it?
        chk = scale_check(tracks.tracks, tracks.visible, sample_depth(out, xy), intrinsics, pivot_m,
                          tracks.image_size[0], config=solver)  # fmt: skip
        info["scale_cost_ratio"], info["rotation_scale_ratio"] = chk.cost_ratio, chk.rotation_ratio
    return out, DepthRescale.from_info(
        {**info, "depth_m": pts.depth.astype(np.float32), "sigma_m": pts.sigma.astype(np.float32)}
    )


def solve_rotation(
    tracks: Tracks,
    depth: np.ndarray,
    intrinsics: Intrinsics,
    pivot_m: float = DEFAULT_PIVOT_M,
    times: np.ndarray | None = None,
    solver=None,
) -> Trajectory:
    """Per-frame rotation relative to frame 0 by the optics solver's robust least squares (lsq), with the
    camera centres the pivot model implies (``C = P − R P``, a few millimetres).

    ``solver`` is a :class:`~motiondepth.trajectory.SolverConfig` (e.g. from
    :func:`~motiondepth.trajectory.optics.rolling_shutter_config`); default settings if None.
    """
    from motiondepth.geometry.pivot import pivot_centres
    from motiondepth.trajectory.optics import solve_trajectory

    try:
        traj = solve_trajectory(
            tracks.tracks.astype(np.float64),
            tracks.visible,
            depth,
            intrinsics,
            pivot_m,
            times,
            "lsq",
            config=solver,
            image_height=tracks.image_size[0],
        )
    except ValueError as exc:
        raise InputError("trajectory", str(exc)) from None
    traj.centres = pivot_centres(traj.angles, pivot_m)
    return traj


def densify(frames: np.ndarray, trajectory: Trajectory, predictor, fx_px: float, samples: int = 15,
            source: str = "frames", progress: bool = False):  # fmt: skip
    """Dense trajectory (T, S, 3) rad from the frames, the per-frame trajectory and the focal length (px)."""
    if samples not in predictor.samples:
        raise InputError(
            "--dense", f"the trajectory checkpoint was trained for {predictor.samples} samples per frame, not {samples}"
        )
    # one continuous path; frames without a per-frame anchor (unsolved) come back NaN
    return predictor.dense_trajectory(frames, trajectory.angles, fx_px, samples, source=source, progress=progress)


def lift_tracks(
    tracks: Tracks, depth: np.ndarray, intrinsics: Intrinsics, frames: np.ndarray | None = None, predictor=None
) -> Tracks3D:
    """Seurat depth over time of every track, made metric by median matching to ``depth`` (frame 0)."""
    from motiondepth.seurat.depth_source import DepthMaps
    from motiondepth.seurat.inference import SeuratPredictor

    predictor = predictor or SeuratPredictor.from_pretrained()
    return predictor.lift(
        tracks.tracks.astype(np.float64),
        tracks.visible,
        tracks.image_size,
        intrinsics,
        DepthMaps.first_frame(depth),
        tracks.queries,
        frames=frames,
    )


def depth_over_time(tracks: Tracks, depth: np.ndarray, intrinsics: Intrinsics, trajectory: Trajectory,
                    readout_fraction: float = 0.0, frames: np.ndarray | None = None, predictor=None
                    ) -> Tracks3D:  # fmt: skip
    """Every track's metric depth over time: the solved path's prediction for the points that stay put, Seurat's
    for those that move (:func:`~motiondepth.seurat.fuse.fuse_depth_over_time`; each track's source is in the
    result's ``meta``). ``depth``: the frame-0 map (each track's depth prior, and Seurat's scale);
    ``readout_fraction``: the bundle adjustment's (the optics solver's path carries its own readout rotation).

    First, where a track is hidden but the path puts its point in view and the point's patch is there, the track is
    visible again at the found position (:func:`~motiondepth.trajectory.path_depth.recover_hidden`, with ``frames``;
    ``meta["recovered"]`` marks those frames); the rest reads those tracks.

    Seurat runs only on the tracks it can matter for: those the path's prediction misses somewhere, and up to
    :data:`SCATTER_TRACKS` of the others (to measure its scatter on this clip). Its prediction for one track does not
    depend on which other tracks are asked, so this changes nothing but the time; ``depth_seurat`` is NaN for the
    tracks it was not run on.
    """
    from motiondepth.eval.depth_over_time import sample_depth_maps
    from motiondepth.seurat.fuse import fuse_depth_over_time, path_weights
    from motiondepth.trajectory.path_depth import static_prediction

    q = tracks.queries
    prior = sample_depth_maps(depth[None], q[None, :, 1:].astype(np.float64))[0]
    prior[np.rint(q[:, 0]) != 0] = np.nan  # the map is frame 0's: later queries start from the median
    path = (intrinsics, trajectory.angles, trajectory.centres, tracks.image_size, readout_fraction,
            trajectory.readout_rotation)  # fmt: skip
    prediction = static_prediction(frames, tracks.tracks, tracks.visible, q, prior, *path)
    pred, slipped, recovered = prediction.pred, prediction.slipped, prediction.recovered
    if recovered.any():  # the rest reads the tracks with the hidden frames the path found again
        tracks = Tracks(prediction.tracks, prediction.visible, q, tracks.image_size, tracks.meta)
    weights = path_weights(pred.residual_px)
    doubt = ((weights[0] < 1.0) & tracks.visible).any(0)
    static = np.flatnonzero(~doubt)
    sample = static[np.unique(np.linspace(0, len(static) - 1, min(len(static), SCATTER_TRACKS)).astype(int))]
    need = np.union1d(np.flatnonzero(doubt), sample) if len(static) else np.flatnonzero(doubt)
    t, n = tracks.visible.shape
    z = np.full((t, n), np.nan, np.float32)
    meta: dict = {"seurat_tracks": len(need), "slipped_tracks": int(slipped.sum()), "recovered": recovered}
    if len(need):
        part = Tracks(tracks.tracks[:, need], tracks.visible[:, need], q[need], tracks.image_size, tracks.meta)
        lifted = lift_tracks(part, depth, intrinsics, frames, predictor)
        z[:, need] = lifted.depth
        meta = lifted.meta | meta
    seurat = Tracks3D(np.full((t, n, 3), np.nan, np.float32), tracks.visible, intrinsics, q, z, meta)
    return fuse_depth_over_time(seurat, pred.depth, pred.residual_px, pred.xy, tracks.tracks.astype(np.float64),
                                weights)  # fmt: skip


SCATTER_TRACKS = 128  # static tracks Seurat also runs on, to measure its scatter on the clip (seurat.fuse)


def frame_depths(depth: np.ndarray, intrinsics: Intrinsics, trajectory: Trajectory, progress: bool = False,
                 frames: np.ndarray | None = None, readout_fraction: float = 0.0, recorded: np.ndarray | None = None,
                 ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Every frame's metric depth, consistent with the solved path and on one scale for the whole clip: frame 0's
    map (``depth``) lifted once and moved into each frame (:func:`~motiondepth.trajectory.path_depth.warp_depth`).

    What frame 0 never saw (the border the camera turned towards, surfaces behind others): with the clip's
    ``frames`` and a path that translates, from keyframes every :data:`KEYFRAME_STEP` frames, each refined by its
    own parallax (:func:`_keyframe_map`) and moved into the frames around it; what no keyframe fills either takes
    the depth of the nearest pixel that has one. Filling from the depth network run on later frames was tried and
    is worse (docs/depth-over-time.md).

    Args:
        readout_fraction: the bundle adjustment's (the keyframes' triangulation models the rolling shutter).
        recorded: (H, W) bool, the recorded area of undistorted frames (:attr:`Clip.recorded`).

    Returns:
        (T, H, W) float32 metres and (T, H, W) uint8 confidence (as ``depth_frames.npz`` holds it, a quarter of the
        memory of floats): :data:`MOVED` where the depth is frame 0's moved by the path, :data:`KEYFRAME` where a
        keyframe's parallax gave it, 0 where it was filled from the nearest pixel.
    """
    from tqdm.auto import tqdm

    from motiondepth.trajectory.path_depth import DepthCloud, path_arrays, warp_depth

    maps, seen = warp_depth(depth, intrinsics, trajectory.angles, trajectory.centres, progress)
    moves = trajectory.centres is not None and bool(np.any(np.nan_to_num(trajectory.centres) != 0))
    keys = list(range(KEYFRAME_STEP, len(maps), KEYFRAME_STEP)) if frames is not None and moves else []
    # with keyframes, only frame 0 and the keyframes (their maps' base) are filled here; the other frames below
    for k in [0, *keys] if keys else range(len(maps)):
        maps[k] = _nearest_fill(maps[k], seen[k])  # (where seen, it keeps the moved depth)
    conf = seen.view(np.uint8)  # True → 1, in place
    conf *= MOVED
    if not keys:
        return maps, conf
    ang, cen = path_arrays(trajectory.angles, trajectory.centres)
    clouds = {}
    for j in tqdm(keys, desc="keyframe depth", unit="keyframe", disable=not progress, leave=False):
        kmap = _keyframe_map(frames, j, maps[j], conf[j] == MOVED, intrinsics, ang, cen, readout_fraction, recorded)
        clouds[j] = DepthCloud(kmap, intrinsics, (ang[j], cen[j]))
    for k in range(1, len(maps)):
        have = conf[k] == MOVED
        if have.all():
            continue
        m = np.where(have, maps[k], 0.0).astype(np.float32)
        for j in sorted(keys, key=lambda j: abs(j - k))[:2]:  # the nearest two keyframes, nearest first
            if have.all() or len(clouds[j].points) == 0:
                continue
            d, hit = clouds[j].into((ang[k], cen[k]))
            take = ~have & hit
            m[take], conf[k][take] = d[take], KEYFRAME
            have |= take
        maps[k] = _nearest_fill(m, have)
    return maps, conf


MOVED, KEYFRAME = 255, 128  # every frame's depth confidence: frame 0's moved by the path; a keyframe's parallax
KEYFRAME_STEP = 10  # a keyframe every this many frames fills what frame 0 never saw …
KEYFRAME_SPAN, KEYFRAME_TARGETS = 15, 8  # … triangulated from direct flow into this many frames within this span
KEYFRAME_MIN_POINT_CONFIDENCE = 0.5  # a pixel frame 0 never saw is filled only this near the points (see below)


def _keyframe_map(frames: np.ndarray, j: int, base: np.ndarray, seen: np.ndarray, intrinsics: Intrinsics,
                  angles: np.ndarray, centres: np.ndarray, readout_fraction: float, recorded: np.ndarray | None
                  ) -> np.ndarray:  # fmt: skip
    """Keyframe ``j``'s depth refined by its own parallax: its textured grid points (:func:`_flow_grid`) followed by
    direct flow into up to :data:`KEYFRAME_TARGETS` frames within :data:`KEYFRAME_SPAN` of it
    (:func:`~motiondepth.tracking.flow.reference_flow_tracks`), each one's depth fitted with the path held fixed
    (:func:`~motiondepth.trajectory.path_depth.path_tracks`, ``base`` the prior), and ``base`` (frame 0's map moved
    there, the rest nearest-filled) corrected by their ratios
    (:func:`~motiondepth.trajectory.parallax.interpolate_depth_ratio`; points with a depth σ over 10 % left out).

    Only points that the path explains to :data:`FLOW_MAX_RESIDUAL_PX` (median) count. Returns the
    (H, W) map where frame 0 never saw (``seen`` False) and points are near (their confidence over
    :data:`KEYFRAME_MIN_POINT_CONFIDENCE`), NaN elsewhere: what frame 0 saw is moved from frame 0 into every frame,
    and what no point is near the keyframe cannot vouch for."""
    import warnings

    from motiondepth.tracking.flow import FlowConfig, reference_flow_tracks
    from motiondepth.trajectory.optics import sample_depth
    from motiondepth.trajectory.parallax import interpolate_depth_ratio
    from motiondepth.trajectory.path_depth import path_tracks

    t_len, h, w = frames.shape[:3]
    s0, s1 = max(0, j - KEYFRAME_SPAN), min(t_len, j + KEYFRAME_SPAN + 1)
    others = np.array([k for k in range(s0, s1) if k != j])
    targets = others[np.unique(np.linspace(0, len(others) - 1, min(KEYFRAME_TARGETS, len(others))).round().astype(int))]
    xy = _flow_grid(frames[j], recorded)
    if len(xy) < 20:
        return np.full((h, w), np.nan, np.float32)
    flow = reference_flow_tracks(frames[s0:s1], xy, targets - s0, j - s0, FlowConfig(fb_threshold_px=FLOW_FB_PX),
                                 recorded)  # fmt: skip
    prior = sample_depth(base, xy.astype(np.float64))
    # no refit: a point that moves misses by far, and the residual test below leaves it out
    fit = path_tracks(flow.tracks, flow.visible, flow.queries, prior, intrinsics, angles[s0:s1], centres[s0:s1],
                      (h, w), readout_fraction, refit=False)  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # (a point seen in no other frame: all NaN)
        resid = np.nanmedian(fit.residual_px, 0)
    keep = (resid < FLOW_MAX_RESIDUAL_PX) & (flow.visible.sum(0) >= 3) & np.isfinite(fit.reference_depth)
    out, info = interpolate_depth_ratio(base, xy[keep], fit.reference_depth[keep], fit.reference_sigma[keep])
    near = info.get("confidence", np.zeros((h, w))) > KEYFRAME_MIN_POINT_CONFIDENCE
    return np.where(~seen & near, out, np.nan)


def _nearest_fill(m: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """``m`` with the pixels not ``seen`` set to the nearest seen pixel's value (OpenCV's distance transform with
    a label per seen pixel, numbered in row-major order)."""
    if seen.all() or not seen.any():
        return m
    _, labels = cv2.distanceTransformWithLabels((~seen).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE,
                                                labelType=cv2.DIST_LABEL_PIXEL)  # fmt: skip
    values = m[seen]  # row-major, as the labels 1 … K count the zero pixels of the input
    return values[labels - 1].astype(m.dtype)


def focal_outcome(estimate: dict, found: Intrinsics, start: Intrinsics) -> tuple[Intrinsics, str, RunWarning | None]:
    """(intrinsics, origin, warning) after ``--hfov auto``: the estimate, or the default when it is not trusted."""
    if estimate.get("trusted"):
        hfov = float(estimate["hfov_deg"])
        return (
            found,
            f"{FOCAL_AUTO} ({hfov:.1f}° horizontal field of view)",
            RunWarning(
                f"focal length {FOCAL_AUTO}: {found.fx:.0f} px, a {hfov:.1f}° horizontal field of view "
                "(median error 4 %, worst 8 % on docs/results.md's benchmark); rotation angles scale with it, so give "
                "--calibration for exact ones",
                "medium",
            ),
        )
    origin = f"default ({DEFAULT_HFOV_DEG:g}° horizontal field of view)"
    return (
        start,
        origin,
        RunWarning(
            f"--hfov auto: {estimate.get('problem', 'no estimate')}; assumed a {DEFAULT_HFOV_DEG:g}° horizontal "
            "field of view instead, so give --fx/--fy/--cx/--cy, --calibration or --hfov",
            "medium",
        ),
    )


MIN_MOTION_POINTS = 4  # points followed from frame 0 the motion solve needs at the least


def solve_motion(
    frames: np.ndarray,
    tracks: Tracks,
    prior_depth: np.ndarray,
    intrinsics: Intrinsics,
    model: str = "auto",
    pivot_m: float = DEFAULT_PIVOT_M,
    times: np.ndarray | None = None,
    readout_fraction: float | None = None,
    fit_readout: bool = True,
    progress: bool = False,
    solver=None,
    source: str = "--motion",
    recorded: np.ndarray | None = None,
) -> tuple[Trajectory, MotionFit]:
    """Camera rotation and translation by the small-motion bundle adjustment
    (:mod:`motiondepth.trajectory.small_motion`) on chained, re-seeded tracks
    (:func:`~motiondepth.tracking.chain.track_chained`) that cover the image through the clip; ``tracks``
    (the query grid's, which the run reports) only give the frame count.

    Args:
        prior_depth: (H, W) metric first-frame depth; it sets the scale (its median, through a prior on each
            track that starts in frame 0).
        model: ``auto`` (the model :func:`~motiondepth.trajectory.small_motion.choose_motion_model` picks),
            ``6dof``, ``pivot`` or ``rotation``.
        readout_fraction: the sensor's readout time over the frame interval when known (held fixed with
            ``fit_readout`` False, else a tight prior); None: fitted from 0.5 with a wide prior.
        solver: the optics solver's settings (:class:`~motiondepth.trajectory.SolverConfig`) for ``auto``'s
            check against the papers' pivot model (:func:`~motiondepth.trajectory.small_motion.pivot_or_bundle`).
        recorded: (H, W) bool, the pixels with recorded content (:attr:`Clip.recorded`): no point is followed
            near the black margin of undistorted frames (:func:`~motiondepth.tracking.chain.usable_area`).

    Returns:
        (trajectory with ``centres``, info: ``model``, why it was chosen, the fitted readout fraction, the
        ``solver`` that should give the run's path (``bundle adjustment`` or ``lsq``, see
        :func:`~motiondepth.trajectory.small_motion.pivot_or_bundle`) and the frame-0 parallax points
        ``points_xy``, ``depth_m``, ``sigma_m``).
    """
    from motiondepth.tracking.chain import ChainConfig, track_chained
    from motiondepth.trajectory.small_motion import (
        SmallMotionConfig,
        choose_motion_model,
        fit_6dof,
        frame0_prior,
        pivot_or_bundle,
        solve_small_motion,
    )

    # the solver runs on chained, re-seeded tracks only: on real clips the query grid's template tracks that
    # survive large motion carry biased positions (measured on TUM fr1_xyz in docs/small-motion.md)
    chained = track_chained(frames, config=ChainConfig.for_size(frames.shape[1:3]), progress=progress,
                            valid=recorded)  # fmt: skip
    prior = frame0_prior(chained, prior_depth)
    at0 = (chained.queries[:, 0] == 0) & chained.visible[0]
    followed = int((at0 & chained.visible[1:].any(0)).sum())
    if followed < MIN_MOTION_POINTS:  # say what is wrong with the clip, not with --motion
        raise InputError(source, f"only {followed} point(s) could be followed from frame 0 into a later frame (the "
                         f"motion needs {MIN_MOTION_POINTS}): a dark, blurred or featureless clip?")  # fmt: skip
    if not (np.isfinite(prior) & (prior > 0)).any():
        raise InputError(source, f"the frame-0 depth map has no positive depth at any of the {followed} points "
                         "followed from frame 0 (an empty or invalid --depth?)")  # fmt: skip
    known = readout_fraction is not None
    cfg = SmallMotionConfig(readout_sigma=(0.05 if fit_readout else 0.0) if known else 0.3)
    rf = float(readout_fraction) if known else 0.5
    try:
        if model == "auto":
            sol, why = choose_motion_model(chained, intrinsics, prior, pivot_m, rf, cfg, progress=progress)
        else:
            why = {"chosen": model, "rule": "given by --motion"}
            if model == "6dof":
                sol, starts = fit_6dof(chained, intrinsics, prior, pivot_m, rf, cfg, progress=progress)
                why |= {"6dof_starts": starts}
            else:
                sol = solve_small_motion(chained, intrinsics, prior, model, pivot_m, rf, cfg, progress=progress)
    except ValueError as exc:
        raise InputError("--motion", str(exc)) from None
    t = np.arange(tracks.num_frames, dtype=np.float64) if times is None else times
    traj = sol.trajectory(t)
    check = {"solver": "bundle adjustment"}
    if model == "auto":
        check = pivot_or_bundle(sol, tracks, prior_depth, intrinsics, pivot_m, times, solver, cfg)
    if check["solver"] == "bundle adjustment":
        points_xy, depth_m, sigma_m = _parallax_points(frames, sol, intrinsics, prior_depth, cfg, progress, recorded)
    else:  # the optics solver gives the path and the pivot parallax the depth: no points needed
        points_xy, depth_m, sigma_m = np.zeros((0, 2), np.float32), np.zeros(0, np.float32), np.zeros(0, np.float32)
    fit = MotionFit(
        model=sol.model,
        solver=check["solver"],
        readout_fraction=round(float(sol.meta["readout_fraction"]), 4),
        readout_fitted=bool(cfg.readout_sigma > 0),
        grid_tracks=int(tracks.num_points),
        support_tracks=int(chained.num_points),
        observations=int(sol.observations),
        iterations=int(sol.iterations),
        choice=why,
        grid_check=check.get("grid_check"),
        points_xy=points_xy,
        depth_m=depth_m,
        sigma_m=sigma_m,
    )
    return traj, fit


def scaled_by(scale: float, prior: np.ndarray, traj: Trajectory, motion: MotionFit
              ) -> tuple[np.ndarray, Trajectory, MotionFit]:  # fmt: skip
    """The depth prior, the path's centres and the motion's parallax depths times ``scale`` (an accelerometer's,
    :mod:`motiondepth.sensor.accel`): the bundle adjustment's answer scales exactly with its depth prior, so this
    is the fit it would give from the prior at that scale."""
    from dataclasses import replace

    f = np.float32(scale)
    return (prior * f, replace(traj, centres=traj.centres * scale),
            replace(motion, depth_m=motion.depth_m * f, sigma_m=motion.sigma_m * f))  # fmt: skip


PARALLAX_GRID_PX = 8  # spacing of the frame-0 points whose depth the solved motion triangulates (tracked, chained)
FLOW_TARGETS, FLOW_SPAN = 8, 45  # the frame-0 flow points' target frames: this many, spread over frames 1..FLOW_SPAN


def _parallax_points(frames: np.ndarray, sol, intrinsics: Intrinsics, prior_depth: np.ndarray, cfg,
                     progress: bool = False, recorded: np.ndarray | None = None
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """Frame-0 points triangulated with the solved motion held fixed: their positions (K, 2), depths and one-σ
    depths (K,), metres. Two sets: points every :data:`PARALLAX_GRID_PX` pixels (times :func:`density_scale`),
    tracked (chained), kept where the track fits the motion (median residual under 1 px); and the denser, stricter
    set of :func:`_flow_parallax_points`, which reaches what the tracker's windows lose (measured on TUM fr1_xyz in
    docs/depth-over-time.md, *Denser parallax points at frame 0*)."""
    from motiondepth.tracking.chain import ChainConfig, density_scale, track_chained
    from motiondepth.trajectory.small_motion import frame0_prior, triangulate_tracks

    h, w = frames.shape[1:3]
    g = round(PARALLAX_GRID_PX * density_scale((h, w)))
    ys, xs = np.mgrid[g // 2 : h : g, g // 2 : w : g]
    q = np.stack([np.zeros(xs.size), xs.ravel(), ys.ravel()], 1).astype(np.float32)
    dense = track_chained(frames, q, ChainConfig(max_points=len(q)), progress=progress, valid=recorded)
    prior = frame0_prior(dense, prior_depth)
    depth, sigma, resid = triangulate_tracks(sol, dense, intrinsics, prior, cfg)
    keep = np.isfinite(prior) & np.isfinite(depth) & (resid < 1.0)  # frame-0 tracks that fit the motion
    fxy, fz, fs = _flow_parallax_points(frames, sol, intrinsics, prior_depth, cfg, recorded)
    return (np.concatenate([dense.tracks[0, keep].astype(np.float32), fxy]),
            np.concatenate([depth[keep].astype(np.float32), fz]),
            np.concatenate([sigma[keep].astype(np.float32), fs]))  # fmt: skip


def _flow_parallax_points(frames: np.ndarray, sol, intrinsics: Intrinsics, prior_depth: np.ndarray, cfg,
                          recorded: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """Frame 0's textured grid points (:func:`_flow_grid`) followed by direct DIS flow into :data:`FLOW_TARGETS`
    frames of the first :data:`FLOW_SPAN` (:func:`~motiondepth.tracking.flow.reference_flow_tracks`) and
    triangulated with the solved motion: kept where seen in two of them with a median residual under
    :data:`FLOW_MAX_RESIDUAL_PX` (positions, depths, one-σ depths, as :func:`_parallax_points`). A 6-DoF motion only:
    a rotation has no parallax, and the pivot's is too small to matter at this spacing."""
    from motiondepth.tracking.flow import FlowConfig, reference_flow_tracks
    from motiondepth.trajectory.small_motion import frame0_prior, triangulate_tracks

    empty = np.zeros((0, 2), np.float32), np.zeros(0, np.float32), np.zeros(0, np.float32)
    if len(frames) < 3 or sol.model != "6dof":
        return empty
    xy = _flow_grid(frames[0], recorded)
    if len(xy) == 0:
        return empty
    targets = np.unique(np.linspace(1, min(len(frames) - 1, FLOW_SPAN), FLOW_TARGETS).round().astype(int))
    flow = reference_flow_tracks(frames, xy, targets, 0, FlowConfig(fb_threshold_px=FLOW_FB_PX), recorded)
    prior = frame0_prior(flow, prior_depth)
    depth, sigma, resid = triangulate_tracks(sol, flow, intrinsics, prior, cfg)
    keep = np.isfinite(prior) & np.isfinite(depth) & (resid < FLOW_MAX_RESIDUAL_PX) & (flow.visible[1:].sum(0) >= 2)
    return xy[keep], depth[keep].astype(np.float32), sigma[keep].astype(np.float32)


FLOW_GRID_PX = 4  # spacing of the points followed by direct flow (frame 0's and the keyframes'), times density_scale
FLOW_FB_PX = 1.0  # their flow's forward–backward disagreement above this (px): lost in that frame
FLOW_MAX_RESIDUAL_PX = 0.3  # a flow point is kept where the path explains it this well (median) …
FLOW_MIN_TEXTURE = 3e-5  # … its 7 × 7 window has texture (cv2.cornerMinEigenVal of the grey frame, 0–255 / 255)
FLOW_BORDER_PX = 8  # … and it lies this far inside the recorded area (flow is biased at its edge)


def _flow_grid(frame: np.ndarray, recorded: np.ndarray | None) -> np.ndarray:
    """(K, 2) float32 points every :data:`FLOW_GRID_PX` pixels (times :func:`density_scale`) of ``frame`` (H, W, 3)
    whose window has texture and that lie :data:`FLOW_BORDER_PX` inside the recorded area (the image's edge too).

    Flow fills flat, textureless surfaces (a black monitor screen) with the motion of what surrounds them; a rigid
    path explains that flow at the surroundings' depth, so a residual test alone keeps such points. The texture
    test leaves them out (docs/depth-over-time.md)."""
    from scipy.ndimage import distance_transform_edt

    from motiondepth.tracking.chain import density_scale

    h, w = frame.shape[:2]
    area = np.ones((h, w), bool) if recorded is None else recorded
    inside = distance_transform_edt(np.pad(area, 1))[1:-1, 1:-1] > FLOW_BORDER_PX
    texture = cv2.cornerMinEigenVal(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), 7) > FLOW_MIN_TEXTURE
    g = round(FLOW_GRID_PX * density_scale((h, w)))
    ys, xs = np.mgrid[g // 2 : h : g, g // 2 : w : g]
    pick = (inside & texture)[ys.ravel(), xs.ravel()]
    return np.stack([xs.ravel(), ys.ravel()], 1)[pick].astype(np.float32)


def fuse_parallax_depth(depth: np.ndarray, motion: MotionFit, mode: str = "local") -> tuple[np.ndarray, DepthRescale]:
    """The network's map corrected by the motion solver's parallax depths (``local``: their ratios to it,
    interpolated between them, :func:`~motiondepth.trajectory.parallax.interpolate_depth_ratio`; ``global``:
    one factor; ``none``), with a per-pixel ``confidence`` of the parallax (0: the network alone).

    A rotation-only motion has no parallax: the map is returned as it is, and the info says so.
    """
    from motiondepth.trajectory.parallax import PointDepths, interpolate_depth_ratio, rescale_depth_map

    check_rescale_mode(mode)
    none = {"mode": "none", "scale": 1.0, "points": 0, "confidence": np.zeros(depth.shape, np.float32)}
    if mode == "none" or motion.model == "rotation":
        why = "no parallax: rotation-only motion" if mode != "none" else "--depth-rescale none"
        return depth, DepthRescale.from_info(none | {"why": why})
    xy, z, sz = (getattr(motion, k).astype(np.float64) for k in MotionFit.ARRAYS)
    if mode == "local":
        out, info = interpolate_depth_ratio(depth, xy, z, sz)
    else:
        out, info = rescale_depth_map(depth, xy, PointDepths(z, sz, None, 0.0), mode)
    if info["mode"] == "none":
        return depth, DepthRescale.from_info(none | {"why": f"only {info['points']} reliable parallax points"})
    if "confidence" not in info:  # one global factor: no pixel is corrected locally
        info["confidence"] = np.zeros(depth.shape, np.float32)
    return out, DepthRescale.from_info(info | {"source": "motion"})
