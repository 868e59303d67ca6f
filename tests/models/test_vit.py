"""DINOv2-architecture encoder: shapes, position interpolation, strict official-key round trip."""

from __future__ import annotations

import pytest
import torch

from motiondepth.errors import InputError
from motiondepth.models.vit import ViT, ViTConfig, load_dinov2, official_key


def test_features_and_position_interpolation():
    enc = ViT(ViTConfig.preset("tiny")).eval()
    feats = enc(torch.randn(2, 3, 224, 112), layers=(0, 3))
    assert [tuple(f.shape) for f in feats] == [(2, 192, 16, 8), (2, 192, 16, 8)]
    with pytest.raises(ValueError, match="multiple of the patch size"):
        enc(torch.randn(1, 3, 100, 100))


def test_vits14_parameter_count_matches_dinov2():
    n = sum(p.numel() for p in ViT(ViTConfig.preset("vits14")).parameters())
    assert abs(n - 22.06e6) < 0.05e6  # DINOv2 ViT-S/14: 22.06 M parameters


def test_official_checkpoint_round_trip(tmp_path):
    src = ViT(ViTConfig.preset("tiny"))
    with torch.no_grad():
        for p in src.parameters():
            p.normal_(0, 0.02)
    # an FSDP-style release: blocks chunked as blocks.<chunk>.<index>.*
    state = {}
    for k, v in src.state_dict().items():
        if k.startswith("blocks."):
            i = int(k.split(".")[1])
            k = f"blocks.{i // 2}.{i}." + k.split(".", 2)[2]
        state[k] = v
    torch.save(state, tmp_path / "dinov2_tiny.pth")
    loaded = load_dinov2(tmp_path / "dinov2_tiny.pth").eval()
    x = torch.randn(1, 3, 224, 224)
    torch.testing.assert_close(loaded(x, (3,))[0], src.eval()(x, (3,))[0])
    assert official_key("module.blocks.1.3.attn.qkv.weight") == "blocks.3.attn.qkv.weight"


def test_bad_checkpoints(tmp_path):
    (tmp_path / "junk.pth").write_bytes(b"junk")
    with pytest.raises(InputError, match="not a readable"):
        load_dinov2(tmp_path / "junk.pth")
    torch.save({"register_tokens": torch.zeros(1, 4, 8), "pos_embed": torch.zeros(1, 5, 8)}, tmp_path / "reg.pth")
    with pytest.raises(InputError, match="registers"):
        load_dinov2(tmp_path / "reg.pth")
    state = ViT(ViTConfig.preset("tiny")).state_dict()
    del state["norm.weight"]
    torch.save(state, tmp_path / "partial.pth")
    with pytest.raises(InputError, match="do not match"):
        load_dinov2(tmp_path / "partial.pth")
