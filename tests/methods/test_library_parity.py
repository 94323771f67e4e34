"""The three libraries compute the same neuron: spikes exact, potentials ≤ 1e-6, gradients
≤ 1e-5, for every configuration a library can express; and the conventions that differ."""

from __future__ import annotations

import itertools

import pytest
import torch

from methods.libraries import get_library
from methods.snn.config import LIFConfig
from methods.snn.surrogate import Surrogate

CONFIGS = [
    LIFConfig(reset=reset, detach_reset=detach, surrogate=surrogate, alpha=alpha)
    for (reset, detach), (surrogate, alpha) in itertools.product(
        [("soft", True), ("soft", False), ("hard", True), ("hard", False)],
        [("sigmoid", 4.0), ("triangle", 1.0), ("rectangle", 1.0)],
    )
]
LIBRARIES = ["spikingjelly", "snntorch"]


def currents(T=8, n=64, seed=0) -> torch.Tensor:
    """Random currents plus exact threshold hits (H = θ at t = 1) and large inputs (H ≥ 2θ)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(T, 3, n, generator=g) * 1.2 + 0.6
    x[0, :, :4] = 1.0  # fires exactly at the threshold under H ≥ θ
    x[:, :, 4:8] = 2.7  # potentials above 2θ
    return x


def expressible(library: str, cfg: LIFConfig) -> bool:
    """The library runs the suite's neuron itself, not its own closest configuration."""
    lib = get_library(library)
    return lib.supports(cfg, "torch", "cpu")[0] and lib.semantics(cfg) is None


def skip_unless_expressible(library: str, cfg: LIFConfig) -> None:
    lib = get_library(library)
    ok, reason = lib.supports(cfg, "torch", "cpu")
    if not ok:
        pytest.skip(reason)
    if lib.semantics(cfg) is not None:
        pytest.skip(f"{library} runs its own semantics: {lib.semantics(cfg)}")


def run_multi(library: str, cfg: LIFConfig, x: torch.Tensor):
    neuron = get_library(library).neuron(cfg)
    xg = x.clone().requires_grad_()
    s = neuron.multi_step(xg)
    weights = torch.linspace(-1.0, 1.0, s.numel()).reshape(s.shape)
    (s * weights).sum().backward()
    _, h = neuron.sequence(x)
    return s.detach(), h, xg.grad


def run_single(library: str, cfg: LIFConfig, x: torch.Tensor):
    """Step by step with the state kept in the graph (gradients cross time)."""
    neuron = get_library(library).neuron(cfg)
    neuron.reset_state()
    xg = x.clone().requires_grad_()
    spikes, charged, membranes = [], [], []
    for xt in xg:
        spikes.append(neuron.single_step(xt))
        charged.append(neuron.h.detach())
        membranes.append(neuron.membrane().detach())
    s = torch.stack(spikes)
    weights = torch.linspace(-1.0, 1.0, s.numel()).reshape(s.shape)
    (s * weights).sum().backward()
    return s.detach(), torch.stack(charged), torch.stack(membranes), xg.grad


@pytest.mark.parametrize("library", LIBRARIES)
@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: f"{c.reset}-detach{c.detach_reset}-"
                         f"{c.surrogate}")
def test_multi_step_parity(library, cfg):
    skip_unless_expressible(library, cfg)
    x = currents()
    s_ref, h_ref, g_ref = run_multi("torch", cfg, x)
    s, h, g = run_multi(library, cfg, x)
    assert torch.equal(s, s_ref)
    assert s_ref[0, :, :4].eq(1).all()  # the threshold hits fired
    torch.testing.assert_close(h, h_ref, atol=1e-6, rtol=0)
    torch.testing.assert_close(g, g_ref, atol=1e-5, rtol=0)


@pytest.mark.parametrize("library", LIBRARIES)
@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: f"{c.reset}-detach{c.detach_reset}-"
                         f"{c.surrogate}")
def test_single_step_parity(library, cfg):
    skip_unless_expressible(library, cfg)
    x = currents(seed=1)
    ref = run_single("torch", cfg, x)
    got = run_single(library, cfg, x)
    assert torch.equal(got[0], ref[0])
    torch.testing.assert_close(got[1], ref[1], atol=1e-6, rtol=0)  # charged H_t
    torch.testing.assert_close(got[2], ref[2], atol=1e-6, rtol=0)  # reset V_t
    torch.testing.assert_close(got[3], ref[3], atol=1e-5, rtol=0)
    # the single-step path is the multi-step path, step by step
    s_multi, h_multi, _ = run_multi("torch", cfg, x)
    assert torch.equal(ref[0], s_multi)


def test_torch_reference_matches_a_hand_unrolled_loop():
    cfg = LIFConfig(reset="soft", detach_reset=False)
    x = currents(T=6)
    s, h, g = run_multi("torch", cfg, x)
    xg = x.clone().requires_grad_()
    v, out = torch.zeros_like(x[0]), []
    for xt in xg:
        hh = 0.5 * v + xt
        spk = Surrogate("sigmoid", 4.0)(hh - 1.0)
        v = hh - spk
        out.append(spk)
    o = torch.stack(out)
    (o * torch.linspace(-1.0, 1.0, o.numel()).reshape(o.shape)).sum().backward()
    assert torch.equal(o.detach(), s)
    torch.testing.assert_close(xg.grad, g, atol=1e-6, rtol=1e-5)


def test_every_configuration_runs_on_at_least_two_libraries():
    for cfg in CONFIGS:
        assert sum(expressible(lib, cfg) for lib in ["torch", *LIBRARIES]) >= 2


