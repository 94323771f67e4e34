"""ndot_o's CIFAR10-DVS parameter-difference regulariser (``reg_lambda``).

The official CIFAR10-DVS ``--online_update`` loop (HaiyanJiang/SNN-DNOT
``functions_cifar10dvs.py`` lines 158-187) back-propagates at step t ≥ 1
``L_t/T + 0.5·λ·Σ_W ‖W − W_prev‖₂/√numel(W)``, W_prev the detached weights step t − 1 ran
with (refreshed at every t before the backward and the optimizer step); λ = ``--reg_lambda``
default 0.05 (``train_cifar10dvs.py:87``).

* a hand-computed float64 check of one batch (T = 3) on a linear network, with a parameter that
  never moves (‖W − W_prev‖ = 0: torch's gradient of the norm there is 0);
* ``reg_lambda = 0`` (the default) is exactly the plain online loop;
* with ``BENCHES_PEER_NDOT`` (a checkout of the official code, imported at run time as in
  ``tests/paper/test_ndot_official.py``; nothing of it is copied here), the weights after one batch
  against the official ``train_cifar10dvs`` itself on the same small network.

    BENCHES_PEER_NDOT=/path/to/SNN-DNOT python -m pytest tests/paper/test_ndot_dvs_regulariser.py -s
"""

from __future__ import annotations

import contextlib
import importlib
import io
import math
import os
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from helpers import make_cell
from test_ndot_official import official_layout, parameter_of, relative
from torch import nn

from benches.worker.modes.common import make_optimizer
from methods import get_method
from methods.base import NULL_TIMER, Method
from methods.ndot_o import ParameterDifference
from methods.paper_recipes import paper_setup
from methods.snn.online import online_train_step

T, B, N_IN, N_OUT = 3, 5, 4, 3
LR, MOMENTUM, REG = 0.5, 0.9, 0.05


class Linear(nn.Module):
    """o = W x + b, and a parameter the forward never reads (it never moves)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(N_IN, N_OUT).double()
        self.still = nn.Parameter(torch.randn(2, 2, dtype=torch.float64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x)


def linear_data() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(3)
    return (torch.randn(T, B, N_IN, generator=gen, dtype=torch.float64),
            torch.randint(0, N_OUT, (B,), generator=gen))


def train_linear(reg_lambda: float) -> tuple[Linear, dict[str, torch.Tensor], torch.Tensor]:
    """One ndot_o batch on :class:`Linear` (CE loss, SGD lr 0.5, momentum 0.9); returns the
    net, its initial weights and the returned loss."""
    torch.manual_seed(0)
    net = Linear()
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    method = get_method("ndot_o")(make_cell("ndot_o", timesteps=T, loss="ce",
                                            params={"reg_lambda": reg_lambda}))
    opt = torch.optim.SGD(net.parameters(), lr=LR, momentum=MOMENTUM)
    loss = method.train_step(net, *linear_data(), opt)
    return net, before, loss


def by_hand(w0: dict[str, torch.Tensor], reg_lambda: float
            ) -> tuple[dict[str, torch.Tensor], float]:
    """The batch written out: at step t, g_W = (softmax(o_t) − onehot)ᵀ x_t / (B·T),
    g_b = Σ_B (softmax(o_t) − onehot) / (B·T), plus (t ≥ 1) 0.5·λ·D/‖D‖_F/√numel for every
    parameter, D = W − W_{t−1} (0 where D = 0); W_prev ← W; heavy-ball SGD
    (buf = g at the first step with a gradient, then μ·buf + g; W −= lr·buf)."""
    x_seq, y = linear_data()
    onehot = F.one_hot(y, N_OUT).double()
    w = {k: v.clone() for k, v in w0.items()}
    prev: dict[str, torch.Tensor] = {}
    buf: dict[str, torch.Tensor] = {}
    loss = 0.0
    for t in range(T):
        o = x_seq[t] @ w["fc.weight"].t() + w["fc.bias"]
        p = torch.exp(o - o.max(1, keepdim=True).values)
        p = p / p.sum(1, keepdim=True)
        loss += float(-torch.log(p[torch.arange(B), y]).mean()) / T
        d = (p - onehot) / (B * T)
        g = {"fc.weight": d.t() @ x_seq[t], "fc.bias": d.sum(0)}
        if t > 0:
            for k in w:
                diff = w[k] - prev[k]
                norm = math.sqrt(float((diff * diff).sum()))
                reg = diff / norm if norm > 0 else torch.zeros_like(diff)
                g[k] = g.get(k, torch.zeros_like(diff)) + 0.5 * reg_lambda * reg \
                    / math.sqrt(diff.numel())
        prev = {k: v.clone() for k, v in w.items()}
        for k, gk in g.items():
            buf[k] = gk if k not in buf else MOMENTUM * buf[k] + gk
            w[k] = w[k] - LR * buf[k]
    return w, loss


def test_one_batch_matches_the_hand_computation() -> None:
    net, before, loss = train_linear(REG)
    expected, expected_loss = by_hand(before, REG)
    for n, p in net.named_parameters():
        torch.testing.assert_close(p.detach(), expected[n], rtol=1e-13, atol=1e-14)
    assert torch.equal(net.still.detach(), before["still"])  # D = 0: gradient 0, not NaN
    # the regulariser is left out of the returned loss (summed in float32)
    assert math.isclose(float(loss), expected_loss, rel_tol=1e-6)
    plain, _, _ = train_linear(0.0)
    moved = (net.fc.weight - plain.fc.weight).abs().max()
    assert moved > 1e-3, "the regulariser changes the weights"
    w_plain, _ = by_hand(before, 0.0)
    torch.testing.assert_close(plain.fc.weight.detach(), w_plain["fc.weight"], rtol=1e-13,
                               atol=1e-14)


def test_gradient_at_zero_difference_is_torch_s() -> None:
    """W = W_prev (right after a refresh, or a tensor that did not move): ``torch.norm``'s
    gradient there is 0, and the regulariser's is the same (no NaN)."""
    w = nn.Parameter(torch.randn(3, 4, dtype=torch.float64))
    torch.norm(torch.sub(w, w.detach().clone()), p=2).backward()
    official = w.grad
    assert official is not None and torch.equal(official, torch.zeros_like(w))
    w.grad = None
    term = ParameterDifference(nn.ParameterList([w]), REG)
    assert term(0) is None  # the official term is 0 at t = 0
    value = term(1)
    assert value is not None and float(value.detach()) == 0.0
    value.backward()
    assert w.grad is not None and torch.equal(w.grad, official)


