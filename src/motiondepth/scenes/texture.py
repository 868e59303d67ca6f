"""Solid (3D) procedural textures: value noise and patterns evaluated at surface points.

Textures live in each primitive's local frame, so a moving object carries its texture with it.
Frequencies are in cycles per metre. Six fractal octaves span periods from about 70 px down to
2 px at the distance a surface is framed, a roughly 1/f spectrum like natural images, so there
is structure to track at every blur scale.
"""

from __future__ import annotations

import numpy as np

_TABLE = 256


def _lattice(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    perm = rng.permutation(_TABLE).astype(np.int64)
    return np.concatenate([perm, perm]), rng.random(_TABLE).astype(np.float32)


def value_noise(p: np.ndarray, seed: int) -> np.ndarray:
    """Smooth 3D value noise in [0, 1] at points ``p`` (N, 3) (lattice spacing 1)."""
    perm, values = _lattice(seed)
    base = np.floor(p)
    f = (p - base).astype(np.float32)
    i = base.astype(np.int64) & (_TABLE - 1)
    w = f * f * (3.0 - 2.0 * f)  # smoothstep fade: C1 across cells
    out = np.zeros(len(p), dtype=np.float32)
    for dx in (0, 1):
        wx = w[:, 0] if dx else 1.0 - w[:, 0]
        hx = perm[i[:, 0] + dx]
        for dy in (0, 1):
            wy = w[:, 1] if dy else 1.0 - w[:, 1]
            hy = perm[hx + ((i[:, 1] + dy) & (_TABLE - 1))]
            for dz in (0, 1):
                wz = w[:, 2] if dz else 1.0 - w[:, 2]
                h = perm[hy + ((i[:, 2] + dz) & (_TABLE - 1))]
                out += wx * wy * wz * values[h]
    return out


def fbm(p: np.ndarray, seed: int, base_freq: float, octaves: int = 6) -> np.ndarray:
    """Fractal sum of :func:`value_noise` octaves (gain 0.5, lacunarity 2), in [0, 1]."""
    total = np.zeros(len(p), dtype=np.float32)
    amp, norm = 1.0, 0.0
    for o in range(octaves):
        total += amp * value_noise(p * (base_freq * 2.0**o), seed + 7919 * o)
        norm += amp
        amp *= 0.5
    return total / norm


def shade_texture(p: np.ndarray, pattern: int, colours: np.ndarray, freq: float, seed: int) -> np.ndarray:
    """Albedo (N, 3) in linear [0, 1] for local surface points ``p`` (N, 3).

    Args:
        p: (N, 3) points in the primitive's local frame, metres.
        pattern: 0 fractal noise, 1 checker, 2 stripes, 3 thresholded blobs (sharp edges).
        colours: (3, 3) three linear-RGB colours the pattern mixes.
        freq: base frequency, cycles per metre.
        seed: texture seed.
    """
    n = fbm(p, seed, freq)
    fine = value_noise(p * (freq * 16.0), seed + 17)
    if pattern == 1:
        cell = np.floor(p * (freq * 2.0)).astype(np.int64).sum(axis=1) & 1
        m = 0.75 * cell + 0.25 * n
    elif pattern == 2:
        m = 0.5 + 0.5 * np.sign(np.sin(2 * np.pi * freq * 3.0 * (p[:, 0] + 0.6 * p[:, 1] + 1.3 * n)))
        m = 0.8 * m + 0.2 * n
    elif pattern == 3:
        m = (n > 0.5).astype(np.float32) * 0.8 + 0.2 * fine
    else:
        m = np.clip((n - 0.2) / 0.6, 0.0, 1.0)
    m = np.clip(m, 0.0, 1.0)[:, None].astype(np.float32)
    albedo = colours[0] * (1 - m) + colours[1] * m
    # a fine-grain layer in the third colour gives every surface trackable corners
    g = np.clip((fine - 0.55) * 4.0, 0.0, 1.0)[:, None] * 0.35
    return albedo * (1 - g) + colours[2] * g
