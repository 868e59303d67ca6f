"""The metric scale from an accelerometer: the alignment on a synthetic IMU, and the log readers."""

from __future__ import annotations

import numpy as np
import pytest

from motiondepth.errors import InputError
from motiondepth.geometry.rotations import euler_to_matrix
from motiondepth.io.accel_log import AccelLog, read_accel_log
from motiondepth.sensor.accel import accel_scale, axes_name, parse_axes_name, right_handed_axes

# a phone's accelerometer (Bosch BMI160 datasheet: 180 µg/√Hz noise density, ±8 g over 16 bits) at 200 Hz:
# white noise σ = 180e-6 · 9.81 · √100 ≈ 0.018 m/s², quantum 16 · 9.81 / 65536 ≈ 0.0024 m/s²
PHONE_NOISE, PHONE_QUANTUM, PHONE_RATE = 0.018, 16 * 9.81 / 65536, 200.0


def _path(t: np.ndarray, amp_m: float = 0.08, amp_rad: float = 0.04):
    """A hand's path: centres (m) and angles (rad) of sums of 0.7–2.3 Hz sines, and its acceleration."""
    freqs = np.array([[0.9, 1.7], [1.3, 0.7], [2.3, 1.1]])
    phase = np.array([[0.3, 1.1], [2.0, 0.4], [1.4, 2.6]])
    c = np.zeros((len(t), 3))
    acc = np.zeros((len(t), 3))
    ang = np.zeros((len(t), 3))
    for i in range(3):
        for f, p in zip(freqs[i], phase[i], strict=True):
            w = 2 * np.pi * f
            c[:, i] += amp_m * (np.sin(w * t + p) - np.sin(p))
            acc[:, i] -= amp_m * w**2 * np.sin(w * t + p)
            ang[:, i] += amp_rad * (np.sin(0.8 * w * t + p) - np.sin(p))
    return c, ang, acc


def _imu(duration: float, axes: str, offset_s: float, rng, amp_m=0.08, bias=(0.05, -0.08, 0.1)):
    """Frames at 30 fps and a phone IMU log on a clock ``offset_s`` behind the frames'."""
    tf = np.arange(0, duration, 1 / 30)
    ta = np.arange(-0.3, duration + 0.3, 1 / PHONE_RATE)
    c, ang, _ = _path(tf, amp_m)
    _, ang_a, acc_a = _path(ta, amp_m)
    g = 9.80665 * np.array([0.0, np.cos(0.5), np.sin(0.5)])  # camera tilted 29° down: gravity along +y and +z
    f_cam = np.einsum("nji,nj->ni", euler_to_matrix(ang_a), acc_a - g)  # Rᵀ (C̈ − g)
    p = parse_axes_name(axes)
    a = f_cam @ p.T + np.asarray(bias) + rng.normal(0, PHONE_NOISE, f_cam.shape)
    a = np.round(a / PHONE_QUANTUM) * PHONE_QUANTUM
    log = AccelLog(ta - offset_s, a, "synthetic.csv", "m/s2", True)
    return tf, ang, c, log


def test_axes_names_round_trip_and_the_24_maps_are_right_handed():
    maps = right_handed_axes()
    assert len(maps) == 24 and all(np.isclose(np.linalg.det(p), 1) for p in maps)
    assert all(np.array_equal(parse_axes_name(axes_name(p)), p) for p in maps)
    assert axes_name(np.diag([-1.0, -1.0, 1.0])) == "XYz"  # the Kinect's: x and y reversed
    for bad in ("XYY", "XY", "-X-Y-Z", "abc"):
        with pytest.raises(ValueError, match="axes"):
            parse_axes_name(bad)


def test_the_scale_axes_and_offset_come_from_a_synthetic_phone_imu(rng):
    tf, ang, c, log = _imu(2.0, "Yxz", 0.03, rng)
    r = accel_scale(tf, ang, c * 0.5, log)  # the run's centres at half the true scale
    assert r.scale is not None and abs(r.scale / 2 - 1) < 0.03
    assert r.axes == "Yxz" and r.axes_found and abs(r.offset_s - 0.03) <= 0.01
    assert abs(r.scale / 2 - 1) < 3 * r.sigma + 0.005 and r.sigma < 0.05
    assert np.allclose(r.gravity, 9.80665 * np.array([0.0, np.cos(0.5), np.sin(0.5)]), atol=0.3)
    # the fit's residual in millimetres of the accelerometer's scale: the same whatever scale the run's centres had
    r3 = accel_scale(tf, ang, c * 3.0, log, axes="Yxz", offset_s=r.offset_s)
    assert r3.residual_mm == pytest.approx(r.residual_mm, rel=0.05) and r.residual_mm < 5.0


def test_given_axes_and_offset_are_kept_and_a_long_clip_is_fitted_in_windows(rng):
    tf, ang, c, log = _imu(5.0, "XYz", 0.0, rng)
    r = accel_scale(tf, ang, c * 3.0, log, axes="XYz", offset_s=0.0)
    assert not r.axes_found and not r.offset_found and r.offset_s == 0.0
    assert r.windows >= 5 and abs(r.scale * 3 - 1) < 0.02


