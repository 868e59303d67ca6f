import numpy as np
import pytest

from motiondepth.eval import crop_mask, depth_metrics, mean_depth_metrics, trajectory_metrics


def test_trajectory_metrics_hand_computed():
    gt = np.array([[0.0, 0.0, 0.0], [0.01, -0.02, 0.0005], [0.004, 0.002, -0.01]])
    pred = np.array([[0.0, 0.0, 0.0], [0.012, -0.02, 0.0], [0.003, 0.0035, -0.01]])
    m = trajectory_metrics(pred, gt, floor_rad=1e-3)
    # scored samples (|gt| > 1e-3): 0.01, -0.02, 0.004, 0.002, -0.01 → rel 0.2, 0, 0.25, 0.75, 0
    assert m["num_samples"] == 5
    assert m["abs_rel"] == pytest.approx((0.2 + 0 + 0.25 + 0.75 + 0) / 5)
    assert m["e1"] == pytest.approx(3 / 5)  # < 0.25: 0.2, 0, 0 (0.25 itself is not below)
    assert m["e2"] == pytest.approx(4 / 5)  # < 0.5625
    err = np.array([0.002, 0, 0.0005, 0.001, 0.0015, 0])
    assert m["rmse_arcmin"] == pytest.approx(np.sqrt(np.mean(err**2)) * 180 / np.pi * 60)
    assert m["rmse_arcmin_yaw"] == pytest.approx(np.sqrt((0.0005**2 + 0) / 2) * 180 / np.pi * 60)


def test_trajectory_metrics_e1_strictly_below():
    gt = np.array([[0, 0, 0], [0.01, 0.01, 0.01]])
    pred = np.array([[0, 0, 0], [0.0125, 0.0124, 0.01]])
    m = trajectory_metrics(pred, gt)
    assert m["e1"] == pytest.approx(2 / 3)


def test_trajectory_metrics_dense_shape_and_nan():
    gt = np.full((3, 15, 3), 0.01)
    gt[0] = 0
    pred = gt.copy()
    pred[2, 3, 1] = np.nan
    m = trajectory_metrics(pred, gt)
    assert m["num_samples"] == 2 * 15 * 3
    assert m["e1"] == pytest.approx(1 - 1 / 90)
    with pytest.raises(ValueError):
        trajectory_metrics(np.zeros((3, 3)), np.zeros((4, 3)))


def test_depth_metrics_hand_computed():
    gt = np.array([[1.0, 2.0], [4.0, 0.0]])  # 0 = invalid
    pred = np.array([[1.1, 1.0], [4.0, 7.0]])
    m = depth_metrics(pred, gt)
    assert m["num_pixels"] == 3
    assert m["abs_rel"] == pytest.approx((0.1 + 0.5 + 0) / 3)
    assert m["sq_rel"] == pytest.approx((0.01 / 1 + 1 / 2 + 0) / 3)
    assert m["rmse"] == pytest.approx(np.sqrt((0.01 + 1 + 0) / 3))
    assert m["rmse_log"] == pytest.approx(np.sqrt((np.log(1.1) ** 2 + np.log(0.5) ** 2) / 3))
    assert m["log10"] == pytest.approx((abs(np.log10(1.1)) + abs(np.log10(0.5))) / 3)
    assert m["delta1"] == pytest.approx(2 / 3)
    assert m["delta2"] == pytest.approx(2 / 3)  # ratio 2 > 1.5625
    assert m["delta3"] == pytest.approx(2 / 3)  # 1.25³ ≈ 1.953 < 2


def test_depth_alignment_and_crops():
    gt = np.random.default_rng(0).uniform(1, 5, (48, 64))
    assert depth_metrics(gt * 3.0, gt, align="median")["abs_rel"] == pytest.approx(0, abs=1e-12)
    assert depth_metrics(gt * 2.0 + 0.5, gt, max_depth=100, align="lstsq")["abs_rel"] == pytest.approx(0, abs=1e-9)
    assert depth_metrics(gt * 2.0, gt, max_depth=100)["abs_rel"] == pytest.approx(1.0)
    eig = crop_mask((480, 640), "eigen")
    assert eig.sum() == (471 - 45) * (601 - 41)
    assert crop_mask((375, 1242), "garg").sum() > 0
    avg = mean_depth_metrics([{"abs_rel": 0.1, "num_pixels": 5}, {"abs_rel": 0.3, "num_pixels": 9}])
    assert avg["abs_rel"] == pytest.approx(0.2) and avg["num_images"] == 2