def ndot_net(method: Method) -> nn.Module:
    f = method.layers()
    return nn.Sequential(f.linear(N_IN, 6), f.neuron(), f.readout(6, N_OUT)).double()


@pytest.mark.parametrize("params", [{}, {"reg_lambda": 0.0}])
def test_zero_reg_lambda_is_the_plain_online_loop(params: dict) -> None:
    """ndot_o as it was before ``reg_lambda``: ``online_train_step`` stepping every step."""
    x_seq, y = linear_data()
    x_seq = x_seq * 1.5 + 0.8
    nets = []
    for plain in (False, True):
        method = get_method("ndot_o")(make_cell("ndot_o", timesteps=T, params=params))
        torch.manual_seed(1)
        net = ndot_net(method)
        opt = torch.optim.SGD(net.parameters(), lr=LR, momentum=MOMENTUM)
        if plain:
            loss = online_train_step(net, x_seq, y, method.recipe, opt, NULL_TIMER,
                                     step_every=True)
        else:
            loss = method.train_step(net, x_seq, y, opt)
        nets.append((net, loss))
    (a, loss_a), (b, loss_b) = nets
    assert torch.equal(loss_a, loss_b)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(p, q)


def test_the_paper_setup_gives_reg_lambda_to_ndot_o_on_cifar10_dvs_only() -> None:
    dvs_o, dvs_a = paper_setup("ndot_o", "cifar10_dvs"), paper_setup("ndot_a", "cifar10_dvs")
    cifar_o = paper_setup("ndot_o", "cifar10")
    assert dvs_o is not None and dvs_a is not None and cifar_o is not None
    assert dvs_o.params == {"reg_lambda": 0.05}
    assert "train_cifar10dvs.py:87" in dvs_o.values["params"].source
    assert dvs_a.params == {} and cifar_o.params == {}
    assert get_method("ndot_o").default_params() == {"reg_lambda": 0.0}
    assert not get_method("ndot_o").supports(make_cell("ndot_o", params={"reg_lambda": -1.0}))[0]
    assert not get_method("ndot_a").supports(make_cell("ndot_a", params={"reg_lambda": 0.05}))[0]


# -- against the official CIFAR10-DVS loop ----------------------------------------------------
DVS_T, CLASSES, SHAPE = 4, 10, (2, 8, 8)
CFG = [8, "M", 512]  # the light classifier's input width is fixed at 512 (fc_hw = 1)
TOLERANCE = 1e-12
_ISOLATED = ("modules", "models", "utils", "data", "progress", "functions_cifar10dvs")


def _isolated(name: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in _ISOLATED)


class _Bar:
    """Stands in for the ``progress`` package's ``Bar`` (not installed; display only)."""

    suffix = elapsed_td = eta_td = ""

    def __init__(self, *args: object, **kwargs: object) -> None:
        pass

    def next(self) -> None:
        pass

    def finish(self) -> None:
        pass


@contextlib.contextmanager
def _official_imports(root: Path) -> Iterator[None]:
    """The checkout first on ``sys.path`` and a stand-in ``progress.bar``; afterwards the
    official modules leave ``sys.modules`` and whatever the suite had there is put back."""
    saved = {k: sys.modules.pop(k) for k in list(sys.modules) if _isolated(k)}
    bar = types.ModuleType("progress.bar")
    bar.Bar = _Bar  # type: ignore[attr-defined]
    progress = types.ModuleType("progress")
    progress.bar = bar  # type: ignore[attr-defined]
    sys.modules.update({"progress": progress, "progress.bar": bar})
    path = list(sys.path)
    sys.path.insert(0, str(root))
    try:
        yield
    finally:
        for k in [k for k in sys.modules if _isolated(k)]:
            del sys.modules[k]
        sys.modules.update(saved)
        sys.path[:] = path  # utils/__init__.py appends a directory too


