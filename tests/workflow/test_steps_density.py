"""The motion step's track density on large frames (tracking.chain.density_scale)."""

from __future__ import annotations

import pytest

from motiondepth.tracking.chain import DENSITY_REFERENCE_PX, ChainConfig, density_scale


def test_density_is_unchanged_up_to_the_reference_size_then_falls_with_the_long_side():
    for size in ((480, 640), (618, 812), (480, 848), (518, 518), (DENSITY_REFERENCE_PX, 100)):
        assert density_scale(size) == 1.0
        assert ChainConfig.for_size(size) == ChainConfig()  # the clips every benchmark measured: as before
    assert density_scale((720, 1296)) == pytest.approx(1296 / DENSITY_REFERENCE_PX)
    assert density_scale((1080, 1920)) == pytest.approx(2.0)
    hd = ChainConfig.for_size((1080, 1920))
    assert hd.cell_px == 2 * ChainConfig().cell_px and hd.min_distance_px == 2 * ChainConfig().min_distance_px
    # the cells per frame stay about what a 960 px frame has
    cells = lambda h, w, c: (h // c.cell_px) * (w // c.cell_px)
    assert cells(1080, 1920, hd) == pytest.approx(cells(540, 960, ChainConfig()), rel=0.1)
