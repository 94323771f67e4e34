"""rate_s's rate-pass BatchNorm statistics: ``mean`` (common track) and ``last_step`` (paper).

Tab-ct/rate-based-backpropagation, step mode ``s`` (``model/model_setting.py``
``bn_forward_hook``): BatchNorm's ``curr_time_step`` stays 0 and ``in_spikes_var`` stays None, so
the recorded mean and reciprocal variance are the last step's; ε is added to that variance and
again when the rate pass normalises. The expected numbers below are worked out by hand from
per-step inputs whose statistics are exact.

The comparison with the official code itself runs where ``BENCHES_PEER_RATEBP`` names its
checkout (``BENCHES_PEER_SITE``, if set, a directory with its spikingjelly 0.0.0.0.14, put first
on ``sys.path`` while importing); nothing of it is copied here and it is skipped without it.
"""

from __future__ import annotations

import importlib
import math
import os
import sys
import warnings
from pathlib import Path
from types import ModuleType

import pytest
import torch
from helpers import make_cell

from methods import get_method
from methods.paper_recipes import paper_setup
from methods.recipes import COMMON
from methods.snn.functional import set_phase
from methods.snn.rate import RateBatchNorm

EPS = 1e-5  # nn.BatchNorm's default, which both the suite and the official code keep
STEPS = [  # [B = 4, C = 2] per step; per channel (mean, biased variance) in the comments
    [[0.0, 1.0], [0.0, 1.0], [2.0, 1.0], [2.0, 1.0]],  # (1, 1), (1, 0)
    [[1.0, -1.0], [3.0, 1.0], [1.0, -1.0], [3.0, 1.0]],  # (2, 1), (0, 1)
    [[0.0, 2.0], [2.0, 2.0], [4.0, 6.0], [6.0, 6.0]],  # (3, 5), (4, 4)
]
RATE = [[1.0, 2.0], [2.0, 3.0], [3.5, 4.0], [0.5, 5.0]]
GAMMA, BETA = (2.0, 0.5), (0.1, -0.3)
BY_HAND = {  # the mean and the denominator's variance each pass-2 statistic normalises with
    "last_step": ((3.0, 4.0), (5.0 + 2 * EPS, 4.0 + 2 * EPS)),
    "mean": ((2.0, 5.0 / 3.0), (7.0 / 3.0 + EPS, 5.0 / 3.0 + EPS)),
}


def spike_then_rate(norm: RateBatchNorm, steps: list, rate: torch.Tensor) -> torch.Tensor:
    """Run the spike pass step by step (no grad), then the rate pass on ``rate``."""
    norm.train()
    with torch.no_grad():
        norm.bn.weight.copy_(torch.tensor(GAMMA))
        norm.bn.bias.copy_(torch.tensor(BETA))
        for x in steps:
            norm(torch.tensor(x))
    set_phase(norm, "rate")
    return norm(rate)


@pytest.mark.parametrize("stats", ["last_step", "mean"])
def test_rate_pass_value_uses_the_statistics_worked_out_by_hand(stats: str) -> None:
    norm = RateBatchNorm(2, dims=1, stats=stats)
    y = spike_then_rate(norm, STEPS, torch.tensor(RATE))
    (m0, m1), (v0, v1) = BY_HAND[stats]
    want = [[GAMMA[0] * (r0 - m0) / math.sqrt(v0) + BETA[0],
             GAMMA[1] * (r1 - m1) / math.sqrt(v1) + BETA[1]] for r0, r1 in RATE]
    torch.testing.assert_close(y, torch.tensor(want), rtol=1e-6, atol=1e-6)


def test_mean_is_what_rate_batchnorm_computed_before() -> None:
    """``mean`` is the default: the averaged statistics of tests/methods/test_rate_methods.py."""
    default = spike_then_rate(RateBatchNorm(2, dims=1), STEPS, torch.tensor(RATE))
    mean = spike_then_rate(RateBatchNorm(2, dims=1, stats="mean"), STEPS, torch.tensor(RATE))
    assert torch.equal(default, mean)


