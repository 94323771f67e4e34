"""rate_m / rate_s: eligibility, rates, what the backward touches, equality with BPTT."""

from __future__ import annotations

import math

import pytest
import torch
from helpers import make_cell
from torch import nn

from methods import forward_sequence, get_method
from methods.libraries import get_library
from methods.snn.config import LIFConfig
from methods.snn.functional import set_phase, set_step_mode
from methods.snn.rate import RateNeuron


def sigmoid_grad(x: float, alpha: float = 4.0) -> float:
    sig = 1.0 / (1.0 + math.exp(-alpha * x))
    return alpha * sig * (1.0 - sig)


def closed_form_eligibility(c: float, cfg: LIFConfig, T: int) -> tuple[float, float]:
    """Rate and e = Σ_t κ_t σ'_t / T for a constant current ``c``, with
    κ_t = ∂H_t/∂c = Σ_{j ≤ t} Π_{j ≤ i < t} J_i written out as a sum of products."""
    lam, th = cfg.decay, cfg.threshold
    v, hs, ss = 0.0, [], []
    for _ in range(T):
        h = lam * v + c
        s = 1.0 if h >= th else 0.0
        v = h - th * s if cfg.reset == "soft" else h * (1 - s)
        hs.append(h)
        ss.append(s)
    sg = [sigmoid_grad(h - th) for h in hs]
    if cfg.reset == "soft":
        jac = [lam * (1.0 if cfg.detach_reset else 1 - th * g) for g in sg]
    else:
        jac = [lam * (1 - s) - (0.0 if cfg.detach_reset else lam * h * g)
               for h, s, g in zip(hs, ss, sg, strict=True)]
    e = 0.0
    for t in range(T):
        kappa = sum(math.prod(jac[j:t]) for j in range(t + 1))
        e += kappa * sg[t]
    return sum(ss) / T, e / T


@pytest.mark.parametrize("library", ["torch", "spikingjelly", "snntorch"])
@pytest.mark.parametrize("reset, detach", [("soft", True), ("soft", False), ("hard", True),
                                           ("hard", False)])
@pytest.mark.parametrize("mode", ["m", "s"])
def test_eligibility_matches_closed_form(reset, detach, mode, library):
    cfg = LIFConfig(reset=reset, detach_reset=detach)
    lib = get_library(library)
    if not lib.supports(cfg, "torch", "cpu")[0]:
        pytest.skip(lib.supports(cfg, "torch", "cpu")[1])
    if lib.semantics(cfg) is not None:  # its own neuron: the suite's closed form does not apply
        pytest.skip(lib.semantics(cfg))
    T = 8
    currents = torch.linspace(-0.3, 2.6, 40, dtype=torch.float64).float()
    neuron = RateNeuron(lib.neuron(cfg)).train()
    set_step_mode(neuron, mode, T)  # the wrapper and its neuron
    with torch.no_grad():
        if mode == "m":
            neuron(currents.repeat(T).reshape(T, -1).flatten(0, 1).unsqueeze(1))
        else:
            for _ in range(T):
                neuron(currents.unsqueeze(1))
    neuron.phase = "rate"
    rate = neuron(torch.zeros(40, 1)).detach().squeeze(1)
    for i, c in enumerate(currents.tolist()):
        want_rate, want_e = closed_form_eligibility(c, cfg, T)
        assert rate[i].item() == pytest.approx(want_rate, abs=1e-6)
        assert neuron.elig[i, 0].item() == pytest.approx(want_e, rel=1e-4, abs=1e-6)


@pytest.mark.parametrize("library", ["torch", "spikingjelly"])
def test_rate_pass_returns_the_spike_rate(library):
    cfg = LIFConfig()
    lib = get_library(library)
    x_seq = torch.randn(6, 5, 30) + 0.7
    spikes = lib.neuron(cfg).multi_step(x_seq)
    neuron = RateNeuron(lib.neuron(cfg)).train()
    set_step_mode(neuron, "m", 6)
    with torch.no_grad():
        neuron(x_seq.flatten(0, 1))
    neuron.phase = "rate"
    c = torch.randn(5, 30, requires_grad=True)
    out = neuron(c)
    torch.testing.assert_close(out.detach(), spikes.mean(0))
    out.sum().backward()  # dr/dc = e
    torch.testing.assert_close(c.grad, neuron.elig)


