"""A local Hugging Face metric depth model as the first-frame depth (depth.hf, run --depth-model).

The models here are tiny and randomly initialised, saved in the exact folder format
``save_pretrained`` writes; the tests skip when the optional ``transformers`` is not installed.
"""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest

from motiondepth.depth.hf import HFDepthPredictor, check_depth_model
from motiondepth.errors import InputError

transformers = pytest.importorskip("transformers")


def _save_tiny_depth_anything(path, kind: str = "metric") -> None:
    from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation, Dinov2Config, DPTImageProcessor

    backbone = Dinov2Config(hidden_size=32, num_hidden_layers=4, num_attention_heads=2, intermediate_size=64,
                            patch_size=14, image_size=56, out_features=["stage1", "stage2", "stage3", "stage4"],
                            reshape_hidden_states=False)  # fmt: skip
    cfg = DepthAnythingConfig(backbone_config=backbone, neck_hidden_sizes=[8, 16, 32, 32], fusion_hidden_size=16,
                              head_hidden_size=8, reassemble_hidden_size=32, depth_estimation_type=kind,
                              max_depth=20)  # fmt: skip
    DepthAnythingForDepthEstimation(cfg).save_pretrained(path)
    DPTImageProcessor(size={"height": 56, "width": 56}, keep_aspect_ratio=True, ensure_multiple_of=14).save_pretrained(
        path
    )


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("hf") / "tiny-metric"
    _save_tiny_depth_anything(path)
    return path


def test_predicts_positive_metric_depth_at_frame_size(model_dir):
    frames = np.random.default_rng(0).integers(0, 256, (3, 60, 80, 3), dtype=np.uint8)
    d = HFDepthPredictor(model_dir).depth(frames)
    assert d.shape == (60, 80) and d.dtype == np.float32
    assert np.isfinite(d).all() and (d > 0).all() and d.max() <= 20.0 + 1e-3  # sigmoid head × max_depth


def test_bad_model_folders_give_clear_errors(model_dir, tmp_path):
    with pytest.raises(InputError, match="not a folder"):
        check_depth_model(tmp_path / "missing")
    no_proc = tmp_path / "no-processor"
    shutil.copytree(model_dir, no_proc)
    (no_proc / "preprocessor_config.json").unlink()
    with pytest.raises(InputError, match=r"preprocessor_config\.json"):
        check_depth_model(no_proc)
    relative = tmp_path / "relative"
    shutil.copytree(model_dir, relative)
    cfg = json.loads((relative / "config.json").read_text())
    cfg["depth_estimation_type"] = "relative"
    (relative / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(InputError, match="metric depth"):
        HFDepthPredictor(relative)


@pytest.mark.slow
def test_run_takes_its_frame_zero_depth_from_the_model(model_dir, tmp_path):
    import motiondepth
    from motiondepth.io.video import write_video
    from motiondepth.simulate import camera_preset
    from motiondepth.simulate.scene import simulate_scene
    from motiondepth.workflow import decode_video

    video = simulate_scene(camera_preset("phone", width=112, height=112, num_frames=8), scene_seed=2, shake_seed=2)
    k = video.intrinsics
    flags = dict(fx=k.fx, fy=k.fy, cx=k.cx, cy=k.cy, depth_rescale="none", progress=False)
    clip = tmp_path / "clip.mp4"
    write_video(clip, video.frames)
    res = motiondepth.run(clip, tmp_path / "out", depth_model=str(model_dir), **flags)
    expected = HFDepthPredictor(model_dir).depth(decode_video(clip).frames)
    with np.load(tmp_path / "out" / "depth.npz") as z:
        np.testing.assert_allclose(z["depth"], expected, rtol=1e-5)
        assert "depth model" in str(z["source"])
    assert any(str(model_dir) in w for w in res.warnings)
    # the step cache knows the model: same folder → cached; rewritten weights → recomputed
    motiondepth.run(clip, tmp_path / "out", depth_model=str(model_dir), **flags)
    assert json.loads((tmp_path / "out" / "config.json").read_text())["steps"]["depth"]["cached"]
    weights = model_dir / "model.safetensors"
    weights.write_bytes(weights.read_bytes())
    os.utime(weights, ns=(weights.stat().st_atime_ns, weights.stat().st_mtime_ns + 10**9))
    motiondepth.run(clip, tmp_path / "out", depth_model=str(model_dir), **flags)
    assert not json.loads((tmp_path / "out" / "config.json").read_text())["steps"]["depth"]["cached"]
    with pytest.raises(InputError, match=r"preprocessor_config\.json"):
        bad = tmp_path / "bad"
        bad.mkdir()
        (bad / "config.json").write_text("{}")
        motiondepth.run(clip, tmp_path / "out2", depth_model=str(bad), **flags)
    assert not (tmp_path / "out2").exists()


def test_depth_command_takes_the_model(model_dir, tmp_path):
    from motiondepth.cli import main
    from motiondepth.io.video import write_video

    frames = np.random.default_rng(1).integers(0, 256, (4, 48, 64, 3), dtype=np.uint8)
    write_video(tmp_path / "clip.mp4", frames)
    out = tmp_path / "d.npz"
    assert main(["depth", str(tmp_path / "clip.mp4"), "--depth-model", str(model_dir), "--out", str(out)]) == 0
    with np.load(out) as z:
        assert z["depth"].shape == (48, 64) and str(z["checkpoint"]) == str(model_dir)
    assert out.with_suffix(".png").stat().st_size > 0
