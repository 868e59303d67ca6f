"""Command line of the Seurat half: train → track-depth → eval seurat, and clear errors for bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from motiondepth.cli import main
from motiondepth.data.seurat_synth import SeuratDataConfig, eval_clip
from motiondepth.io.tracks import save_tracks
from motiondepth.types import Tracks

TINY = ["model.hidden=16", "model.heads=2", "model.grid=4", "model.iterations=2", "model.num_freqs=2",
        "train.steps=3", "train.warmup=1", "train.log_every=1", "val_samples=2", "batch_size=2",
        "data.num_queries=8"]  # fmt: skip


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    assert main(["train", "seurat", "--out", str(out), *TINY]) == 0
    return out


@pytest.fixture(scope="module")
def clip():
    return eval_clip(7, num_frames=14, stride=4, cfg=SeuratDataConfig(grid=4, num_queries=12))


def test_train_writes_checkpoint_card_and_resumes(tiny_run, capsys):
    card = json.loads((tiny_run / "model.json").read_text())
    assert card["model"] == "seurat" and card["model_config"]["hidden"] == 16
    assert card["training"]["steps"] == 3 and "git_commit" in card and "l1_query" in card["validation"]
    # rerunning with more steps continues from the checkpoint instead of starting over
    assert main(["train", "seurat", "--out", str(tiny_run), *TINY[:-6], "train.steps=4", "train.warmup=1",
                 "val_samples=2", "batch_size=2", "data.num_queries=8"]) == 0  # fmt: skip
    steps = [json.loads(x)["step"] for x in (tiny_run / "log.jsonl").read_text().splitlines()]
    assert steps.count(1) == 1 and max(steps) == 4


def test_track_depth_end_to_end(tiny_run, clip, tmp_path, capsys):
    tracks = Tracks(clip.tracks, clip.visible, clip.queries, clip.image_size)
    save_tracks(tmp_path / "tracks.npz", tracks, clip.intrinsics.as_array())
    np.savez(tmp_path / "depth.npz", depth=clip.depth_maps[0])
    out = tmp_path / "tracks3d.npz"
    ckpt = str(tiny_run / "model.safetensors")
    rc = main(["track-depth", str(tmp_path / "tracks.npz"), "--depth", str(tmp_path / "depth.npz"),
               "--seurat-checkpoint", ckpt, "--out", str(out)])  # fmt: skip
    assert rc == 0
    bad = tmp_path / "bad.npz"
    assert main(["track-depth", str(tmp_path / "tracks.npz"), "--depth", str(tmp_path / "depth.npz"),
                 "--seurat-checkpoint", ckpt, "--out", str(bad), "--device", "tpu"]) == 2  # fmt: skip
    assert "--device" in capsys.readouterr().err and not bad.exists()
    with np.load(out) as z:
        assert z["tracks_XYZ"].shape == (14, 12, 3) and z["visibility"].shape == (14, 12)
        np.testing.assert_allclose(z["fx_fy_cx_cy"], clip.intrinsics.as_array(), rtol=1e-6)
        assert np.all(np.isfinite(z["tracks_XYZ"]))
        # frame-0 depth of tracks visible there matches the depth map it was scaled by
        v0 = clip.visible[0]
        np.testing.assert_allclose(z["tracks_XYZ"][0, v0, 2], clip.depth[0, v0], rtol=0.1)


def test_track_depth_bad_inputs(tiny_run, clip, tmp_path, capsys):
    ckpt = str(tiny_run / "model.safetensors")
    np.savez(tmp_path / "depth.npz", depth=clip.depth_maps[0])
    bad = clip.tracks.copy()
    bad[3, 2] = np.nan
    np.savez(tmp_path / "nan.npz", tracks=bad, visible=clip.visible, queries=clip.queries,
             image_size=np.array(clip.image_size))  # fmt: skip
    q5 = np.concatenate([np.minimum(clip.queries[:, :1], 4), clip.queries[:, 1:]], 1)  # queries inside 5 frames
    np.savez(tmp_path / "short.npz", tracks=clip.tracks[:5], visible=clip.visible[:5], queries=q5,
             image_size=np.array(clip.image_size))  # fmt: skip
    np.savez(tmp_path / "beyond.npz", tracks=clip.tracks[:5], visible=clip.visible[:5], queries=clip.queries,
             image_size=np.array(clip.image_size))  # fmt: skip
    np.savez(tmp_path / "dark.npz", tracks=clip.tracks, visible=np.zeros_like(clip.visible),
             queries=clip.queries, image_size=np.array(clip.image_size))  # fmt: skip
    np.savez(tmp_path / "wrongsize.npz", depth=np.ones((10, 10)))
    cases = [
        ("nan.npz", "depth.npz", ckpt, "NaN"),
        ("short.npz", "depth.npz", ckpt, "fewer than one Seurat window"),
        ("beyond.npz", "depth.npz", ckpt, "'queries' name frames outside the tracks' 5 frames"),
        ("dark.npz", "depth.npz", ckpt, "invisible"),
        ("dark.npz", "wrongsize.npz", ckpt, "depth map is 10x10"),
        ("dark.npz", "depth.npz", str(tmp_path / "depth.npz"), "no such checkpoint|safetensors|card"),
    ]
    for tracks, depth, ck, msg in cases:
        out = tmp_path / "o.npz"
        rc = main(["track-depth", str(tmp_path / tracks), "--depth", str(tmp_path / depth), "--seurat-checkpoint", ck,
                   "--fx", "100", "--fy", "100", "--cx", "50", "--cy", "50", "--out", str(out)])  # fmt: skip
        err = capsys.readouterr().err
        assert rc == 2 and err.count("\n") == 1, err
        assert __import__("re").search(msg, err), err
        assert not out.exists()


def test_eval_seurat_writes_table(tiny_run, tmp_path, capsys):
    out = tmp_path / "res.json"
    rc = main(["eval", "seurat", "--seurat-checkpoint", str(tiny_run / "model.safetensors"), "--scenes", "1",
               "--frames", "12", "--queries", "16", "--out", str(out)])  # fmt: skip
    assert rc == 0
    res = json.loads(out.read_text())
    assert set(res["table"]) >= {"Seurat", "hand-crafted baseline", "oracle depth", "per-frame depth (flickering)"}
    assert 0.0 <= res["table"]["Seurat"]["per_trajectory"]["apd"] <= 1.0
    assert "| Seurat |" in out.with_suffix(".md").read_text()


def test_track_depth_rigid_method(tmp_path, capsys):
    clip = eval_clip(11, num_frames=16, stride=4, cfg=SeuratDataConfig(num_queries=96))
    tracks = Tracks(clip.tracks, clip.visible, clip.queries, clip.image_size)
    save_tracks(tmp_path / "tracks.npz", tracks, clip.intrinsics.as_array())
    np.savez(tmp_path / "depth.npz", depth=clip.depth_maps)  # per-frame metric depth, as in evaluation
    err = {}
    for method in ("seurat", "rigid"):
        out = tmp_path / f"{method}.npz"
        assert main(["track-depth", str(tmp_path / "tracks.npz"), "--depth", str(tmp_path / "depth.npz"),
                     "--method", method, "--out", str(out)]) == 0  # fmt: skip
        with np.load(out) as z:
            v = clip.visible & clip.gt_visible
            err[method] = np.median(np.abs(z["tracks_XYZ"][..., 2][v] / clip.depth[v] - 1))
    assert err["rigid"] < 0.01 and err["rigid"] < err["seurat"], err