@pytest.mark.parametrize("name", ["rate_m", "rate_s"])
def test_backward_touches_nothing_of_the_temporal_loop(name):
    T, B = 6, 8
    method = get_method(name)(make_cell(name, timesteps=T))
    model = method.build((1, 8, 8), 10)
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    saved = []

    def pack(t):
        if t.untyped_storage().data_ptr() not in params:
            saved.append(tuple(t.shape))
        return t

    x_seq = torch.randn(T, B, 1, 8, 8)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        method.train_step(model, x_seq, torch.randint(0, 10, (B,)), optimizer=None)
    assert saved, "the rate pass saves its B-sized activations"
    # activations are B-sized, per-channel statistics have a leading 1: the spike pass (T·B
    # rows, no grad) left nothing for the backward
    assert all(shape[0] in (B, 1) for shape in saved if len(shape) >= 2), saved
    assert not any(T * B in shape or shape[:1] == (T,) for shape in saved), saved


def one_spiking_layer(method, n_in=9, n_hidden=20, n_out=4):
    f = method.layers()
    return nn.Sequential(f.linear(n_in, n_hidden), f.neuron(), f.linear(n_hidden, n_out))


@pytest.mark.parametrize("library", ["torch", "spikingjelly"])
@pytest.mark.parametrize("name", ["rate_m", "rate_s"])
@pytest.mark.parametrize("T", [1, 4, 10])
def test_equals_bptt_for_one_spiking_layer_and_constant_input(name, T, library):
    x = torch.randn(16, 9) * 1.3 + 0.4
    x_seq = x.expand(T, *x.shape)
    y = torch.randint(0, 4, (16,))
    grads = {}
    for m in ("bptt", name):
        torch.manual_seed(7)
        method = get_method(m)(make_cell(m, library, timesteps=T))
        net = one_spiking_layer(method)
        method.train_step(net, x_seq, y, optimizer=None)
        grads[m] = [p.grad for p in net.parameters()]
    assert grads["bptt"][0].abs().sum() > 0
    for a, b in zip(grads["bptt"], grads[name], strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)


def test_paper_recipe_scales_the_gradient_not_the_loss():
    T = 4
    x_seq = torch.randn(T, 8, 9).abs()
    y = torch.randint(0, 4, (8,))
    out = {}
    for track in ("common", "paper"):
        torch.manual_seed(0)
        method = get_method("rate_m")(make_cell("rate_m", timesteps=T, track=track, tau=2.0,
                                                dataset="cifar10", architecture="resnet18"))
        net = one_spiking_layer(method)
        loss = method.train_step(net, x_seq, y, optimizer=None)
        out[track] = (loss, net[2].weight.grad.clone())
    assert out["paper"][0] == pytest.approx(out["common"][0].item())
    torch.testing.assert_close(out["paper"][1], out["common"][1] / T)


def test_rate_batchnorm_value_from_spike_statistics():
    method = get_method("rate_m")(make_cell("rate_m", timesteps=3))
    norm = method.layers().norm(5, dims=1).train()
    norm.T = 3
    x_seq = torch.randn(3 * 10, 5) * 2 + 1
    with torch.no_grad():
        norm(x_seq)
    mean, var = x_seq.mean(0), x_seq.var(0, unbiased=False)
    set_phase(norm, "rate")
    r = torch.randn(10, 5, requires_grad=True)
    y = norm(r)
    expect = (r - mean) / torch.sqrt(var + norm.bn.eps)
    torch.testing.assert_close(y, expect * norm.bn.weight + norm.bn.bias)
    running = norm.bn.running_mean.clone()
    y.sum().backward()
    torch.testing.assert_close(norm.bn.running_mean, running)  # the rate pass updates nothing


