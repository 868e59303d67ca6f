"""The focal length from the shake (trajectory.focal) and ``run --hfov auto``."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from motiondepth.geometry.camera import Intrinsics
from motiondepth.simulate import camera_preset, groundtruth_tracks
from motiondepth.simulate.scene import simulate_scene
from motiondepth.tracking import query_grid
from motiondepth.trajectory.focal import estimate_focal
from motiondepth.workflow import FOCAL_AUTO, focal_outcome, resolve_intrinsics


def _exact(preset: str, **overrides):
    cam = camera_preset(preset, width=192, height=192, num_frames=12, **overrides)
    v = simulate_scene(cam, scene_seed=3, shake_seed=3)
    return v, groundtruth_tracks(v, query_grid(6, (192, 192), v.intrinsics)), cam


@pytest.fixture(scope="module")
def phone():
    return _exact("phone")


def test_recovers_a_phone_focal_length_from_a_wrong_start(phone):
    v, tr, cam = phone
    for start_hfov in (30.0, 90.0):  # the true field of view is 56°
        start = Intrinsics.from_hfov(start_hfov, 192, 192)
        est = estimate_focal(tr.tracks, tr.visible, start, cam.pivot_m, (192, 192))
        assert est.trusted, est.problem
        assert est.intrinsics.fx == pytest.approx(v.intrinsics.fx, rel=0.04)
        assert est.intrinsics.fy / est.intrinsics.fx == pytest.approx(start.fy / start.fx)
        assert (est.intrinsics.cx, est.intrinsics.cy) == (start.cx, start.cy)
        assert est.hfov_deg == pytest.approx(np.rad2deg(2 * np.arctan(96 / v.intrinsics.fx)), abs=1.5)
        assert min(est.sharpness) > 1.02 and est.residual_px < 0.2
        # the profile's minimum is where the estimate is, and it is a clear one
        assert est.costs.argmin() not in (0, len(est.costs) - 1)
        assert est.costs.max() > 5 * est.costs.min()
    d = est.as_dict()
    assert d["trusted"] and len(d["profile"]["scale"]) == len(d["profile"]["cost_px2"]) > 20


def test_is_not_trusted_without_motion_or_outside_the_range(phone):
    _, tr, cam = phone
    start = Intrinsics.from_hfov(60.0, 192, 192)
    still = np.repeat(tr.tracks[:1], len(tr.tracks), axis=0)  # a tripod: nothing moves
    est = estimate_focal(still, tr.visible, start, cam.pivot_m, (192, 192))
    assert not est.trusted and "barely tell" in est.problem
    # a range that excludes the true 56° puts the minimum on its edge
    est = estimate_focal(tr.tracks, tr.visible, start, cam.pivot_m, (192, 192), hfov_range=(70.0, 120.0))
    assert not est.trusted and "edge of the range" in est.problem and "(the narrow end)" in est.problem
    with pytest.raises(ValueError, match="hfov_range"):
        estimate_focal(tr.tracks, tr.visible, start, cam.pivot_m, (192, 192), hfov_range=(90.0, 30.0))
    with pytest.raises(ValueError, match="at least 2 frames"):
        estimate_focal(tr.tracks[:1], tr.visible[:1], start, cam.pivot_m, (192, 192))


def test_auto_in_resolve_intrinsics_and_its_outcome():
    intr, origin, warning = resolve_intrinsics((100, 200), hfov="auto", cx=90.0)
    assert origin == FOCAL_AUTO and warning is None and intr.cx == 90.0
    assert intr.fx == pytest.approx(Intrinsics.from_hfov(60.0, 200, 100).fx)
    with pytest.raises(Exception, match="cannot be combined with --fx"):
        resolve_intrinsics((100, 200), hfov="auto", fx=300.0)
    with pytest.raises(Exception, match="not a field of view"):
        resolve_intrinsics((100, 200), hfov="wide")
    found = replace(intr, fx=150.0, fy=150.0)
    got, origin, warning = focal_outcome({"trusted": True, "hfov_deg": 67.4}, found, intr)
    assert got is found and "67.4°" in origin and "150 px" in warning
    got, origin, warning = focal_outcome({"trusted": False, "problem": "too little shake"}, found, intr)
    assert got is intr and origin.startswith("default") and "too little shake" in warning
