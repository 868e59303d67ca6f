"""Lens distortion: the two models' point maps, frame undistortion, and calibration files that carry it."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from motiondepth.errors import InputError
from motiondepth.geometry.camera import Intrinsics
from motiondepth.geometry.distortion import LensDistortion, distort_frames, undistort_frames
from motiondepth.workflow import read_calibration, read_lens_distortion, resolve_intrinsics

K = Intrinsics(170.0, 172.0, 81.0, 58.5)  # a 160 × 120 image
BARREL = LensDistortion("opencv", (-0.3, 0.09, 0.002, -0.001, -0.01))
GOPRO = LensDistortion("fisheye", (0.0673, -0.0528, 0.1214, -0.0774))  # Gyroflow's Hero7 wide profile
GYROFLOW = Path(__file__).resolve().parents[3] / "shared/real-data/gyro-gyroflow-gopro/GX016015.MP4.gyroflow"


@pytest.mark.parametrize("lens", [BARREL, GOPRO], ids=["opencv", "fisheye"])
def test_points_round_trip_and_bend_lines(lens):
    ys, xs = np.mgrid[0:120:10, 0:160:10]
    p = np.stack([xs, ys], -1).reshape(-1, 2).astype(np.float64)
    d = lens.distort_points(p, K)
    assert np.abs(lens.undistort_points(d, K) - p).max() < 1e-6
    assert np.abs(d - p).max() > 3.0  # the corners move by pixels
    assert np.allclose(lens.distort_points(np.array([[K.cx, K.cy]]), K), [[K.cx, K.cy]])  # the centre stays
    # a straight row off the centre is no longer straight after distortion
    row = np.stack([np.linspace(0, 159, 9), np.full(9, 10.0)], -1)
    assert np.ptp(lens.distort_points(row, K)[:, 1]) > 1.0


def test_opencv_radial_term_against_the_formula():
    lens = LensDistortion("opencv", (-0.2, 0.05, 0.0, 0.0))
    x, y = 0.4, -0.3  # normalised
    r2 = x * x + y * y
    f = 1 - 0.2 * r2 + 0.05 * r2 * r2
    got = lens.distort_points(np.array([[K.fx * x + K.cx, K.fy * y + K.cy]]), K)
    assert np.allclose(got, [[K.fx * x * f + K.cx, K.fy * y * f + K.cy]])


def test_bad_models_and_coefficients():
    assert LensDistortion("plumb_bob", (0, 0, 0, 0, 0)).model == "opencv"
    assert LensDistortion("equidistant", (0.1, 0, 0, 0)).model == "fisheye"
    assert LensDistortion("opencv", (0, 0, 0, 0)).is_identity
    with pytest.raises(ValueError, match="unknown distortion model"):
        LensDistortion("poly3", (0.1,))
    with pytest.raises(ValueError, match="4 coefficients"):
        LensDistortion("fisheye", (0.1, 0.2))
    with pytest.raises(ValueError, match="OpenCV's model"):
        LensDistortion("opencv", (0.1, 0.2, 0.3))
    with pytest.raises(ValueError, match="finite"):
        LensDistortion("opencv", (np.nan, 0, 0, 0))


@pytest.mark.parametrize("lens", [BARREL, GOPRO], ids=["opencv", "fisheye"])
def test_undistorted_frames_are_the_pinhole_frames(lens):
    ys, xs = np.mgrid[0:120, 0:160]
    checker = (((xs // 8) + (ys // 8)) % 2 * 200 + 30).astype(np.uint8)
    pinhole = cv2.GaussianBlur(np.repeat(checker[..., None], 3, -1), (0, 0), 1.0)
    recorded = distort_frames(pinhole[None], K, lens)[0]
    back = undistort_frames(recorded[None], K, lens)[0]
    inner = (slice(12, -12), slice(12, -12))
    err = np.abs(back[inner].astype(float) - pinhole[inner]).mean()
    assert err < 0.25 * np.abs(recorded[inner].astype(float) - pinhole[inner]).mean()  # two resamplings' blur left
    # the remap maps are the point map: pinhole pixel -> where the lens recorded it
    mx, my = lens.undistort_maps(K, (120, 160))
    q = np.array([[30.0, 20.0], [140.0, 100.0]])
    assert np.allclose(np.stack([mx[(20, 100), (30, 140)], my[(20, 100), (30, 140)]], -1),
                       lens.distort_points(q, K), atol=1e-3)  # fmt: skip
    identity = LensDistortion("opencv", (0, 0, 0, 0))
    assert undistort_frames(recorded[None], K, identity) is not None


def _write(tmp_path: Path, name: str, rec: dict) -> Path:
    p = tmp_path / name
    p.write_text(json.dumps(rec))
    return p


def test_calibration_files_with_distortion(tmp_path):
    k = [[500.0, 0, 320], [0, 501.0, 240], [0, 0, 1]]
    # OpenCV / ROS style: nested {"data": ...}, model name
    p = _write(tmp_path, "ros.json", {"camera_matrix": {"data": np.ravel(k).tolist()}, "distortion_model": "plumb_bob",
                                      "distortion_coefficients": {"data": [-0.1, 0.01, 0, 0, 0]},
                                      "width": 640, "height": 480})  # fmt: skip
    assert read_calibration(p) == (Intrinsics(500.0, 501.0, 320.0, 240.0), (480, 640))
    assert read_lens_distortion(p) == LensDistortion("opencv", (-0.1, 0.01, 0, 0, 0))
    # fisheye flag, plain lists
    p = _write(tmp_path, "fish.json", {"K": k, "D": [0.1, 0, 0, 0], "fisheye": True})
    assert read_lens_distortion(p).model == "fisheye"
    # a Gyroflow lens profile
    fisheye = {"camera_matrix": k, "distortion_coeffs": list(GOPRO.coeffs)}
    p = _write(tmp_path, "gf.json", {"calib_dimension": {"w": 4000, "h": 3000}, "use_opencv_fisheye": True,
                                     "fisheye_params": fisheye})  # fmt: skip
    assert read_calibration(p)[1] == (3000, 4000) and read_lens_distortion(p) == GOPRO
    # no distortion given: a pinhole
    assert read_lens_distortion(_write(tmp_path, "k.json", {"K": k})) is None
    # bad files name themselves
    bad = _write(tmp_path, "bad.json", {"K": k, "dist_coeffs": [0.1, 0.2, 0.3]})
    with pytest.raises(InputError, match=r"bad\.json.*lens distortion"):
        read_lens_distortion(bad)
    bad = _write(tmp_path, "gfbad.json", {"use_opencv_fisheye": True, "fisheye_params": {}})
    with pytest.raises(InputError, match=r"gfbad\.json.*Gyroflow"):
        read_calibration(bad)
    with pytest.raises(InputError, match="JSON object"):
        read_calibration(_write(tmp_path, "list.json", [1, 2]))


@pytest.mark.skipif(not GYROFLOW.is_file(), reason="../shared/real-data absent")
def test_real_gyroflow_project_calibration():
    """The GoPro Hero7 profile inside a real .gyroflow project, rescaled to the project's 2704 × 2028 video."""
    lens = read_lens_distortion(GYROFLOW)
    assert lens.model == "fisheye" and len(lens.coeffs) == 4
    intr, origin, warning = resolve_intrinsics((2028, 2704), calibration=GYROFLOW)
    assert intr.fx == pytest.approx(1752.954 * 2704 / 4000, rel=1e-4) and warning is None
    assert "rescaled from 4000x3000" in origin
    assert 95 < intr.hfov_deg(2704) < 100  # the pinhole crop of a wide fisheye (97.5°)
