"""Seurat model: shapes, the ratio convention, query independence, refinement, weights I/O."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from motiondepth.errors import InputError
from motiondepth.models.seurat import Attention, Seurat, SeuratConfig, config_from_preset
from motiondepth.models.weights import load_weights, save_weights

TINY = SeuratConfig(hidden=32, heads=4, layers=2, mlp_ratio=2.0, grid=4, window=8, iterations=3, num_freqs=3)


def _inputs(b=2, nq=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    sup = torch.rand(b, 8, 16, 2, generator=g) * 100
    q = torch.rand(b, 8, nq, 2, generator=g) * 100
    return sup, torch.ones(b, 8, 16), q, torch.ones(b, 8, nq), torch.tensor([[100.0, 120.0]] * b)


def _perturbed(model):
    torch.manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model.eval()


def test_shapes_iterations_and_first_frame_is_zero():
    model = _perturbed(Seurat(TINY))
    out = model(*_inputs())
    assert len(out["query"]) == 3 and len(out["support"]) == 3
    assert out["query"][-1].shape == (2, 8, 5) and out["support"][-1].shape == (2, 8, 16)
    assert torch.all(out["query"][-1][:, 0] == 0) and torch.all(out["support"][-1][:, 0] == 0)
    assert not torch.allclose(out["query"][0], out["query"][-1])  # refinement changes the estimate


def test_inference_shortcuts_change_nothing():
    # the last pass may skip the supporting work no query reads; self-attention fuses q/k/v
    model = _perturbed(Seurat(TINY))
    full = model(*_inputs())
    fast = model(*_inputs(), support_output=False)
    assert len(fast["support"]) == len(full["support"]) - 1
    for a, b in zip(full["query"], fast["query"], strict=True):
        torch.testing.assert_close(a, b, atol=0, rtol=0)
    attn = _perturbed(Attention(32, 4))
    x = torch.randn(3, 7, 32)
    torch.testing.assert_close(attn(x, x), attn(x, x.clone()), atol=1e-6, rtol=1e-5)  # fused vs separate


def test_queries_are_independent_of_each_other():
    model = _perturbed(Seurat(TINY))
    sup, sv, q, qv, size = _inputs(nq=6)
    full = model(sup, sv, q, qv, size)["query"][-1]
    part = model(sup, sv, q[:, :, 2:4], qv[:, :, 2:4], size)["query"][-1]
    torch.testing.assert_close(full[:, :, 2:4], part, atol=1e-5, rtol=1e-5)


def test_gradients_reach_both_branches():
    model = Seurat(TINY)
    out = model(*_inputs())
    (out["query"][-1].sum() + out["support"][-1].sum()).backward()
    assert model.head_q[1].weight.grad.abs().sum() > 0 and model.s_time[0].attn.q.weight.grad is not None


def test_presets():
    assert config_from_preset("paper").hidden == 384 and config_from_preset("paper").grid == 24
    assert config_from_preset("small").hidden < 384
    with pytest.raises(KeyError, match="unknown Seurat preset"):
        config_from_preset("huge")


def test_weights_round_trip_and_strict_errors(tmp_path):
    from dataclasses import asdict

    model = _perturbed(Seurat(TINY))
    path = save_weights(model, tmp_path / "m.safetensors", {"model": "seurat", "model_config": asdict(TINY)})
    loaded = Seurat.from_pretrained(str(path))
    inp = _inputs()
    torch.testing.assert_close(model(*inp)["query"][-1], loaded(*inp)["query"][-1])
    # a card for another model, a corrupt file, a missing file: clear errors
    save_weights(model, tmp_path / "other.safetensors", {"model": "blur-depth", "model_config": {}})
    with pytest.raises(InputError, match="expected 'seurat'"):
        Seurat.from_pretrained(str(tmp_path / "other.safetensors"))
    (tmp_path / "bad.safetensors").write_bytes(b"not a safetensors file")
    (tmp_path / "bad.json").write_text('{"model": "seurat"}')
    with pytest.raises(InputError, match="not a readable safetensors"):
        load_weights(tmp_path / "bad.safetensors", "seurat")
    with pytest.raises(InputError, match="no such checkpoint"):
        Seurat.from_pretrained(str(tmp_path / "nope.safetensors"))
    # strict: weights of a different size do not load silently
    card = {"model": "seurat", "model_config": asdict(TINY) | {"hidden": 16}}
    (tmp_path / "m.json").write_text(__import__("json").dumps(card))
    with pytest.raises(InputError, match="of another shape"):
        Seurat.from_pretrained(str(path))


def _prior(b=2, nq=5, seed=3):
    g = torch.Generator().manual_seed(seed)
    sl, ql = torch.randn(b, 8, 16, generator=g), 3 * torch.randn(b, 8, nq, generator=g)  # some beyond the clamp
    sl[:, 0], ql[:, 0] = 0, 0
    return {"support_log_ratio": sl, "support_residual": torch.rand(b, 16, generator=g) * 5,
            "query_log_ratio": ql, "query_residual": torch.full((b, nq), float("inf")),
            "window_residual": torch.rand(b, generator=g)}  # fmt: skip


def test_geometry_prior_model_starts_from_the_prior_and_needs_it():
    from dataclasses import replace

    from motiondepth.models.seurat import PRIOR_CLAMP

    model = Seurat(replace(TINY, geometry_prior=True))  # zero-initialised heads: no correction yet
    prior = _prior()
    out = model(*_inputs(), prior=prior)
    torch.testing.assert_close(out["query"][-1], prior["query_log_ratio"].clamp(-PRIOR_CLAMP, PRIOR_CLAMP))
    torch.testing.assert_close(out["support"][-1], prior["support_log_ratio"].clamp(-PRIOR_CLAMP, PRIOR_CLAMP))
    with pytest.raises(ValueError, match="rigid-geometry priors"):
        model(*_inputs())
    # trained (perturbed), it corrects the prior, and its queries stay independent of one another
    model = _perturbed(model)
    sup, sv, q, qv, size = _inputs()
    full = model(sup, sv, q, qv, size, prior=prior)["query"][-1]
    assert torch.isfinite(full).all() and not torch.allclose(full, prior["query_log_ratio"].clamp(-2, 2))
    part = {**prior, "query_log_ratio": prior["query_log_ratio"][:, :, 1:3],
            "query_residual": prior["query_residual"][:, 1:3]}  # fmt: skip
    alone = model(sup, sv, q[:, :, 1:3], qv[:, :, 1:3], size, prior=part)["query"][-1]
    torch.testing.assert_close(full[:, :, 1:3], alone, atol=1e-5, rtol=1e-5)


def test_geometry_prior_model_starts_from_a_plain_checkpoint(tmp_path):
    from dataclasses import asdict, replace

    from motiondepth.train.loop import load_init_weights

    plain = _perturbed(Seurat(TINY))
    path = save_weights(plain, tmp_path / "plain.safetensors", {"model": "seurat", "model_config": asdict(TINY)})
    geo = Seurat(replace(TINY, geometry_prior=True))
    load_init_weights(geo, str(path))  # input layers widened, heads zeroed: it returns the prior exactly
    torch.testing.assert_close(geo.s_time[0].attn.q.weight, plain.s_time[0].attn.q.weight)
    prior = _prior()
    out = geo(*_inputs(), prior=prior)["query"][-1]
    torch.testing.assert_close(out, prior["query_log_ratio"].clamp(-2, 2))
    with pytest.raises(InputError, match="do not fit"):  # the other way round is refused
        load_init_weights(Seurat(TINY), str(save_weights(geo, tmp_path / "geo.safetensors", {"model": "seurat"})))


def test_window_mismatch_raises():
    model = Seurat(TINY)
    sup, sv, q, qv, size = _inputs()
    with pytest.raises(ValueError, match="window length mismatch"):
        model(sup, sv, q[:, :6], qv[:, :6], size)


def test_shipped_checkpoint_loads_strictly():
    from motiondepth.models.weights import available

    if "seurat-small" not in available():
        pytest.skip("seurat-small not shipped in this checkout")
    model = Seurat.from_pretrained("seurat-small")
    assert model.card["model"] == "seurat" and np.isfinite(model.card["validation"]["l1_query"])


def test_shipped_checkpoint_beats_no_change_on_held_out_windows():
    from motiondepth.data.seurat_synth import EVAL_SEED_BASE, window_sample
    from motiondepth.models.weights import available
    from motiondepth.train.seurat_task import collate, masked_l1

    if "seurat-small" not in available():
        pytest.skip("seurat-small not shipped in this checkout")
    model = Seurat.from_pretrained("seurat-small")
    b = collate([window_sample(EVAL_SEED_BASE + 500 + i) for i in range(8)], model.cfg.geometry_prior)
    with torch.no_grad():
        out = model(b["support_tracks"], b["support_visible"], b["query_tracks"], b["query_visible"], b["image_size"],
                    prior=b.get("prior"))  # fmt: skip
    err = float(masked_l1(out["query"][-1], b["query_log_ratio"], b["query_valid"]))
    zero = float(masked_l1(torch.zeros_like(b["query_log_ratio"]), b["query_log_ratio"], b["query_valid"]))
    assert err < 0.7 * zero, (err, zero)


@pytest.mark.parametrize("geometry_prior", [False, True])
def test_forward_creates_no_tensors_off_the_model_device(geometry_prior):
    """GPU readiness without a GPU: on the meta device a CPU tensor made inside forward fails."""
    from dataclasses import replace

    model = Seurat(replace(TINY, geometry_prior=geometry_prior)).to("meta")
    sup, sv, q, qv, size = (t.to("meta") for t in _inputs())
    prior = None
    if geometry_prior:
        z = lambda *shape: torch.zeros(*shape, device="meta")
        prior = {"support_log_ratio": z(2, 8, 16), "support_residual": z(2, 16), "query_log_ratio": z(2, 8, 5),
                 "query_residual": z(2, 5), "window_residual": z(2)}  # fmt: skip
    out = model(sup, sv, q, qv, size, prior=prior)
    assert out["query"][-1].shape == (2, 8, 5) and out["query"][-1].device.type == "meta"
