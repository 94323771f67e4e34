"""ndot_a and ndot_o against the official NDOT code, on one batch of the same small network.

Jiang et al., ICML 2024, "NDOT: Neuronal Dynamics-based Online Training for Spiking Neural
Networks" (GitHub: HaiyanJiang/SNN-NDOT). The official code has no licence and nothing of it is
copied here: it is imported at run time from a checkout named by an environment variable.

* ``BENCHES_PEER_NDOT``: the checkout (the directory holding ``modules/`` and ``models/``); the
  test is skipped without it. The official ``modules/`` and ``models/`` import only torch and
  numpy (its spikingjelly-derived neuron base is a copy inside ``modules/``), so no other
  spikingjelly is needed; they are imported with the checkout first on ``sys.path`` and then
  taken out of ``sys.modules`` again.

Both sides build the official ``OnlineSpikingVGG`` layout (``models/spiking_vgg.py``, run as in
``train_cifar_main.py``: ``OnlineLIFNode`` with τ = 2, soft reset, sigmoid surrogate α = 4,
``grad_with_rate=True``, ``fc_hw=1``) with a small cfg ``[8, 'M', 512]`` (the light classifier's
input width is fixed at 512), from the same weights, in float64. One batch (T = 5) is trained as
``functions.py train`` does: per step ``((1 − 0.05)·CE + 0.05·MSE(one-hot)) / T`` back-propagated,
SGD (lr 0.1, momentum 0.9, no weight decay) stepped once at the end (A) or after every step
(O, ``--online_update``). Compared: the accumulated gradients (A), every neuron's trace after the
last step, and the weights after the batch (A and O).

    BENCHES_PEER_NDOT=/path/to/SNN-DNOT python -m pytest tests/paper/test_ndot_official.py -s
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from helpers import make_cell
from torch import nn

from benches.worker.modes.common import make_optimizer
from methods import Method, get_method
from methods.snn.ndot_trace import NDOTTraceNeuron

T, B, CLASSES, SHAPE = 5, 4, 10, (3, 8, 8)
CFG = [8, "M", 512]
LOSS_LAMBDA, LR, MOMENTUM = 0.05, 0.1, 0.9  # train_cifar_main.py defaults (README: wd 0.0)
TOLERANCE = 1e-9
"""Largest relative difference (max |ours − official| / max |official| per tensor) allowed."""
_OFFICIAL_MODULES = ("modules", "models")


def _official_name(name: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in _OFFICIAL_MODULES)


def load_official(root: Path) -> SimpleNamespace:
    """Import the official neuron, surrogate and VGG modules without leaving them in
    ``sys.modules``; whatever the suite had under those names is put back."""
    saved = {k: sys.modules.pop(k) for k in list(sys.modules) if _official_name(k)}
    sys.path.insert(0, str(root))
    try:
        return SimpleNamespace(neuron=importlib.import_module("modules.neuron"),
                               surrogate=importlib.import_module("modules.surrogate"),
                               vgg=importlib.import_module("models.spiking_vgg"))
    finally:
        for k in [k for k in sys.modules if _official_name(k)]:
            del sys.modules[k]
        sys.modules.update(saved)
        sys.path.remove(str(root))


@pytest.fixture(scope="module")
def official() -> SimpleNamespace:
    root = os.environ.get("BENCHES_PEER_NDOT")
    if not root:
        pytest.skip("BENCHES_PEER_NDOT is not set (a checkout of HaiyanJiang/SNN-NDOT, "
                    "imported at run time)")
    path = Path(root).resolve()
    if not (path / "modules" / "neuron.py").is_file():
        pytest.skip(f"BENCHES_PEER_NDOT={root} holds no modules/neuron.py")
    return load_official(path)


def official_net(ns: SimpleNamespace) -> nn.Module:
    return ns.vgg.OnlineSpikingVGG(
        cfg=CFG, weight_standardization=True, num_classes=CLASSES,
        single_step_neuron=ns.neuron.OnlineLIFNode, tau=2.0,
        surrogate_function=ns.surrogate.Sigmoid(alpha=4.), track_rate=True, c_in=SHAPE[0],
        neuron_dropout=0.0, grad_with_rate=True, fc_hw=1, v_reset=None).double()


def suite_net(method_name: str, official: nn.Module) -> tuple[nn.Module, Method]:
    """The same layout from the method's layers, with the official net's weights; the recipe
    is the official run's (the rest, τ = 2, θ = 1, soft detached reset, sigmoid α = 4, is the
    common one)."""
    method = get_method(method_name)(make_cell(
        method_name, timesteps=T, loss="ce+mse", mse_weight=LOSS_LAMBDA, mse_target="onehot",
        lr=LR, momentum=MOMENTUM, weight_decay=0.0))
    return official_layout(method, official, SHAPE[0]), method


def official_layout(method: Method, official: nn.Module, channels: int) -> nn.Module:
    """The official test net's layout on ``channels`` input channels from ``method``'s layers,
    with the official net's weights (float64)."""
    f = method.layers()
    net = nn.Sequential(f.conv(channels, 8, 3, padding=1, bias=True), f.neuron(),
                        f.avg_pool(2, 2), f.conv(8, 512, 3, padding=1, bias=True), f.neuron(),
                        f.adaptive_avg_pool(1), f.flatten(), f.readout(512, CLASSES)).double()
    with torch.no_grad():
        for prefix, ours in counterparts(net, official).items():
            for name, p in official.get_submodule(prefix).named_parameters():
                getattr(ours, name).copy_(p)
    return net