# -- the conventions that differ, each shown by a test ------------------------------------


def reference_spikes(cfg: LIFConfig, x: torch.Tensor) -> torch.Tensor:
    return get_library("torch").neuron(cfg).multi_step(x)


def test_snntorch_default_heaviside_fires_strictly_above_the_threshold():
    """snntorch's own surrogates fire on U > θ: an input exactly at θ does not spike. The
    suite therefore passes its own surrogate (H ≥ θ) as ``spike_grad``."""
    import snntorch
    from snntorch import surrogate

    leaky = snntorch.Leaky(beta=0.5, threshold=1.0, spike_grad=surrogate.sigmoid(slope=4),
                           reset_mechanism="zero")
    spk, _ = leaky(torch.ones(3))
    assert spk.sum() == 0
    ours = get_library("snntorch").neuron(LIFConfig(reset="hard"))
    assert ours.multi_step(torch.ones(1, 3)).sum() == 3


def test_snntorch_delayed_soft_reset_subtracts_after_the_leak():
    """reset_delay=True: U_t = βU_{t-1} + I_t − S_{t-1}θ, where the suite has
    H_t = β(H_{t-1} − θS_{t-1}) + I_t: the potentials differ by (1 − β)θ after a spike."""
    import snntorch

    leaky = snntorch.Leaky(beta=0.5, threshold=1.0, spike_grad=Surrogate(),
                           reset_mechanism="subtract", reset_delay=True)
    mem = []
    for xt in torch.tensor([[1.5], [0.2], [0.2]]):
        _, u = leaky(xt)
        mem.append(u.item())
    # the suite: H = 1.5 (spike), V = 0.5, H = 0.45; snntorch: 0.75 + 0.2 − 1.0 = −0.05
    assert mem[1] == pytest.approx(-0.05)
    assert mem[1] != pytest.approx(0.5 * (1.5 - 1.0) + 0.2)


def test_snntorch_immediate_soft_reset_resets_twice_above_two_thresholds():
    """reset_delay=False resets through the spike and again from the reset potential when it
    is still ≥ θ, so a potential above 2θ changes the spike train."""
    import snntorch

    leaky = snntorch.Leaky(beta=0.5, threshold=1.0, spike_grad=Surrogate(),
                           reset_mechanism="subtract", reset_delay=False)
    x = torch.tensor([[2.6], [0.6], [0.6], [0.6]])
    spikes = torch.stack([leaky(xt)[0] for xt in x]).flatten()
    want = reference_spikes(LIFConfig(reset="soft", detach_reset=False), x).flatten()
    assert not torch.equal(spikes, want)


def test_snntorch_runs_its_own_soft_reset_and_says_how_far_it_is():
    """A soft reset is not skipped on snntorch: it runs snntorch's own configuration, says so,
    and measures how many spikes differ from the reference on the standard input."""
    snn = get_library("snntorch")
    for detach in (True, False):
        cfg = LIFConfig(detach_reset=detach)
        assert snn.supports(cfg, "torch", "cpu")[0]
        assert "fires on U > θ" in snn.semantics(cfg)  # the common recipe: sigmoid
        assert "reset_delay=" + str(detach) in snn.semantics(cfg)
        assert 0.05 < snn.spike_mismatch(cfg) < 0.5
        neuron = snn.neuron(cfg)  # snntorch's own spike function: strictly above θ
        assert neuron.multi_step(torch.ones(1, 3)).sum() == 0
        assert neuron.multi_step(torch.full((1, 3), 1.01)).sum() == 3
    for lib, cfg in itertools.product(["torch", "spikingjelly", "snntorch"], CONFIGS):
        if expressible(lib, cfg):  # the exact ones measure as exact
            assert get_library(lib).spike_mismatch(cfg) == 0.0, (lib, cfg)


def test_spikingjelly_default_lif_decays_its_input():
    """spikingjelly's LIFNode defaults to decay_input=True, H = V + (X − V)/τ, and a hard reset;
    the backend sets decay_input=False and v_reset=None for the suite's soft reset."""
    from spikingjelly.activation_based import neuron

    default = neuron.LIFNode(tau=2.0, step_mode="m")
    x = torch.full((3, 1), 1.5)
    assert not torch.equal(default(x), reference_spikes(LIFConfig(), x))
    ours = get_library("spikingjelly").neuron(LIFConfig())
    assert torch.equal(ours.multi_step(x), reference_spikes(LIFConfig(), x))


def test_backends_that_need_cuda_are_refused_on_cpu():
    ok, reason = get_library("spikingjelly").supports(LIFConfig(), "triton", "cpu")
    assert not ok and "CUDA" in reason
    ok, reason = get_library("torch").supports(LIFConfig(), "cuda", "cpu")
    assert not ok and "backend" in reason


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("cfg", CONFIGS[:6], ids=lambda c: f"{c.reset}-detach{c.detach_reset}-"
                         f"{c.surrogate}")
def test_spikingjelly_cuda_kernels_match_the_reference(cfg):
    x = currents().cuda()
    neuron = get_library("spikingjelly").neuron(cfg).cuda()
    xg = x.clone().requires_grad_()
    s = neuron.multi_step(xg)
    weights = torch.linspace(-1.0, 1.0, s.numel(), device="cuda").reshape(s.shape)
    (s * weights).sum().backward()
    s_ref, _, g_ref = run_multi("torch", cfg, x.cpu())
    assert torch.equal(s.cpu(), s_ref)
    torch.testing.assert_close(xg.grad.cpu(), g_ref, atol=1e-5, rtol=0)
