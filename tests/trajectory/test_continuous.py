"""One continuous dense path through per-frame pieces (trajectory.continuous)."""

from __future__ import annotations

import numpy as np
import pytest

from motiondepth.trajectory.continuous import boundary_steps, continuous_dense, seam_ratio

T, S = 20, 15


def _truth(times: np.ndarray) -> np.ndarray:
    """A smooth path: 3 Hz and 7 Hz at 16 fps, in frame units."""
    f = times / 16.0
    return np.stack([2e-3 * np.sin(2 * np.pi * 3 * f), 1e-3 * np.cos(2 * np.pi * 7 * f + 0.4), 0.5e-3 * f], -1)


def _pieces(rng) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(truth, per-frame pieces with their own offset and slope errors, the true frame means)."""
    times = np.arange(T)[:, None] + (np.arange(S) + 0.5) / S
    truth = _truth(times)
    u = (np.arange(S) + 0.5) / S - 0.5
    err = rng.normal(0, 3e-4, (T, 1, 3)) + rng.normal(0, 6e-4, (T, 1, 3)) * u[None, :, None]
    return truth, truth + err, truth.mean(1)


def test_pieces_become_one_path_with_the_frame_means_kept(rng):
    truth, pieces, means = _pieces(rng)
    across, within = boundary_steps(pieces)
    assert np.median(across) > 2 * np.median(within)  # the seams the fix is for
    path = continuous_dense(pieces, means)
    np.testing.assert_allclose(path.mean(1), means, atol=1e-12)
    across, within = boundary_steps(path)
    assert across.max() <= within.max() and np.median(across) <= 1.2 * np.median(within)
    assert seam_ratio(pieces) > 2 and seam_ratio(path) < 1.1 and seam_ratio(truth) == pytest.approx(1, abs=0.05)
    assert _rms(path, truth) < 0.5 * _rms(pieces, truth)


def _rms(x: np.ndarray, truth: np.ndarray) -> float:
    return float(np.sqrt(np.mean((x - truth) ** 2)))


def test_unsolved_frames_stay_nan_and_split_the_path(rng):
    _, pieces, means = _pieces(rng)
    means[7] = np.nan
    path = continuous_dense(pieces, means)
    assert np.isnan(path[7]).all() and np.isfinite(np.delete(path, 7, axis=0)).all()
    np.testing.assert_allclose(np.delete(path.mean(1), 7, axis=0), np.delete(means, 7, axis=0), atol=1e-12)
    one = continuous_dense(pieces[:1], means[:1])  # one frame: its piece, moved to its mean
    np.testing.assert_allclose(one, pieces[:1] - pieces[:1].mean(1, keepdims=True) + means[:1, None])


def test_sample_times_with_gaps_between_exposures(rng):
    """Samples covering only part of each frame interval (exposure shorter than the interval)."""
    times = np.arange(T)[:, None] + (np.arange(S) + 0.5) / S * 0.6
    truth = _truth(times)
    pieces = truth + rng.normal(0, 3e-4, (T, 1, 3))
    path = continuous_dense(pieces, truth.mean(1), times)
    assert _rms(path, truth) < 0.5 * _rms(pieces, truth)


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match=r"\(T, S, 3\)"):
        continuous_dense(np.zeros((4, 5, 2)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="anchors"):
        continuous_dense(np.zeros((4, 5, 3)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="times"):
        continuous_dense(np.zeros((4, 5, 3)), np.zeros((4, 3)), np.zeros((4, 4)))
