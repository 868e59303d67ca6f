import json

import numpy as np
import pytest

from motiondepth.errors import InputError
from motiondepth.geometry import euler_to_matrix, quat_to_matrix
from motiondepth.geometry.rotations import matrix_to_quat
from motiondepth.simulate import SyntheticShakeConfig, integrate_gyro, load_shake, read_gyro_log, synthetic_shake


def test_synthetic_shake_seeded_zeroed_and_scaled():
    a = synthetic_shake(2.0, 0.002, seed=5)
    b = synthetic_shake(2.0, 0.002, seed=5)
    np.testing.assert_array_equal(a.angles, b.angles)
    assert np.all(a.angles[0] == 0) and a.times[-1] >= 2.0
    long = synthetic_shake(20.0, 0.002, seed=1)
    cfg = SyntheticShakeConfig()
    rms = np.sqrt(np.mean((long.angles - long.angles.mean(0)) ** 2, axis=0))
    expect = np.hypot(cfg.tremor_rms_rad, cfg.drift_rms_rad) * np.asarray(cfg.axis_gain)
    np.testing.assert_allclose(rms, expect, rtol=0.35)
    scaled = load_shake("synthetic", 2.0, seed=5, scale=0.5)
    np.testing.assert_allclose(scaled.angles, 0.5 * a.angles)


def test_trace_interpolation():
    tr = synthetic_shake(1.0, 0.002, seed=0)
    mid = 0.5 * (tr.angles[10] + tr.angles[11])
    np.testing.assert_allclose(tr(np.array(tr.times[10] + 0.001)), mid)


def test_integrate_constant_rate_matches_closed_form():
    t = np.linspace(0, 1.0, 501)
    w = np.tile([0.1, -0.2, 0.05], (501, 1))
    q = integrate_gyro(t, w)
    from scipy.spatial.transform import Rotation

    np.testing.assert_allclose(quat_to_matrix(q[-1]), Rotation.from_rotvec([0.1, -0.2, 0.05]).as_matrix(), atol=1e-12)


def _write_csv(path, t, w, header="time_s,wx,wy,wz"):
    rows = "\n".join(",".join(f"{v:.9g}" for v in (ti, *wi)) for ti, wi in zip(t, w, strict=True))
    path.write_text(header + "\n" + rows + "\n")


def test_gyro_csv_gcsv_and_gyroflow_agree(tmp_path):
    t = np.arange(0, 3.0, 0.005)
    w = np.stack([0.2 * np.sin(7 * t), 0.1 * np.cos(3 * t), 0.05 * np.sin(11 * t)], -1)
    _write_csv(tmp_path / "g.csv", t, w)
    gcsv = ["GYROFLOW IMU LOG", "version,1.3", "orientation,XYZ", "tscale,0.001", "gscale,0.001", "t,gx,gy,gz"]
    gcsv += [
        f"{ti * 1000:.0f},{wi[0] * 1000:.6f},{wi[1] * 1000:.6f},{wi[2] * 1000:.6f}" for ti, wi in zip(t, w, strict=True)
    ]
    (tmp_path / "g.gcsv").write_text("\n".join(gcsv) + "\n")
    (tmp_path / "g.gyroflow").write_text(json.dumps({"raw_imu": np.c_[t, w, np.zeros_like(w)].tolist()}))
    ns = "\n".join(f"{round(ti * 1e9)} {wi[0]:.9g} {wi[1]:.9g} {wi[2]:.9g}" for ti, wi in zip(t, w, strict=True))
    (tmp_path / "g.txt").write_text(ns + "\n")
    traces = [load_shake(tmp_path / f"g.{ext}", 2.0) for ext in ("csv", "gcsv", "gyroflow", "txt")]
    for tr in traces[1:]:
        np.testing.assert_allclose(tr.angles, traces[0].angles, atol=1e-6)


