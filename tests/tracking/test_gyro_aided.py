"""Gyro-aided (blur-compensated) tracking: the simulated gyro log, alignment, kernels, and fallbacks."""

from __future__ import annotations

import numpy as np
import pytest

from motiondepth.errors import InputError
from motiondepth.io.gyro_log import read_gyro_log, write_gyro_log
from motiondepth.sensor.gyro import gyro_angles
from motiondepth.sensor.trace import gyro_from_trace
from motiondepth.simulate import camera_preset
from motiondepth.simulate.scene import simulate_scene
from motiondepth.simulate.shake import synthetic_shake
from motiondepth.simulate.simulator import groundtruth_tracks
from motiondepth.tracking import KLTTracker, grid_queries, query_grid
from motiondepth.tracking.gyro_aided import GyroAid, track_with_gyro

OFFSET_S = 3.21  # the log's clock runs this far ahead of the video's


@pytest.fixture(scope="module")
def tele():
    """An 8-frame 256 × 256 telephoto clip (blur streaks of ~10–30 px) with its grid, truth and KLT tracks."""
    cam = camera_preset("telephoto", width=256, height=256, num_frames=8)
    video = simulate_scene(cam, scene_seed=1, shake_seed=1)
    g = query_grid(6, (256, 256), video.intrinsics)
    return {
        "cam": cam,
        "video": video,
        "queries": grid_queries(g),
        "gt": groundtruth_tracks(video, g),
        "klt": KLTTracker().track(video.frames, grid_queries(g)),
    }


def _track(tele, path, **aid):
    cam, video = tele["cam"], tele["video"]
    gyro = GyroAid(path, cam.exposure_s, cam.readout_s, **aid)
    depth = float(np.median(video.depth))
    return track_with_gyro(video.frames, tele["queries"], video.timestamps, video.intrinsics, gyro, cam.pivot_m, depth,
                           init=tele["klt"])  # fmt: skip


def _median_error(tr, gt):
    return float(np.median(np.linalg.norm(tr.tracks - gt.tracks, axis=-1)[1:][tr.visible[1:]]))


def test_simulated_gyro_integrates_back_to_the_trace(tmp_path):
    trace = synthetic_shake(0.5, 0.002, seed=3)
    t, w = gyro_from_trace(trace)
    write_gyro_log(tmp_path / "g.csv", t, w)
    t2, w2 = read_gyro_log(tmp_path / "g.csv")
    np.testing.assert_allclose(t2, t, atol=1e-9)
    np.testing.assert_allclose(w2, w, rtol=1e-6, atol=1e-9)
    ang = gyro_angles(t2, w2, trace.times[1:-1])
    ref = trace.angles[1:-1] - trace.angles[1]
    assert np.abs(ang - ref).max() < 0.01 * np.abs(ref).max()


def test_gyro_aided_tracking_finds_the_offset_and_axes_and_removes_the_blur_bias(tele, tmp_path):
    t, w = gyro_from_trace(tele["video"].trace)
    # logged on another clock, with the sensor's axes turned: log axes (y, −x, z) of the camera's
    write_gyro_log(tmp_path / "g.csv", t + OFFSET_S, np.column_stack([w[:, 1], -w[:, 0], w[:, 2]]))
    tr = _track(tele, tmp_path / "g.csv", axes="auto", max_offset_s=5.0)
    g = tr.meta["gyro"]
    assert g["used"] and g["axes"] == "Yxz" and g["rate_correlation"] > 0.9
    # per-frame angles sit mid-exposure: offset = clock difference + (exposure + readout) / 2
    assert g["offset_s"] == pytest.approx(OFFSET_S + 0.5 * tele["cam"].frame_span_s, abs=0.003)
    e_klt, e_gyro = _median_error(tele["klt"], tele["gt"]), _median_error(tr, tele["gt"])
    assert e_gyro < 0.15 and e_gyro < 0.3 * e_klt, (e_gyro, e_klt)
    assert tr.visible.mean() > 0.85
    # the same with the offset and axes given
    tr2 = _track(tele, tmp_path / "g.csv", axes="Yxz", offset_s=g["offset_s"])
    assert tr2.meta["gyro"]["offset_source"] == "given"
    assert _median_error(tr2, tele["gt"]) < 0.15


