"""The chained, re-seeding KLT tracker."""

from __future__ import annotations

import cv2
import numpy as np

from motiondepth.tracking.base import make_tracker
from motiondepth.tracking.chain import ChainConfig, track_chained


def _panning_frames(rng, t_len=12, step=(3.0, 1.5), size=(160, 200)):
    """A textured scene panning by ``step`` px per frame (sub-pixel shifts through an affine warp)."""
    h, w = size
    tex = cv2.GaussianBlur(rng.uniform(0, 255, (h + 80, w + 80)).astype(np.float32), (0, 0), 2.0)
    tex = cv2.normalize(tex, None, 0, 255, cv2.NORM_MINMAX)
    frames = []
    for k in range(t_len):
        m = np.float32([[1, 0, step[0] * k], [0, 1, step[1] * k]])  # the content moves by +k·step
        img = cv2.warpAffine(tex, m, (w + 80, h + 80), flags=cv2.INTER_LINEAR)[:h, :w]
        frames.append(np.repeat(img[..., None], 3, 2).astype(np.uint8))
    return np.stack(frames)


def test_chained_tracks_follow_the_pan_and_reseed_what_leaves(rng):
    frames = _panning_frames(rng)
    tr = track_chained(frames, config=ChainConfig(cell_px=20))
    assert tr.meta["tracker"] == "klt-chain"
    first = tr.queries[:, 0].astype(int)
    assert (first > 0).any(), "points leaving the image are replaced by new ones"
    assert tr.visible.sum(1).min() >= 0.5 * tr.visible.sum(1).max(), "every frame keeps most of its cover"
    # positions: each visible point moved by +step per frame since its first frame
    k = np.arange(len(frames))[:, None]
    expect = tr.queries[None, :, 1:] + (k - first[None, :])[..., None] * np.array([3.0, 1.5])
    err = np.linalg.norm(tr.tracks - expect, axis=-1)[tr.visible]
    assert np.median(err) < 0.1 and np.percentile(err, 95) < 0.5
    # a track is visible over one unbroken span starting at its query frame
    for n in range(tr.num_points):
        seen = np.flatnonzero(tr.visible[:, n])
        assert seen[0] == first[n] and np.all(np.diff(seen) == 1)


def test_registered_tracker_chains_queries_both_ways(rng):
    frames = _panning_frames(rng, t_len=8)
    q = np.array([[4, 80.0, 70.0], [4, 120.0, 90.0], [0, 100.0, 80.0]], np.float32)
    tr = make_tracker("klt-chain").track(frames, q)
    assert tr.visible[:, :2].all()
    for k in range(8):
        assert np.allclose(tr.tracks[k, 0], [80 + 3.0 * (k - 4), 70 + 1.5 * (k - 4)], atol=0.3)


def test_anchoring_to_the_first_frame_stops_drift(rng):
    """Frame-to-frame errors add up along a chain (a random walk); refining every step against the track's
    first frame keeps the error at one match's. Noisy frames make each link a little wrong."""
    step = np.array([1.3, 0.7])
    frames = _panning_frames(rng, t_len=40, step=tuple(step)).astype(np.float32)
    frames = np.clip(frames + rng.normal(0, 25, frames.shape), 0, 255).astype(np.uint8)
    k = np.arange(len(frames))[:, None]

    def old_track_error(anchor_px):  # median error of tracks 20 frames or more after their first frame
        tr = track_chained(frames, config=ChainConfig(cell_px=16, anchor_px=anchor_px))
        first = tr.queries[:, 0].astype(int)
        expect = tr.queries[None, :, 1:] + (k - first[None, :])[..., None] * step
        old = tr.visible & (k - first[None, :] >= 20)
        return np.median(np.linalg.norm(tr.tracks - expect, axis=-1)[old])

    drifted, anchored = old_track_error(0.0), old_track_error(6.0)
    assert anchored < 0.7 * drifted, (anchored, drifted)  # four seeds: 0.13–0.16 against 0.25–0.35 px


def test_no_point_is_followed_near_an_undistorted_frames_black_margin(rng):
    """An undistorted frame's black margin stays put in the image while the scene moves: a KLT window on its edge
    locks onto the edge. With the recorded area given, no point is seeded or followed within half a window of it,
    and a query there is never seen."""
    frames = _panning_frames(rng, t_len=10, step=(0.0, 2.0))
    frames[:, :8] = 0  # the margin: the top 8 rows, as on TUM fr1's undistorted frames
    valid = np.ones(frames.shape[1:3], bool)
    valid[:8] = False
    cfg = ChainConfig(cell_px=20)
    near = 8 + cfg.win_size // 2 + 1  # rows whose window reaches the margin

    plain = track_chained(frames, config=cfg)
    assert (plain.tracks[..., 1][plain.visible] < near).any(), "without the area, points sit on the margin's edge"

    q = np.array([[0, 100.0, 5.0], [0, 100.0, 80.0]], np.float32)
    tr = track_chained(frames, q, config=cfg, valid=valid)
    assert not (tr.tracks[..., 1][tr.visible] < near).any()
    assert not tr.visible[:, 0].any() and tr.visible[0, 1]
    assert np.allclose(tr.tracks[:, 0], [100.0, 5.0]), "the unseen query keeps its position"
    assert tr.visible.sum(1).min() > 0.5 * plain.visible.sum(1).min(), "the rest of the image is still covered"


def test_recorded_area_marks_the_margin_undistortion_leaves(tum_fr1_calibration):
    from motiondepth.geometry.camera import Intrinsics
    from motiondepth.geometry.distortion import LensDistortion, recorded_area, undistort_frames

    c = tum_fr1_calibration
    intr, lens = Intrinsics(c["fx"], c["fy"], c["cx"], c["cy"]), LensDistortion("opencv", c["distortion_coefficients"])
    area = recorded_area(intr, lens, (480, 640))
    out = undistort_frames(np.full((1, 480, 640, 3), 200, np.uint8), intr, lens)[0, ..., 0]
    assert not area[:5].any() and area[240, 320]
    wider = cv2.dilate(area.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    assert (out[area] == 200).all() and (out[~wider] == 0).all()