def test_angle_trace_offset_highpass(tmp_path):
    t = np.arange(0, 5.0, 0.002)
    ang = np.stack([0.01 * np.sin(2 * np.pi * 8 * t), 0.5 * t, 0.002 * t], -1)  # pitch: a slow pan
    lines = ["time_s,roll_rad,pitch_rad,yaw_rad"] + [f"{a},{b},{c},{d}" for a, (b, c, d) in zip(t, ang, strict=True)]
    (tmp_path / "a.csv").write_text("\n".join(lines))
    tr = load_shake(tmp_path / "a.csv", 1.0, start_s=1.0)
    assert tr.angles[0].tolist() == [0, 0, 0]
    assert tr(np.array(0.5))[1] == pytest.approx(0.25, rel=1e-6)
    hp = load_shake(tmp_path / "a.csv", 1.0, start_s=1.0, highpass_hz=2.0)
    assert np.abs(hp.angles[:, 1]).max() < 0.01  # the pan is gone
    assert np.abs(hp.angles[:, 0]).max() > 0.009  # the 8 Hz, 0.01 rad shake stays
    rnd1 = load_shake(tmp_path / "a.csv", 1.0, start_s=None, seed=3)
    rnd2 = load_shake(tmp_path / "a.csv", 1.0, start_s=None, seed=3)
    np.testing.assert_array_equal(rnd1.angles, rnd2.angles)


@pytest.mark.parametrize(
    "content, message",
    [
        ("time_s,wx,wy,wz\n0,0,0,0\n0.01,0,0,0\n0.005,0,0,0\n", "not strictly increasing"),
        ("time_s,wx,wy,wz\n0,0,0,0\n0.01,nan,0,0\n", "NaN"),
        ("time_s,wx,wy,wz\n0,0,0,0\n", "at least 2"),
        ("time_s,a,b,c\n0,0,0,0\n0.01,0,0,0\n", "header must contain"),
    ],
)
def test_bad_gyro_logs(tmp_path, content, message):
    p = tmp_path / "bad.csv"
    p.write_text(content)
    with pytest.raises(InputError, match=message) as info:
        read_gyro_log(p)
    assert str(p) in str(info.value)


def test_log_too_short_and_missing(tmp_path):
    t = np.arange(0, 0.5, 0.01)
    _write_csv(tmp_path / "s.csv", t, np.zeros((len(t), 3)))
    with pytest.raises(InputError, match="needed"):
        load_shake(tmp_path / "s.csv", 1.86)
    with pytest.raises(InputError, match="not found"):
        load_shake(tmp_path / "nope.csv", 1.0)


def test_axis_remap(tmp_path):
    t = np.arange(0, 2.0, 0.005)
    w = np.tile([0.1, 0.0, 0.0], (len(t), 1))
    _write_csv(tmp_path / "x.csv", t, w)
    tr = load_shake(tmp_path / "x.csv", 1.0, axes="yXz")  # camera x = raw y, camera y = −raw x
    r = euler_to_matrix(tr(np.array(1.0)))
    from scipy.spatial.transform import Rotation

    np.testing.assert_allclose(Rotation.from_matrix(r).as_rotvec(), [0, -0.1, 0], atol=1e-6)


def _band_rms(angles: np.ndarray, dt: float, lo: float, hi: float) -> float:
    spec = np.fft.rfft(angles - angles.mean(0), axis=0)
    f = np.fft.rfftfreq(len(angles), dt)
    sel = (f >= lo) & (f < hi)
    return float(np.sqrt(2 * (np.abs(spec[sel]) ** 2).sum() / len(angles) ** 2 / 3))


