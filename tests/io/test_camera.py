"""Calibration files and the intrinsics of the decoded frames (io/camera.py): every layout read, sizes rescaled,
the default field of view warned about."""

from __future__ import annotations

import json

import numpy as np
import pytest

from motiondepth.errors import InputError
from motiondepth.io.camera import resolve_intrinsics


def test_default_intrinsics_warn_and_flags_rescale_with_resize():
    intr, origin, warning = resolve_intrinsics((360, 640))
    assert warning and "60° horizontal field of view" in warning and origin.startswith("default")
    assert intr.fx == pytest.approx(320 / np.tan(np.deg2rad(30)))
    # flags are in source pixels; a half-size decode halves them (pixel-centre aware)
    intr, origin, warning = resolve_intrinsics((360, 640), (720, 1280), fx=1000.0, cx=639.5, cy=359.5)
    assert warning is None and intr.fx == intr.fy == 500.0 and intr.cx == pytest.approx(319.5)


@pytest.mark.parametrize(
    "record",
    [
        {"fx": 500, "fy": 510, "cx": 320, "cy": 240},
        {"intrinsics": [500, 510, 320, 240], "width": 640, "height": 480},
        {"K": [[500, 0, 320], [0, 510, 240], [0, 0, 1]]},
        {"width": 640, "height": 480, "intrinsic_matrix": [500, 0, 0, 0, 510, 0, 320, 240, 1]},
    ],
)
def test_calibration_formats(record, tmp_path):
    f = tmp_path / "calib.json"
    f.write_text(json.dumps(record))
    intr, _, warning = resolve_intrinsics((240, 320), (480, 640), calibration=f)
    assert warning is None
    np.testing.assert_allclose(intr.as_array(), [250, 255, 159.75, 119.75])


def test_calibration_errors(tmp_path):
    f = tmp_path / "calib.json"
    f.write_text('{"focal": 3}')
    with pytest.raises(InputError, match=r"calib\.json: cannot read intrinsics"):
        resolve_intrinsics((480, 640), calibration=f)
    f.write_text('{"fx": 500, "cx": 1, "cy": 1, "width": 100, "height": 100}')
    with pytest.raises(InputError, match="aspect ratio"):
        resolve_intrinsics((480, 640), calibration=f)
