"""Blur-depth network and dense trajectory decoder: contracts, shapes, post-interpolation start."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from motiondepth.models.blur_depth import BlurDepthNet, config_from_preset
from motiondepth.models.trajectory_decoder import (
    PRIOR_SAMPLES,
    SpectrumPrior,
    TrajectoryDecoder,
    blur_spectra,
    interpolate_trajectory,
)

CFG = config_from_preset("small", image_size=56, num_frames=8, window=4, hidden=32, heads=2)


def test_depth_network_shapes_positive_and_windows():
    net = BlurDepthNet(CFG).eval()
    out = net(torch.rand(2, 8, 3, 56, 56))
    assert out["depth"].shape == (2, 56, 56) and torch.all(out["depth"] > 0)
    assert out["features"].shape == (2, 32, 4, 4) and out["frame_features"].shape == (2, 8, 32, 4, 4)
    # the first window's output depends on later windows through Cross-Window
    x = torch.rand(1, 8, 3, 56, 56)
    y = x.clone()
    y[:, 4:] = torch.rand(1, 4, 3, 56, 56)
    with torch.no_grad():
        torch.manual_seed(0)
        for p in net.parameters():
            p.add_(0.02 * torch.randn_like(p))
        assert not torch.allclose(net(x)["depth"], net(y)["depth"])


def test_depth_network_rejects_bad_input():
    net = BlurDepthNet(CFG)
    with pytest.raises(ValueError, match="fewer than one window"):
        net(torch.rand(1, 3, 3, 56, 56))
    with pytest.raises(ValueError, match="resize the clip"):
        net(torch.rand(1, 8, 3, 70, 70))


def test_single_frame_init_inflates_to_the_same_depth(tmp_path):
    """A multi-frame network started from a single-frame checkpoint computes its frame-0 depth."""
    from motiondepth.models.weights import save_weights
    from motiondepth.train.loop import load_init_weights

    torch.manual_seed(0)
    single = BlurDepthNet(config_from_preset("small", image_size=56, num_frames=1, window=1, hidden=32, heads=2))
    with torch.no_grad():
        for p in single.parameters():
            p.add_(0.05 * torch.randn_like(p))
    path = save_weights(single, tmp_path / "single.safetensors", {"model": "blur-depth", "model_config": {}})
    net = BlurDepthNet(CFG)
    load_init_weights(net, str(path))
    x = torch.rand(1, 8, 3, 56, 56)
    with torch.no_grad():
        torch.testing.assert_close(net.eval()(x)["depth"], single.eval()(x[:, :1])["depth"], atol=1e-4, rtol=1e-4)
    # the other frames' slots and the Cross-Window output projections get gradients
    net.train()
    net(x)["depth"].mean().backward()
    assert net.window_embed.weight.grad[:, 32:].abs().sum() > 0
    assert net.cross_window[0].attn.out_proj.weight.grad.abs().sum() > 0


def test_interpolation_is_linear_between_frame_centres():
    sparse = torch.tensor([[[0.0, 0, 0], [1.0, 2, 3], [3.0, 2, 1]]])
    dense = interpolate_trajectory(sparse, 4)
    assert dense.shape == (1, 3, 4, 3)
    # the mean of a frame's samples equals its sparse value where the trajectory is linear
    torch.testing.assert_close(dense[0, 0].mean(0), sparse[0, 0], atol=1e-6, rtol=0)
    torch.testing.assert_close(dense[0, 1, :, 0], torch.tensor([0.625, 0.875, 1.25, 1.75]))


def test_untrained_decoder_reproduces_post_interpolation_and_trains():
    net = BlurDepthNet(CFG)
    dec = TrajectoryDecoder(CFG, net.self_window)
    frames = torch.rand(1, 8, 3, 56, 56)
    out = net(frames)
    sparse = torch.randn(1, 8, 3) * 1e-3
    dense = dec.decode(frames, sparse, out, torch.tensor([1.2]), 15)
    assert dense.shape == (1, 8, 15, 3)
    torch.testing.assert_close(dense, interpolate_trajectory(sparse, 15))
    dense.sum().backward()
    assert dec.head.weight.grad.abs().sum() > 0 and dec.prior.mlp[-1].weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="do not match the trajectory"):
        dec(sparse, dec.image_tokens(out["frame_features"], out["features"]), torch.zeros(1, 7, 900), torch.ones(1), 15)


def _blurred_clip(lengths: list[int], texture_seed: int, size: int = 96) -> torch.Tensor:
    """One random texture, frame k blurred horizontally by a box of lengths[k] px (sRGB in [0, 1])."""
    import cv2

    rng = np.random.default_rng(texture_seed)
    scene = cv2.GaussianBlur(rng.random((size, size)).astype(np.float32), (0, 0), 1.0)
    frames = []
    for n in lengths:
        k = np.zeros((1, 15), np.float32)
        k[0, 7 - n // 2 : 7 - n // 2 + n] = 1.0 / n
        lin = cv2.filter2D(scene, -1, k, borderType=cv2.BORDER_REFLECT)
        frames.append(np.repeat(lin[None], 3, 0) ** (1 / 2.2))
    return torch.from_numpy(np.stack(frames))[None]


def test_blur_spectra_see_the_blur_not_the_texture():
    a = blur_spectra(_blurred_clip([1, 1, 7, 3], texture_seed=3)).view(4, 4, 15, 15)
    b = blur_spectra(_blurred_clip([1, 1, 7, 3], texture_seed=4)).view(4, 4, 15, 15)
    assert torch.allclose(a.mean(0), torch.zeros(4, 15, 15), atol=1e-4)  # clip mean removed
    # frame 2's horizontal blur removes high x frequencies only: its spectrum drops along x, not y
    x_hi = a[2, :, 7, [1, 2, 12, 13]].mean()
    y_hi = a[2, :, [1, 2, 12, 13], 7].mean()
    assert x_hi < -1.0 and abs(float(y_hi)) < 0.3
    # another texture, the same blurs: the same spectra (the texture cancels)
    assert (a - b).abs().mean() < 0.2 * a.abs().mean()


def test_mirrored_frames_give_mirrored_spectra():
    frames = torch.rand(1, 3, 3, 64, 64)
    mirrored = blur_spectra(frames).unflatten(-1, (2, 2, 15, 15)).flip(-3).flip(-1).flatten(-4)  # tiles, x freqs
    torch.testing.assert_close(blur_spectra(frames.flip(-1)), mirrored, atol=1e-3, rtol=0)


def test_prior_resamples_one_curve_to_any_samples_per_frame():
    prior = SpectrumPrior(1e-3)
    torch.nn.init.normal_(prior.mlp[-1].weight, std=0.1)
    sparse, spectra, focal = torch.randn(2, 5, 3) * 1e-3, torch.randn(2, 5, 900), torch.tensor([1.0, 2.0])
    c30 = prior(sparse, spectra, focal, PRIOR_SAMPLES)
    c15 = prior(sparse, spectra, focal, 15)
    assert c30.shape == (2, 5, 30, 3) and c30.abs().max() > 0
    # sample j of S = 15 sits midway between samples 2j and 2j + 1 of S = 30
    torch.testing.assert_close(c15, 0.5 * (c30[:, :, 0::2] + c30[:, :, 1::2]), atol=1e-9, rtol=1e-5)


def test_forward_passes_create_no_tensors_off_the_model_device():
    """GPU readiness without a GPU: on the meta device any tensor built on the CPU inside a
    forward pass (a constant without ``device=``) makes the next op fail."""
    net = BlurDepthNet(CFG)
    dec = TrajectoryDecoder(CFG, net.self_window).to("meta")
    net = net.to("meta")
    frames = torch.zeros(1, 8, 3, 56, 56, device="meta")
    out = net(frames)
    assert out["depth"].device.type == "meta"
    dense = dec.decode(frames, torch.zeros(1, 8, 3, device="meta"), out, torch.ones(1, device="meta"), 15)
    assert dense.shape == (1, 8, 15, 3) and dense.device.type == "meta"
