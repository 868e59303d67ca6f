"""Two-stage training of the blur models, checkpoints, inference and the CLI, on tiny settings."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from motiondepth.data.blur_data import BlurDataConfig, flip_sample, procedural_blur_sample
from motiondepth.depth.blur import BlurPredictor, load_decoder
from motiondepth.errors import InputError
from motiondepth.models.blur_depth import BlurDepthNet
from motiondepth.train.blur_task import silog_loss
from motiondepth.train.run import train

TINY = [
    "model.image_size=56",
    "model.num_frames=4",
    "model.window=2",
    "model.hidden=32",
    "model.heads=2",
    "model.traj_pool=2",
    "data.num_frames=4",
    "val_samples=2",
    "batch_size=2",
    "train.steps=2",
    "train.warmup=1",
    "train.val_every=0",
]


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    root = tmp_path_factory.mktemp("blur")
    train("blur-depth", "small", root / "depth", overrides=TINY, progress=False)
    depth = root / "depth" / "model.safetensors"
    traj_over = [o for o in TINY if not o.startswith("model.")] + [f"depth_checkpoint={depth}"]
    metrics = train("trajectory", "small", root / "traj", overrides=traj_over + ["data.size=56"], progress=False)
    return depth, root / "traj" / "model.safetensors", metrics


def test_flip_is_an_involution_with_the_right_signs():
    s = procedural_blur_sample(3, BlurDataConfig(size=56, num_frames=3))
    f = flip_sample(s)
    np.testing.assert_array_equal(f["frames"][:, :, 0], s["frames"][:, :, -1])
    np.testing.assert_allclose(f["dense_15"][..., 0], -s["dense_15"][..., 0])
    np.testing.assert_allclose(f["dense_15"][..., 1], s["dense_15"][..., 1])
    np.testing.assert_allclose(f["sparse"][..., 2], -s["sparse"][..., 2])
    ff = flip_sample(f)
    for k in s:
        np.testing.assert_allclose(ff[k], s[k])


def test_silog_is_zero_at_truth_and_penalises_scale():
    gt = torch.rand(2, 8, 8) * 5 + 1
    loss, _ = silog_loss(gt.clone(), gt, 0.85, 1.0)
    assert float(loss) < 1e-3
    loss, parts = silog_loss(gt * 2, gt, 0.85, 0.0)  # uniform log error log 2: sqrt(1 − λ)·log 2
    assert parts["silog"] == pytest.approx(np.sqrt(0.15) * np.log(2), rel=1e-3)
    invalid = gt.clone()
    invalid[:, :4] = 0  # holes are ignored
    assert float(silog_loss(gt.clone(), invalid, 0.85, 1.0)[0]) < 1e-3


def test_two_stage_checkpoints_load_strictly(checkpoints):
    depth, traj, metrics = checkpoints
    assert {"abs_rel_15", "abs_rel_15_interp", "abs_rel_30"} <= set(metrics)
    net = BlurDepthNet.from_pretrained(str(depth))
    card = json.loads(depth.with_suffix(".json").read_text())
    assert card["model"] == "blur-depth" and card["model_config"]["image_size"] == 56
    dec = load_decoder(str(traj), net)
    assert not any(k.startswith("self_window.") for k in dec.card["model_config"])
    # the decoder shares the depth network's Self-Window, not a copy
    assert dec.self_window is net.self_window


def test_stage_two_keeps_stage_one_frozen(checkpoints, tmp_path):
    depth, _, _ = checkpoints
    before = BlurDepthNet.from_pretrained(str(depth)).state_dict()
    over = [o for o in TINY if not o.startswith("model.")] + [f"depth_checkpoint={depth}", "data.size=56"]
    train("trajectory", "small", tmp_path / "t", overrides=over, progress=False)
    ckpt = torch.load(tmp_path / "t" / "checkpoint.pt", weights_only=False)["model"]
    for k, v in before.items():
        torch.testing.assert_close(ckpt[f"depth_net.{k}"], v)


def test_predictor_depth_and_dense_any_length(checkpoints):
    depth, traj, _ = checkpoints
    p = BlurPredictor(str(depth), str(traj))
    s = procedural_blur_sample(11, BlurDataConfig(size=70, num_frames=7))  # other size: resized
    d = p.depth(s["frames"])
    assert d.shape == (70, 70) and np.isfinite(d).all() and (d > 0).all()
    # 7 frames: chunks of 4, the last aligned to the end
    dense = p.dense_trajectory(s["frames"], s["sparse"], float(s["intrinsics"][0]), 15)
    assert dense.shape == (7, 15, 3) and np.isfinite(dense).all()


def test_bad_inputs_give_clear_errors(checkpoints):
    depth, traj, _ = checkpoints
    p = BlurPredictor(str(depth), None, resize=False)
    frames = np.zeros((1, 56, 56, 3), np.uint8)
    with pytest.raises(InputError, match="fewer than one window"):
        p.depth(frames)
    with pytest.raises(InputError, match="checkpoint works at 56x56"):
        p.depth(np.zeros((4, 60, 80, 3), np.uint8))
    with pytest.raises(InputError, match="is for model 'seurat'"):
        BlurPredictor("seurat-small", None)
    with pytest.raises(InputError, match="expected 'blur-depth'"):
        BlurPredictor(str(traj), None)


@pytest.mark.slow
def test_depth_cli_and_eval_cli(checkpoints, tmp_path):
    from motiondepth.cli import main
    from motiondepth.io.video import write_video

    depth, traj, _ = checkpoints
    s = procedural_blur_sample(5, BlurDataConfig(size=56, num_frames=4))
    video = tmp_path / "clip.mp4"
    write_video(video, s["frames"])
    assert main(["depth", str(video), "--depth-checkpoint", str(depth), "--out", str(tmp_path / "d.npz")]) == 0
    with np.load(tmp_path / "d.npz") as z:
        assert z["depth"].shape == (56, 56)
    assert (tmp_path / "d.png").stat().st_size > 0
    assert main(["depth", str(video), "--depth-checkpoint", str(depth), "--out", str(tmp_path / "e.npz"), "--device",
                 "cpu"]) == 0  # fmt: skip
    np.testing.assert_array_equal(np.load(tmp_path / "e.npz")["depth"], np.load(tmp_path / "d.npz")["depth"])
    assert main(["depth", str(video), "--out", str(tmp_path / "f.npz"), "--device", "tpu"]) == 2
    assert not (tmp_path / "f.npz").exists()
    out = tmp_path / "r.json"
    args = ["eval", "blur-depth", "--depth-checkpoint", str(depth), "--ablation", str(depth), "--trajectory-checkpoint",
            str(traj), "--scenes", "2", "--shake", "handheld", "--shake-scale", "2", "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    r = json.loads(out.read_text())
    assert r["data"]["shake"] == "handheld" and r["data"]["shake_scale"] == 2.0
    assert set(r["depth"]) == {"constant depth", "single-frame ablation", "network"}
    rows = {"post-interpolation S=15", "decoder S=15", "post-interpolation S=30", "decoder S=30"}
    assert rows <= set(r["trajectory"])
    assert out.with_suffix(".md").read_text().startswith("Held-out")
    args = ["eval", "blur-depth", "--depth-checkpoint", str(depth), "--ablation", "none", "--trajectory-checkpoint",
            "none", "--scenes", "1", "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    r = json.loads(out.read_text())
    assert set(r["depth"]) == {"constant depth", "network"} and "decoder S=15" not in r["trajectory"]
    assert 0 <= r["depth"]["network"]["abs_rel_median_scaled"] < 10


def test_stage_one_can_start_from_dinov2_weights(tmp_path):
    from motiondepth.models.vit import ViT, ViTConfig
    from motiondepth.train.run import resolve_run

    enc = ViT(ViTConfig.preset("tiny"))
    torch.save(enc.state_dict(), tmp_path / "dinov2.pth")
    task, _ = resolve_run("blur-depth", "small", overrides=[*TINY, f"encoder_weights={tmp_path / 'dinov2.pth'}"])
    model = task.build_model()
    torch.testing.assert_close(model.encoder.state_dict(), enc.state_dict())


def test_shipped_checkpoints_load_by_name_and_run():
    from motiondepth.models.weights import available

    assert {"blur-depth-small", "blur-depth-single-frame", "trajectory-small"} <= set(available())
    p = BlurPredictor()  # defaults: blur-depth-small + trajectory-small
    s = procedural_blur_sample(2_000_000_123, BlurDataConfig(size=224, num_frames=12))
    d = p.depth(s["frames"])
    assert d.shape == (224, 224) and np.isfinite(d).all() and 0.3 < float(np.median(d)) < 20
    dense = p.dense_trajectory(s["frames"], s["sparse"], float(s["intrinsics"][0]), 30)
    assert dense.shape == (12, 30, 3) and np.isfinite(dense).all()


def test_indoor_checkpoint_shares_the_decoder_and_layout_reaches_the_data():
    """blur-depth-indoor has blur-depth-small's configuration, so trajectory-small attaches to it;
    indoor_probability=1 gives indoor scenes (a different image for the same seed)."""
    p = BlurPredictor("blur-depth-indoor", "trajectory-small")
    assert p.net.cfg == BlurPredictor(trajectory_checkpoint=None).net.cfg
    room = procedural_blur_sample(2_000_000_123, BlurDataConfig(size=56, num_frames=4))
    indoor = procedural_blur_sample(2_000_000_123, BlurDataConfig(size=56, num_frames=4, indoor_probability=1.0))
    assert not np.array_equal(room["frames"][0], indoor["frames"][0]) and (indoor["depth"] > 0).all()


def test_model_based_reference_keeps_the_solver_means():
    """The blur-fit reference row: one dense trajectory per S whose frame means are the solver's."""
    from motiondepth.data.blur_data import procedural_clip
    from motiondepth.eval.harness.blur_depth import blur_fit_dense

    clip = procedural_clip(2_000_000_007, BlurDataConfig(size=112, num_frames=4))
    fit = blur_fit_dense(clip, depth_m=3.0, samples=(15,))
    solved = clip[3]
    assert fit[15].shape == (4, 15, 3) and np.isfinite(fit[15]).all()
    assert fit["blur_px"] > 0
    # the fitted shape is centred on the solver's per-frame angle (mean of uniform samples ≈ span mean)
    np.testing.assert_allclose(fit[15].mean(axis=1), solved.angles, atol=2e-4)


