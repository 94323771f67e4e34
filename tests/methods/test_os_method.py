"""OS: the OTS threshold keeps its ratio; OSR follows the sequence-statistics formulas."""

from __future__ import annotations

import pytest
import torch
from helpers import make_cell
from torch import nn

from methods import get_method
from methods.libraries import get_library
from methods.snn.config import LIFConfig
from methods.snn.functional import reset_states, set_step_mode
from methods.snn.osr import BOUND, OSRNorm, OTSNeuron


@pytest.mark.parametrize("library", ["torch", "spikingjelly"])
def test_ots_keeps_the_threshold_ratio(library):
    cfg = LIFConfig()
    neuron = OTSNeuron(get_library(library).neuron(cfg)).train()
    set_step_mode(neuron, "s", 6)  # the wrapper and its neuron
    torch.manual_seed(0)
    inputs = [torch.randn(4, 50) * (1 + 0.3 * t) + 0.2 * t for t in range(6)]
    v = torch.zeros(4, 50)
    ratio = None
    for t, x in enumerate(inputs):
        s = neuron(x)
        h = cfg.decay * v + x  # the charge, computed independently
        theta = neuron.thresholds[t]
        if t == 0:
            assert theta.item() == pytest.approx(cfg.threshold, abs=1e-5)
            ratio = ((cfg.threshold - h.mean()) / h.std()).item()
        assert ((theta - h.mean()) / h.std()).item() == pytest.approx(ratio, abs=1e-4)
        assert torch.equal(s, (h >= theta).float())  # fires with θ_t ...
        v = h - theta * s  # ... and resets with it
        torch.testing.assert_close(neuron.inner.membrane(), v, atol=1e-5, rtol=1e-5)
    assert len({round(th.item(), 4) for th in neuron.thresholds}) == 6  # it does move


def test_osr_running_statistics_follow_the_sequence_formula():
    norm = OSRNorm(3, dims=1).train()
    torch.manual_seed(1)
    first = [torch.randn(16, 3) * (1 + t) + t for t in range(4)]
    second = [torch.randn(16, 3) for _ in range(4)]
    norm.reset_state()
    for x in first:
        norm(x)
    # not folded yet: the running statistics change at the next sequence's first step
    torch.testing.assert_close(norm.running_mean, torch.zeros(3))
    mu_t = torch.stack([x.double().mean(0) for x in first])
    var_t = torch.stack([x.double().var(0, unbiased=False) for x in first])
    mu = mu_t.mean(0)
    var = (var_t + mu_t**2).mean(0) - mu**2
    norm.reset_state()
    norm(second[0])
    torch.testing.assert_close(norm.running_mean.double(), 0.1 * mu, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(norm.running_var.double(), 0.9 + 0.1 * var, atol=1e-5, rtol=1e-5)


def test_osr_forward_and_backward():
    torch.manual_seed(2)
    norm = OSRNorm(3, dims=1).train()
    with torch.no_grad():
        norm.running_mean.copy_(torch.tensor([0.5, -0.2, 0.1]))
        norm.running_var.copy_(torch.tensor([1.5, 0.8, 2.0]))
        norm.weight.copy_(torch.tensor([1.2, 0.7, 1.0]))
    norm.reset_state()
    norm._new_sequence = False  # keep the running statistics set above
    x = (torch.randn(32, 3) * 1.1 + 0.3).requires_grad_()
    y = norm(x)
    run_mean, run_std = norm.running_mean, torch.sqrt(norm.running_var + norm.eps)
    # forward: the running statistics (their inverse-std ratio is within the bound)
    torch.testing.assert_close(y, (x - run_mean) / run_std * norm.weight + norm.bias)
    dy = torch.randn_like(y)
    y.backward(dy)
    # backward: batch-statistics BN with γ' = γ·σ_t/σ̂, and ∂γ gains Σ dy·(μ_t − μ̂)/σ̂
    xr = x.detach().clone().requires_grad_()
    mu_t, var_t = xr.mean(0), xr.var(0, unbiased=False)
    sigma_t = torch.sqrt(var_t + norm.eps)
    gamma_eff = norm.weight.detach() * sigma_t.detach() / run_std
    ((xr - mu_t) / sigma_t * gamma_eff).backward(dy)
    torch.testing.assert_close(x.grad, xr.grad, rtol=1e-5, atol=1e-6)
    x_hat = (x.detach() - mu_t.detach()) / sigma_t.detach()
    want_gamma = (dy * x_hat).sum(0) + dy.sum(0) * (mu_t.detach() - run_mean) / run_std
    torch.testing.assert_close(norm.weight.grad, want_gamma, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(norm.bias.grad, dy.sum(0))


def test_osr_falls_back_to_batch_statistics_beyond_the_bound():
    norm = OSRNorm(2, dims=1).train()
    norm._new_sequence = False
    x = torch.randn(64, 2) * 0.01  # invstd ≈ 100 vs running invstd ≈ 1: ratio > 20
    y = norm(x)
    assert BOUND == 20.0
    expect = (x - x.mean(0)) / torch.sqrt(x.var(0, unbiased=False) + norm.eps)
    torch.testing.assert_close(y, expect, rtol=1e-4, atol=1e-5)


def test_os_trains_step_by_step_with_one_optimizer_step():
    method = get_method("os")(make_cell("os", timesteps=4))
    model = method.build((1, 8, 8), 10)
    assert any(isinstance(m, OSRNorm) for m in model.modules())
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    x_seq, y = torch.randn(4, 8, 1, 8, 8), torch.randint(0, 10, (8,))
    before = [p.clone() for p in model.parameters()]
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    method.train_step(model, x_seq, y, opt)
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    ots = [m for m in model.modules() if isinstance(m, OTSNeuron)]
    assert ots and all(len(m.thresholds) == 4 for m in ots)
    set_step_mode(model, "s", 4)
    reset_states(model)
    model.eval()
    assert method.predict(model, x_seq).shape == (8, 10)


def test_os_skips_snntorch_with_a_reason():
    ok, reason = get_method("os").supports(make_cell("os", "snntorch", reset="hard"))
    assert not ok and "threshold" in reason
