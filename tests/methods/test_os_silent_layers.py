"""OS on a layer whose first-step charge is constant (std(H_1) = 0), and what that changes.

OTS fixes ``ratio = (θ₀ − mean(H_1)) / std(H_1)``. With PyTorch's default initialisation (the
common track's ``init = "default"``) OSR starts from its running statistics (0, 1), so the small
conv outputs are not rescaled, layers stop firing at step 1, and the next bias-free synapse
hands its neuron an all-zero H_1: the official formula divides by zero and every gradient is
NaN. The suite falls back to θ₀ wherever ``mean + std·ratio`` is not finite; where it is finite
(the paper-track ResNet-19 with OS's initialisation) nothing changes.
"""

from __future__ import annotations

import math

import pytest
import torch
from helpers import make_cell

from methods import get_method
from methods.libraries import get_library
from methods.snn.config import LIFConfig
from methods.snn.functional import set_step_mode
from methods.snn.osr import OTSNeuron


@pytest.fixture(autouse=True)
def one_thread():
    """Whole ResNets step on the CPU: one thread each keeps them quick on a shared machine."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@torch.no_grad()
def unguarded(self: OTSNeuron, h: torch.Tensor) -> torch.Tensor:
    """The OTS threshold as the paper and the official code write it, without the fallback."""
    mean, std = h.mean(), h.std()
    if self.ratio is None:
        self.ratio = (self.inner.cfg.threshold - mean) / std
    return mean + std * self.ratio


def step(method_name: str, track: str, architecture: str, shape: tuple[int, ...], batch: int,
         seed: int) -> tuple[torch.Tensor, list[torch.Tensor], list[OTSNeuron]]:
    """One os training step from fresh weights: loss, gradients and the OTS neurons."""
    cell = make_cell(method_name, track=track, dataset="cifar10", architecture=architecture)
    method = get_method(method_name)(cell)
    torch.manual_seed(0)
    model = method.build(shape, 10)
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(4, batch, *shape, generator=g)
    y = torch.randint(0, 10, (batch,), generator=g)
    loss = method.train_step(model, x, y, optimizer=None)
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    return loss, grads, [m for m in model.modules() if isinstance(m, OTSNeuron)]


def finite(loss: torch.Tensor, grads: list[torch.Tensor]) -> bool:
    return math.isfinite(loss.item()) and all(torch.isfinite(g).all() for g in grads)


def test_a_constant_first_step_keeps_the_fixed_threshold() -> None:
    """std(H_1) = 0: the ratio is infinite; every θ_t is θ₀ and the layer fires and resets as a
    plain LIF neuron with that threshold (computed here step by step)."""
    cfg = LIFConfig()
    neuron = OTSNeuron(get_library("torch").neuron(cfg)).train()
    set_step_mode(neuron, "s", 4)
    torch.manual_seed(0)
    inputs = [torch.zeros(4, 30)] + [torch.randn(4, 30) + 0.8 for _ in range(3)]
    v = torch.zeros(4, 30)
    for x in inputs:
        s = neuron(x)
        h = cfg.decay * v + x
        assert torch.equal(s, (h >= cfg.threshold).float())
        v = h - cfg.threshold * s
        torch.testing.assert_close(neuron.inner.membrane(), v)
    assert neuron.ratio is not None and not torch.isfinite(neuron.ratio)
    assert [th.item() for th in neuron.thresholds] == [cfg.threshold] * 4


def test_common_track_resnet18_meets_a_silent_layer_and_stays_finite(monkeypatch) -> None:
    loss, grads, ots = step("os", "common", "resnet18", (3, 32, 32), 4, seed=1)
    assert sum(not torch.isfinite(m.ratio) for m in ots) > 0  # std(H_1) = 0 somewhere
    assert finite(loss, grads)
    assert any(g.abs().sum() > 0 for g in grads)
    monkeypatch.setattr(OTSNeuron, "threshold_for", unguarded)
    loss, grads, _ = step("os", "common", "resnet18", (3, 32, 32), 4, seed=1)
    assert not finite(loss, grads)  # the formula itself gives NaN gradients here


def test_common_track_os_is_run_not_skipped() -> None:
    ok, reason = get_method("os").supports(make_cell("os", dataset="cifar10",
                                                     architecture="resnet18"))
    assert ok, reason


def test_paper_track_os_resnet19_is_unchanged(monkeypatch) -> None:
    """OS's ResNet-19 with OS's initialisation has no std(H_1) = 0 here: the loss and every
    gradient equal those of the unguarded formula bit for bit."""
    loss, grads, ots = step("os", "paper", "os_resnet19", (3, 32, 32), 4, seed=0)
    assert all(torch.isfinite(m.ratio) for m in ots)
    monkeypatch.setattr(OTSNeuron, "threshold_for", unguarded)
    raw_loss, raw_grads, _ = step("os", "paper", "os_resnet19", (3, 32, 32), 4, seed=0)
    assert finite(raw_loss, raw_grads)
    assert torch.equal(loss, raw_loss)
    assert all(torch.equal(a, b) for a, b in zip(grads, raw_grads, strict=True))

