"""Figures that run writes: the depth map's colour bar and the tracks' depth over time, edge cases included."""

from __future__ import annotations

import cv2
import numpy as np

from motiondepth.viz.plots import _depth_ticks, depth_to_color, depth_with_colorbar, plot_tracks_depth


def test_depth_colour_bar_is_beside_the_map_and_labelled_in_round_metres():
    depth = np.linspace(0.5, 4.0, 120 * 160).reshape(120, 160)
    img = depth_with_colorbar(depth)
    assert img.shape[0] == 120 and img.shape[1] > 160
    np.testing.assert_array_equal(img[:, :160], depth_to_color(depth))  # the map, pixel for pixel
    ticks = _depth_ticks(0.57, 3.93)
    assert ticks[0] == 0.57 and ticks[-1] == 3.93 and len(ticks) >= 4 and ticks == sorted(ticks)
    assert all(t in (0.57, 3.93) or round(t / 10 ** np.floor(np.log10(t)), 6) in (1, 1.5, 2, 3, 4, 5, 6, 8)
               for t in ticks)  # fmt: skip
    assert depth_with_colorbar(np.zeros((8, 8))).shape == (8, 8, 3)  # no valid depth: the black map alone


def test_depth_over_time_plot_copes_with_tracks_never_seen(tmp_path):
    times = np.arange(6) / 10
    depth = np.linspace(1.0, 2.0, 6)[:, None] * np.ones((6, 4))
    for name, visible in (("none", np.zeros((6, 4), bool)), ("late", np.eye(6, 4, k=-2, dtype=bool)),
                          ("all", np.ones((6, 4), bool))):  # fmt: skip
        plot_tracks_depth(tmp_path / f"{name}.png", times, depth, visible)
        assert cv2.imread(str(tmp_path / f"{name}.png")) is not None
