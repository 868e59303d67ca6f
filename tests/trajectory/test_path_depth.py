"""The solved path's prediction of static points (trajectory.path_depth) and the fusion with Seurat (seurat.fuse)."""

import numpy as np
import pytest

from motiondepth.eval.depth_over_time import depth_ratio_errors, sample_depth_maps
from motiondepth.geometry.camera import Intrinsics
from motiondepth.geometry.rotations import euler_to_matrix
from motiondepth.seurat.fuse import SOURCES, fuse_depth_over_time
from motiondepth.trajectory.path_depth import PathTracks, path_arrays, path_tracks, recover_hidden, warp_depth
from motiondepth.types import Tracks3D

INTR = Intrinsics(300.0, 300.0, 159.5, 119.5)
SIZE = (240, 320)


def _scene(t=20, n=200, seed=0, moving=0):
    """Static points (and ``moving`` ones that drift 2 cm per frame sideways) seen along a 6-DoF handheld path."""
    rng = np.random.default_rng(seed)
    s = np.linspace(0, 1, t)[:, None]
    angles = 0.02 * np.sin(2 * np.pi * s * np.array([1.0, 1.3, 0.7]))  # about a degree
    centres = 0.05 * np.c_[np.sin(2 * np.pi * s[:, 0]), 0.5 * s[:, 0], s[:, 0] - 0.3 * s[:, 0] ** 2]  # 5 cm
    angles[0], centres[0] = 0, 0
    xy0 = np.c_[rng.uniform(40, 280, n), rng.uniform(30, 210, n)]
    z0 = rng.uniform(1.0, 4.0, n)
    pts = np.c_[(xy0 - [INTR.cx, INTR.cy]) / [INTR.fx, INTR.fy], np.ones(n)] * z0[:, None]
    world = np.repeat(pts[None], t, 0)
    if moving:
        world[:, :moving, 0] += 0.02 * np.arange(t)[:, None]
    cam = np.einsum("tji,tnj->tni", euler_to_matrix(angles), world - centres[:, None])
    xy = np.stack([INTR.fx * cam[..., 0] / cam[..., 2] + INTR.cx, INTR.fy * cam[..., 1] / cam[..., 2] + INTR.cy], -1)
    queries = np.c_[np.zeros(n), xy0]
    return angles, centres, xy, cam[..., 2], queries, z0


def test_a_static_point_s_depth_in_every_frame_follows_the_path_from_a_wrong_prior():
    angles, centres, xy, z, queries, z0 = _scene()
    vis = np.ones(z.shape, bool)
    noisy = xy + np.random.default_rng(1).normal(0, 0.3, xy.shape)
    pred = path_tracks(noisy, vis, queries, 1.3 * z0, INTR, angles, centres, SIZE)  # the map 30 % too far
    assert np.median(np.abs(pred.reference_depth / z0 - 1)) < 0.05  # the track's own parallax wins over the prior
    e = depth_ratio_errors(pred.depth, z, vis)
    assert e["mean"] < 0.1 * e["no_change"]
    assert np.nanmedian(pred.residual_px) < 1.0


def test_without_parallax_the_prior_depth_is_kept_and_the_ratio_still_follows_the_rotation():
    angles, *_, queries, z0 = _scene()
    cam = np.c_[(queries[:, 1:] - [INTR.cx, INTR.cy]) / [INTR.fx, INTR.fy], np.ones(len(z0))] * z0[:, None]
    rc = np.einsum("tji,nj->tni", euler_to_matrix(angles), cam)
    xy = np.stack([INTR.fx * rc[..., 0] / rc[..., 2] + INTR.cx, INTR.fy * rc[..., 1] / rc[..., 2] + INTR.cy], -1)
    pred = path_tracks(xy, np.ones(rc.shape[:2], bool), queries, 1.3 * z0, INTR, angles, None, SIZE)
    np.testing.assert_allclose(pred.reference_depth, 1.3 * z0, rtol=1e-6)  # nothing to fit it with
    np.testing.assert_allclose(pred.depth / pred.depth[0], rc[..., 2] / rc[0, :, 2], rtol=1e-6)


