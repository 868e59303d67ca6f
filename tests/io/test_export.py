"""Trajectory exports: TUM poses and gyro-style rate logs, from CSVs and run folders."""

from __future__ import annotations

import json

import numpy as np
import pytest

from motiondepth.cli import main
from motiondepth.errors import InputError
from motiondepth.eval.gyro import compare_with_gyro
from motiondepth.geometry.rotations import euler_to_matrix, quat_to_euler
from motiondepth.io.export import export_trajectory, load_samples
from motiondepth.io.gyro_log import read_gyro_log
from motiondepth.io.trajectory import read_trajectory_csv, write_dense_csv, write_trajectory_csv
from motiondepth.types import Trajectory

FPS, S = 30.0, 15


def _shake(t: np.ndarray) -> np.ndarray:
    """A smooth three-axis wobble (rad), a few arcminutes to a degree."""
    return np.stack([0.004 * np.sin(2 * np.pi * 1.3 * t), 0.015 * np.sin(2 * np.pi * 3.1 * t + 0.4),
                     0.01 * np.sin(2 * np.pi * 2.2 * t + 1.0)], -1)  # fmt: skip


def _run_folder(path, frames=20, origin=0.0, pivot=0.2, lost=None):
    """A folder laid out like 'run' output: trajectory.csv (frame means), trajectory_dense.csv, config.json."""
    path.mkdir()
    times = np.arange(frames) / FPS
    fine = np.arange(frames * 64) / (64 * FPS)
    means = _shake(fine).reshape(frames, 64, 3).mean(1)  # the mean over each frame interval
    angles = means - means[0]
    if lost is not None:
        angles[lost] = np.nan
    write_trajectory_csv(path / "trajectory.csv", Trajectory(angles, times, np.zeros(frames), "lsq"))
    dense_t = times[:, None] + (np.arange(S) + 0.5) / S / FPS
    write_dense_csv(path / "trajectory_dense.csv", _shake(dense_t) - means[0], times, 1 / FPS)
    record = {"pivot_m": pivot, "input": {"time_origin_s": origin}}
    (path / "config.json").write_text(json.dumps(record))
    return times, angles, dense_t


def _read_tum(path):
    rows = np.loadtxt(path, comments="#")
    return rows[:, 0], rows[:, 1:4], rows[:, 4:8]


def test_tum_poses_from_a_run_folder(tmp_path):
    origin = 1305031102.175304  # a TUM RGB-D image folder's clock
    times, angles, dense_t = _run_folder(tmp_path / "run", origin=origin)
    export_trajectory(tmp_path / "run", tmp_path / "dense.tum")  # dense by default, the run's pivot
    t, pos, quat = _read_tum(tmp_path / "dense.tum")
    assert len(t) == 20 * S
    np.testing.assert_allclose(t - origin, dense_t.ravel(), atol=2e-6)
    got = quat_to_euler(quat)
    p = np.array([0.0, 0.0, -0.2])
    np.testing.assert_allclose(pos, p - euler_to_matrix(got) @ p, atol=2e-9)  # centre on the pivot's sphere
    assert np.abs(pos).max() > 1e-4  # a few mm of translation from the pivot
    # per frame: one pose per frame at the middle of its interval; pure rotation with --pivot 0
    export_trajectory(tmp_path / "run", tmp_path / "frames.tum", dense=False, pivot_m=0.0, time_offset_s=-origin)
    t, pos, quat = _read_tum(tmp_path / "frames.tum")
    np.testing.assert_allclose(t, times + 0.5 / FPS, atol=2e-6)
    np.testing.assert_allclose(quat_to_euler(quat), angles, atol=1e-8)
    assert np.abs(pos).max() == 0.0


