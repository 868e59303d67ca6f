"""sRGB transfer function (IEC 61966-2-1): blur integrates light, so the simulator and the blur models
work in linear light and encode to sRGB at the end."""

from __future__ import annotations

import numpy as np


def srgb_to_linear(x: np.ndarray) -> np.ndarray:
    """sRGB-encoded values in [0, 1] → linear light (IEC 61966-2-1)."""
    x = np.asarray(x, dtype=np.float32)
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4).astype(np.float32)


def linear_to_srgb(x: np.ndarray) -> np.ndarray:
    """Linear light in [0, 1] → sRGB-encoded values in [0, 1] (clipped)."""
    x = np.clip(np.asarray(x, dtype=np.float32), 0.0, 1.0)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * x ** (1 / 2.4) - 0.055).astype(np.float32)


def linear_to_srgb_u8(x: np.ndarray) -> np.ndarray:
    """Linear light → sRGB uint8 through a 4096-entry lookup table (fast, < 0.5 LSB error)."""
    lut = np.round(linear_to_srgb(np.linspace(0.0, 1.0, 4096)) * 255.0).astype(np.uint8)
    idx = np.clip(np.asarray(x, dtype=np.float32) * 4095.0 + 0.5, 0, 4095).astype(np.int32)
    return lut[idx]