def test_last_step_gradient_is_the_straight_through_formula_with_eps_twice() -> None:
    """Gradient of the official expression: mean μ_T + (μ_r − sg), variance (σ²_T + ε) +
    (σ²_r − sg) through a ReLU, normalised by √(variance + ε); weights and input by autograd."""
    norm = RateBatchNorm(2, dims=2, stats="last_step")
    g = torch.Generator().manual_seed(3)
    steps = [torch.randn(3, 2, 2, 2, generator=g) * (1 + t) + t for t in range(4)]
    x = (torch.randn(3, 2, 2, 2, generator=g) + 0.4).requires_grad_()
    dy = torch.randn(3, 2, 2, 2, generator=g)
    spike_then_rate(norm, [s.tolist() for s in steps], x).backward(dy)
    xr = x.detach().clone().requires_grad_()
    w = torch.tensor(GAMMA).view(1, 2, 1, 1).requires_grad_()
    b = torch.tensor(BETA).view(1, 2, 1, 1).requires_grad_()
    dims = (0, 2, 3)
    last = steps[-1]
    mu_s = last.mean(dims, keepdim=True)
    var_s = ((last - mu_s) ** 2).mean(dims, keepdim=True) + EPS
    mu_r = xr.mean(dims, keepdim=True)
    mean = mu_s + (mu_r - mu_r.detach())
    var_r = ((xr - mean) ** 2).mean(dims, keepdim=True)
    var = torch.relu(var_s + (var_r - var_r.detach()))
    ((xr - mean) / torch.sqrt(var + EPS) * w + b).backward(dy)
    torch.testing.assert_close(x.grad, xr.grad, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(norm.bn.weight.grad, w.grad.flatten(), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(norm.bn.bias.grad, b.grad.flatten(), rtol=1e-5, atol=1e-6)


def test_the_paper_track_of_rate_s_uses_the_last_step_the_common_track_the_mean() -> None:
    for dataset in ("cifar10", "cifar100", "imagenet", "cifar10_dvs"):
        setup = paper_setup("rate_s", dataset)
        assert setup is not None and setup.recipe().rate_bn == "last_step"
        assert "model/model_setting.py" in setup.values["rate_bn"].source
        assert "rate_bn" not in paper_setup("rate_m", dataset).values  # rate_s only
    assert COMMON.rate_bn == "mean"
    for track, want in (("paper", "last_step"), ("common", "mean")):
        cell = make_cell("rate_s", track=track, dataset="cifar10", architecture="resnet18")
        model = get_method("rate_s")(cell).build((3, 32, 32), 10)
        norms = [m for m in model.modules() if isinstance(m, RateBatchNorm)]
        assert norms and {m.stats for m in norms} == {want}
    with pytest.raises(ValueError, match="rate_bn must be one of"):
        COMMON.updated(rate_bn="first_step")


# -- against the official code ----------------------------------------------------------------
_OFFICIAL = ("spikingjelly", "model", "util")


def _official(name: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in _OFFICIAL)


@pytest.fixture(scope="module")
def model_setting() -> ModuleType:
    """The official ``model/model_setting.py``, imported without leaving it (or its
    spikingjelly) in ``sys.modules``."""
    root = os.environ.get("BENCHES_PEER_RATEBP")
    if not root or not (Path(root) / "model" / "model_setting.py").is_file():
        pytest.skip("BENCHES_PEER_RATEBP does not name a Tab-ct/rate-based-backpropagation "
                    "checkout")
    site = os.environ.get("BENCHES_PEER_SITE")
    paths = [str(Path(root).resolve())] + ([str(Path(site).resolve())] if site else [])
    saved = {k: sys.modules.pop(k) for k in list(sys.modules) if _official(k)}
    sys.path[:0] = paths
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch.jit.script deprecation, no cupy
            return importlib.import_module("model.model_setting")
    finally:
        for k in [k for k in sys.modules if _official(k)]:
            del sys.modules[k]
        sys.modules.update(saved)
        del sys.path[:len(paths)]


def official_bn(setting: ModuleType, T: int) -> torch.nn.Module:
    """A BatchNorm2d with the official rate hooks, set up as ``rate_model_setting`` and
    ``init_model`` set up the BatchNorms of a model in step mode ``s``."""
    bn = torch.nn.BatchNorm2d(2)
    holder = torch.nn.Sequential(bn)
    for module in holder.modules():
        module.time_step, module.step_mode = T, "s"
    holder.rate_hooks = [bn.register_forward_pre_hook(setting.bn_forward_pre_hook),
                         bn.register_forward_hook(setting.bn_forward_hook)]
    setting.init_model(holder)
    return bn


@pytest.mark.parametrize("T", [1, 3])
def test_last_step_equals_the_official_step_mode_s(model_setting: ModuleType, T: int) -> None:
    g = torch.Generator().manual_seed(T)
    steps = [torch.randn(4, 2, 3, 3, generator=g) * (1 + t) + 0.5 * t for t in range(T)]
    x = torch.randn(4, 2, 3, 3, generator=g) + 0.3
    dy = torch.randn(4, 2, 3, 3, generator=g)
    outputs = {}
    for name in ("official", "last_step", "mean"):
        norm = official_bn(model_setting, T) if name == "official" else \
            RateBatchNorm(2, stats=name)
        bn = norm if name == "official" else norm.bn
        with torch.no_grad():
            bn.weight.copy_(torch.tensor(GAMMA))
            bn.bias.copy_(torch.tensor(BETA))
            for s in steps:
                norm(s)
        set_phase(norm, "rate")
        xr = x.clone().requires_grad_()
        y = norm(xr)
        y.backward(dy)
        outputs[name] = (y.detach(), xr.grad, bn.weight.grad, bn.bias.grad, bn.running_mean)
    for ours, theirs in zip(outputs["last_step"], outputs["official"], strict=True):
        torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-6)
    if T > 1:  # the average over steps is a different number
        assert not torch.allclose(outputs["mean"][0], outputs["official"][0], atol=1e-3)
