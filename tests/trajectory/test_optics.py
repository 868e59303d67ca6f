import numpy as np
import pytest

from motiondepth.eval import trajectory_metrics
from motiondepth.geometry import Intrinsics, euler_to_matrix, project_pivot, unproject
from motiondepth.simulate import groundtruth_tracks
from motiondepth.tracking import KLTTracker, grid_queries, query_grid
from motiondepth.trajectory import (
    estimate_readout,
    sample_depth,
    solve_homography,
    solve_lsq,
    solve_paper,
    solve_trajectory,
)

INTR = Intrinsics.centred(484.0, 518, 518)


def _synthetic_tracks(angles, depth, pivot, intr=INTR, noise=0.0, seed=0):
    """Exact pivot-model tracks of the query grid (no blur, global shutter)."""
    g = query_grid(12, (518, 518), intr).astype(np.float64)
    x = unproject(g, depth, intr)
    tracks = project_pivot(x[None], euler_to_matrix(angles), pivot, intr)
    tracks += np.random.default_rng(seed).normal(0, noise, tracks.shape)
    tracks[0] = g
    return tracks, np.ones(tracks.shape[:2], bool)


@pytest.fixture
def motion():
    rng = np.random.default_rng(7)
    angles = np.cumsum(rng.normal(0, 0.002, (12, 3)), axis=0)
    angles[0] = 0
    depth = rng.uniform(0.8, 5.0, 625)
    return angles, depth


def test_lsq_is_exact_on_model_data(motion):
    angles, depth = motion
    tracks, vis = _synthetic_tracks(angles, depth, 0.2)
    est = solve_lsq(tracks, vis, depth, INTR, 0.2)
    np.testing.assert_allclose(est, angles, atol=1e-8)


def test_paper_mode_is_first_order_accurate(motion):
    angles, depth = motion
    tracks, vis = _synthetic_tracks(angles, depth, 0.2)
    est = solve_paper(tracks, vis, depth, INTR, 0.2)
    err = np.abs(est - angles)
    assert err.max() < 0.05 * np.abs(angles).max()  # small-angle model: errors are second order
    assert trajectory_metrics(est, angles)["e1"] > 0.9


def test_depth_matters_with_a_pivot(motion):
    angles, depth = motion
    tracks, vis = _synthetic_tracks(angles, depth, 0.3)
    right = solve_lsq(tracks, vis, depth, INTR, 0.3)
    wrong = solve_lsq(tracks, vis, np.full_like(depth, 100.0), INTR, 0.3)
    assert np.abs(right - angles).max() < 1e-7
    assert np.abs(wrong - angles).max() > 10 * np.abs(right - angles).max() + 1e-4


def test_homography_exact_for_pure_rotation(motion):
    angles, depth = motion
    tracks, vis = _synthetic_tracks(angles, depth, 0.0)
    est = solve_homography(tracks, vis, INTR)
    np.testing.assert_allclose(est.angles, angles, atol=1e-6)
    assert np.nanmax(est.residual_px) < 1e-3


def test_robust_to_outliers_and_invisible_points(motion):
    angles, depth = motion
    tracks, vis = _synthetic_tracks(angles, depth, 0.0, noise=0.05)
    rng = np.random.default_rng(1)
    bad = rng.random(tracks.shape[:2]) < 0.05  # 5 % gross outliers
    bad[0] = False
    tracks[bad] += rng.uniform(-30, 30, (bad.sum(), 2))
    vis = vis & ~(rng.random(vis.shape) < 0.1)  # 10 % lost
    vis[0] = True
    est = solve_trajectory(tracks, vis, None, INTR, 0.0, mode="lsq")
    assert np.abs(est.angles - angles).max() < 2e-4
    assert est.residual_px[1:].max() < 20


def test_rolling_shutter_terms_absorb_shear():
    """A yaw rate during readout shears the image; the lsq nuisance rates keep roll unbiased."""
    angles = np.zeros((4, 3))
    angles[1:, 2] = [0.004, 0.008, 0.012]
    depth = np.full(625, 3.0)
    g = query_grid(12, (518, 518), INTR).astype(np.float64)
    x = unproject(g, depth, INTR)
    s = (g[:, 1] - 258.5) / 518
    per_point = angles[:, None, :] + s[None, :, None] * np.array([0.0, 0.0, 0.002])  # yaw shear
    rot = euler_to_matrix(per_point)  # (T, N, 3, 3): every point sees its own row's rotation
    tracks = project_pivot(x[None, :, None, :], rot, 0.0, INTR)[..., 0, :]
    tracks[0] = g
    vis = np.ones((4, 625), bool)
    from motiondepth.trajectory import SolverConfig

    with_rs = solve_lsq(tracks, vis, depth, INTR, 0.0)
    without = solve_lsq(tracks, vis, depth, INTR, 0.0, config=SolverConfig(rolling_shutter=False))
    assert np.abs(with_rs[1:, 0]).max() < 0.1 * np.abs(without[1:, 0]).max()


