"""Pivot-parallax point depths and the depth-map rescaling built on them."""

from __future__ import annotations

import numpy as np
import pytest

from motiondepth.simulate import camera_preset, groundtruth_tracks
from motiondepth.simulate.scene import simulate_scene
from motiondepth.tracking import query_grid
from motiondepth.trajectory.optics import sample_depth
from motiondepth.trajectory.parallax import PointDepths, fit_cost, pivot_parallax_depths, rescale_depth_map, scale_check
from motiondepth.workflow import RunConfig, add_depth_notes, scale_warning


@pytest.fixture(scope="module")
def exact():
    cam = camera_preset("phone", width=192, height=192, num_frames=12)
    v = simulate_scene(cam, scene_seed=5, shake_seed=5)
    q = query_grid(6, (192, 192), v.intrinsics)
    return v, groundtruth_tracks(v, q), sample_depth(v.depth, q), cam


def test_exact_tracks_keep_true_depths_and_recover_relative_structure(exact):
    v, tr, gt, cam = exact
    pd = pivot_parallax_depths(tr.tracks, tr.visible, v.intrinsics, cam.pivot_m, gt, image_height=192)
    assert np.median(np.abs(pd.depth - gt) / gt) < 0.02 and pd.reliable.all()
    # from a flat start, near and far points separate (the common scale is only weakly observable)
    pd = pivot_parallax_depths(tr.tracks, tr.visible, v.intrinsics, cam.pivot_m, float(np.median(gt)), image_height=192)
    assert np.corrcoef(np.log(pd.depth), np.log(gt))[0, 1] > 0.7
    with pytest.raises(ValueError, match="pivot"):
        pivot_parallax_depths(tr.tracks, tr.visible, v.intrinsics, 0.0)


def test_fit_cost_is_lowest_at_the_true_scale_on_exact_tracks(exact):
    v, tr, gt, cam = exact
    costs = [fit_cost(tr.tracks, tr.visible, k * gt, v.intrinsics, cam.pivot_m, 192) for k in (0.5, 1.0, 2.0)]
    assert costs[1] < min(costs[0], costs[2]) and costs[1] < 1e-3


def test_scale_check_and_its_warning(exact):
    v, tr, gt, cam = exact
    chk = scale_check(tr.tracks, tr.visible, gt, v.intrinsics, cam.pivot_m, 192)
    assert chk.cost_ratio.min() > 1.05 and scale_warning(chk.cost_ratio) is None  # exact tracks fix the scale
    # nearer points shift more for the same rotation (≈ f·θ·(1 + d/Z)), so at half the depth less rotation
    # explains the tracks, at twice the depth more
    assert chk.rotation_ratio[0] < 0.99 < 1.01 < chk.rotation_ratio[1]
    assert "barely fix the depth's scale" in scale_warning([1.01, 1.002])
    w = scale_warning([1.01, 1.002], [0.87, 1.06])
    assert "-13 % at half and +6 % at twice" in w and "--scene-distance" in w
    assert "twice as far" in scale_warning([1.48, 0.98]) and "half as far" in scale_warning([1.0, 1.3])
    assert (
        scale_warning([np.nan, 1.0]) is None
        and np.isnan(scale_check(tr.tracks, tr.visible, gt * np.nan, v.intrinsics, cam.pivot_m, 192).cost_ratio).all()
    )


def test_depth_notes_in_the_summary_and_warnings():
    from motiondepth.workflow.config import DepthRescale

    def notes(info, **cfg):
        summary, warnings = {"depth_m": {}}, []
        add_depth_notes(summary, warnings, DepthRescale.from_info(info), RunConfig(**cfg))
        return summary["depth_m"]["rescale"], warnings

    # the network rescaled by pivot parallax, the scale loose: the numbers, the loose-scale and the origin warnings
    rescale, warnings = notes({"mode": "local", "scale": 0.8, "points": 120, "scale_cost_ratio": np.array([1.01, 1.0])})
    assert rescale == {"mode": "local", "scale": 0.8, "points": 120, "scale_cost_ratio": [1.01, 1.0]}
    assert len(warnings) == 2 and "barely fix" in warnings[0]
    assert "rescaled by pivot parallax" in warnings[1] and "0.2 m" in warnings[1]
    # too few reliable points: the network keeps its own scale, and says so
    rescale, warnings = notes({"mode": "none", "scale": 1.0, "points": 4})
    assert rescale["mode"] == "none" and "too weak" in warnings[0] and "(4 reliable" in warnings[0]
    assert "rescaled" not in warnings[1] and "blur-depth" in warnings[1]
    # rescaling switched off: no complaint about the parallax; a user's depth model is named
    _, warnings = notes({"mode": "none", "scale": 1.0, "points": 0}, depth_rescale="none", depth_model="/m/dpt")
    assert len(warnings) == 1 and "the depth model in /m/dpt" in warnings[0]
    # a depth map given: nothing to warn about
    assert notes({"mode": "none", "scale": 1.0, "points": 0}, depth="d.png")[1] == []
    # a scene distance given: it sets the scale, so a loose parallax scale is no news; the rotation's sensitivity
    # and the distance's factor are kept, and the origin warning names both sources
    info = {"mode": "local", "scale": 0.8, "points": 120, "scale_cost_ratio": np.array([1.01, 1.0]),
            "rotation_scale_ratio": np.array([0.9, 1.05]), "distance_scale": 1.3}  # fmt: skip
    rescale, warnings = notes(info, scene_distance_m=2.5)
    assert rescale["distance_scale"] == 1.3 and rescale["rotation_scale_ratio"] == [0.9, 1.05]
    assert len(warnings) == 1 and "given scene distance (2.5 m median)" in warnings[0]
    assert "and the pivot parallax" in warnings[0]
    # without it the loose-scale warning says how far the rotation could be off
    assert "-10 % at half and +5 % at twice" in notes(info)[1][0]