def test_too_little_motion_gives_no_scale_and_says_why(rng):
    # 0.1 mm of sway, seen to 0.2 mm by the images: σ ≈ 0.45. (At 0.2 mm the σ sits on the 0.2 threshold, 0.195–0.200
    # depending on numpy and scipy's versions: that case tests the threshold's rounding, not too little motion.)
    tf, ang, c, log = _imu(1.0, "xyz", 0.0, rng, amp_m=0.0001)
    r = accel_scale(tf, ang, c + rng.normal(0, 0.0002, c.shape), log)
    assert r.scale is None and "cannot give the scale" in r.why and "more movement" in r.why


# ---------------------------------------------------------------------------------------------- the readers


def _write(path, text):
    path.write_text(text)
    return path


def test_units_are_found_from_the_magnitude_and_every_table_format_reads(tmp_path):
    t = np.arange(50) * 0.01
    a_g = np.c_[0.01 * np.sin(t), -1.0 + 0 * t, 0.02 * np.cos(t)]
    rows = "\n".join(f"{ti:.4f},{x:.5f},{y:.5f},{z:.5f}" for ti, (x, y, z) in zip(t, a_g, strict=True))
    csv_g = read_accel_log(_write(tmp_path / "a.csv", "time,ax,ay,az\n" + rows))
    assert csv_g.unit == "g" and csv_g.unit_found and np.allclose(csv_g.values, a_g * 9.80665, atol=1e-3)
    bare = read_accel_log(_write(tmp_path / "b.txt", rows.replace(",", " ")), unit="g")
    assert not bare.unit_found and np.allclose(bare.values, csv_g.values)
    a_ms2 = a_g * 9.81
    tum = "# accelerometer data\n# timestamp ax ay az\n" + "\n".join(
        f"{1305031098 + ti:.6f} {x:.6f} {y:.6f} {z:.6f}" for ti, (x, y, z) in zip(t, a_ms2, strict=True)
    )
    tum_log = read_accel_log(_write(tmp_path / "accelerometer.txt", tum))
    assert tum_log.unit == "m/s2" and np.allclose(tum_log.times - tum_log.times[0], t, atol=1e-6)
    xio = "Time (s),Gyroscope X (deg/s),Accelerometer X (g),Accelerometer Y (g),Accelerometer Z (g)\n" + "\n".join(
        f"{ti},0.1,{x},{y},{z}" for ti, (x, y, z) in zip(t, a_g, strict=True)
    )
    assert np.allclose(read_accel_log(_write(tmp_path / "sensor_data.csv", xio)).values, csv_g.values, atol=1e-4)


def test_a_gcsv_accelerometer_reads_with_its_scale_and_orientation(tmp_path):
    body = "\n".join(f"{k},1,2,3,{100 + k},{-2048},{30}" for k in range(30))
    text = ("GYROFLOW IMU LOG\nversion,1.3\norientation,yXz\ntscale,0.001\ngscale,0.001\nascale,0.00048828125\n"
            "t,gx,gy,gz,ax,ay,az\n" + body)  # fmt: skip
    log = read_accel_log(_write(tmp_path / "clip.gcsv", text))
    assert log.unit == "g" and np.isclose(log.times[1] - log.times[0], 0.001)
    # orientation yXz in Gyroflow's rule (lowercase negates): x ← −(file y), y ← file x, z ← −(file z)
    assert np.allclose(log.values[0], np.array([2048, 100, -30]) / 2048 * 9.80665)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("time,ax,ay,az\n" + "\n".join(f"{k * 0.01},100,0,0" for k in range(30)), "neither m/s²"),
        ("time,ax,ay,az\n" + "\n".join(f"{k * 0.01},0,9.81,0" for k in range(30)), "the same"),
        ("time,ax,ay,az\n" + "\n".join(f"{(k % 7) * 0.01},0,9.81,{k}" for k in range(30)), "not strictly increasing"),
        ("time,ax,ay,az\n" + "\n".join(f"{k * 0.01},0,9.81,0" for k in range(5)), "at least 20"),
        ("time,wx,wy,wz\n0,1,2,3\n", "header must contain ax"),
        ("# only a comment\n", "no samples"),
    ],
)
def test_hostile_logs_give_one_clear_error_naming_the_file(tmp_path, text, message):
    path = _write(tmp_path / "acc.csv", text)
    with pytest.raises(InputError, match=message) as exc:
        read_accel_log(path)
    assert str(path) in str(exc.value)


def test_a_clipped_accelerometer_is_warned_about(tmp_path):
    z = np.r_[np.full(10, 16.0 * 9.80665), np.linspace(9, 11, 40)]  # ±16 g range, pinned at the top
    text = "time,ax,ay,az\n" + "\n".join(f"{k * 0.01},0.1,0.2,{v}" for k, v in enumerate(z))
    log = read_accel_log(_write(tmp_path / "acc.csv", text), unit="m/s2")
    assert any("clipped" in w for w in log.warnings)