@pytest.fixture(scope="module")
def official() -> SimpleNamespace:
    root = os.environ.get("BENCHES_PEER_NDOT")
    if not root:
        pytest.skip("BENCHES_PEER_NDOT is not set (a checkout of HaiyanJiang/SNN-NDOT, "
                    "imported at run time)")
    path = Path(root).resolve()
    if not (path / "functions_cifar10dvs.py").is_file():
        pytest.skip(f"BENCHES_PEER_NDOT={root} holds no functions_cifar10dvs.py")
    with _official_imports(path):
        return SimpleNamespace(neuron=importlib.import_module("modules.neuron"),
                               surrogate=importlib.import_module("modules.surrogate"),
                               vgg=importlib.import_module("models.spiking_vgg"),
                               functions=importlib.import_module("functions_cifar10dvs"))


class AsFloat64(nn.Module):
    """The official net fed in float64: ``train_cifar10dvs`` casts the frames with
    ``.float()`` (the frames here are float32 values, so the cast back is exact)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor, init: bool = False) -> torch.Tensor:
        return self.net(x.double(), init=init)


def official_net(ns: SimpleNamespace) -> nn.Module:
    """``train_cifar10dvs.py``'s model arguments (c_in 2, fc_hw 1, τ 2, …) with a small cfg."""
    return ns.vgg.OnlineSpikingVGG(
        cfg=CFG, weight_standardization=True, num_classes=CLASSES,
        single_step_neuron=ns.neuron.OnlineLIFNode, tau=2.0,
        surrogate_function=ns.surrogate.Sigmoid(alpha=4.), track_rate=True, c_in=SHAPE[0],
        neuron_dropout=0.0, grad_with_rate=True, fc_hw=1, v_reset=None).double()


def suite_net(official: nn.Module, reg_lambda: float) -> tuple[nn.Module, Method]:
    """The same layout from ndot_o's layers with the official weights, trained with ndot_o's
    CIFAR10-DVS paper recipe (mse_weight 0.001, SGD lr 0.1 momentum 0.9, no weight decay)."""
    method = get_method("ndot_o")(make_cell("ndot_o", timesteps=DVS_T, dataset="cifar10_dvs",
                                            track="paper", params={"reg_lambda": reg_lambda}))
    return official_layout(method, official, SHAPE[0]), method


def run_official(ns: SimpleNamespace, net: nn.Module, frames: torch.Tensor, y: torch.Tensor,
                 reg_lambda: float) -> None:
    """``train_cifar10dvs`` itself on one batch ``[B, T, C, H, W]`` with
    ``train_cifar10dvs.py``'s optimizer and defaults (--loss_lambda 0.001, --online_update);
    its scalar tensors (``torch.tensor(0.0)``, √numel) are made in the default dtype, float32
    at run time like its model: float64 here, like this model."""
    args = SimpleNamespace(online_update=True, amp=False, loss_lambda=0.001,
                           reg_lambda=reg_lambda, print_freq=1)
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    dtype = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            ns.functions.train_cifar10dvs([(frames, y)], AsFloat64(net), opt,
                                          nn.MSELoss(), CLASSES, torch.device("cpu"), 0, args)
    finally:
        torch.set_default_dtype(dtype)


def dvs_batch() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(7)
    frames = torch.randn(B, DVS_T, *SHAPE, generator=gen) * 1.5 + 0.5  # float32 values
    return frames, torch.randint(0, CLASSES, (B,), generator=gen)


def test_weights_after_one_batch_equal_the_official_online_update(
        official: SimpleNamespace) -> None:
    frames, y = dvs_batch()
    updates = {}
    for reg_lambda in (0.05, 0.0):
        torch.manual_seed(0)
        theirs = official_net(official)
        ours, method = suite_net(theirs, reg_lambda)
        before = {n: p.detach().clone() for n, p in theirs.named_parameters()}
        run_official(official, theirs, frames, y, reg_lambda)
        x_seq = frames.double().transpose(0, 1).contiguous()  # [T, B, ...]
        method.train_step(ours, x_seq, y, make_optimizer(ours, method.recipe))
        for n, p in theirs.named_parameters():
            assert (p - before[n]).abs().max() > 0, f"{n} did not move"
        diffs = {n: relative(parameter_of(ours, theirs, n).detach() - before[n],
                             p.detach() - before[n]) for n, p in theirs.named_parameters()}
        print(f"\nndot_o reg_lambda={reg_lambda} vs official train_cifar10dvs, weight updates, "
              f"max relative difference {max(diffs.values()):.2e}")
        assert max(diffs.values()) < TOLERANCE, diffs
        updates[reg_lambda] = {n: p.detach() - before[n] for n, p in theirs.named_parameters()}
    effect = max(relative(updates[0.05][n], updates[0.0][n]) for n in updates[0.0])
    print(f"the regulariser changes the official updates by up to {effect:.2e} (relative)")
    assert effect > 1e3 * TOLERANCE
