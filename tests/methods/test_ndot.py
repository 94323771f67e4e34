"""NDOT-A/O against a hand-unrolled computation of its trace and weight gradients."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from helpers import make_cell
from reference_surrogate import ref_surrogate_grad
from torch import nn

from methods import get_method
from methods.base import Method
from methods.ottt_a import OUTPUT_SCALE
from methods.snn.config import LIFConfig
from methods.snn.ndot_trace import NDOTTraceNeuron, ndot_factor

T, B, N_IN, N_HID, N_OUT = 5, 6, 10, 14, 4
DEAD = 0
"""A hidden unit given zero weights and bias: its V_t − θ s_t stays 0, so P_t takes λ."""


def two_layer(method: Method) -> nn.Sequential:
    f = method.layers()
    net = nn.Sequential(f.linear(N_IN, N_HID), f.neuron(), f.readout(N_HID, N_OUT)).double()
    with torch.no_grad():
        net[0].module.weight[DEAD].zero_()
        net[0].module.bias[DEAD] = 0.0
    return net


def inputs() -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.randn(T, B, N_IN, dtype=torch.float64) * 1.5 + 0.6
    return x, torch.randint(0, N_OUT, (B,))


def reference(net: nn.Sequential, x_seq: torch.Tensor, y: torch.Tensor,
              cfg: LIFConfig) -> tuple[dict[int, torch.Tensor], torch.Tensor, dict[str, int]]:
    """Online gradients of Σ_t CE(o_t, y)/T written out per step (soft reset, detached;
    W1 weight-standardised, W2 the plain readout):
    h = λv + W1 x_t + b1, s = Θ(h − θ), v = h − θs, q = v − θs,
    P = clamp(q / q_prev, −λ, λ) (λ where q_prev = 0), â = P·â + s (â_1 = s_1),
    o = W2 (k·s) + b2, δ2 = (softmax(o) − onehot)/(B·T), ∇W2 += δ2ᵀ (k·â),
    δ1 = (k·δ2 W2) ⊙ σ'(h − θ), ∇W1 += δ1ᵀ x_t; then through weight standardisation.
    Also returns the last trace and how often each branch of P was taken."""
    l1, l2 = net[0].module, net[2].module
    lam, theta = cfg.decay, cfg.threshold
    branches = {"ratio": 0, "clamped": 0, "zero_denominator": 0}
    with torch.no_grad():
        w1, w2 = l1.effective_weight(), l2.weight
        g = {"w1": torch.zeros_like(w1), "b1": torch.zeros_like(l1.bias),
             "w2": torch.zeros_like(w2), "b2": torch.zeros_like(l2.bias)}
        v = torch.zeros(B, N_HID, dtype=torch.float64)
        trace = q_prev = torch.zeros_like(v)
        onehot = F.one_hot(y, N_OUT).double()
        for t, x in enumerate(x_seq):
            h = lam * v + x @ w1.t() + l1.bias
            s = (h >= theta).double()
            v = h - theta * s
            q = v - theta * s
            if t == 0:
                trace = s
            else:
                p = torch.empty_like(q)
                for idx in range(q.numel()):
                    num, den = float(q.view(-1)[idx]), float(q_prev.view(-1)[idx])
                    if den == 0.0:
                        value = lam
                        branches["zero_denominator"] += 1
                    else:
                        value = min(max(num / den, -lam), lam)
                        branches["clamped" if value != num / den else "ratio"] += 1
                    p.view(-1)[idx] = value
                trace = p * trace + s
            q_prev = q
            o = (OUTPUT_SCALE * s) @ w2.t() + l2.bias
            d2 = (o.softmax(1) - onehot) / (B * T)
            g["w2"] += d2.t() @ (OUTPUT_SCALE * trace)
            g["b2"] += d2.sum(0)
            d1 = (OUTPUT_SCALE * d2 @ w2) * ref_surrogate_grad(h - theta, cfg.surrogate, cfg.alpha)
            g["w1"] += d1.t() @ x
            g["b1"] += d1.sum(0)
    gw, ggain = torch.autograd.grad(l1.effective_weight(), (l1.weight, l1.gain), g["w1"])
    grads = {id(l1.weight): gw, id(l1.gain): ggain, id(l1.bias): g["b1"],
             id(l2.weight): g["w2"], id(l2.bias): g["b2"]}
    return grads, trace, branches


@pytest.mark.parametrize("name", ["ndot_a", "ndot_o"])
def test_gradient_and_trace_match_the_hand_unrolled_reference(name: str) -> None:
    method = get_method(name)(make_cell(name, timesteps=T))
    net = two_layer(method)
    x_seq, y = inputs()
    ref, trace, branches = reference(net, x_seq, y, method.lif)
    method.train_step(net, x_seq, y, optimizer=None)  # gradients only: o equals a
    assert all(n > 0 for n in branches.values()), branches  # every branch of P is exercised
    neuron = net[1]
    assert isinstance(neuron, NDOTTraceNeuron)
    torch.testing.assert_close(neuron.trace, trace, rtol=1e-12, atol=1e-12)
    for p in net.parameters():
        torch.testing.assert_close(p.grad, ref[id(p)], rtol=1e-10, atol=1e-12)


def test_ndot_differs_from_ottt_only_in_the_trace() -> None:
    """Same weights and input: the first layer's gradients agree, the readout's differ."""
    x_seq, y = inputs()
    grads = {}
    for name in ("ottt_a", "ndot_a"):
        method = get_method(name)(make_cell(name, timesteps=T))
        torch.manual_seed(1)
        net = two_layer(method)
        method.train_step(net, x_seq, y, optimizer=None)
        grads[name] = [p.grad for p in net.parameters()]
    ottt, ndot = grads["ottt_a"], grads["ndot_a"]
    for a, b in zip(ottt[:3], ndot[:3], strict=True):  # W1, gain, b1: spikes, not traces
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14)
    assert (ottt[3] - ndot[3]).abs().max() > 1e-4  # W2 from λ- vs P_t-decayed traces


def test_factor_is_the_clamped_safe_ratio() -> None:
    now = torch.tensor([0.2, 3.0, -3.0, 1.0, 0.0, float("nan"), 1.0])
    before = torch.tensor([0.8, 1.0, 1.0, 0.0, 0.0, 1.0, float("inf")])
    expected = torch.tensor([0.25, 0.5, -0.5, 0.5, 0.5, 0.5, 0.5])
    torch.testing.assert_close(ndot_factor(now, before, 0.5), expected)


def test_a_steps_once_and_o_steps_every_time_step() -> None:
    class CountingSGD(torch.optim.SGD):
        steps = 0

        def step(self, closure=None):  # type: ignore[no-untyped-def, override]
            self.steps += 1
            return super().step(closure)

    for name, expected in (("ndot_a", 1), ("ndot_o", T)):
        method = get_method(name)(make_cell(name, timesteps=T))
        net = two_layer(method)
        opt = CountingSGD(net.parameters(), lr=0.0)
        method.train_step(net, *inputs(), optimizer=opt)
        assert opt.steps == expected, name


@pytest.mark.parametrize("library, reset", [("spikingjelly", "soft"), ("snntorch", "hard")])
def test_other_libraries_give_the_torch_gradient(library: str, reset: str) -> None:
    """The trace neuron around spikingjelly's plain LIFNode (with its WSLinear and
    GradwithTrace) or snntorch's Leaky (hard reset only), against torch's, same weights."""
    x_seq, y = inputs()
    nets = []
    for lib in ("torch", library):
        method = get_method("ndot_a")(make_cell("ndot_a", lib, timesteps=T, reset=reset))
        net = two_layer(method)
        if nets:
            for a, b in zip(nets[0].parameters(), net.parameters(), strict=True):
                b.data.copy_(a.data)
        method.train_step(net, x_seq, y, optimizer=None)
        nets.append(net)
    text = repr(nets[1])
    if library == "spikingjelly":
        assert "LIFNode" in text and "OTTTLIFNode" not in text and "GradwithTrace" in text
    else:
        assert "Leaky" in text
    for a, b in zip(nets[0].parameters(), nets[1].parameters(), strict=True):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ["ndot_a", "ndot_o"])
def test_training_lowers_the_loss(name: str) -> None:
    """A learnable task (the label is the strongest of four input groups), 20 iterations."""
    method = get_method(name)(make_cell(name, timesteps=4))
    f = method.layers()
    net = nn.Sequential(f.linear(16, 32), f.neuron(), f.linear(32, N_OUT))
    gen = torch.Generator().manual_seed(0)
    y = torch.randint(0, N_OUT, (64,), generator=gen)
    x = torch.rand(64, 16, generator=gen) + 1.5 * F.one_hot(y, N_OUT).repeat_interleave(4, 1)
    x_seq = x.expand(4, -1, -1)
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    losses = [float(method.train_step(net, x_seq, y, opt)) for _ in range(20)]
    net.eval()
    accuracy = float((method.predict(net, x_seq).argmax(1) == y).float().mean())
    assert losses[-1] < 0.5 * losses[0] and accuracy > 0.9, (losses[0], losses[-1], accuracy)


def test_refuses_a_neuron_that_keeps_its_own_trace() -> None:
    class WithTrace(nn.Module):
        provides_trace = True

    with pytest.raises(ValueError, match="own trace"):
        NDOTTraceNeuron(WithTrace())  # type: ignore[arg-type]
