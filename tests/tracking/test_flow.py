"""The dense-flow tracker (``dis``): DIS optical flow chained through the frames."""

from __future__ import annotations

import numpy as np
import pytest

from motiondepth.simulate import groundtruth_tracks
from motiondepth.tracking import DISFlowTracker, FlowConfig, grid_queries, make_tracker, query_grid


def test_follows_the_simulated_grid_like_the_chained_klt(small_video):
    """On a shaky, blurred simulated clip the flow tracker keeps the whole grid within a pixel of the truth."""
    q = grid_queries(query_grid(6, small_video.frames.shape[1:3], small_video.intrinsics))
    truth = groundtruth_tracks(small_video, q[:, 1:])
    errors = {}
    for name in ("dis", "klt-chain"):
        tr = make_tracker(name).track(small_video.frames, q)
        assert tr.meta["tracker"] == name and tr.visible[0].all()
        err = np.linalg.norm(tr.tracks - truth.tracks, axis=-1)[tr.visible]
        errors[name] = (float(np.median(err)), float(tr.visible[-1].mean()))
    assert errors["dis"][0] < 1.0 and errors["dis"][1] >= 0.9, errors
    assert errors["dis"][0] < 2 * errors["klt-chain"][0] + 0.1, errors


def test_queries_in_later_frames_are_chained_both_ways(rng):
    """A textured image shifted 1.5 px per frame: a point queried in frame 3 is found in every frame."""
    base = (rng.random((120, 160)) * 255).astype(np.uint8)
    import cv2

    base = cv2.GaussianBlur(base, (0, 0), 1.5)
    frames = []
    for k in range(6):
        m = np.float32([[1, 0, 1.5 * k], [0, 1, 0]])
        frames.append(np.repeat(cv2.warpAffine(base, m, (160, 120), borderMode=cv2.BORDER_REFLECT)[..., None], 3, -1))
    frames = np.stack(frames)
    q = np.array([[3, 60.0, 50.0], [0, 40.0, 70.0]])
    tr = DISFlowTracker().track(frames, q)
    expect = np.stack([q[:, 1] + 1.5 * (np.arange(6)[:, None] - q[:, 0]), np.broadcast_to(q[:, 2], (6, 2))], -1)
    assert tr.visible.all()
    np.testing.assert_allclose(tr.tracks, expect, atol=0.35)
    np.testing.assert_array_equal(tr.tracks[3, 0], q[0, 1:])  # at its query frame, exactly the query


def test_settings_are_checked():
    with pytest.raises(ValueError, match="preset"):
        FlowConfig(preset="slow")
    with pytest.raises(ValueError, match="settings"):
        FlowConfig(max_side=8)