def test_handheld_model_has_real_gyro_band_energies():
    """'handheld' puts ≈ 3 mrad RMS per axis in 2–6 Hz (real logs at 1/4: 3–5), the default model ≈ 0.7."""
    dt = 0.002
    hand = load_shake("handheld", 20.0, dt, seed=4)
    synth = load_shake("synthetic", 20.0, dt, seed=4)
    assert hand.source.startswith("handheld(") and synth.source.startswith("synthetic(")
    assert np.all(hand.angles[0] == 0)
    mid_hand, mid_synth = _band_rms(hand.angles, dt, 2, 6), _band_rms(synth.angles, dt, 2, 6)
    assert 2.5e-3 < mid_hand < 6e-3, mid_hand
    assert mid_synth < 1.5e-3 and mid_hand > 3 * mid_synth
    assert 1e-4 < _band_rms(hand.angles, dt, 12, 30) < 1e-3  # some energy above the tremor band
    # seeded and scaled like the default model
    np.testing.assert_allclose(load_shake("handheld", 20.0, dt, seed=4, scale=2.0).angles, 2 * hand.angles)


def test_handheld_6dof_adds_hand_translation_and_keeps_the_rotation():
    """'handheld-6dof': the handheld rotation of the same seed, plus a centimetre of 0.1–2 Hz sway and the
    sub-millimetre 2–12 Hz translation measured in TUM fr1_xyz's motion capture."""
    dt = 0.002
    six = load_shake("handheld-6dof", 20.0, dt, seed=4)
    np.testing.assert_array_equal(six.angles, load_shake("handheld", 20.0, dt, seed=4).angles)
    assert six.positions.shape == six.angles.shape and np.all(six.positions[0] == 0)
    assert 5e-3 < _band_rms(six.positions, dt, 0.1, 2) < 15e-3
    assert 3e-4 < _band_rms(six.positions, dt, 3, 6) < 1e-3  # (2–3 Hz holds the sway band's soft edge)
    mid = 0.5 * (six.positions[7] + six.positions[8])
    np.testing.assert_allclose(six.position(np.array(six.times[7] + 0.001)), mid)
    assert load_shake("handheld", 1.0, dt).positions is None  # the papers' pivot model: no translation
    assert np.all(load_shake("handheld", 1.0, dt).position(np.array([0.3, 0.5])) == 0)
    np.testing.assert_allclose(load_shake("handheld-6dof", 2.0, dt, seed=4, scale=0.5).positions,
                               0.5 * load_shake("handheld-6dof", 2.0, dt, seed=4).positions)  # fmt: skip


def test_motion_capture_trajectory_as_shake(tmp_path):
    """A TUM groundtruth.txt drives rotation and translation: poses relative to the one at the start offset."""
    t = np.arange(0, 3.0, 0.01)
    pos = np.stack([0.1 * t, 0.02 * np.sin(2 * t), 0 * t], 1) + [1.0, 2.0, 0.5]
    yaw = 0.05 * t
    r0 = quat_to_matrix(np.array([0.3, -0.2, 0.1, 0.927]))  # the world-to-start orientation
    rows = []
    for ti, p, y in zip(t, pos, yaw, strict=True):
        r = r0 @ euler_to_matrix(np.array([0.0, 0.0, y]))
        rows.append(f"{1e9 + ti:.4f} " + " ".join(f"{v:.8f}" for v in (*p, *matrix_to_quat(r))))
    path = tmp_path / "groundtruth.txt"
    path.write_text("# ground truth trajectory\n# timestamp tx ty tz qx qy qz qw\n" + "\n".join(rows) + "\n")
    tr = load_shake(path, 1.0, 0.002, start_s=1.0)
    assert tr.source.startswith("motion capture") and tr.positions is not None
    k = round(0.5 / 0.002)
    np.testing.assert_allclose(tr.angles[k], [0.0, 0.0, 0.05 * 0.5], atol=1e-6)
    r_start = r0 @ euler_to_matrix(np.array([0.0, 0.0, yaw[100]]))
    rel = r_start.T @ (pos[150] - pos[100])  # 0.5 s after the start offset, in the start camera's axes
    np.testing.assert_allclose(tr.positions[k], rel, atol=1e-6)
    with pytest.raises(InputError, match="covers"):
        load_shake(path, 5.0, 0.002)
