"""The generic training loop: schedule, determinism, resume after interruption, overrides, DDP (gloo)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from motiondepth.train.loop import TrainConfig, apply_overrides, fit, lr_factor, parse_overrides


class Interrupt(Exception):
    pass


class ToyTask:
    """Linear regression y = 3x − 1 with batches drawn from (step, rank)."""

    name = "toy"

    def __init__(self, stop_at: int | None = None) -> None:
        self.stop_at = stop_at
        self.finished = None

    def build_model(self):
        return nn.Linear(1, 1)

    def batch(self, step, rank, world):
        if self.stop_at is not None and step == self.stop_at:
            raise Interrupt  # like Ctrl-C in the middle of a run
        g = torch.Generator().manual_seed(step * 1000 + rank)
        x = torch.randn(16, 1, generator=g)
        return x, 3 * x - 1

    def loss(self, model, batch):
        x, y = batch
        loss = ((model(x) - y) ** 2).mean()
        return loss, {"mse": float(loss.detach())}

    def validate(self, model):
        x = torch.linspace(-1, 1, 11)[:, None]
        return {"mse": float(((model(x) - (3 * x - 1)) ** 2).mean())}

    def config_dict(self):
        return {"toy": True}

    def finish(self, model, out, metrics, train_cfg):
        self.finished = {k: v.clone() for k, v in model.state_dict().items()}
        torch.save(self.finished, Path(out) / "final.pt")


CFG = dict(steps=40, lr=0.3, warmup=5, log_every=5, val_every=20, ckpt_every=10)


def test_lr_schedule():
    assert lr_factor(0, 10, 100) == pytest.approx(0.1)
    assert lr_factor(9, 10, 100) == pytest.approx(1.0)
    assert lr_factor(55, 10, 100) == pytest.approx(0.5)
    assert lr_factor(100, 10, 100) == 0.0


def test_fit_learns_and_logs(tmp_path):
    task = ToyTask()
    metrics = fit(task, TrainConfig(**CFG), tmp_path, progress=False)
    assert metrics["mse"] < 0.05
    lines = [json.loads(x) for x in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert any("val" in x for x in lines) and lines[-1]["step"] == 40
    assert json.loads((tmp_path / "config.json").read_text())["task"] == "toy"


def test_interrupted_run_resumes_exactly(tmp_path):
    full = ToyTask()
    fit(full, TrainConfig(**CFG), tmp_path / "a", progress=False)
    with pytest.raises(Interrupt):
        fit(ToyTask(stop_at=25), TrainConfig(**CFG), tmp_path / "b", progress=False)
    assert torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=True)["step"] == 20  # plain state only
    resumed = ToyTask()
    fit(resumed, TrainConfig(**CFG), tmp_path / "b", progress=False)
    for k, v in full.finished.items():
        torch.testing.assert_close(resumed.finished[k], v)


def test_prefetch_changes_nothing_but_time(tmp_path):
    plain, ahead = ToyTask(), ToyTask()
    fit(plain, TrainConfig(**CFG), tmp_path / "a", progress=False)
    fit(ahead, TrainConfig(**CFG, prefetch=3), tmp_path / "b", progress=False)
    for k, v in plain.finished.items():
        torch.testing.assert_close(ahead.finished[k], v, rtol=0, atol=0)
    seconds = [json.loads(x).get("seconds") for x in (tmp_path / "b" / "log.jsonl").read_text().splitlines()]
    assert all(s >= 0 for s in seconds if s is not None) and any(s is not None for s in seconds)


def test_device_and_autocast_settings(tmp_path):
    from motiondepth.errors import InputError
    from motiondepth.train.loop import to_device

    metrics = fit(ToyTask(), TrainConfig(**CFG, device="cpu", amp=True), tmp_path / "amp", progress=False)
    assert metrics["mse"] < 0.05  # bfloat16 autocast still learns
    with pytest.raises(InputError, match=r"train\.device"):
        fit(ToyTask(), TrainConfig(**CFG, device="gpu"), tmp_path / "bad", progress=False)
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="no GPU"):
            fit(ToyTask(), TrainConfig(**CFG, device="cuda"), tmp_path / "none", progress=False)
    nested = {"a": [torch.ones(1), (torch.zeros(2), "keep")], "n": 3}
    moved = to_device(nested, "cpu")
    assert isinstance(moved["a"][1], tuple) and moved["a"][1][1] == "keep" and moved["n"] == 3


def test_init_weights_fine_tune(tmp_path):
    from motiondepth.errors import InputError
    from motiondepth.models.weights import save_weights

    start = nn.Linear(1, 1)
    with torch.no_grad():
        start.weight.fill_(3.0)
        start.bias.fill_(-1.0)
    path = save_weights(start, tmp_path / "start.safetensors", {"model": "toy"})
    task = ToyTask()
    metrics = fit(task, TrainConfig(**{**CFG, "lr": 0.0, "init": str(path)}), tmp_path / "ft", progress=False)
    assert metrics["mse"] < 1e-10  # started from the solution (with lr 0 it stays there)
    torch.testing.assert_close(task.finished["weight"], start.weight.detach())
    wrong = save_weights(nn.Linear(2, 1), tmp_path / "wrong.safetensors", {"model": "toy"})
    with pytest.raises(InputError, match="do not fit this model"):
        fit(ToyTask(), TrainConfig(**{**CFG, "init": str(wrong)}), tmp_path / "bad", progress=False)


def test_overrides():
    cfg = TrainConfig()
    apply_overrides(cfg, parse_overrides(["steps=7", "lr=1e-3"]))
    assert cfg.steps == 7 and cfg.lr == 1e-3
    with pytest.raises(KeyError, match="unknown setting"):
        apply_overrides(cfg, parse_overrides(["nope=1"]))
    with pytest.raises(ValueError, match="not key=value"):
        parse_overrides(["steps"])


DDP_SCRIPT = """
import sys, torch
sys.path.insert(0, {tests!r})
from test_loop import ToyTask, CFG
from motiondepth.train.loop import TrainConfig, fit
fit(ToyTask(), TrainConfig(**CFG), {out!r}, progress=False)
"""


@pytest.mark.slow
def test_torchrun_two_gloo_processes(tmp_path):
    script = tmp_path / "ddp.py"
    script.write_text(DDP_SCRIPT.format(tests=str(Path(__file__).parent), out=str(tmp_path / "run")))
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29517", str(script)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    cfg = json.loads((tmp_path / "run" / "config.json").read_text())
    assert cfg["world_size"] == 2
    final = torch.load(tmp_path / "run" / "final.pt")
    assert abs(float(final["weight"]) - 3.0) < 0.3
