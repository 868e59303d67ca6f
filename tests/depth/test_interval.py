"""The frame-0 median depth's 80 % interval (issue 47): its fit, its widening where the clip contradicts the prior,
and what a run's summary says."""

from __future__ import annotations

import numpy as np
import pytest

from motiondepth.depth.interval import (
    ACCEL_SIGMA_INFLATION,
    MedianInterval,
    accel_interval,
    card_calibration,
    fit_factors,
    likely,
    prior_interval,
)
from motiondepth.models.weights import VIDEO_DEPTH_CHECKPOINT, read_card

CALIBRATION = {"factors": [0.4, 2.25], "pred_range_m": [1.14, 2.63], "true_range_max": 8.0}


def test_the_factors_hold_80_percent_of_scenes_each_with_one_vote():
    rng = np.random.default_rng(0)
    truth = np.exp(rng.normal(0.2, 0.5, 400))  # 400 scenes, truth / prediction log-normal
    lo, hi = fit_factors(truth, np.arange(400))
    assert np.log(lo) == pytest.approx(0.2 - 1.2816 * 0.5, abs=0.1)
    assert np.log(hi) == pytest.approx(0.2 + 1.2816 * 0.5, abs=0.1)
    fresh = np.exp(rng.normal(0.2, 0.5, 4000))
    assert np.mean((fresh >= lo) & (fresh <= hi)) == pytest.approx(0.8, abs=0.03)
    # a scene seen through many windows does not outvote the others
    many = np.r_[truth, np.full(4000, 10.0)]
    scenes = np.r_[np.arange(400), np.full(4000, 400)]
    assert fit_factors(many, scenes)[1] == pytest.approx(hi, rel=0.05)


def test_a_clip_that_agrees_with_the_prior_gets_the_cards_factors():
    iv = prior_interval(1.5, CALIBRATION, "blur-depth-indoor", 1.8, parallax_scale=0.83, depth_range=3.9)
    assert (iv.low_m, iv.high_m) == pytest.approx((0.6, 3.375))
    assert iv.widened == 1 and not iv.reasons
    assert iv.as_dict()["median_interval"] == [0.6, 3.375] and "median_interval_widened" not in iv.as_dict()
    assert iv.text(1.5) == "1.50 m, likely 0.60–3.38 m"


def test_a_street_filmed_from_a_car_widens_the_interval():
    """The phone clip's numbers (a 6-DoF run: the parallax moved the prior by × 0.27, the depth spans × 45)."""
    iv = prior_interval(0.45, CALIBRATION, "blur-depth-indoor", 1.7, parallax_scale=0.27, depth_range=45.0)
    assert iv.widened == pytest.approx((1 / 0.27) * (45.0 / 8.0))
    assert len(iv.reasons) == 2 and "far field" in iv.reasons[1]
    assert iv.low_m == pytest.approx(0.45 * 0.4) and iv.high_m > 20  # a far field widens upwards only
    # a prior extrapolating beyond the medians it was calibrated on
    far = prior_interval(6.0, CALIBRATION, "x", 6.0)
    assert far.widened == pytest.approx((6.0 / 2.63) ** 2) and "outside" in far.reasons[0]  # both ends


def test_the_accelerometers_interval_follows_its_sigma():
    iv = accel_interval(1.0, 0.05)
    half = 1.2816 * ACCEL_SIGMA_INFLATION * 0.05
    assert (iv.low_m, iv.high_m) == pytest.approx((np.exp(-half), np.exp(half)))
    assert "accelerometer" in iv.source


def test_every_metric_number_gets_the_same_factor():
    d = {"median": 2.0} | MedianInterval(1.0, 4.0, "x").as_dict()
    assert likely(2.0, d) == ", likely 1.00–4.00 m"
    assert likely(0.1, d, 1e3, "mm") == ", likely 50.0–200.0 mm"
    assert likely(2.0, {"median": 2.0, "median_interval": None}) == ""


def test_the_shipped_default_prior_is_calibrated():
    block = card_calibration(read_card(VIDEO_DEPTH_CHECKPOINT)[1])
    assert block is not None and block["level"] == 0.8
    lo, hi = block["factors"]
    assert 0 < lo < 1 < hi
    assert card_calibration({}) is None and card_calibration({"median_interval": {"factors": [1]}}) is None


def _summary(median=1.5, p2=0.8, p98=3.2):
    return {"depth_m": {"median": median, "p2": p2, "p98": p98}}


def test_the_run_summary_says_where_the_interval_comes_from_or_why_there_is_none():
    from motiondepth.sensor.accel import AccelScale
    from motiondepth.workflow.config import DepthRescale, RunConfig
    from motiondepth.workflow.summary import add_median_interval

    rescale = DepthRescale(mode="interpolated", scale=0.83, points=50)
    summary, warnings = _summary(), []
    add_median_interval(summary, warnings, rescale, RunConfig(), motion=object())
    d = summary["depth_m"]
    lo, hi = d["median_interval"]
    assert lo < 1.5 < hi and "calibration" in d["median_interval_source"] and not warnings
    for cfg, why in ((RunConfig(depth="d.png"), "--depth"), (RunConfig(scene_distance_m=2.0), "--scene-distance")):
        summary = _summary()
        add_median_interval(summary, [], rescale, cfg)
        assert summary["depth_m"]["median_interval"] is None and why in summary["depth_m"]["median_interval_why"]
    summary = _summary()
    add_median_interval(summary, [], rescale, RunConfig(depth_model="/models/dav2"))
    d = summary["depth_m"]
    assert d["median_interval"] is None and "no calibration" in d["median_interval_why"]
    acc = AccelScale(scale=0.6, sigma=0.05, axes="XYz", axes_found=True, offset_s=0.02, offset_found=True,
                     gravity=[0.0, 9.8, 0.0], bias=[0.0, 0.0, 0.0], residual_mm=0.3, windows=1, motion_ms2=1.5,
                     why="")  # fmt: skip
    summary = _summary()
    add_median_interval(summary, [], rescale, RunConfig(depth="d.png"), accel=acc)  # the accelerometer outranks
    assert summary["depth_m"]["median_interval"] == pytest.approx(
        [round(x, 4) for x in (accel_interval(1.5, 0.05).low_m, accel_interval(1.5, 0.05).high_m)]
    )
    # a street: high severity, widened
    summary, warnings = _summary(0.45, 0.16, 7.1), []
    add_median_interval(summary, warnings, DepthRescale(mode="interpolated", scale=0.27, points=50), RunConfig(),
                        motion=object())  # fmt: skip
    d = summary["depth_m"]
    assert d["median_interval_widened"] > 10 and len(d["median_interval_why_widened"]) == 2
    assert len(warnings) == 1 and warnings[0].severity == "high" and "contradicts" in warnings[0]
