"""Shake spectrum: band RMS of rotation series and gyro logs against hand-computed sinusoids."""

from __future__ import annotations

import json

import numpy as np
import pytest

from motiondepth.cli import main
from motiondepth.errors import InputError
from motiondepth.eval.spectrum import (
    ARCMIN_PER_RAD,
    angle_spectrum,
    dense_spectrum,
    file_kind,
    file_spectrum,
    gyro_spectrum,
    parse_bands,
)
from motiondepth.io.trajectory import write_dense_csv, write_trajectory_csv
from motiondepth.types import Trajectory

FS = 450.0


def _sines(t: np.ndarray) -> np.ndarray:
    """Pitch: 1 mrad at 7 Hz; roll: 0.5 mrad at 3 Hz plus a slow drift; yaw: 0.2 mrad at 15 Hz."""
    a = np.zeros((len(t), 3))
    a[:, 0] = 0.5e-3 * np.sin(2 * np.pi * 3.0 * t) + 0.01 * t
    a[:, 1] = 1e-3 * np.sin(2 * np.pi * 7.0 * t + 0.3)
    a[:, 2] = 0.2e-3 * np.sin(2 * np.pi * 15.0 * t + 1.0)
    return a


def _rms_arcmin(amp_rad: float) -> float:
    return amp_rad / np.sqrt(2) * ARCMIN_PER_RAD


def test_sinusoids_land_in_their_bands_with_their_rms():
    t = np.arange(0, 2.0, 1 / FS)
    s = angle_spectrum(_sines(t), t)
    assert s.sample_rate_hz == pytest.approx(FS)
    b37 = s.band(6.0, 9.0)
    assert b37["rms_arcmin"]["pitch"] == pytest.approx(_rms_arcmin(1e-3), rel=0.01)
    assert b37["rms_arcmin"]["roll"] < 0.01 and b37["rms_arcmin"]["yaw"] == pytest.approx(0.0, abs=0.01)
    # rate = 2πf · angle
    assert b37["rms_rate_deg_s"]["pitch"] == pytest.approx(np.rad2deg(2 * np.pi * 7 * 1e-3 / np.sqrt(2)), rel=0.01)
    # the drift is removed with the trend: the 3 Hz tone alone is left in 2–4 Hz
    assert s.band(2.0, 4.0)["rms_arcmin"]["roll"] == pytest.approx(_rms_arcmin(0.5e-3), rel=0.01)
    b15 = s.band(12.0, 18.0)["rms_arcmin"]
    assert b15["yaw"] == pytest.approx(_rms_arcmin(0.2e-3), rel=0.01)
    assert b15["total"] == pytest.approx(np.sqrt(sum(b15[k] ** 2 for k in ("roll", "pitch", "yaw"))))
    assert s.peak_hz() == pytest.approx(7.0, abs=0.5)  # largest rate density: 7 Hz × 1 mrad beats 15 Hz × 0.2
    summary = s.summary()
    assert json.loads(json.dumps(summary)) == summary
    assert summary["peak_hz"] == pytest.approx(7.0, abs=0.5)


def test_bands_a_series_cannot_resolve_are_marked():
    t = np.arange(0, 1.0, 1 / 30.0)  # per-frame sampling: Nyquist 15 Hz, 1 s segments
    s = angle_spectrum(_sines(t), t)
    assert "Nyquist" in s.band(12.0, 18.0)["unresolved"]
    assert "too short" in s.band(0.5, 2.0)["unresolved"]
    assert "rms_arcmin" in s.band(6.0, 9.0)
    assert s.band(6.0, 9.0)["rms_arcmin"]["pitch"] == pytest.approx(_rms_arcmin(1e-3), rel=0.05)
    # a shorter Welch segment averages more segments but resolves less at the low end
    short = angle_spectrum(_sines(t), t, segment_s=0.5)
    assert short.lowest_hz == pytest.approx(4.0, rel=0.1) and "unresolved" in short.band(2.0, 4.0)


def test_dense_samples_with_gaps_and_failed_frames():
    """Samples tiling only part of each frame interval, and a frame the solver lost (NaN), still give the tone."""
    starts = np.arange(24) / 24.0
    times = starts[:, None] + (np.arange(15) + 0.5) / 15 * 0.03  # 30 ms of each 41.7 ms frame
    dense = _sines(times.reshape(-1)).reshape(24, 15, 3)
    dense[5] = np.nan
    s = dense_spectrum(dense, times)
    assert s.band(6.0, 9.0)["rms_arcmin"]["pitch"] == pytest.approx(_rms_arcmin(1e-3), rel=0.05)


def test_dense_trajectory_bands_above_the_frame_rate_are_out_of_reach(tmp_path):
    """15 samples per frame at 16 fps: Nyquist 120 Hz, but the dense path holds one cycle per frame."""
    fps, s = 16.0, 15
    starts = np.arange(32) / fps
    times = starts[:, None] + (np.arange(s) + 0.5) / s / fps
    dense = _sines(times.reshape(-1)).reshape(32, s, 3)
    spec = dense_spectrum(dense, times)
    assert spec.nyquist_hz == pytest.approx(120.0) and spec.reach_hz == pytest.approx(16.0)
    assert "out of the dense trajectory's reach" in spec.band(12.0, 18.0)["unresolved"]
    assert spec.band(6.0, 9.0)["rms_arcmin"]["pitch"] == pytest.approx(_rms_arcmin(1e-3), rel=0.05)
    summary = spec.summary()
    assert summary["resolved_hz"][1] == pytest.approx(16.0) and summary["reach"]["hz"] == pytest.approx(16.0)
    assert summary["rms_rate_range_hz"][1] <= 16.0
    # the same from the CSV that run writes
    write_dense_csv(tmp_path / "d.csv", dense, starts, 1 / fps)
    assert file_spectrum(tmp_path / "d.csv").reach_hz == pytest.approx(16.0)
    assert file_spectrum(tmp_path / "d.csv", start_s=1.0).duration_s < spec.duration_s
    # a gyro log or a per-frame series has no such limit: its Nyquist frequency is its end
    assert angle_spectrum(dense.reshape(-1, 3), times.reshape(-1)).reach_hz is None


