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


def _shifted(rng, steps: int, dx: float, size=(120, 160)) -> np.ndarray:
    """A blurred random texture shifted ``dx`` px per frame, (steps, H, W, 3) uint8."""
    import cv2

    h, w = size
    base = cv2.GaussianBlur((rng.random(size) * 255).astype(np.uint8), (0, 0), 1.5)
    warp = [cv2.warpAffine(base, np.float32([[1, 0, dx * k], [0, 1, 0]]), (w, h), borderMode=cv2.BORDER_REFLECT)
            for k in range(steps)]  # fmt: skip
    return np.repeat(np.stack(warp)[..., None], 3, -1)


def test_reference_flow_follows_frame0_points_into_the_targets_only(rng):
    """Direct flow from frame 0: each point lands where the shift put it in every target frame, is hidden in
    the others, and is lost where it leaves the image or the valid area."""
    from motiondepth.tracking.flow import reference_flow_tracks

    frames = _shifted(rng, 8, 2.0)
    xy = np.array([[40.0, 60.0], [80.0, 30.0], [155.0, 60.0]], np.float32)  # the last one leaves the image
    valid = np.ones((120, 160), bool)
    valid[:, 88:] = False  # … and the second one lands outside the valid area from frame 4 on (x = 80 + 2k)
    tr = reference_flow_tracks(frames, xy, [2, 3, 5], valid=valid)
    assert tr.meta["targets"] == [2, 3, 5] and tr.visible[0].all()
    assert not tr.visible[[1, 4, 6, 7]].any()  # not a target
    assert tr.visible[[2, 3, 5], 0].all() and tr.visible[[2, 3], 1].all() and not tr.visible[5, 1]
    assert not tr.visible[1:, 2].any()
    for k in (2, 3, 5):
        np.testing.assert_allclose(tr.tracks[k, 0], xy[0] + [2.0 * k, 0], atol=0.3)
    np.testing.assert_array_equal(tr.queries[:, 0], 0)
    with pytest.raises(ValueError, match="target frames"):
        reference_flow_tracks(frames, xy, [0, 3])
    # from a later reference frame, backwards and forwards
    back = reference_flow_tracks(frames, xy[:1], [1, 6], reference=4)
    np.testing.assert_array_equal(back.queries, [[4, 40.0, 60.0]])
    assert back.visible[[1, 4, 6], 0].all() and back.visible[:, 0].sum() == 3
    np.testing.assert_allclose(back.tracks[[1, 6], 0], [[34.0, 60.0], [44.0, 60.0]], atol=0.3)