def test_a_gyro_log_of_another_clip_is_not_used(tele, tmp_path):
    other = synthetic_shake(tele["cam"].duration_s + 0.1, 0.002, seed=99)
    write_gyro_log(tmp_path / "other.csv", *gyro_from_trace(other))
    tr = _track(tele, tmp_path / "other.csv", offset_s=0.03)
    assert not tr.meta["gyro"]["used"] and "correlation" in tr.meta["gyro"]["reason"]
    np.testing.assert_array_equal(tr.tracks, tele["klt"].tracks)


def test_gyro_input_errors(tele, tmp_path):
    t, w = gyro_from_trace(tele["video"].trace)
    write_gyro_log(tmp_path / "g.csv", t, w)
    with pytest.raises(InputError, match="exposure"):
        GyroAid(tmp_path / "g.csv", 0.0)
    with pytest.raises(InputError, match="gyro-axes"):
        GyroAid(tmp_path / "g.csv", 0.03, axes="xxz")
    with pytest.raises(InputError, match=r"g\.csv.*(outside the gyro log|log covers)"):
        _track(tele, tmp_path / "g.csv", offset_s=0.2)  # the clip would run past the log's end
    with pytest.raises(InputError, match="not found"):
        _track(tele, tmp_path / "missing.csv")


@pytest.mark.slow
def test_a_phones_own_clock_and_gyro_need_no_offset_and_keep_the_gyro(real_data, tmp_path, capsys):
    """Issue 48 #1–#2 on the Xiaomi clip (filmed from a car): frame times in timestamps.txt and gyro.txt both on
    the phone's clock (≈ 4.33e6 s). ``run --gyro`` keeps the gyro (it was refused at rate correlation 0.25–0.52
    when aligned to the pivot solve alone), and ``compare-gyro`` on the run's trajectory.csv, with no offset or
    axes given, lines it up at correlation ≥ 0.9 within a few frames' worth of milliseconds."""
    import json
    import os

    from motiondepth.cli import main
    from motiondepth.workflow import run

    phone = real_data / "video-gyro-phone-xiaomi"
    stamps = np.loadtxt(phone / "framestamp.txt")[98:201]  # RE_frame-N is line N (1-based): frames 99–201
    frames = tmp_path / "frames"
    frames.mkdir()
    for p in (phone / "frames").iterdir():
        os.symlink(p, frames / p.name)
    (frames / "timestamps.txt").write_text("".join(f"{t:.6f}\n" for t in stamps))
    res = run(frames, tmp_path / "out", gyro=str(phone / "gyro.txt"), progress=False, fx=573.85, fy=575.04,
              cx=406.01, cy=309.01)  # fmt: skip
    g = res.summary["gyro"]
    assert g["used"] and g["axes"] == "YXZ" and g["rate_correlation"] > 0.9 and abs(g["offset_s"]) < 0.05, g
    capsys.readouterr()
    assert main(["compare-gyro", str(tmp_path / "out" / "trajectory.csv"), str(phone / "gyro.txt"),
                 "--out", str(tmp_path / "cmp.json")]) == 0  # fmt: skip
    cmp = json.loads((tmp_path / "cmp.json").read_text())
    assert cmp["rate_correlation"] >= 0.9 and abs(cmp["offset_s"]) < 0.05, cmp


def test_the_alignments_bundle_adjustment_keeps_off_the_black_margin(tele, monkeypatch):
    """Chained points seeded on an undistorted frame's black margin lock onto its edge, which stays put while the
    scene moves (small-motion.md); the gyro's second reference path follows the motion step in leaving it out."""
    from motiondepth.tracking import chain
    from motiondepth.tracking.gyro_aided import path_rotation

    frames, intr = tele["video"].frames, tele["video"].intrinsics
    recorded = np.ones(frames.shape[1:3], bool)
    recorded[:, :128] = False  # half the frame "never recorded"
    seen = []
    real = chain.track_chained

    def spy(*args, **kw):
        out = real(*args, **kw)
        seen.append(out)
        return out

    monkeypatch.setattr(chain, "track_chained", spy)
    path_rotation(frames, intr)
    path_rotation(frames, intr, recorded=recorded)
    everywhere, kept_off = (s.tracks[s.visible] for s in seen)
    assert everywhere[:, 0].min() < 100  # without the mask, points on the left half too
    assert len(kept_off) and kept_off[:, 0].min() > 128  # with it, nothing followed there
