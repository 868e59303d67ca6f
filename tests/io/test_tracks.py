"""Tracks a user already has: motiondepth, CoTracker, TAPIR and CSV files, checked against the video."""

from __future__ import annotations

import json

import numpy as np
import pytest

import motiondepth
from motiondepth.errors import InputError
from motiondepth.io.tracks import check_tracks, read_tracks_file, save_tracks
from motiondepth.types import Tracks


def _tracks(rng, t_len=6, n=9):
    xy = rng.uniform(10, 150, (t_len, n, 2)).astype(np.float32)
    vis = np.ones((t_len, n), bool)
    vis[0, 2] = False  # a track that starts in frame 1
    vis[4:, 5] = False  # and one lost after frame 3
    return xy, vis


def _write_all(tmp_path, xy, vis):
    t_len, n = vis.shape
    np.savez(tmp_path / "cotracker.npz", pred_tracks=xy[None], pred_visibility=vis[None])
    np.savez(tmp_path / "tapir.npz", tracks=np.swapaxes(xy, 0, 1), occluded=~vis.T)
    rows = ["frame,point,x,y,visible"] + [f"{k},{p},{xy[k, p, 0]},{xy[k, p, 1]},1"
                                          for k in range(t_len) for p in range(n) if vis[k, p]]  # fmt: skip
    (tmp_path / "tracks.csv").write_text("\n".join(rows) + "\n")
    first = np.argmax(vis, 0)
    q = np.concatenate([first[:, None], xy[first, np.arange(n)]], 1).astype(np.float32)
    save_tracks(tmp_path / "own.npz", Tracks(xy, vis, q, (160, 160)))
    return ["cotracker.npz", "tapir.npz", "tracks.csv", "own.npz"]


def test_every_format_reads_to_the_same_tracks(tmp_path, rng):
    xy, vis = _tracks(rng)
    for name in _write_all(tmp_path, xy, vis):
        tr = check_tracks(tmp_path / name, read_tracks_file(tmp_path / name), 6, (160, 160))
        np.testing.assert_array_equal(tr.visible, vis, err_msg=name)
        np.testing.assert_allclose(tr.tracks[vis], xy[vis], atol=1e-4, err_msg=name)
        assert tr.queries[2, 0] == 1 and tr.image_size == (160, 160), name


@pytest.mark.parametrize(
    ("frames", "size", "message"),
    [(7, (160, 160), "6 frames but the video has 7"), (6, (80, 80), "outside the 80x80 frames")],
)
def test_tracks_that_do_not_fit_the_video_are_refused(tmp_path, rng, frames, size, message):
    xy, vis = _tracks(rng)
    _write_all(tmp_path, xy, vis)
    with pytest.raises(InputError, match=message):
        check_tracks(tmp_path / "cotracker.npz", read_tracks_file(tmp_path / "cotracker.npz"), frames, size)


def test_bad_tracks_files_say_what_is_wrong(tmp_path, rng):
    np.savez(tmp_path / "other.npz", foo=np.zeros(3))
    with pytest.raises(InputError, match="not a tracks file this reads"):
        read_tracks_file(tmp_path / "other.npz")
    np.savez(tmp_path / "batch.npz", pred_tracks=np.zeros((2, 4, 3, 2)), pred_visibility=np.ones((2, 4, 3)))
    with pytest.raises(InputError, match="batch of 2"):
        read_tracks_file(tmp_path / "batch.npz")
    (tmp_path / "bad.csv").write_text("t,id,u,v\n0,0,1,2\n")
    with pytest.raises(InputError, match="frame,point,x,y,visible"):
        read_tracks_file(tmp_path / "bad.csv")
    np.savez(tmp_path / "norm.npz", pred_tracks=rng.uniform(0, 1, (6, 9, 2)), pred_visibility=np.ones((6, 9)))
    with pytest.raises(InputError, match="normalised"):
        check_tracks(tmp_path / "norm.npz", read_tracks_file(tmp_path / "norm.npz"), 6, (160, 160))


def test_run_takes_cotracker_tracks(small_video, tmp_path):
    """run --tracks: the KLT tracks saved in CoTracker's layout give the same trajectory as tracking."""
    from motiondepth.simulate.scene import write_simulation

    write_simulation(small_video, tmp_path / "sim")
    k = small_video.intrinsics
    flags = dict(fx=k.fx, fy=k.fy, cx=k.cx, cy=k.cy, motion="lsq", progress=False, grid_half=4)
    own = motiondepth.run(tmp_path / "sim", tmp_path / "own", **flags)
    np.savez(tmp_path / "ct.npz", pred_tracks=own.tracks.tracks[None], pred_visibility=own.tracks.visible[None])
    res = motiondepth.run(tmp_path / "sim", tmp_path / "imported", tracks=str(tmp_path / "ct.npz"), **flags)
    np.testing.assert_allclose(res.trajectory.angles, own.trajectory.angles, atol=1e-6)
    assert "imported (cotracker)" in json.dumps(res.tracks.meta)
    with pytest.raises(InputError, match="--tracks"):
        motiondepth.run(tmp_path / "sim", tmp_path / "x", tracks=str(tmp_path / "ct.npz"), blur_fit=True, **flags)
    short = tmp_path / "short.npz"  # one frame fewer than the video
    np.savez(short, pred_tracks=own.tracks.tracks[None, :-1], pred_visibility=own.tracks.visible[None, :-1])
    with pytest.raises(InputError, match="frames but the video has"):
        motiondepth.run(tmp_path / "sim", tmp_path / "y", tracks=str(short), **flags)
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()
