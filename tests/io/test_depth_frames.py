"""Every frame's depth folder (io.depth.save_depth_frames / load_depth_frames), the fused tracks3d.npz's extra keys,
and the step cache's digest of a folder."""

import numpy as np
import pytest

from motiondepth.errors import InputError
from motiondepth.geometry.camera import Intrinsics
from motiondepth.io.atomic import file_digest
from motiondepth.io.depth import load_depth, load_depth_frames, save_depth_frames
from motiondepth.io.tracks import load_tracks3d, save_tracks3d
from motiondepth.types import Tracks3D


def test_depth_frames_round_trip_in_millimetres_and_a_rewrite_leaves_no_frame_of_the_longer_clip(tmp_path):
    rng = np.random.default_rng(0)
    maps = rng.uniform(0.5, 6.0, (5, 12, 16)).astype(np.float32)
    maps[2, :3] = 0.0  # unknown stays unknown
    save_depth_frames(tmp_path / "depth", maps)
    assert sorted(p.name for p in (tmp_path / "depth").iterdir()) == [f"{k:06d}.png" for k in range(5)]
    back = load_depth_frames(tmp_path / "depth", 5)
    np.testing.assert_allclose(back, maps, atol=5.1e-4)
    assert (back[2, :3] == 0).all()
    np.testing.assert_allclose(load_depth(tmp_path / "depth" / "000001.png"), maps[1], atol=5.1e-4)
    save_depth_frames(tmp_path / "depth", maps[:2])  # a shorter clip into the same folder
    assert sorted(p.name for p in (tmp_path / "depth").iterdir()) == ["000000.png", "000001.png"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder left


def test_a_missing_or_foreign_depth_frame_is_named(tmp_path):
    import cv2

    save_depth_frames(tmp_path / "depth", np.ones((3, 8, 8), np.float32))
    (tmp_path / "depth" / "000001.png").unlink()
    with pytest.raises(InputError, match=r"000001\.png"):
        load_depth_frames(tmp_path / "depth", 3)
    cv2.imwrite(str(tmp_path / "depth" / "000001.png"), np.zeros((8, 8, 3), np.uint8))  # 8-bit colour
    with pytest.raises(InputError, match="16-bit"):
        load_depth_frames(tmp_path / "depth", 3)


def test_a_folder_digest_changes_with_any_file_in_it(tmp_path):
    save_depth_frames(tmp_path / "depth", np.ones((3, 8, 8), np.float32))
    first = file_digest(tmp_path / "depth")
    assert file_digest(tmp_path / "depth") == first
    save_depth_frames(tmp_path / "depth", np.full((3, 8, 8), 1.001, np.float32))
    assert file_digest(tmp_path / "depth") != first


def test_tracks3d_keeps_each_track_s_source_and_both_predictions(tmp_path):
    t, n = 4, 6
    xyz = np.ones((t, n, 3), np.float32)
    meta = {"source": np.array([0, 1, 2, 0, 0, 1], np.uint8), "source_names": ("path", "seurat", "fused"),
            "path_residual_px": np.linspace(0, 5, n), "path_depth": np.full((t, n), 2.0),
            "seurat_depth": np.full((t, n), 2.5)}  # fmt: skip
    intr = Intrinsics(100.0, 100.0, 8.0, 8.0)
    save_tracks3d(tmp_path / "t3.npz", Tracks3D(xyz, np.ones((t, n), bool), intr, np.zeros((n, 3)), xyz[..., 2], meta))
    back = load_tracks3d(tmp_path / "t3.npz")
    assert back.meta["source_names"] == ("path", "seurat", "fused")
    np.testing.assert_array_equal(back.meta["source"], meta["source"])
    np.testing.assert_allclose(back.meta["seurat_depth"], 2.5)
    np.testing.assert_allclose(back.meta["path_residual_px"], meta["path_residual_px"], rtol=1e-6)
    # a file whose per-track arrays do not match its tracks is named
    d = dict(np.load(tmp_path / "t3.npz"))
    d["depth_path"] = d["depth_path"][:, :3]
    np.savez(tmp_path / "bad.npz", **d)
    with pytest.raises(InputError, match="depth_path"):
        load_tracks3d(tmp_path / "bad.npz")
