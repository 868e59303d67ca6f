"""The tracker interface: frames + queries in, :class:`~motiondepth.types.Tracks` out.

A tracker is any object with ``name`` and ``track(frames, queries) -> Tracks``. Register new
ones (e.g. a CoTracker checkpoint loaded from a local file) with :func:`register_tracker` so
the command line can select them by name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

import numpy as np

from motiondepth.types import Tracks


@runtime_checkable
class Tracker(Protocol):
    """Point tracker.

    ``track`` takes frames (T, H, W, 3) uint8 RGB and queries (N, 3) as ``(t, x, y)`` and
    returns tracks (T, N, 2) with visibility (T, N); at its query frame a point is at its query
    position and visible.
    """

    name: str

    def track(self, frames: np.ndarray, queries: np.ndarray) -> Tracks: ...


_REGISTRY: dict[str, Callable[..., Tracker]] = {}


def register_tracker(name: str, factory: Callable[..., Tracker]) -> None:
    """Make ``factory(**options)`` available as tracker ``name``."""
    _REGISTRY[name] = factory


def make_tracker(name: str, **options: object) -> Tracker:
    """Instantiate a registered tracker by name (``klt``, ``klt-chain`` and ``dis`` are built in)."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown tracker {name!r}; available: {sorted(_REGISTRY)}")
    return _REGISTRY[name](**options)


def available_trackers() -> list[str]:
    return sorted(_REGISTRY)


def check_inputs(frames: np.ndarray, queries: np.ndarray) -> None:
    """Shared argument checks for trackers."""
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be (T, H, W, 3) uint8, got {frames.shape} {frames.dtype}")
    if len(frames) < 2:
        raise ValueError(f"need at least 2 frames to track, got {len(frames)}")
    if queries.ndim != 2 or queries.shape[1] != 3:
        raise ValueError(f"queries must be (N, 3) (t, x, y), got {queries.shape}")
    t = queries[:, 0]
    if np.any(t < 0) or np.any(t > len(frames) - 1) or np.any(t != np.round(t)):
        raise ValueError("query frame indices must be integers within the video")


def chain_queries(queries: np.ndarray, t_len: int, step: Callable) -> tuple[np.ndarray, np.ndarray]:
    """Chain every query frame to frame from its query frame forwards and backwards: (T, N, 2) tracks and
    (T, N) visibility. ``step(k_from, k_to, xy)`` moves points ``xy`` (M, 2) from frame ``k_from`` to its
    neighbour ``k_to`` and returns (new positions, which survived); a lost point is held and never picked up."""
    n = len(queries)
    tracks = np.zeros((t_len, n, 2), np.float32)
    visible = np.zeros((t_len, n), bool)
    for tq in np.unique(queries[:, 0]).astype(int):
        sel = np.flatnonzero(queries[:, 0] == tq)
        tracks[tq, sel], visible[tq, sel] = queries[sel, 1:], True
        for direction in (1, -1):
            xy, alive = queries[sel, 1:].astype(np.float32), np.ones(len(sel), bool)
            k = tq + direction
            while 0 <= k < t_len:
                nxt, ok = step(k - direction, k, xy)
                alive &= ok
                xy = np.where(alive[:, None], nxt, xy)
                tracks[k, sel], visible[k, sel] = xy, alive
                k += direction
    return tracks, visible
