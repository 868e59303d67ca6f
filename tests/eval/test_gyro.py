"""compare-gyro: time offset, axis mapping and error of a trajectory against a gyroscope log."""

from __future__ import annotations

import json

import numpy as np
import pytest

from motiondepth.cli import main
from motiondepth.errors import InputError
from motiondepth.eval.gyro import compare_with_gyro
from motiondepth.geometry.rotations import body_rates, parse_axes
from motiondepth.io.trajectory import write_trajectory_csv
from motiondepth.sensor.gyro import gyro_angles
from motiondepth.types import Trajectory


def _gyro_log(path, seconds=6.0, rate_hz=200.0, seed=0):
    """Band-limited hand-shake-like angular rates (raw sensor axes), written as time_s,wx,wy,wz."""
    rng = np.random.default_rng(seed)
    t = np.arange(0, seconds, 1 / rate_hz)
    w = np.zeros((len(t), 3))
    for f in rng.uniform(0.5, 9.0, 12):
        w += rng.normal(0, 0.04, 3) * np.sin(2 * np.pi * f * t[:, None] + rng.uniform(0, 6, 3))
    np.savetxt(path, np.column_stack([t, w]), delimiter=",", header="time_s,wx,wy,wz", comments="")
    return t, w


def _trajectory(t, w, axes, offset, fps=30.0, frames=45):
    idx, sign = parse_axes(axes)
    times = np.arange(frames) / fps
    angles = gyro_angles(t, w[:, idx] * sign, times + offset)
    return Trajectory(angles, times, np.zeros(frames), "test")


def test_recovers_offset_and_axes(tmp_path):
    t, w = _gyro_log(tmp_path / "gyro.csv")
    traj = _trajectory(t, w, "yXz", offset=0.8373)
    r = compare_with_gyro(traj, tmp_path / "gyro.csv", axes="auto")
    assert r["axes"] == "yXz"
    assert r["offset_s"] == pytest.approx(0.8373, abs=1e-3)
    assert r["rate_correlation"] > 0.99 and r["trajectory"]["rmse_arcmin"] < 0.1


def test_band_table_of_the_gyro_matches_the_trajectory_it_made_per_axis(tmp_path):
    """The gyro's spectrum is taken over the clip's window and mapped to roll/pitch/yaw like the trajectory."""
    t, w = _gyro_log(tmp_path / "gyro.csv")
    traj = _trajectory(t, w, "yXz", offset=0.8373, frames=90)
    shake = compare_with_gyro(traj, tmp_path / "gyro.csv", axes="auto")["shake"]
    assert set(shake) == {"gyro", "trajectory"} and shake["gyro"]["axes"] == ["roll", "pitch", "yaw"]
    assert shake["gyro"]["duration_s"] == pytest.approx(traj.times[-1], abs=0.01)
    band = {k: v["bands"][1] for k, v in shake.items()}  # 2–4 Hz, resolved by both at 30 fps over 3 s
    assert band["gyro"]["lo_hz"] == 2.0
    tol = 0.03 * band["gyro"]["rms_arcmin"]["total"]  # leakage and Euler vs integrated rates: small, absolute
    for axis in ("roll", "pitch", "yaw", "total"):
        assert band["trajectory"]["rms_arcmin"][axis] == pytest.approx(band["gyro"]["rms_arcmin"][axis], abs=tol)
    assert "unresolved" in shake["trajectory"]["bands"][-1] and "rms_arcmin" in shake["gyro"]["bands"][-1]


def test_given_offset_and_wrong_axes_score_worse(tmp_path):
    t, w = _gyro_log(tmp_path / "gyro.csv")
    traj = _trajectory(t, w, "xyz", offset=1.5)
    good = compare_with_gyro(traj, tmp_path / "gyro.csv", offset_s=1.5)
    bad = compare_with_gyro(traj, tmp_path / "gyro.csv", offset_s=1.5, axes="yxz")
    assert good["trajectory"]["rmse_arcmin"] < 0.1 < bad["trajectory"]["rmse_arcmin"]
    assert good["offset_source"] == "given"