@pytest.mark.parametrize("dims, shape", [(2, (6, 5, 4, 4)), (1, (12, 5))])
def test_rate_batchnorm_gradient_is_the_straight_through_formula(dims, shape):
    """The hand-written backward equals autograd through the straight-through expression:
    mean = μ_s + (μ_r − μ_r.detach()), var = σ²_s + (σ²_r − σ²_r.detach())."""
    norm = get_method("rate_m")(make_cell("rate_m", timesteps=3)).layers().norm(5, dims).train()
    norm.T = 3
    with torch.no_grad():
        norm.bn.weight.uniform_(0.5, 1.5)
        norm.bn.bias.uniform_(-0.5, 0.5)
        norm(torch.randn(3 * shape[0], *shape[1:]) * 1.5 + 0.7)  # spike pass statistics
    set_phase(norm, "rate")
    x = (torch.randn(shape) + 0.4).requires_grad_()
    dy = torch.randn(shape)
    norm(x).backward(dy)
    reduce = (0, 2, 3) if dims == 2 else (0,)
    view = [1, 5] + [1] * (len(shape) - 2)
    xr = x.detach().clone().requires_grad_()
    w = norm.bn.weight.detach().clone().requires_grad_()
    b = norm.bn.bias.detach().clone().requires_grad_()
    mu_s = (norm._sum_mean / norm._count).view(view)
    var_s = (norm._sum_var / norm._count).view(view)
    mu_r = xr.mean(dim=reduce, keepdim=True)
    mean = mu_s + (mu_r - mu_r.detach())
    var_r = ((xr - mean) ** 2).mean(dim=reduce, keepdim=True)
    var = var_s + (var_r - var_r.detach())
    y = (xr - mean) / torch.sqrt(var + norm.bn.eps) * w.view(view) + b.view(view)
    y.backward(dy)
    torch.testing.assert_close(x.grad, xr.grad, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(norm.bn.weight.grad, w.grad, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(norm.bn.bias.grad, b.grad, rtol=1e-4, atol=1e-6)


def test_multi_step_evaluation_matches_bptt_forward():
    """Evaluation of a rate-trained model is the plain spiking network."""
    method = get_method("rate_m")(make_cell("rate_m", timesteps=4))
    model = method.build((1, 8, 8), 10).eval()
    bptt = get_method("bptt")(make_cell("bptt", timesteps=4))
    twin = bptt.build((1, 8, 8), 10).eval()
    twin.load_state_dict({k.replace(".bn.", "."): v for k, v in model.state_dict().items()})
    x_seq = torch.randn(4, 3, 1, 8, 8)
    torch.testing.assert_close(method.predict(model, x_seq), bptt.predict(twin, x_seq))
    torch.testing.assert_close(forward_sequence(model, x_seq), forward_sequence(twin, x_seq))


@pytest.mark.parametrize("shape", [(6, 5, 4, 3), (7, 5)])
def test_straight_through_bn_of_the_cuda_path_equals_the_formula(shape):
    """On CUDA the rate pass's BatchNorm runs through PyTorch's BN kernels plus a per-channel
    correction; value and gradients are those of the closed form (checked here in float64)."""
    from methods.snn.rate import _StraightThroughBN, _StraightThroughBNNative

    reduce = (0, 2, 3) if len(shape) == 4 else (0,)
    g = torch.Generator().manual_seed(4)
    x = (torch.randn(*shape, generator=g, dtype=torch.float64) * 1.3 + 0.4).requires_grad_()
    w = torch.randn(5, generator=g, dtype=torch.float64).requires_grad_()
    b = torch.randn(5, generator=g, dtype=torch.float64).requires_grad_()
    mean = torch.randn(5, generator=g, dtype=torch.float64) * 0.3
    var = torch.rand(5, generator=g, dtype=torch.float64) + 0.5
    dy = torch.randn(*shape, generator=g, dtype=torch.float64)
    results = []
    for function in (_StraightThroughBN, _StraightThroughBNNative):
        y = function.apply(x, w, b, mean, var, 1e-5, reduce)
        results.append((y, *torch.autograd.grad(y, (x, w, b), dy)))
    for ours, reference in zip(*results, strict=True):
        torch.testing.assert_close(ours, reference, rtol=1e-12, atol=1e-12)
