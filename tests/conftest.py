"""Shared fixtures: small, fast simulations and the optional ../shared/real-data folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from motiondepth.simulate import camera_preset
from motiondepth.simulate.scene import simulate_scene

REAL_DATA = Path(__file__).resolve().parents[2] / "shared" / "real-data"


@pytest.fixture(scope="session")
def real_data() -> Path:
    if not REAL_DATA.is_dir():
        pytest.skip("../shared/real-data not present")
    return REAL_DATA


@pytest.fixture(scope="session")
def small_camera():
    """Phone preset at 160 × 160 with 8 frames: same optics and timing, fast to simulate."""
    return camera_preset("phone", width=160, height=160, num_frames=8)


@pytest.fixture(scope="session")
def small_video(small_camera):
    return simulate_scene(small_camera, scene_seed=1, shake_seed=1)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


TUM_FR1_CALIBRATION = {"fx": 517.3, "fy": 516.5, "cx": 318.6, "cy": 255.3, "width": 640, "height": 480,
                       "distortion_coefficients": [0.2624, -0.9531, -0.0054, 0.0026, 1.1633]}  # fmt: skip


class TumFr1:
    """The TUM fr1_xyz clip of ../shared/real-data: its published colour calibration (``calibration``, as ``run
    --calibration`` reads it) and its Kinect maps undistorted like ``run`` undistorts the frames."""

    def __init__(self, folder: Path) -> None:
        from motiondepth.io.tum import TumSequence

        self.calibration = dict(TUM_FR1_CALIBRATION)
        self.folder = folder
        self.seq = TumSequence.open(folder)

    def kinect_maps(self, positions) -> np.ndarray:
        """(T, H, W) metres, the Kinect map of each colour frame at ``positions``, undistorted (nearest neighbour)."""
        import cv2

        from motiondepth.geometry.camera import Intrinsics
        from motiondepth.geometry.distortion import LensDistortion
        from motiondepth.io.depth import load_depth

        c = self.calibration
        lens = LensDistortion("opencv", c["distortion_coefficients"])
        mx, my = lens.undistort_maps(Intrinsics(c["fx"], c["fy"], c["cx"], c["cy"]), (c["height"], c["width"]))
        paths = self.seq.depth_for(np.asarray(positions))
        return np.stack([cv2.remap(load_depth(p, 1 / 5000), mx, my, cv2.INTER_NEAREST) for p in paths])


@pytest.fixture
def tum_fr1_calibration() -> dict:
    """TUM fr1's published colour calibration, as ``run --calibration`` reads it (no real data needed)."""
    return dict(TUM_FR1_CALIBRATION)


@pytest.fixture(scope="session")
def tum_fr1(real_data) -> TumFr1:
    return TumFr1(real_data / "video-rgbd-tum-fr1xyz")