def _points(depth, sigma_rel=0.05):
    return PointDepths(depth, sigma_rel * depth, np.zeros((2, 3)), 0.1)


def test_rescale_modes():
    h, w = 60, 80
    net = np.full((h, w), 2.0, np.float32)
    ys, xs = np.mgrid[5:h:10, 5:w:10]
    xy = np.stack([xs.ravel(), ys.ravel()], -1).astype(float)
    out, info = rescale_depth_map(net, xy, _points(np.full(len(xy), 4.0)), "global")
    assert info["scale"] == pytest.approx(2.0) and np.allclose(out, 4.0)
    # the right half is twice as far as the map says: the local field follows, the global factor cannot
    truth = np.where(xy[:, 0] > w / 2, 4.0, 2.0)
    local, _ = rescale_depth_map(net, xy, _points(truth), "local")
    assert local[:, :20].mean() < 2.6 and local[:, -20:].mean() > 3.4
    unchanged, info = rescale_depth_map(net, xy[:5], _points(truth[:5]), "local")
    assert info["mode"] == "none" and np.array_equal(unchanged, net)
    unreliable = PointDepths(truth, truth, np.zeros((2, 3)), 0.1)  # 100 % sigma: nothing reliable
    assert rescale_depth_map(net, xy, unreliable, "global")[1]["mode"] == "none"


def test_multiframe_signal_benchmark_fits_the_true_depth_best():
    """benchmarks/multiframe_signal.py: warping with the known motion at the true depth beats no warp
    and beats a wrong constant depth (a check on the pivot warp the benchmark's figures rest on)."""
    import importlib.util
    from pathlib import Path

    from motiondepth.data import EVAL_SEED_BASE
    from motiondepth.data.blur_data import BlurDataConfig, procedural_clip, sample_from_clip

    path = Path(__file__).parents[2] / "benchmarks" / "multiframe_signal.py"
    spec = importlib.util.spec_from_file_location("multiframe_signal", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    cfg = BlurDataConfig(size=112, num_frames=6, shake="handheld", shake_scale=2.0)
    r = bench.residuals(sample_from_clip(*procedural_clip(EVAL_SEED_BASE + 1, cfg)), cfg.pivot_m)
    assert set(r) == {*bench.DEPTHS, "identity"}
    assert r["true"] < 0.5 * r["identity"]
    assert r["true"] < r["1 m"] and r["true"] < r["20 m"]


def test_interpolated_depth_ratio_keeps_the_maps_edges_and_matches_the_points(rng):
    """The prior map is right up to a smooth factor; a few hundred true points make it right everywhere."""
    from motiondepth.trajectory.parallax import interpolate_depth_ratio

    h, w = 120, 160
    yy, xx = np.mgrid[:h, :w]
    truth = np.where(xx < 80, 1.0, 3.0) + 0.002 * yy  # a step edge the points need not sit on
    prior = truth * 0.7 * np.exp(0.3 * xx / w)  # wrong scale, and a smooth tilt
    xy = np.stack([rng.uniform(0, w - 1, 400), rng.uniform(0, h - 1, 400)], 1)
    z = truth[np.round(xy[:, 1]).astype(int), np.round(xy[:, 0]).astype(int)]
    out, info = interpolate_depth_ratio(prior, xy, z, 0.02 * z)
    assert info["mode"] == "interpolated" and info["points"] == 400
    assert np.median(np.abs(out - truth) / truth) < 0.01
    assert info["confidence"].shape == (h, w) and info["confidence"].max() == pytest.approx(1.0)
    few, info_few = interpolate_depth_ratio(prior, xy[:5], z[:5], 0.02 * z[:5])
    assert info_few["mode"] == "none" and np.array_equal(few, prior.astype(np.float32))
    _, info_unsure = interpolate_depth_ratio(prior, xy, z, 0.5 * z)  # no point known to 10 %
    assert info_unsure["mode"] == "none"


def test_depth_rescale_record_round_trips_through_depth_npz_arrays():
    """workflow.config.DepthRescale: what the depth steps return beside the map, written to depth.npz and read back
    by the step cache; the bundle adjustment's confidence under its own key; unknown fields refused."""
    from motiondepth.workflow.config import DepthRescale

    conf = np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4)
    rec = DepthRescale(mode="interpolated", scale=0.9, points=40, source="motion", confidence=conf,
                       scale_cost_ratio=np.array([1.2, 1.1]), distance_scale=1.3)  # fmt: skip
    for key in ("rescale_confidence", "confidence"):
        arrays = rec.arrays(key)
        assert key in arrays and "rescale_why" not in arrays  # unset fields are left out
        back = DepthRescale.from_arrays(arrays)
        assert (back.mode, back.scale, back.points, back.source, back.distance_scale) == (
            "interpolated", 0.9, 40, "motion", 1.3,
        )  # fmt: skip
        np.testing.assert_array_equal(back.confidence, conf)
        np.testing.assert_array_equal(back.scale_cost_ratio, [1.2, 1.1])
    with pytest.raises(ValueError, match="unknown depth-rescale fields"):
        DepthRescale.from_info({"mode": "local", "kernel": 3})