def test_a_moving_point_misses_the_path_and_the_fusion_gives_it_to_seurat():
    angles, centres, xy, z, queries, z0 = _scene(moving=20)
    vis = np.ones(z.shape, bool)
    pred = path_tracks(xy, vis, queries, z0, INTR, angles, centres, SIZE)
    moving_resid = np.nanmedian(pred.residual_px[:, :20], 0)
    static_resid = np.nanmedian(pred.residual_px[:, 20:], 0)
    assert moving_resid.min() > 10 * static_resid.max()
    # Seurat's stand-in: the true depths times a per-track scale error and noise
    seurat_depth = z * 1.1 * (1 + np.random.default_rng(2).normal(0, 0.01, z.shape))
    xyz = np.concatenate([xy, seurat_depth[..., None]], -1).astype(np.float32)
    seurat = Tracks3D(xyz, vis, INTR, queries.astype(np.float32), seurat_depth.astype(np.float32))
    fused = fuse_depth_over_time(seurat, pred.depth, pred.residual_px, pred.xy, xy)
    src = np.asarray(fused.meta["source"])
    assert (src[20:] == SOURCES.index("path")).all()
    assert (src[:20] != SOURCES.index("path")).mean() > 0.9
    # the moving points keep Seurat's depth over time, the static ones the path's
    e_moving = depth_ratio_errors(fused.depth[:, :20], z[:, :20], vis[:, :20])
    e_seurat = depth_ratio_errors(seurat_depth[:, :20], z[:, :20], vis[:, :20])
    assert e_moving["mean"] <= 1.05 * e_seurat["mean"]
    assert depth_ratio_errors(fused.depth[:, 20:], z[:, 20:], vis[:, 20:])["mean"] < 0.01


def test_frame_0_depth_moved_by_the_path_is_each_frame_s_depth():
    angles, centres, *_ = _scene(t=4)
    ys, xs = np.mgrid[0 : SIZE[0], 0 : SIZE[1]]
    depth0 = (2.0 + 0.004 * xs).astype(np.float32)  # a slanted plane
    maps, seen = warp_depth(depth0, INTR, angles, centres)
    np.testing.assert_allclose(maps[0], depth0, rtol=1e-6)
    assert seen[0].all()
    # frame 3: the plane's points, moved by the path, are where the map says, at the depth it says
    pts = np.c_[(xs.ravel() - INTR.cx) / INTR.fx, (ys.ravel() - INTR.cy) / INTR.fy, np.ones(xs.size)]
    pts *= depth0.ravel()[:, None]
    cam = (pts - centres[3]) @ euler_to_matrix(angles[3])
    u = INTR.fx * cam[:, 0] / cam[:, 2] + INTR.cx
    v = INTR.fy * cam[:, 1] / cam[:, 2] + INTR.cy
    inner = (u > 5) & (u < SIZE[1] - 6) & (v > 5) & (v < SIZE[0] - 6)
    got = sample_depth_maps(maps[3:4], np.c_[u[inner], v[inner]][None])[0]
    np.testing.assert_allclose(got, cam[inner, 2], rtol=0.01)
    assert 0.5 < seen[3].mean() < 1.0  # the border the camera turned towards was never seen


def test_unsolved_frames_take_the_nearest_solved_pose_and_an_unsolved_path_is_refused():
    angles = np.array([[0, 0, 0], [np.nan] * 3, [0.1, 0, 0]])
    a, c = path_arrays(angles, None)
    assert np.isfinite(a).all() and (c == 0).all()
    with pytest.raises(ValueError, match="no frame"):
        path_arrays(np.full((3, 3), np.nan), None)


def test_every_frame_s_depth_fills_what_frame_0_never_saw_from_the_nearest_seen_pixel():
    from motiondepth.types import Trajectory
    from motiondepth.workflow.steps import frame_depths

    t = 25
    angles = np.zeros((t, 3))
    angles[:, 2] = np.linspace(0, 0.15, t)  # a 9° pan: the last frames see a strip frame 0 never saw
    centres = np.zeros((t, 3))
    # a fronto-parallel wall at 3 m in the reference frame: each frame's true depth map
    ys, xs = np.mgrid[0 : SIZE[0], 0 : SIZE[1]]
    rays = np.stack([(xs - INTR.cx) / INTR.fx, (ys - INTR.cy) / INTR.fy, np.ones(xs.shape)], -1)
    truth = np.stack([3.0 / (rays @ euler_to_matrix(a).T)[..., 2] for a in angles]).astype(np.float32)
    traj = Trajectory(angles, np.arange(t) / 30, np.zeros(t), centres=centres)
    maps, conf = frame_depths(truth[0], INTR, traj)
    assert (conf[0] == 255).all() and 0.1 < (conf[-1] == 0).mean() < 0.5  # frame 0 never saw part of the last one
    seen = conf[-1] == 255
    np.testing.assert_allclose(maps[-1][seen], truth[-1][seen], rtol=0.01)  # moved by the path, to a percent
    filled = ~seen
    assert (maps[-1][filled] > 0).all()
    # the filled strip continues the nearest seen column of its row
    row = SIZE[0] // 2
    cols = np.flatnonzero(filled[row])
    edge = np.flatnonzero(seen[row])
    nearest = edge[np.abs(edge[:, None] - cols[None]).argmin(0)]
    np.testing.assert_allclose(maps[-1][row, cols], maps[-1][row, nearest], rtol=1e-6)


