"""RGB-D dataset loaders on small files written here in each format (and KITTI from ../shared)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from motiondepth.data.rgbd_sources import (
    KittiObject,
    NYULabeled,
    PngFolder,
    ProceduralSource,
    SkyScenesFolder,
    decode_carla_depth,
    kitti_sparse_depth,
)
from motiondepth.errors import InputError


def test_procedural_source():
    src = ProceduralSource(size=(32, 48))
    a = src[3]
    assert a.rgb.shape == (32, 48, 3) and (a.depth > 0).all()
    np.testing.assert_array_equal(a.depth, src[3].depth)


def test_png_folder(tmp_path):
    (tmp_path / "rgb").mkdir()
    (tmp_path / "depth").mkdir()
    cv2.imwrite(str(tmp_path / "rgb" / "a.png"), np.full((10, 12, 3), 50, np.uint8))
    cv2.imwrite(str(tmp_path / "depth" / "a.png"), np.full((10, 12), 1500, np.uint16))
    src = PngFolder(tmp_path)
    item = src[0]
    assert len(src) == 1 and item.rgb.shape == (10, 12, 3)
    np.testing.assert_allclose(item.depth, 1.5)
    cv2.imwrite(str(tmp_path / "rgb" / "b.png"), np.zeros((10, 12, 3), np.uint8))
    with pytest.raises(InputError, match=r"no depth map for b\.png"):
        PngFolder(tmp_path)


def test_skyscenes_folder_carla_depth(tmp_path):
    metres = 123.456
    code = round(metres / 1000.0 * (256**3 - 1))
    r, g, b = code % 256, (code // 256) % 256, code // 65536
    bgr = np.zeros((6, 8, 3), np.uint8)
    bgr[...] = (b, g, r)
    bgr[0, 0] = (255, 255, 255)  # sky
    for sub in ("Images/ClearNoon/Town01", "Depth/ClearNoon/Town01"):
        (tmp_path / sub).mkdir(parents=True)
    cv2.imwrite(str(tmp_path / "Images/ClearNoon/Town01/x.png"), np.zeros((6, 8, 3), np.uint8))
    cv2.imwrite(str(tmp_path / "Depth/ClearNoon/Town01/x.png"), bgr)
    item = SkyScenesFolder(tmp_path)[0]
    assert item.depth[0, 0] == 0.0
    np.testing.assert_allclose(item.depth[1:, 1:], metres, atol=1e-3)
    assert decode_carla_depth(np.zeros((1, 1, 3), np.uint8))[0, 0] == 0.0


def test_nyu_labeled_mat(tmp_path):
    h5py = pytest.importorskip("h5py")
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (2, 3, 16, 12), dtype=np.uint8)  # MATLAB layout (N, 3, W, H)
    depths = rng.uniform(0.5, 9.0, (2, 16, 12)).astype(np.float32)
    with h5py.File(tmp_path / "nyu.mat", "w") as f:
        f["images"] = images
        f["depths"] = depths
    src = NYULabeled(tmp_path / "nyu.mat")
    item = src[1]
    assert len(src) == 2 and item.rgb.shape == (12, 16, 3)
    np.testing.assert_array_equal(item.rgb[..., 0], images[1, 0].T)
    np.testing.assert_allclose(item.depth, depths[1].T)
    (tmp_path / "bad.mat").write_bytes(b"MATLAB 5.0 not hdf5")
    with pytest.raises(InputError, match="not an NYU labeled"):
        NYULabeled(tmp_path / "bad.mat")


def test_kitti_projection_hand_case():
    calib = {"P2": np.array([[100.0, 0, 50, 0], [0, 100.0, 20, 0], [0, 0, 1, 0]]), "R0_rect": np.eye(3),
             "Tr_velo_to_cam": np.array([[0, -1.0, 0, 0], [0, 0, -1.0, 0], [1.0, 0, 0, 0]])}  # fmt: skip
    # velodyne x forward: a point 10 m ahead and one 5 m ahead on the same ray; one behind
    pts = np.array([[10.0, 0, 0, 0], [5.0, 0, 0, 0], [-3.0, 0, 0, 0]])
    d = kitti_sparse_depth(pts, calib, (40, 100))
    assert d[20, 50] == 5.0 and (d > 0).sum() == 1


def test_kitti_real_sample(real_data):
    src = KittiObject(real_data / "kitti-object-sample")
    item = src[0]
    valid = item.depth > 0
    assert 0.02 < valid.mean() < 0.1  # the README: 4.5 % of pixels
    assert 3.0 < item.depth[valid].min() and item.depth[valid].max() < 90.0


def test_blur_sample_uses_solver_trajectory_not_ground_truth():
    from motiondepth.data.blur_data import BlurDataConfig, blur_sample

    rgbd = ProceduralSource(size=(112, 112))[0]
    s = blur_sample(rgbd, seed=2, cfg=BlurDataConfig(size=112, num_frames=6, grid_half=4))
    assert s["frames"].shape == (6, 112, 112, 3) and s["depth"].shape == (112, 112)
    assert s["dense_15"].shape == (6, 15, 3) and s["dense_30"].shape == (6, 30, 3)
    np.testing.assert_array_equal(s["sparse"][0], 0.0)
    # the solver is close to, but not the same as, the ground truth
    err = np.abs(s["sparse"] - s["sparse_gt"]).max()
    assert 0 < err < 0.2 * np.abs(s["sparse_gt"]).max() + 1e-4