def test_tum_file_reads_back_with_evo(tmp_path):
    """evo (the trajectory-evaluation tool the TUM export is for) reads the file as written: its camera-to-world
    rotations are the dense trajectory's, and its positions the pivot model's centres."""
    evo_io = pytest.importorskip("evo.tools.file_interface")
    from motiondepth.io.trajectory import read_dense_csv

    _run_folder(tmp_path / "run")
    export_trajectory(tmp_path / "run", tmp_path / "dense.tum")
    t, pos, quat = _read_tum(tmp_path / "dense.tum")
    traj = evo_io.read_tum_trajectory_file(str(tmp_path / "dense.tum"))
    np.testing.assert_allclose(traj.timestamps, t)
    np.testing.assert_allclose(traj.positions_xyz, pos)
    np.testing.assert_allclose(traj.orientations_quat_wxyz, quat[:, [3, 0, 1, 2]])  # evo: w first; TUM: w last
    dense, _ = read_dense_csv(tmp_path / "run" / "trajectory_dense.csv")
    rot = np.stack([euler_to_matrix(a) for a in dense.reshape(-1, 3)])
    np.testing.assert_allclose(np.asarray(traj.poses_se3)[:, :3, :3], rot, atol=1e-8)
    p = np.array([0.0, 0.0, -0.2])  # the run's pivot, 0.2 m behind the camera
    np.testing.assert_allclose(np.asarray(traj.poses_se3)[:, :3, 3], p - rot @ p, atol=1e-8)


def test_rates_log_matches_the_trajectory_it_came_from(tmp_path):
    """The per-frame trajectory against the rates of the dense one: aligned at zero offset, arcsecond error."""
    _run_folder(tmp_path / "run", frames=60)
    samples = export_trajectory(tmp_path / "run", tmp_path / "rates.csv", fmt="rates")
    t, w = read_gyro_log(tmp_path / "rates.csv")
    assert len(t) == len(samples.times) - 1
    np.testing.assert_allclose(t, 0.5 * (samples.times[1:] + samples.times[:-1]))
    fine = np.arange(0, 2, 1e-4)
    assert np.abs(w).max() == pytest.approx(np.abs(np.gradient(_shake(fine), fine, axis=0)).max(), rel=0.05)
    # trajectory.csv (frame starts; frames 1..58, inside the log) against the log, frame span known
    traj = read_trajectory_csv(tmp_path / "run" / "trajectory.csv")
    part = Trajectory(traj.angles[1:-1] - traj.angles[1], traj.times[1:-1], traj.residual_px[1:-1])
    res = compare_with_gyro(part, tmp_path / "rates.csv", span_s=1 / FPS)
    assert abs(res["offset_s"]) < 1e-3 and res["rate_correlation"] > 0.999
    assert res["trajectory"]["rmse_arcmin"] < 0.2


def test_gyroflow_gcsv_holds_the_same_rates(tmp_path):
    """export-trajectory --format gcsv: Gyroflow's log of the rates log's samples, to 1 µs and 1 µrad/s."""
    _run_folder(tmp_path / "run", frames=30)
    export_trajectory(tmp_path / "run", tmp_path / "rates.csv", fmt="rates")
    export_trajectory(tmp_path / "run", tmp_path / "motion.gcsv", fmt="gcsv")
    assert (tmp_path / "motion.gcsv").read_text().startswith("GYROFLOW IMU LOG\n")
    t1, w1 = read_gyro_log(tmp_path / "rates.csv")
    t2, w2 = read_gyro_log(tmp_path / "motion.gcsv")
    np.testing.assert_allclose(t2, t1, atol=1e-6)
    np.testing.assert_allclose(w2, w1, atol=1e-6)


