"""Blur-depth network and dense trajectory decoder: contracts, shapes, post-interpolation start."""

from __future__ import annotations

import pytest
import torch

from motiondepth.models.blur_depth import BlurDepthNet, config_from_preset
from motiondepth.models.trajectory_decoder import TrajectoryDecoder, interpolate_trajectory

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
    dense = dec(sparse, out["frame_features"], out["features"], 15)
    assert dense.shape == (1, 8, 15, 3)
    torch.testing.assert_close(dense, interpolate_trajectory(sparse, 15))
    dense.sum().backward()
    assert dec.head.weight.grad.abs().sum() > 0
