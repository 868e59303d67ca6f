"""motiondepth: metric depth and camera motion from how points move and blur.

Public entry points live in the sub-packages:

- :mod:`motiondepth.geometry`   cameras, rotations (DESIGN §2), the pivot rotation model (§3)
- :mod:`motiondepth.scenes`     procedural textured RGB-D scenes (ray casting)
- :mod:`motiondepth.simulate`   shake sources and the rolling-shutter blur simulator
- :mod:`motiondepth.tracking`   query grid and point trackers
- :mod:`motiondepth.trajectory` optics-based rotation solver and the homography baseline
- :mod:`motiondepth.eval`       trajectory and depth metrics
- :mod:`motiondepth.io`         reading and writing depth, video, tracks, trajectories
"""

__version__ = "0.1.0"