def test_export_data_blur_with_handheld_shake(tmp_path, capsys):
    from motiondepth.cli import main

    out = tmp_path / "shards"
    assert main(["export-data", "blur", "--count", "2", "--size", "56", "--frames", "3", "--shard-size", "2",
                 "--shake", "handheld", "--shake-scale", "4", "--out", str(out)]) == 0  # fmt: skip
    config = json.loads((out / "index.json").read_text())["config"]
    assert config["shake"] == "handheld" and config["shake_scale"] == 4.0
    assert main(["export-data", "blur", "--count", "2", "--shake-scale", "0", "--out", str(tmp_path / "y")]) == 2
    assert "--shake-scale" in capsys.readouterr().err
    assert not (tmp_path / "y").exists()
    assert main(["export-data", "blur", "--count", "2", "--shake", str(tmp_path / "nope.csv"),
                 "--out", str(tmp_path / "x")]) == 2  # fmt: skip
    assert "nope.csv" in capsys.readouterr().err
    assert main(["export-data", "blur", "--count", "2", "--indoor", "1.5", "--out", str(tmp_path / "z")]) == 2
    assert "--indoor" in capsys.readouterr().err


def test_stage_two_caches_frozen_image_tokens_per_shard_clip(checkpoints, tmp_path):
    from motiondepth.data.shards import export_shards
    from motiondepth.train.blur_task import BlurTrajectoryModel
    from motiondepth.train.run import resolve_run

    depth, _, _ = checkpoints
    cfg = BlurDataConfig(size=56, num_frames=4)
    export_shards(tmp_path / "shards", procedural_blur_sample, 0, 3, shard_size=3, cfg=cfg, progress=False)
    over = [o for o in TINY if not o.startswith("model.")] + [f"depth_checkpoint={depth}", "data.size=56",
                                                               f"shards={tmp_path / 'shards'}"]  # fmt: skip
    task, _ = resolve_run("trajectory", "small", overrides=over)
    model: BlurTrajectoryModel = task.build_model().eval()
    batch = task.batch(1, 0, 1)  # clips 2 and 0 (wrapping)
    assert [k[0] for k in batch["keys"]] == [2, 0]
    args = (batch["frames"], batch["sparse"], 15, batch["focal_rel"])
    fresh = model(*args)["dense"]
    model(*args, keys=batch["keys"])  # fills the cache
    assert set(model._token_cache) == set(batch["keys"])
    cached = model(*args, keys=batch["keys"])
    assert cached["depth"] is None  # the frozen network did not run
    torch.testing.assert_close(cached["dense"], fresh, atol=1e-6, rtol=1e-2)


@pytest.mark.slow
def test_eval_takes_a_single_frame_network_as_the_main_one(tmp_path, capsys):
    """The ablation checkpoint can be evaluated alone, on the default clips; the decoder rows need frames."""
    from motiondepth.cli import main

    out = tmp_path / "r.json"
    base = ["eval", "blur-depth", "--depth-checkpoint", "blur-depth-single-frame", "--ablation", "none"]
    base += ["--scenes", "1"]
    assert main([*base, "--trajectory-checkpoint", "none", "--out", str(out)]) == 0
    r = json.loads(out.read_text())
    assert r["data"]["num_frames"] == 12 and set(r["depth"]) == {"constant depth", "network"}
    assert main([*base, "--out", str(tmp_path / "x.json")]) == 2
    assert "single-frame network" in capsys.readouterr().err
