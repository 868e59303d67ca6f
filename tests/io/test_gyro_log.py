"""Gyro logs on disk: header-less tables whose time column comes first or last."""

from __future__ import annotations

import numpy as np
import pytest

from motiondepth.errors import InputError
from motiondepth.io.gyro_log import read_gyro_log


def test_time_first_or_last_reads_the_same(tmp_path):
    t = 100.0 + np.arange(50) / 400
    w = np.random.default_rng(0).normal(0, 0.1, (50, 3))
    np.savetxt(tmp_path / "first.txt", np.column_stack([t, w]), delimiter=",")
    np.savetxt(tmp_path / "last.txt", np.column_stack([w, t]), delimiter=",")  # wx,wy,wz,t: phone loggers
    (t1, w1), (t2, w2) = read_gyro_log(tmp_path / "first.txt"), read_gyro_log(tmp_path / "last.txt")
    np.testing.assert_allclose(t1, t2)
    np.testing.assert_allclose(w1, w2)
    np.testing.assert_allclose(w2, w)


def test_no_increasing_column_is_refused(tmp_path):
    (tmp_path / "g.txt").write_text("1,5,1,5\n0,1,0,1\n2,0,2,0\n")
    with pytest.raises(InputError, match="no time column"):
        read_gyro_log(tmp_path / "g.txt")


@pytest.mark.realdata
def test_real_phone_log_with_time_last(real_data):
    """The Xiaomi clip's gyro.txt (wx,wy,wz,t at ≈ 412 Hz) reads as it is."""
    t, w = read_gyro_log(real_data / "video-gyro-phone-xiaomi" / "gyro.txt")
    assert len(t) > 20_000 and 1 / np.median(np.diff(t)) == pytest.approx(412, rel=0.01)
    assert np.abs(w).max() < 10  # rad/s, not the clock


def test_a_rate_log_on_an_absolute_clock_keeps_its_sub_millisecond_times(tmp_path):
    """TUM's clock reads 1.3e9 s: written with 9 significant digits every sample fell on one second (issue 48)."""
    from motiondepth.io.gyro_log import write_gyro_log

    t = 1305031102.175304 + np.arange(40) / 30
    w = np.random.default_rng(1).normal(0, 0.1, (40, 3))
    write_gyro_log(tmp_path / "rates.csv", t, w)
    t2, w2 = read_gyro_log(tmp_path / "rates.csv")
    np.testing.assert_allclose(t2, t, rtol=0, atol=1e-6)
    np.testing.assert_allclose(w2, w, rtol=1e-8)
