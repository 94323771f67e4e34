"""OTTT, SLTT and SLTT-K against an independent per-step computation written by hand."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from helpers import make_cell
from reference_surrogate import ref_surrogate_grad
from torch import nn

from methods import get_method
from methods.ottt_a import OUTPUT_SCALE

T, B, N_IN, N_HID, N_OUT = 5, 6, 10, 14, 4


def two_layer(method):
    f = method.layers()
    return nn.Sequential(f.linear(N_IN, N_HID), f.neuron(), f.linear(N_HID, N_OUT))


def linear_of(layer):
    """The conv/linear inside a (possibly wrapped) synapse."""
    return getattr(layer, "module", layer)


def effective(lin):
    get = getattr(lin, "effective_weight", None) or getattr(lin, "get_weight", None)
    return get() if get else lin.weight


def reference_grads(net, x_seq, y, cfg, use_trace: bool, scale: float, steps=None):
    """Hand-written online gradients of Σ_t CE(o_t, y)/T (only the steps in ``steps``).

    Per step: h = λ·v + W1 x_t + b1 (v carried without grad), s = Θ(h − θ), soft or hard reset;
    â = λ·â + s; o = W2 (k·s) + b2; δ2 = (softmax(o) − onehot)/(B·T);
    ∇W2 += δ2ᵀ (k·â if use_trace else k·s); δ1 = (k·δ2 W2) ⊙ σ'(h − θ); ∇W1 += δ1ᵀ x_t.
    Gradients w.r.t. the effective weights, then through weight standardisation if any.
    """
    l1, l2 = linear_of(net[0]), linear_of(net[2])
    with torch.no_grad():
        w1, w2 = effective(l1), effective(l2)
        gw1, gb1 = torch.zeros_like(w1), torch.zeros(N_HID)
        gw2, gb2 = torch.zeros_like(w2), torch.zeros(N_OUT)
        v = torch.zeros(B, N_HID)
        trace = torch.zeros(B, N_HID)
        onehot = F.one_hot(y, N_OUT).float()
        for t, x in enumerate(x_seq):
            h = cfg.decay * v + x @ w1.t() + l1.bias
            s = (h >= cfg.threshold).float()
            v = h - cfg.threshold * s if cfg.reset == "soft" else h * (1 - s)
            trace = cfg.decay * trace + s
            if steps is not None and t not in steps:
                continue
            o = (scale * s) @ w2.t() + l2.bias
            d2 = (o.softmax(1) - onehot) / (B * T)
            gw2 += d2.t() @ (scale * (trace if use_trace else s))
            gb2 += d2.sum(0)
            d1 = (scale * d2 @ w2) * ref_surrogate_grad(h - cfg.threshold, cfg.surrogate, cfg.alpha)
            gw1 += d1.t() @ x
            gb1 += d1.sum(0)
    out = {}
    for lin, gw, gb in ((l1, gw1, gb1), (l2, gw2, gb2)):
        params = [p for p in (lin.weight, getattr(lin, "gain", None)) if p is not None]
        if len(params) > 1:  # push ∂L/∂Ŵ through Ŵ = WS(W, gain)
            grads = torch.autograd.grad(effective(lin), params, gw)
        else:
            grads = (gw,)
        out.update({id(p): g for p, g in zip(params, grads, strict=True)})
        out[id(lin.bias)] = gb
    return out


def check(net, ref):
    for p in net.parameters():
        torch.testing.assert_close(p.grad, ref[id(p)], rtol=1e-4, atol=1e-6)


def inputs():
    return torch.randn(T, B, N_IN) * 1.2 + 0.6, torch.randint(0, N_OUT, (B,))


@pytest.mark.parametrize("library", ["torch", "spikingjelly", "snntorch"])
@pytest.mark.parametrize("name", ["ottt_a", "ottt_o"])
def test_ottt_gradient_uses_presynaptic_trace(name, library):
    reset = "hard" if library == "snntorch" else "soft"  # snntorch expresses hard reset only
    method = get_method(name)(make_cell(name, library, timesteps=T, reset=reset))
    net = two_layer(method)
    x_seq, y = inputs()
    method.train_step(net, x_seq, y, optimizer=None)
    check(net, reference_grads(net, x_seq, y, method.lif, use_trace=True, scale=OUTPUT_SCALE))


@pytest.mark.parametrize("library", ["torch", "spikingjelly", "snntorch"])
def test_sltt_gradient_uses_instantaneous_spikes(library):
    reset = "hard" if library == "snntorch" else "soft"
    method = get_method("sltt")(make_cell("sltt", library, timesteps=T, reset=reset))
    net = two_layer(method)
    x_seq, y = inputs()
    method.train_step(net, x_seq, y, optimizer=None)
    check(net, reference_grads(net, x_seq, y, method.lif, use_trace=False, scale=1.0))


def test_reference_distinguishes_trace_from_spike():
    """The two tests above can fail: trace- and spike-based gradients differ here."""
    method = get_method("sltt")(make_cell("sltt", timesteps=T))
    net = two_layer(method)
    x_seq, y = inputs()
    w2 = net[2].weight
    with_trace = reference_grads(net, x_seq, y, method.lif, True, 1.0)[id(w2)]
    with_spike = reference_grads(net, x_seq, y, method.lif, False, 1.0)[id(w2)]
    assert (with_trace - with_spike).abs().max() > 1e-3


@pytest.mark.parametrize("library", ["spikingjelly"])
def test_ottt_agrees_across_libraries_on_same_weights(library):
    """torch's trace synapse vs spikingjelly's OTTTLIFNode + GradwithTrace + WSLinear."""
    x_seq, y = inputs()
    ref = get_method("ottt_a")(make_cell("ottt_a", "torch", timesteps=T))
    net_ref = two_layer(ref)
    other = get_method("ottt_a")(make_cell("ottt_a", library, timesteps=T))
    net_other = two_layer(other)
    for a, b in zip(net_ref.parameters(), net_other.parameters(), strict=True):
        b.data.copy_(a.data)
    ref.train_step(net_ref, x_seq, y, optimizer=None)
    other.train_step(net_other, x_seq, y, optimizer=None)
    assert "OTTTLIFNode" in repr(net_other) and "GradwithTrace" in repr(net_other)
    for a, b in zip(net_ref.parameters(), net_other.parameters(), strict=True):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-4, atol=1e-6)


def test_sltt_agrees_with_spikingjelly_sltt_node():
    x_seq, y = inputs()
    ref = get_method("sltt")(make_cell("sltt", "torch", timesteps=T))
    net_ref = two_layer(ref)
    other = get_method("sltt")(make_cell("sltt", "spikingjelly", timesteps=T))
    net_other = two_layer(other)
    net_other.load_state_dict(net_ref.state_dict())
    ref.train_step(net_ref, x_seq, y, optimizer=None)
    other.train_step(net_other, x_seq, y, optimizer=None)
    assert "SLTTLIFNode" in repr(net_other)
    for a, b in zip(net_ref.parameters(), net_other.parameters(), strict=True):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-5, atol=1e-7)


class CountingSGD(torch.optim.SGD):
    def __init__(self, params):
        super().__init__(params, lr=0.0)
        self.steps = 0

    def step(self, closure=None):
        self.steps += 1
        return super().step(closure)


@pytest.mark.parametrize("name, expected", [("ottt_a", 1), ("ottt_o", T), ("sltt", 1)])
def test_optimizer_steps_per_batch(name, expected):
    method = get_method(name)(make_cell(name, timesteps=T))
    net = two_layer(method)
    opt = CountingSGD(net.parameters())
    method.train_step(net, *inputs(), optimizer=opt)
    assert opt.steps == expected


@pytest.mark.parametrize("k", [1, 2, 3])
def test_sltt_k_backward_on_exactly_k_steps(k):
    method = get_method("sltt_k")(make_cell("sltt_k", timesteps=T, params={"k": k}))
    net = two_layer(method)
    calls = []
    net[0].weight.register_hook(lambda grad: calls.append(1))
    x_seq, y = inputs()
    for _ in range(3):
        calls.clear()
        net.zero_grad()
        method.train_step(net, x_seq, y, optimizer=None)
        assert len(calls) == k and len(method.grad_steps) == k
        assert all(0 <= t < T for t in method.grad_steps)
        check(net, reference_grads(net, x_seq, y, method.lif, False, 1.0, method.grad_steps))


def test_sltt_k_draws_steps_uniformly():
    method = get_method("sltt_k")(make_cell("sltt_k", timesteps=T, params={"k": 2}))
    net = two_layer(method)
    counts = torch.zeros(T)
    x_seq, y = inputs()
    for _ in range(150):
        method.train_step(net, x_seq, y, optimizer=None)
        for t in method.grad_steps:
            counts[t] += 1
    assert counts.sum() == 300
    assert counts.min() > 35 and counts.max() < 85  # expected 60 each


def test_sltt_k_rejects_k_larger_than_t():
    ok, reason = get_method("sltt_k").supports(make_cell("sltt_k", timesteps=2, params={"k": 3}))
    assert not ok and "k ≤ T" in reason
