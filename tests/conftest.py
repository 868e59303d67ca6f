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