def test_rate_prior_resists_tracker_shear_bias(motion):
    """Telephoto (12° field of view): free rates read a tracker's symmetric-shear bias as rolling
    shutter and trade it against roll; the prior (default) weighs the rates against the residual
    noise and keeps roll. For a wide lens the prior fades and both modes agree."""
    from motiondepth.trajectory import SolverConfig

    angles, depth = motion

    def roll_errors(intr):
        tracks, vis = _synthetic_tracks(angles, depth, 0.0, intr=intr, noise=0.5, seed=3)
        xn, yn = (tracks[0, :, 0] - intr.cx) / 259.0, (tracks[0, :, 1] - intr.cy) / 259.0
        tracks[1:, :, 0] += 0.3 * yn  # 0.3 px at the edge, the size seen with KLT on telephoto blur
        tracks[1:, :, 1] += 0.3 * xn
        out = {}
        for mode in ("prior", "free"):
            est = solve_lsq(tracks, vis, depth, intr, 0.0, config=SolverConfig(rolling_shutter=mode))
            out[mode] = est[1:, 0] - angles[1:, 0]
        return out

    tele = roll_errors(Intrinsics.centred(2395.0, 518, 518))
    assert np.sqrt(np.mean(tele["prior"] ** 2)) < 0.5 * np.sqrt(np.mean(tele["free"] ** 2))
    wide = roll_errors(INTR)
    assert np.abs(wide["prior"] - wide["free"]).max() < 0.1 * np.abs(wide["free"]).max()
    tracks, vis = _synthetic_tracks(angles, depth, 0.0)
    with pytest.raises(ValueError, match="rolling_shutter"):
        solve_lsq(tracks, vis, depth, INTR, 0.0, config=SolverConfig(rolling_shutter="sometimes"))


def test_grid_spacing_regular_and_scattered():
    from scipy.spatial import cKDTree

    from motiondepth.trajectory.optics import _grid_spacing

    rng = np.random.default_rng(0)
    for pts in (query_grid(12, (518, 518)), query_grid(3, (480, 640)), rng.uniform(0, 100, (60, 2))):
        d, _ = cKDTree(pts).query(pts, k=2)
        assert _grid_spacing(pts) == pytest.approx(np.median(d[:, 1]), rel=1e-5)


def test_sample_depth_fills_holes():
    d = np.full((10, 10), 3.0)
    d[2, 2] = 0.0
    z = sample_depth(d, np.array([[2.2, 1.8], [5.0, 5.0]]))
    np.testing.assert_allclose(z, [3.0, 3.0])


def test_solver_input_errors():
    with pytest.raises(ValueError, match="at least 2 frames"):
        solve_trajectory(np.zeros((1, 4, 2)), np.ones((1, 4), bool), None, INTR, 0.0)
    with pytest.raises(ValueError, match="depth map is needed"):
        solve_trajectory(np.zeros((3, 4, 2)), np.ones((3, 4), bool), None, INTR, 0.2)
    with pytest.raises(ValueError, match="unknown solver mode"):
        solve_trajectory(np.zeros((3, 4, 2)), np.ones((3, 4), bool), None, INTR, 0.0, mode="x")


def test_simulate_then_recover(small_video):
    """The simulator is the oracle: recover its rotation from its own frames."""
    v = small_video
    g = query_grid(8, v.frames.shape[1:3], v.intrinsics)
    gt_tracks = groundtruth_tracks(v, g)
    est = solve_trajectory(gt_tracks.tracks, gt_tracks.visible, v.depth, v.intrinsics, v.camera.pivot_m, mode="lsq")
    err = np.abs(est.angles - v.trajectory).max()
    assert err < 3e-4, err
    klt = KLTTracker().track(v.frames, grid_queries(g))
    est = solve_trajectory(klt.tracks, klt.visible, v.depth, v.intrinsics, v.camera.pivot_m, mode="lsq")
    m = trajectory_metrics(est.angles, v.trajectory)
    assert m["rmse_arcmin"] < 1.5 and m["e1"] > 0.9


def test_estimate_readout_from_the_solvers_shear():
    """Rates that follow ρ × the frame rate give back ρ × interval; too little motion gives None."""
    rng = np.random.default_rng(3)
    t = np.arange(20) * 0.04
    theta = np.stack([0.002 * np.sin(9 * t), 0.01 * np.sin(13 * t + 1), 0.01 * np.sin(11 * t)], 1)
    theta -= theta[0]
    rho = 0.5  # a 20 ms readout at 25 fps
    d = np.zeros_like(theta)
    d[1:-1] = 0.5 * (theta[2:] - theta[:-2])
    d[0], d[-1] = theta[1] - theta[0], theta[-1] - theta[-2]
    rates = rho * (d - d[0]) + rng.normal(0, 2e-4, theta.shape)
    est = estimate_readout(theta, rates, 0.04)
    assert est["readout_ms"] == pytest.approx(20.0, abs=3 * est["stderr_ms"]) and est["stderr_ms"] < 2.0
    assert est["frames"] == 20
    assert estimate_readout(theta * 1e-3, rates * 1e-3, 0.04) is None
    rates[4] = np.nan  # a lost frame is skipped
    assert estimate_readout(theta, rates, 0.04)["frames"] == 19