def test_real_logs_read_in_their_units(real_data):
    tum = read_accel_log(real_data / "video-rgbd-tum-fr1xyz" / "accelerometer.txt")
    assert tum.unit == "m/s2" and 800 < tum.rate_hz < 900  # the Kinect's: ≈ 860 Hz rows
    xio = read_accel_log(real_data / "imu-xio-fusion" / "sensor_data.csv")
    assert xio.unit == "g" and abs(np.median(np.linalg.norm(xio.values, axis=1)) - 9.81) < 0.3


def test_a_gopro_accelerometer_reads_from_the_video(real_data):
    pytest.importorskip("telemetry_parser")
    log = read_accel_log(real_data / "video-gpmf-gopro-max" / "max-heromode.mp4")
    assert log.unit == "m/s2" and 150 < log.rate_hz < 250 and len(log.times) > 1000


@pytest.mark.slow
def test_a_real_tum_clip_gets_its_scale_from_the_kinects_accelerometer(tum_fr1, tmp_path):
    """TUM fr1_xyz frames 30–59 (a tuning clip): the network's scale is half the truth; the accelerometer's is
    within 15 % of the motion capture's travel (benchmarks/accel_scale.py has every clip)."""
    from motiondepth.eval.depth_metrics import depth_metrics
    from motiondepth.io.atomic import write_json
    from motiondepth.workflow import run

    tum, seq = tum_fr1.folder, tum_fr1.seq
    pos = seq.positions(30, 60)
    calib = tmp_path / "tum.json"
    write_json(calib, tum_fr1.calibration)
    res = run(tum / "rgb", tmp_path / "o", start=int(pos[0]), end=int(pos[-1]) + 1, calibration=str(calib),
              accel=str(tum / "accelerometer.txt"), progress=False)  # fmt: skip
    acc = res.summary["depth_m"]["accel"]
    assert res.summary["depth_m"]["scale_source"] == "accelerometer" and acc["axes"] == "XYz"
    assert (tmp_path / "o" / "scale.json").is_file() and res.files["scale.json"].is_file()
    _, truth = seq.relative_motion(pos)
    c = res.trajectory.centres
    moved = np.linalg.norm(truth, axis=1) > 0.02
    assert abs(np.sum(c[moved] * truth[moved]) / np.sum(c[moved] ** 2) - 1) < 0.15
    assert any("metric scale from the accelerometer" in w for w in res.warnings)
    # issue 48 #4: the shake spectrum of a real TUM clip is measured (it was "unavailable: sample times must
    # increase")
    assert any("rms_arcmin" in b for b in res.summary["shake"]["per_frame"]["bands"])
    assert any("rms_arcmin" in b for b in res.summary["shake"]["dense"]["bands"])
    # issue 46: the frame-0 map, corrected by the parallax points (the tracked grid and the textured flow points),
    # against the Kinect's (undistorted like the frames), one median scale: 0.085 with the tracked grid alone, 0.070
    # with both
    truth = tum_fr1.kinect_maps(pos[:1])[0]
    ok = (truth > 0) & np.isfinite(res.depth) & (res.depth > 0)
    assert depth_metrics(res.depth * np.median(truth[ok] / res.depth[ok]), truth)["abs_rel"] < 0.078


def test_the_accelerometers_scale_keeps_the_parallax_bookkeeping_and_outranks_a_given_depth():
    """add_depth_notes with an accelerometer scale: the summary still says how the parallax corrected the depth
    (it returned before that), and the scale source is the accelerometer even where --depth gave the prior."""
    from motiondepth.sensor.accel import AccelScale
    from motiondepth.workflow.config import DepthRescale, MotionFit, RunConfig
    from motiondepth.workflow.summary import add_depth_notes

    acc = AccelScale(scale=0.6, sigma=0.05, axes="XYz", axes_found=True, offset_s=0.02, offset_found=True,
                     gravity=[0.0, 9.8, 0.0], bias=[0.0, 0.0, 0.0], residual_mm=0.3, windows=1, motion_ms2=1.5,
                     why="scale 0.6 ± 5%")  # fmt: skip
    log = AccelLog(np.arange(30) * 0.01, np.zeros((30, 3)), "acc.csv", "m/s2", True)
    motion = MotionFit(model="6dof", solver="bundle adjustment", readout_fraction=0.8, readout_fitted=True,
                       grid_tracks=10, support_tracks=10, observations=100, iterations=5, choice={},
                       grid_check=None, points_xy=np.zeros((0, 2)), depth_m=np.zeros(0),
                       sigma_m=np.zeros(0))  # fmt: skip
    rescale = DepthRescale(mode="interpolated", scale=1.0, points=50, confidence=np.ones((4, 4)))
    for cfg in (RunConfig(), RunConfig(depth="depth.png")):
        summary, warnings = {"depth_m": {}}, []
        add_depth_notes(summary, warnings, rescale, cfg, motion, log, acc)
        d = summary["depth_m"]
        assert d["scale_source"] == "accelerometer" and d["accel"]["scale"] == 0.6
        assert d["rescale"]["source"] == "6dof-motion parallax" and d["parallax_coverage"] == 1.0
        assert any("metric scale from the accelerometer" in w for w in warnings)
