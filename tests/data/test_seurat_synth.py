"""Animated scenes and the Seurat data generator: exact tracks, real occlusion, determinism, shards."""

from __future__ import annotations

import numpy as np
import pytest

from motiondepth.data.seurat_synth import SeuratDataConfig, ShardReader, eval_clip, export_shards, window_sample
from motiondepth.geometry import Intrinsics
from motiondepth.scenes.animated import AnimatedScene, Pose, generate_animated_scene
from motiondepth.scenes.procedural import BOX, SPHERE, Primitive, ProceduralScene
from motiondepth.seurat.depth_source import bilinear_sample
from motiondepth.seurat.windows import fill_occluded, window_starts


def _still(n: int) -> Pose:
    return Pose(np.broadcast_to(np.eye(3), (n, 3, 3)).copy(), np.zeros((n, 3)))


def _occluder_scene(n: int = 5) -> AnimatedScene:
    """A room whose back wall is 6 m away and a 0.3 m sphere crossing the optical axis at 2 m."""
    tex = dict(colours=np.ones((3, 3)), pattern=0, texture_freq=1.0, texture_seed=0)
    room = Primitive(BOX, np.array([4.0, 4.0, 3.5]), np.eye(3), np.array([0.0, 0.0, 2.5]), inside=True, **tex)
    ball = Primitive(SPHERE, np.array([0.3]), np.eye(3), np.array([-1.0, 0.0, 2.0]), **tex)
    scene = ProceduralScene([room, ball], light_dir=np.array([0.0, -1.0, 0.0]))
    xs = np.linspace(-1.0, 1.0, n)
    ball_pose = Pose(np.broadcast_to(np.eye(3), (n, 3, 3)).copy(), np.stack([xs, 0 * xs, 0 * xs + 2.0], -1))
    intr = Intrinsics.centred(100.0, 101, 101)
    room_pose = Pose(_still(n).rotation, np.tile(room.translation, (n, 1)))
    return AnimatedScene(scene, [room_pose, ball_pose], _still(n), intr, (101, 101))


def test_occlusion_is_first_surface_hit():
    scene = _occluder_scene()
    wall = scene.surface_points(0, np.array([[50.0, 50.0]]))  # centre pixel sees the back wall at frame 0
    assert wall.prim[0] == 0
    xy, depth, vis = scene.track(wall)
    np.testing.assert_allclose(depth[:, 0], 6.0, atol=1e-9)
    np.testing.assert_allclose(xy[:, 0], [[50.0, 50.0]] * 5, atol=1e-9)
    # the ball is on the axis at frame 2 (x = 0) and hides the wall point there only
    assert vis[:, 0].tolist() == [True, True, False, True, True]


def test_tracks_match_rendered_depth_and_move_rigidly():
    intr = Intrinsics.centred(150.0, 160, 120)
    scene = generate_animated_scene(4, intr, (120, 160), num_frames=6)
    g = np.stack(np.meshgrid(np.linspace(10, 150, 9), np.linspace(10, 110, 7)), -1).reshape(-1, 2)
    pts = scene.surface_points(0, g)
    xy, depth, vis = scene.track(pts)
    np.testing.assert_allclose(xy[0], g, atol=1e-6)  # a point starts where it was seeded
    assert vis[0].all()
    for f in (0, 5):
        ok = vis[f]
        sampled = bilinear_sample(scene.depth_map(f), xy[f, ok])
        close = np.abs(sampled - depth[f, ok]) / depth[f, ok] < 0.02
        assert close.mean() > 0.85  # all but points next to depth edges


def test_fill_occluded_hand_case():
    tr = np.arange(8, dtype=float).reshape(4, 1, 2)
    vis = np.array([[False], [True], [False], [True]])
    out = fill_occluded(tr, vis)
    np.testing.assert_array_equal(out[:, 0, 0], [2.0, 2.0, 2.0, 6.0])


def test_window_sample_is_seeded_and_consistent():
    cfg = SeuratDataConfig(grid=6, num_queries=10)
    a, b = window_sample(3, cfg), window_sample(3, cfg)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert a["support_tracks"].shape == (8, 36, 2) and a["query_tracks"].shape == (8, 10, 2)
    np.testing.assert_array_equal(a["query_log_ratio"][0], 0.0)
    assert not np.array_equal(a["query_tracks"], window_sample(4, cfg)["query_tracks"])


def test_window_starts_cover_any_length():
    assert window_starts(8, 8, 4).tolist() == [0]
    assert window_starts(18, 8, 4).tolist() == [0, 4, 8, 10]
    with pytest.raises(ValueError, match=r"at least one window"):
        window_starts(7, 8, 4)


def test_eval_clip_support_per_window():
    cfg = SeuratDataConfig(grid=5, num_queries=12)
    clip = eval_clip(9, num_frames=14, stride=4, cfg=cfg)
    assert clip.support.shape == (len(clip.window_starts), 8, 25, 2)
    assert clip.depth_maps.shape[0] == 14 and clip.tracks.shape == (14, 12, 2)
    # every query is visible at its own query frame
    qt = clip.queries[:, 0].astype(int)
    assert clip.visible[qt, np.arange(12)].all()


def test_shards_round_trip_and_resume(tmp_path):
    cfg = SeuratDataConfig(grid=4, num_queries=5)
    export_shards(tmp_path, 100, 5, shard_size=2, cfg=cfg, progress=False)
    assert sorted(p.name for p in tmp_path.glob("shard-*.npz")) == [f"shard-0000{i}.npz" for i in range(3)]
    reader = ShardReader(tmp_path)
    assert len(reader) == 5
    np.testing.assert_array_equal(reader[3]["query_tracks"], window_sample(103, cfg)["query_tracks"])
    preloaded = ShardReader(tmp_path, preload=True)  # every shard in memory: same samples, any order
    for i in (4, 0, 3, 7):
        for key, value in reader[i].items():
            np.testing.assert_array_equal(preloaded[i][key], value)
    # worker processes (one thread each, freed memory kept for reuse) write the same samples
    export_shards(tmp_path / "par", 100, 5, shard_size=2, cfg=cfg, progress=False, workers=2)
    parallel = ShardReader(tmp_path / "par")
    for i in range(5):
        for key, value in reader[i].items():
            np.testing.assert_array_equal(parallel[i][key], value)
    mtime = (tmp_path / "shard-00000.npz").stat().st_mtime_ns
    export_shards(tmp_path, 100, 5, shard_size=2, cfg=cfg, progress=False)  # resumes: keeps finished shards
    assert (tmp_path / "shard-00000.npz").stat().st_mtime_ns == mtime