def test_body_rates_of_a_constant_spin():
    times = np.linspace(0, 1, 11)
    angles = np.zeros((11, 3))
    angles[:, 2] = 0.3 * times  # yaw at 0.3 rad/s
    np.testing.assert_allclose(body_rates(angles, times), np.tile([0, 0.3, 0], (10, 1)), atol=1e-12)


def test_errors_name_the_problem(tmp_path):
    _gyro_log(tmp_path / "gyro.csv", seconds=1.0)
    traj = _trajectory(np.arange(0, 4, 0.005), np.zeros((800, 3)), "xyz", 0.0, frames=60)
    with pytest.raises(InputError, match="shorter than"):
        compare_with_gyro(traj, tmp_path / "gyro.csv")
    with pytest.raises(InputError, match="axes"):
        compare_with_gyro(traj, tmp_path / "gyro.csv", axes="xxz")
    with pytest.raises(InputError, match="not found"):
        compare_with_gyro(traj, tmp_path / "missing.csv")


def test_cli_compare_gyro(tmp_path, capsys):
    t, w = _gyro_log(tmp_path / "gyro.csv")
    write_trajectory_csv(tmp_path / "traj.csv", _trajectory(t, w, "xyz", offset=0.25))
    assert (
        main(
            [
                "compare-gyro",
                str(tmp_path / "traj.csv"),
                str(tmp_path / "gyro.csv"),
                "--out",
                str(tmp_path / "cmp.json"),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "offset +250." in out and "shake per frequency band" in out
    assert json.loads((tmp_path / "cmp.json").read_text())["axes"] == "xyz"
    assert main(["compare-gyro", str(tmp_path / "traj.csv"), str(tmp_path / "gyro.csv"), "--offset", "soon"]) == 2


@pytest.mark.slow
@pytest.mark.realdata
def test_run_then_compare_with_the_real_gyro_log_that_shook_it(real_data, tmp_path):
    """Real phone gyro (×0.25) shakes a procedural scene; run recovers rotation; compare-gyro finds the offset."""
    import motiondepth
    from motiondepth.simulate import camera_preset, read_gyro_log
    from motiondepth.simulate.scene import simulate_scene, write_simulation

    log = real_data / "gyro-gyrodeblurnet" / "gyro_test.txt"
    t, w = read_gyro_log(log)
    scaled = tmp_path / "gyro_scaled.csv"
    np.savetxt(scaled, np.column_stack([t - t[0], 0.25 * w]), delimiter=",", header="time_s,wx,wy,wz", comments="")
    cam = camera_preset("phone", width=256, height=256, num_frames=16)
    video = simulate_scene(cam, scene_seed=2, shake=str(scaled), shake_start_s=10.0)
    write_simulation(video, tmp_path / "sim")
    k = video.intrinsics
    res = motiondepth.run(
        tmp_path / "sim" / "video.mp4", tmp_path / "run", fx=k.fx, fy=k.fy, cx=k.cx, cy=k.cy, progress=False
    )
    r = compare_with_gyro(res.trajectory, scaled, max_offset_s=12.0, span_s=cam.frame_span_s)
    assert r["offset_s"] == pytest.approx(10.0, abs=0.02)  # the clocks' offset: frame times are frame starts
    truth = compare_with_gyro(
        Trajectory(video.trajectory, res.trajectory.times, res.trajectory.residual_px),
        scaled,
        max_offset_s=12.0,
        span_s=cam.frame_span_s,
    )
    assert truth["trajectory"]["rmse_arcmin"] < 1.0  # the comparison itself is exact to < 1′
    assert r["rate_correlation"] > 0.95 and r["trajectory"]["rmse_arcmin"] < 6.0, r["trajectory"]
