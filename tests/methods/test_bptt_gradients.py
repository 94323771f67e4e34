"""bptt and bptt_reset against a hand-unrolled LIF network (autograd through every step)."""

from __future__ import annotations

import pytest
import torch
from helpers import make_cell
from reference_surrogate import ref_spike
from torch import nn

from methods import get_method
from methods.snn.config import LIFConfig


def tiny_net(method, n_in=12, n_hidden=16, n_out=5):
    f = method.layers()
    return nn.Sequential(f.linear(n_in, n_hidden), f.neuron(), f.linear(n_hidden, n_out))


def unrolled_reference(net, x_seq, y, cfg: LIFConfig, keep_reset: bool):
    """Loss of the same weights, unrolled by hand; the reset spike kept iff ``keep_reset``."""
    w1, b1 = net[0].weight, net[0].bias
    w2, b2 = net[2].weight, net[2].bias
    v = torch.zeros(x_seq.shape[1], w1.shape[0])
    outs = []
    for x in x_seq:
        h = cfg.decay * v + x @ w1.t() + b1
        s = ref_spike(h - cfg.threshold, cfg.surrogate, cfg.alpha)
        r = s if keep_reset else s.detach()
        v = h - cfg.threshold * r if cfg.reset == "soft" else h * (1 - r)
        outs.append(s @ w2.t() + b2)
    return nn.functional.cross_entropy(torch.stack(outs).mean(0), y)


def grads(net):
    return [p.grad.clone() for p in net.parameters()]


@pytest.mark.parametrize("library", ["torch", "spikingjelly"])
@pytest.mark.parametrize("reset", ["soft", "hard"])
@pytest.mark.parametrize("name, keep", [("bptt", False), ("bptt_reset", True)])
def test_matches_unrolled_reference(name, keep, reset, library):
    cell = make_cell(name, library, timesteps=6, reset=reset, detach_reset=not keep)
    method = get_method(name)(cell)
    net = tiny_net(method)
    x_seq = torch.randn(6, 8, 12) * 1.5 + 0.5
    y = torch.randint(0, 5, (8,))
    method.train_step(net, x_seq, y, optimizer=None)
    got = grads(net)
    net.zero_grad()
    unrolled_reference(net, x_seq, y, method.lif, keep_reset=keep).backward()
    for a, b in zip(got, grads(net), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("reset", ["soft", "hard"])
def test_bptt_reset_differs_from_bptt_by_the_reset_term_only(reset):
    x_seq = torch.randn(6, 8, 12) * 1.5 + 0.8
    y = torch.randint(0, 5, (8,))
    results = {}
    for name, keep in (("bptt", False), ("bptt_reset", True)):
        torch.manual_seed(1)
        method = get_method(name)(make_cell(name, timesteps=6, reset=reset, detach_reset=not keep))
        net = tiny_net(method)
        method.train_step(net, x_seq, y, optimizer=None)
        results[name] = (net, grads(net), method.lif)
    # same weights (same seed) and the same forward: only the gradient differs ...
    net, g_bptt, cfg = results["bptt"]
    g_reset = results["bptt_reset"][1]
    assert not torch.allclose(g_bptt[0], g_reset[0])
    # ... and it differs by exactly the reset term: the reference with the reset kept
    # reproduces bptt_reset from bptt's own weights
    net.zero_grad()
    unrolled_reference(net, x_seq, y, cfg, keep_reset=True).backward()
    for a, b in zip(g_reset, grads(net), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    # the output layer sees the same spikes either way
    torch.testing.assert_close(g_bptt[2], g_reset[2])