def counterparts(ours: nn.Module, official: nn.Module) -> dict[str, nn.Module]:
    """Official module name → our conv/linear: the two convs (the second wrapped in
    ``WrapedSNNOp``) and the readout."""
    convs = [n for n, m in official.named_modules() if isinstance(m, nn.Conv2d)]
    return {convs[0]: ours[0].module, convs[1]: ours[3].module,
            "classifier.0.op": ours[7].module}


def parameter_of(ours: nn.Module, official: nn.Module, name: str) -> torch.Tensor:
    """Our parameter for an official parameter name (``features.4.op.gain``)."""
    prefix, _, attr = name.rpartition(".")
    return getattr(counterparts(ours, official)[prefix], attr)


def run_official(net: nn.Module, x_seq: torch.Tensor, y: torch.Tensor, online: bool,
                 step: bool = True) -> torch.optim.Optimizer:
    """``functions.py train`` for one batch (its printing silenced)."""
    opt = torch.optim.SGD(net.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=0.0)
    onehot = F.one_hot(y, CLASSES).double()
    net.train()
    opt.zero_grad()
    with contextlib.redirect_stdout(io.StringIO()):
        for t in range(T):
            if online:
                opt.zero_grad()
            out = net(x_seq[t], init=True) if t == 0 else net(x_seq[t])
            loss = ((1 - LOSS_LAMBDA) * F.cross_entropy(out, y)
                    + LOSS_LAMBDA * F.mse_loss(out, onehot)) / T
            loss.backward()
            if online and step:
                opt.step()
        if not online and step:
            opt.step()
    return opt


def relative(ours: torch.Tensor, theirs: torch.Tensor) -> float:
    return float((ours - theirs).abs().max() / theirs.abs().max().clamp_min(1e-300))


def batch() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(T, B, *SHAPE, generator=gen, dtype=torch.float64) * 1.5 + 0.5
    return x, torch.randint(0, CLASSES, (B,), generator=gen)


def official_neurons(net: nn.Module, ns: SimpleNamespace) -> list[nn.Module]:
    return [m for m in net.modules() if isinstance(m, ns.neuron.OnlineLIFNode)]


def test_gradients_and_traces_of_one_batch_equal_the_official_ndot_a(official) -> None:
    torch.manual_seed(0)
    theirs = official_net(official)
    ours, method = suite_net("ndot_a", theirs)
    x_seq, y = batch()
    run_official(theirs, x_seq, y, online=False, step=False)
    method.train_step(ours, x_seq, y, optimizer=None)
    diffs = {}
    for name, p in theirs.named_parameters():
        mine = parameter_of(ours, theirs, name)
        assert p.grad is not None and mine.grad is not None, name
        diffs[f"grad {name}"] = relative(mine.grad, p.grad)
    neurons = official_neurons(theirs, official)
    traces = [m for m in ours.modules() if isinstance(m, NDOTTraceNeuron)]
    assert len(neurons) == len(traces) == 2
    lam = 1 - 1 / 2.0
    for i, (n, tr) in enumerate(zip(neurons, traces, strict=True)):
        inside = ((n.Pkt.abs() < lam) & (n.Pkt != 0)).float().mean()
        assert 0.0 < float(inside) < 1.0, "P_t takes both clamped and unclamped values"
        diffs[f"trace {i}"] = relative(tr.trace, n.rate_tracking)
    print("\nndot_a vs official, max relative difference:", _fmt(diffs))
    assert max(diffs.values()) < TOLERANCE, diffs


@pytest.mark.parametrize("name, online", [("ndot_a", False), ("ndot_o", True)])
def test_weights_after_one_batch_equal_the_official(official, name: str, online: bool) -> None:
    torch.manual_seed(0)
    theirs = official_net(official)
    ours, method = suite_net(name, theirs)
    x_seq, y = batch()
    before = {n: p.detach().clone() for n, p in theirs.named_parameters()}
    run_official(theirs, x_seq, y, online=online)
    method.train_step(ours, x_seq, y, make_optimizer(ours, method.recipe))
    diffs = {}
    for n, p in theirs.named_parameters():
        assert (p - before[n]).abs().max() > 0, f"{n} did not move"
        diffs[n] = relative(parameter_of(ours, theirs, n).detach() - before[n],
                            p.detach() - before[n])
    print(f"\n{name} vs official, weight updates, max relative difference:", _fmt(diffs))
    assert max(diffs.values()) < TOLERANCE, diffs


def _fmt(diffs: dict[str, float]) -> str:
    return f"max {max(diffs.values()):.2e}; " + ", ".join(f"{k} {v:.1e}" for k, v in diffs.items())