def _slanted_wall(angles: np.ndarray, centres: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A textured wall turned 35° about the vertical axis, 2 m ahead, seen along a path: (T, H, W, 3) uint8
    frames and (T, H, W) true depths."""
    import cv2

    rng = np.random.default_rng(seed)
    tex = cv2.GaussianBlur((rng.random((1200, 1200)) * 255).astype(np.uint8), (0, 0), 2.0)
    tex = cv2.normalize(tex, None, 0, 255, cv2.NORM_MINMAX)
    th = np.deg2rad(35.0)
    n, e1, e2 = np.array([np.sin(th), 0, np.cos(th)]), np.array([np.cos(th), 0, -np.sin(th)]), np.array([0, 1.0, 0])
    ys, xs = np.mgrid[0 : SIZE[0], 0 : SIZE[1]]
    rays = np.stack([(xs - INTR.cx) / INTR.fx, (ys - INTR.cy) / INTR.fy, np.ones(xs.shape)], -1)
    frames, depths = [], []
    for a, c in zip(angles, centres, strict=True):
        d = rays @ euler_to_matrix(a).T  # the rays in the reference camera's axes
        z = (2.0 - n @ c) / (d @ n)  # along each ray to the wall: its depth in this camera (the ray's z is 1)
        x = c + z[..., None] * d
        u, v = (x @ e1 * 300 + 600).astype(np.float32), (x @ e2 * 300 + 600).astype(np.float32)
        frames.append(np.repeat(cv2.remap(tex, u, v, cv2.INTER_LINEAR)[..., None], 3, -1))
        depths.append(z)
    return np.stack(frames), np.stack(depths).astype(np.float32)


def test_every_frame_s_depth_takes_what_frame_0_never_saw_from_a_keyframe_s_own_parallax():
    """A camera sliding 24 cm past a slanted wall: the last frames see a strip frame 0 never saw. The nearest seen
    depth continues the wall flat there; the keyframes' own parallax gives it its slant."""
    from motiondepth.types import Trajectory
    from motiondepth.workflow.steps import KEYFRAME, KEYFRAME_STEP, MOVED, frame_depths

    t = 25
    s = np.linspace(0, 1, t)
    centres = np.c_[0.24 * s, 0.01 * np.sin(2 * np.pi * s), 0.02 * s]
    angles = np.c_[0.004 * np.sin(2 * np.pi * s), 0.003 * s, np.zeros(t)]
    frames, truth = _slanted_wall(angles, centres)
    traj = Trajectory(angles, np.arange(t) / 30, np.zeros(t), centres=centres)
    nearest, conf0 = frame_depths(truth[0], INTR, traj)  # without the frames: no keyframes
    assert set(np.unique(conf0)) == {0, MOVED}
    maps, conf = frame_depths(truth[0], INTR, traj, frames=frames)
    assert t > 2 * KEYFRAME_STEP
    np.testing.assert_array_equal(conf == MOVED, conf0 == MOVED)  # what frame 0 saw is moved as before
    np.testing.assert_array_equal(maps[conf == MOVED], nearest[conf == MOVED])
    k = t - 1
    by_key = conf[k] == KEYFRAME
    assert by_key.mean() > 0.05, by_key.mean()  # most of the unseen strip
    err = np.abs(maps[k] - truth[k]) / truth[k]
    err0 = np.abs(nearest[k] - truth[k]) / truth[k]
    med, med0 = float(np.median(err[by_key])), float(np.median(err0[by_key]))
    assert med < 0.01 and med0 > 0.02, (med, med0)  # 0.3 % against 2.9 % when written
    # a path without translation has no parallax: no keyframes
    still = Trajectory(angles, np.arange(t) / 30, np.zeros(t), centres=np.zeros((t, 3)))
    assert KEYFRAME not in frame_depths(truth[0], INTR, still, frames=frames)[1]


def test_flow_points_lie_on_texture_inside_the_recorded_area(rng):
    """The direct-flow points (frame 0's and the keyframes'): none on a flat surface, whose flow would be its
    surroundings', and none within FLOW_BORDER_PX of the recorded area's edge or the image's."""
    import cv2

    from motiondepth.workflow.steps import FLOW_BORDER_PX, FLOW_GRID_PX, _flow_grid

    h, w = SIZE
    grey = cv2.GaussianBlur((rng.random(SIZE) * 255).astype(np.uint8), (0, 0), 1.5)
    grey[:, w // 2 :] = 128  # the right half flat, like a switched-off screen
    frame = np.repeat(grey[..., None], 3, -1)
    recorded = np.ones(SIZE, bool)
    recorded[:20] = False  # a black margin at the top
    xy = _flow_grid(frame, recorded)
    assert len(xy) > 0.6 * (h - 20 - 2 * FLOW_BORDER_PX) * (w / 2 - 2 * FLOW_BORDER_PX) / FLOW_GRID_PX**2
    assert (xy[:, 0] < w // 2 + 4).all()  # (the flat half's edge keeps a few pixels of the texture's window)
    assert (xy[:, 1] > 20 + FLOW_BORDER_PX - 1).all() and (xy[:, 0] > FLOW_BORDER_PX - 1).all()
    assert (xy[:, 1] < h - FLOW_BORDER_PX).all()


def test_a_track_that_slips_onto_another_static_point_stays_with_the_path_and_a_moving_one_does_not():
    """Tracks 0–9 are static points whose tracks slip at frame 8 onto the point 20 px to their right (a repeating
    texture's next period); tracks 10–29 move. Only the slipped ones are taken back as static."""
    from motiondepth.seurat.fuse import path_weights
    from motiondepth.trajectory.path_depth import slipped_tracks

    angles, centres, xy, z, queries, z0 = _scene(moving=30)
    rot = euler_to_matrix(angles)

    def seen(xy0, depth):  # a static point seen at xy0 (N, 2) at ``depth`` in frame 0, in every frame
        pts = np.c_[(xy0 - [INTR.cx, INTR.cy]) / [INTR.fx, INTR.fy], np.ones(len(xy0))] * depth[:, None]
        cam = np.einsum("tji,tnj->tni", rot, pts[None] - centres[:, None])
        return np.stack(
            [INTR.fx * cam[..., 0] / cam[..., 2] + INTR.cx, INTR.fy * cam[..., 1] / cam[..., 2] + INTR.cy], -1
        )

    xy[:, :10] = seen(queries[:10, 1:], z0[:10])  # 0–9 static …
    xy[8:, :10] = seen(queries[:10, 1:] + [20.0, 0.0], z0[:10])[8:]  # … until their tracks slip by 20 px
    vis = np.ones(z.shape, bool)
    pred = path_tracks(xy, vis, queries, z0, INTR, angles, centres, SIZE)
    assert (np.nanmedian(pred.residual_px[8:, :10], 0) > 8).all()  # past the moving threshold, as if moving
    out, slipped = slipped_tracks(pred, xy, vis, INTR, angles, centres, SIZE)
    assert not slipped[10:].any() and slipped[:10].sum() >= 8, np.flatnonzero(slipped)  # 9's depth fit is poor
    assert np.nanmax(out.residual_px[9:, slipped]) < 0.5  # the new point's residuals
    np.testing.assert_array_equal(out.residual_px[:, 10:], pred.residual_px[:, 10:])
    np.testing.assert_array_equal(out.depth, pred.depth)  # the depth stays the track's own point's
    w = path_weights(out.residual_px)[0]
    assert (w[:, slipped] == 1).all() and (w[:, 10:30] < 1).any(0).all()


def _still_pair(shift_object_px: int):
    """Two frames of a still camera over a random texture; in the second, a 40 px square (the object) has moved
    ``shift_object_px`` to the right. The path (no motion) puts every point where it was."""
    rng = np.random.default_rng(3)
    import cv2

    tex = cv2.GaussianBlur(rng.uniform(0, 255, (120, 160)).astype(np.float32), (0, 0), 1.5)
    tex = np.clip((tex - tex.mean()) * 4 + 128, 0, 255).astype(np.uint8)
    second = tex.copy()
    obj = tex[40:80, 40:80].copy()
    second[40:80, 40:80] = np.roll(np.roll(tex, 7, 0), 11, 1)[40:80, 40:80]  # what the object uncovers
    second[40:80, 40 + shift_object_px : 80 + shift_object_px] = obj
    frames = np.stack([np.repeat(f[..., None], 3, -1) for f in (tex, second)])
    queries = np.array([[0, 60.0, 60.0], [0, 120.0, 60.0], [0, 130.0, 100.0]])  # on the object; two on the wall
    xy = np.repeat(queries[None, :, 1:], 2, 0)
    pred = PathTracks(np.ones((2, 3)), xy, np.full((2, 3), np.nan), np.ones(3))
    return frames, pred, xy, queries


def test_a_hidden_static_point_is_found_where_the_path_puts_it_and_a_moved_one_is_not():
    frames, pred, xy, queries = _still_pair(shift_object_px=12)
    visible = np.array([[True] * 3, [False] * 3])
    tracks = xy + np.array([0.0, 0.0, 30.0])[None, :, None] * np.array([[0], [1]])[..., None]  # lost: anywhere
    out, vis, found = recover_hidden(frames, pred, tracks, visible, queries, 3.0)
    # the wall's points are where they were; the object's patch is gone from there (it moved 12 px)
    assert found.tolist() == [[False, False, False], [False, True, True]] and vis[1].tolist() == [False, True, True]
    np.testing.assert_allclose(out[1, 1:], xy[1, 1:], atol=0.2)
    np.testing.assert_array_equal(out[1, 0], tracks[1, 0])  # not found: the tracker's position is kept


def test_a_visible_track_is_never_moved_to_the_path():
    frames, pred, xy, queries = _still_pair(shift_object_px=12)
    tracks = xy.copy()
    tracks[1, 0] += [12.0, 0.0]  # the tracker followed the object
    out, vis, found = recover_hidden(frames, pred, tracks, np.ones((2, 3), bool), queries, 3.0)
    assert not found.any() and vis.all()
    np.testing.assert_array_equal(out, tracks.astype(np.float32))


def test_a_slipped_track_found_again_by_the_path_is_still_a_slip(monkeypatch):
    """Tracks 0–9 slip at frame 8 onto the point 20 px to their right, are lost from frame 14 on, and the path finds
    their own points again there. The found frames are the path's, not the tracker coming back: the slip rule still
    holds, and the slipped frames keep the path's depth (Seurat, here a constant, is not asked to stand in)."""
    from motiondepth.trajectory import path_depth
    from motiondepth.types import Tracks, Trajectory
    from motiondepth.workflow import steps

    angles, centres, xy, z, queries, z0 = _scene()
    truth = xy.copy()
    xy[8:, :10] += [20.0, 0.0]  # (20 px at these depths and this path: a slip, not parallax)
    vis = np.ones(z.shape, bool)
    vis[14:, :10] = False
    found = ~vis

    def finds(frames, pred, tracks, visible, queries, static_px):  # the path finds each lost point where it is
        return np.where(found[..., None], truth, tracks).astype(np.float32), visible | found, found

    def seurat(part, depth, intrinsics, frames, predictor):  # a Seurat that says nothing changes
        d = np.repeat(np.asarray(z0, np.float32)[None, : part.num_points], part.num_frames, 0)
        return Tracks3D(np.zeros((*d.shape, 3), np.float32), part.visible, intrinsics, part.queries, d, {})

    monkeypatch.setattr(path_depth, "recover_hidden", finds)
    monkeypatch.setattr(steps, "lift_tracks", seurat)
    tracks = Tracks(xy.astype(np.float32), vis, queries.astype(np.float32), SIZE)
    traj = Trajectory(angles, np.arange(len(angles)) / 30.0, np.zeros(len(angles)), "test", centres=centres)
    depth_map = np.full(SIZE, float(np.median(z0)), np.float32)
    out = steps.depth_over_time(tracks, depth_map, INTR, traj, frames=np.zeros((len(z), *SIZE, 3), np.uint8))
    assert out.meta["recovered"][14:, :10].all() and out.visible[14:, :10].all()
    assert out.meta["slipped_tracks"] >= 8
    assert (np.asarray(out.meta["source"])[:10] == SOURCES.index("path")).sum() >= 8
    e = depth_ratio_errors(out.depth[:, :10], z[:, :10], np.ones((len(z), 10), bool))
    assert e["mean"] < 0.2 * e["no_change"], e
