"""The TUM fr1_xyz clips the benchmarks use, named by sequence frame (``TumSequence.sequence_frames``), not by
position in the folder: ``../shared/real-data/video-rgbd-tum-fr1xyz`` holds frames 0–239 and 700–759, so
position 240 is frame 700.

The clips are split once, before any tuning on them (2026-12-07):

- ``TUNING``: the 1-s clips development may look at. Frames 0–59 and 700–759 are the clips every earlier
  session used (when the folder held only those); 60–89, 120–149 and 180–209 join them.
- ``HELD_OUT``: 1-s clips no method was chosen or tuned on. Results on them are quoted apart from the tuning
  clips; never look at them while choosing a method or a setting.
- ``LONG``: the 8-s clip 0–239 (points leave the view and come back) and the 2-s clip 700–759.
"""

from __future__ import annotations

TUNING = [(0, 30), (30, 60), (60, 90), (120, 150), (180, 210), (700, 730), (730, 760)]
HELD_OUT = [(90, 120), (150, 180), (210, 240)]
LONG = [(0, 240), (700, 760)]


def label(first: int, stop: int) -> str:
    """``"700-729"``: a clip by its first and last sequence frame."""
    return f"{first}-{stop - 1}"