def test_gyroflows_own_reader_reads_the_gcsv_as_motiondepth_does(tmp_path):
    """Issue 48 #6: telemetry-parser (the reader Gyroflow uses) read the export with every axis negated: a
    lowercase orientation letter negates in Gyroflow's rule. The export now writes ``XYZ``; both readers agree."""
    telemetry_parser = pytest.importorskip("telemetry_parser")
    _run_folder(tmp_path / "run", frames=30)
    export_trajectory(tmp_path / "run", tmp_path / "motion.gcsv", fmt="gcsv")
    _, ours = read_gyro_log(tmp_path / "motion.gcsv")
    imu = telemetry_parser.Parser(str(tmp_path / "motion.gcsv")).normalized_imu()
    theirs = np.radians([s["gyro"] for s in imu])  # deg/s
    assert len(theirs) == len(ours) and np.abs(ours).max() > 1e-3
    np.testing.assert_allclose(theirs, ours, atol=2e-6)
    # a file's own orientation reads the same way in both: YxZ is (file y, −file x, file z)
    lines = (tmp_path / "motion.gcsv").read_text().replace("orientation,XYZ", "orientation,YxZ")
    (tmp_path / "turned.gcsv").write_text(lines)
    _, turned = read_gyro_log(tmp_path / "turned.gcsv")
    np.testing.assert_allclose(turned, np.c_[ours[:, 1], -ours[:, 0], ours[:, 2]], atol=1e-9)
    imu = telemetry_parser.Parser(str(tmp_path / "turned.gcsv")).normalized_imu()
    np.testing.assert_allclose(np.radians([s["gyro"] for s in imu]), turned, atol=2e-6)


def test_lost_frames_are_left_out_and_bad_inputs_named(tmp_path, capsys):
    _run_folder(tmp_path / "run", lost=[5])
    samples = load_samples(tmp_path / "run", dense=False)
    assert len(samples.times) == 19 and "1 lost sample(s) left out" in samples.source
    assert main(["export-trajectory", str(tmp_path / "run"), "--per-frame", "--out", str(tmp_path / "t.tum")]) == 0
    assert "19 samples" in capsys.readouterr().out and len(_read_tum(tmp_path / "t.tum")[0]) == 19
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"no trajectory_dense\.csv or trajectory\.csv"):
        load_samples(tmp_path / "empty")
    (tmp_path / "gyro.csv").write_text("time_s,wx,wy,wz\n0,0,0,0\n0.01,0,0,0\n")
    with pytest.raises(InputError, match=r"gyro\.csv: not a trajectory CSV"):
        load_samples(tmp_path / "gyro.csv")
    with pytest.raises(InputError, match="--pivot"):
        export_trajectory(tmp_path / "run", tmp_path / "x.tum", pivot_m=-1.0)
    assert not (tmp_path / "x.tum").exists()
    (tmp_path / "run" / "config.json").write_text("{not json")
    assert main(["export-trajectory", str(tmp_path / "run"), "--out", str(tmp_path / "y.tum")]) == 2
    assert "config.json" in capsys.readouterr().err


def test_tum_poses_carry_the_recovered_translation(tmp_path):
    """A run whose trajectory.csv has camera centres (run --motion): the TUM file's positions are those centres,
    per frame and interpolated to the dense samples; --pivot given brings back the pivot model."""
    times, angles, _ = _run_folder(tmp_path / "run")
    centres = np.stack([0.02 * np.sin(3 * times), 0.01 * times, -0.005 * times], 1)  # centimetres of hand motion
    centres -= centres[0]
    traj = Trajectory(angles, times, np.zeros(len(times)), "small-motion-6dof", centres=centres)
    write_trajectory_csv(tmp_path / "run" / "trajectory.csv", traj)
    export_trajectory(tmp_path / "run", tmp_path / "frames.tum", dense=False)
    t, pos, _ = _read_tum(tmp_path / "frames.tum")
    np.testing.assert_allclose(pos, centres, atol=1e-7)  # the CSV keeps 0.1 µm
    assert "as recovered" in (tmp_path / "frames.tum").read_text()
    export_trajectory(tmp_path / "run", tmp_path / "dense.tum")
    t, pos, _ = _read_tum(tmp_path / "dense.tum")
    mid = times + 0.5 / FPS
    expect = np.stack([np.interp(t, mid, centres[:, k]) for k in range(3)], 1)
    np.testing.assert_allclose(pos, expect, atol=1e-7)
    export_trajectory(tmp_path / "run", tmp_path / "pivot.tum", dense=False, pivot_m=0.2)
    _, pos, quat = _read_tum(tmp_path / "pivot.tum")
    p = np.array([0.0, 0.0, -0.2])
    np.testing.assert_allclose(pos, p - euler_to_matrix(quat_to_euler(quat)) @ p, atol=2e-9)
