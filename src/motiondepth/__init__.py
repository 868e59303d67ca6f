"""motiondepth: metric depth and camera motion from how points move and blur.

Public entry points live in the sub-packages:

- :mod:`motiondepth.geometry`   cameras, rotations (docs/design.md §2), the pivot rotation model (§3)
- :mod:`motiondepth.scenes`     procedural textured RGB-D scenes (ray casting)
- :mod:`motiondepth.simulate`   shake sources and the rolling-shutter blur simulator
- :mod:`motiondepth.tracking`   query grid and point trackers
- :mod:`motiondepth.trajectory` optics-based rotation solver and the homography baseline
- :mod:`motiondepth.eval`       trajectory and depth metrics
- :mod:`motiondepth.io`         reading and writing depth, video, tracks, trajectories
- :mod:`motiondepth.workflow`   the combined pipeline: ``motiondepth.run(video, out_dir) -> Result``
"""

from __future__ import annotations

__version__ = "0.1.0"

_LAZY = dict.fromkeys(("run", "run_batch", "Result", "RunConfig"), "motiondepth.workflow")


def __getattr__(name: str):
    """``motiondepth.run`` and friends, imported on first use (torch loads only when needed)."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'motiondepth' has no attribute {name!r}")


__all__ = ["Result", "RunConfig", "__version__", "run", "run_batch"]
