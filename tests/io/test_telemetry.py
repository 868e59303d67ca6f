"""The gyro inside a camera's video file (GoPro GPMF through telemetry-parser)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from motiondepth.errors import InputError
from motiondepth.io.gyro_log import read_gyro_log
from motiondepth.io.telemetry import embedded_orientations, read_embedded_gyro


@pytest.mark.realdata
def test_gopro_gpmf_gyro_and_orientations(real_data):
    pytest.importorskip("telemetry_parser")
    clip = real_data / "video-gpmf-gopro-max" / "max-heromode.mp4"
    t, w, camera = read_embedded_gyro(clip)
    assert "GoPro" in camera and t[0] >= 0 and 10.0 < t[-1] < 11.0  # 315 frames at 29.97 fps: 10.5 s
    assert 190 < 1 / np.median(np.diff(t)) < 205 and np.all(np.diff(t) > 0)  # GYRO at ≈ 198 Hz
    assert 0.05 < np.sqrt(np.mean(w**2)) < 1.0  # rad/s: a handheld walk, a few to tens of °/s
    t2, w2 = read_gyro_log(clip)  # any command that reads a gyro log reads the video's own
    np.testing.assert_array_equal(t2, t)
    np.testing.assert_array_equal(w2, w)
    q = embedded_orientations(clip)
    assert set(q) == {"CameraOrientation", "ImageOrientation"} and len(q["CameraOrientation"]) >= 315
    np.testing.assert_allclose(np.linalg.norm(q["ImageOrientation"], axis=1), 1.0, atol=2e-3)


def test_a_video_without_telemetry_is_refused_in_one_line(small_video, tmp_path):
    pytest.importorskip("telemetry_parser")
    from motiondepth.io.video import write_video

    path = tmp_path / "plain.mp4"
    write_video(path, small_video.frames, fps=30)
    with pytest.raises(InputError, match="no camera telemetry found"):
        read_gyro_log(path)


def test_without_the_parser_the_message_names_the_extra(tmp_path, monkeypatch):
    path = tmp_path / "clip.mp4"
    path.write_bytes(b"\x00" * 64)
    monkeypatch.setitem(sys.modules, "telemetry_parser", None)  # import fails
    with pytest.raises(InputError, match=r"motiondepth\[telemetry\]"):
        read_embedded_gyro(path)


def test_run_gyro_embedded_needs_a_video_file(small_video, tmp_path):
    import motiondepth
    from motiondepth.simulate.scene import write_simulation

    write_simulation(small_video, tmp_path / "sim")
    with pytest.raises(InputError, match="--gyro"):  # a simulate folder is not a camera's video file
        motiondepth.run(tmp_path / "sim", tmp_path / "out", gyro="embedded", exposure_ms=20.0, progress=False)
    assert not (tmp_path / "out").exists()
