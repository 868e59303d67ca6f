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
    """Instantiate a registered tracker by name (``klt`` is built in)."""
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