def test_gyro_rates_integrate_to_the_same_spectrum_whatever_the_axes():
    t = np.arange(0, 2.0, 1 / 500.0)
    ang = _sines(t)
    rates = np.gradient(ang, t, axis=0)
    g = gyro_spectrum(t, rates)
    a = angle_spectrum(ang, t)
    assert g.axes == ("x", "y", "z")
    for lo, hi in ((2.0, 4.0), (6.0, 9.0), (12.0, 18.0)):
        assert g.band(lo, hi)["rms_arcmin"]["total"] == pytest.approx(a.band(lo, hi)["rms_arcmin"]["total"], rel=0.02)
    swapped = gyro_spectrum(t, -rates[:, [2, 0, 1]])  # another axis mapping, signs flipped
    assert swapped.band(6.0, 9.0)["rms_arcmin"]["total"] == pytest.approx(g.band(6.0, 9.0)["rms_arcmin"]["total"])


def test_bad_series_and_options_give_clear_errors():
    t = np.arange(0, 1.0, 1 / 30.0)
    with pytest.raises(InputError, match="at least 8"):
        angle_spectrum(np.zeros((5, 3)), np.arange(5.0), source="clip.csv")
    with pytest.raises(InputError, match="at least 8"):
        angle_spectrum(np.full((30, 3), np.nan), t)
    with pytest.raises(InputError, match="increase"):
        angle_spectrum(np.zeros((30, 3)), t[::-1])
    with pytest.raises(InputError, match=r"\(N, 3\)"):
        angle_spectrum(np.zeros((30, 2)), t)
    with pytest.raises(InputError, match="positive"):
        angle_spectrum(np.zeros((30, 3)), t, segment_s=0.0)
    assert parse_bands("2-4, 6-12") == ((2.0, 4.0), (6.0, 12.0))
    for bad in ("2-x", "4-2", "3"):
        with pytest.raises(InputError, match="--bands"):
            parse_bands(bad)


def _files(tmp_path):
    """A per-frame CSV, a dense CSV and a gyro log of the same motion."""
    fps, s = 30.0, 15
    starts = np.arange(60) / fps
    write_trajectory_csv(tmp_path / "trajectory.csv", Trajectory(_sines(starts), starts, np.zeros(60)))
    dense_t = starts[:, None] + (np.arange(s) + 0.5) / s / fps
    write_dense_csv(tmp_path / "trajectory_dense.csv", _sines(dense_t.reshape(-1)).reshape(60, s, 3), starts, 1 / fps)
    t = np.arange(0, 2.0, 1 / 500.0)
    rates = np.gradient(_sines(t), t, axis=0)
    np.savetxt(tmp_path / "gyro.csv", np.column_stack([t, rates]), delimiter=",", header="time_s,wx,wy,wz", comments="")
    return tmp_path / "trajectory.csv", tmp_path / "trajectory_dense.csv", tmp_path / "gyro.csv"


def test_files_of_each_kind(tmp_path):
    per_frame, dense, gyro = _files(tmp_path)
    assert [file_kind(p) for p in (per_frame, dense, gyro)] == ["trajectory", "dense", "gyro"]
    specs = [file_spectrum(p) for p in (per_frame, dense, gyro)]
    assert [round(s.sample_rate_hz) for s in specs] == [30, 450, 500]
    for s in specs:
        assert s.band(6.0, 9.0)["rms_arcmin"]["total"] == pytest.approx(_rms_arcmin(1e-3), rel=0.05)
    assert "unresolved" in specs[0].band(12.0, 18.0) and "rms_arcmin" in specs[1].band(12.0, 18.0)
    half = file_spectrum(gyro, start_s=1.0)
    assert half.duration_s == pytest.approx(1.0, abs=0.01)
    with pytest.raises(InputError, match="between --start and --end"):
        file_spectrum(per_frame, start_s=10.0)
    with pytest.raises(InputError, match="not found"):
        file_spectrum(tmp_path / "missing.csv")


def test_cli_shake(tmp_path, capsys):
    per_frame, dense, gyro = _files(tmp_path)
    out, plot = tmp_path / "shake.json", tmp_path / "shake.png"
    args = ["shake", str(per_frame), str(dense), str(gyro), "--out", str(out), "--plot", str(plot)]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "6 – 9" in text and "trajectory_dense.csv" in text and "—" in text  # per frame cannot see 12–18 Hz
    result = json.loads(out.read_text())
    assert len(result["series"]) == 3 and plot.stat().st_size > 10_000
    assert main(["shake", str(per_frame), "--bands", "6-9,9-12"]) == 0
    assert "9 – 12" in capsys.readouterr().out
    assert main(["shake", str(tmp_path / "nope.csv")]) == 2
    assert "nope.csv: file not found" in capsys.readouterr().err
    (tmp_path / "bad.csv").write_text("time_s,wx,wy,wz\n0,1,2\n")
    assert main(["shake", str(tmp_path / "bad.csv")]) == 2
    assert "bad.csv" in capsys.readouterr().err
