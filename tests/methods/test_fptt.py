"""FPTT: the same weights as spikingjelly's ``fptt_online_training``, the regulariser and the
running average by hand, the running average across a checkpoint, learning on digits."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from helpers import make_cell
from torch import nn

from benches.worker import checkpoint
from benches.worker.setup import execute
from datasets import get_dataset
from methods import get_method
from methods.fptt import FPTT
from methods.libraries.base import SpikingNeuron
from methods.snn.fptt import KeptState
from methods.snn.functional import reset_states, set_step_mode

pytest.importorskip("spikingjelly")
from spikingjelly.activation_based.learning.online_learning import (  # noqa: E402
    fptt_online_training,
    fptt_online_training_init_w_ra,
)

TOLERANCE = 1e-12
"""Largest relative difference allowed between two float64 runs of the same update."""


def _method(library: str, T: int, **params) -> FPTT:
    method = get_method("fptt")(make_cell("fptt", library, timesteps=T, params=params))
    assert isinstance(method, FPTT)
    return method


def _linear_net(method: FPTT) -> nn.Module:
    f = method.layers()
    return nn.Sequential(f.flatten(), f.linear(12, 16), f.norm(16, dims=1), f.neuron(),
                         f.linear(16, 16), f.neuron(), f.readout(16, 4))


def _pair(build, T: int, **params) -> tuple[FPTT, nn.Module, FPTT, nn.Module]:
    """The torch-library method and net, and the spikingjelly ones with the same weights."""
    ours, theirs = _method("torch", T, **params), _method("spikingjelly", T, **params)
    net, sj_net = build(ours).double(), build(theirs).double()
    sj_net.load_state_dict(net.state_dict())
    return ours, net, theirs, sj_net


def _sgd(net: nn.Module) -> torch.optim.Optimizer:
    return torch.optim.SGD(net.parameters(), lr=0.5, momentum=0.9, weight_decay=5e-4)


def _worst(ours: dict[str, torch.Tensor], theirs: dict[str, torch.Tensor]) -> float:
    """max over tensors of max|a − b| / max|b| (floating tensors only)."""
    assert ours.keys() == theirs.keys()
    return max(float((ours[k] - theirs[k]).abs().max() / theirs[k].abs().max())
               for k in ours if ours[k].is_floating_point())


def _spikingjelly_batch(method: FPTT, net: nn.Module, optimizer: torch.optim.Optimizer,
                        x_seq: torch.Tensor, y: torch.Tensor, w_ra: list) -> None:
    set_step_mode(net, "s", x_seq.shape[0])
    reset_states(net)
    fptt_online_training(net, optimizer, x_seq, torch.arange(x_seq.shape[0]),
                         lambda out, t: method.step_loss(out, y, int(t)), method.alpha, w_ra)


def _check_against_spikingjelly(build, shape: tuple[int, ...], classes: int, T: int,
                                **params) -> None:
    ours, net, theirs, sj_net = _pair(build, T, **params)
    optimizer, sj_optimizer = _sgd(net), _sgd(sj_net)
    w_ra = fptt_online_training_init_w_ra(sj_optimizer)
    for _ in range(2):  # the second batch starts from the first one's W̄
        x_seq = 2.0 * torch.rand(T, 8, *shape, dtype=torch.float64)
        y = torch.randint(0, classes, (8,))
        ours.train_step(net, x_seq, y, optimizer)
        _spikingjelly_batch(theirs, sj_net, sj_optimizer, x_seq, y, w_ra)
        assert _worst(net.state_dict(), sj_net.state_dict()) <= TOLERANCE
        names = [n for n, _ in sj_net.named_parameters()]
        assert _worst(ours.running, dict(zip(names, w_ra, strict=True))) <= TOLERANCE
    assert _worst(net.state_dict(), build(ours).double().state_dict()) > 1e-3  # it trained


@pytest.mark.parametrize("weighting", ["linear", "uniform"])
def test_same_weights_as_spikingjelly_on_a_linear_network(weighting):
    _check_against_spikingjelly(_linear_net, (12,), 4, T=6, weighting=weighting)


def test_same_weights_as_spikingjelly_on_convnet_digits():
    _check_against_spikingjelly(lambda m: m.build((1, 8, 8), 10), (1, 8, 8), 10, T=4)


def test_the_spikingjelly_library_runs_spikingjelly_function():
    ours, net, theirs, sj_net = _pair(_linear_net, 5)
    optimizer, sj_optimizer = _sgd(net), _sgd(sj_net)
    for _ in range(2):
        x_seq = 2.0 * torch.rand(5, 8, 12, dtype=torch.float64)
        y = torch.randint(0, 4, (8,))
        loss = ours.train_step(net, x_seq, y, optimizer)
        sj_loss = theirs.train_step(sj_net, x_seq, y, sj_optimizer)
        assert float(sj_loss) == pytest.approx(float(loss), rel=TOLERANCE)
        assert _worst(net.state_dict(), sj_net.state_dict()) <= TOLERANCE
        assert _worst(ours.running, theirs.running) <= TOLERANCE


def _ce_grad(W: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """∇_W CE(softmax(x Wᵀ), y), batch-averaged, by hand."""
    return (torch.softmax(x @ W.T, dim=1) - F.one_hot(y, W.shape[0]).double()).T @ x / len(y)


def test_regulariser_and_running_average_by_hand():
    alpha, lr, T = 0.5, 0.3, 2
    method = _method("torch", T, alpha=alpha)  # linear weighting: w = (1/2, 1)
    model = nn.Linear(3, 2, bias=False).double()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    x_seq, y = torch.randn(T, 4, 3, dtype=torch.float64), torch.tensor([0, 1, 1, 0])
    W0, n = model.weight.detach().clone(), model.weight.numel()
    loss = method.train_step(model, x_seq, y, optimizer)
    # t = 0: W̄ = W0 and g = 0, so the regulariser's gradient is 0
    W1 = W0 - lr * 0.5 * _ce_grad(W0, x_seq[0], y)
    g0 = 0.5 * _ce_grad(W1, x_seq[0], y)  # ∇ℓ_0 at the new weights
    W_bar = (W0 + W1) / 2 - g0 / (2 * alpha)
    # t = 1 (last): α/n · (W − W̄ − g0/(2α)) added to ∇ℓ_1; no W̄ update after it
    W2 = W1 - lr * (_ce_grad(W1, x_seq[1], y) + alpha / n * (W1 - W_bar - g0 / (2 * alpha)))
    torch.testing.assert_close(model.weight.detach(), W2, rtol=1e-13, atol=0)
    torch.testing.assert_close(method.running["weight"], W_bar, rtol=1e-13, atol=0)
    expected = (0.5 * F.cross_entropy(x_seq[0] @ W0.T, y) + F.cross_entropy(x_seq[1] @ W1.T, y))
    assert float(loss) == pytest.approx(float(expected) / T, rel=1e-13)


def _membranes(net: nn.Module) -> list[torch.Tensor]:
    return [m.membrane() for m in net.modules() if isinstance(m, SpikingNeuron)]


@pytest.mark.parametrize("library", ["torch", "spikingjelly", "snntorch"])
def test_kept_state_puts_every_library_state_back(library):
    pytest.importorskip(library)
    net = _linear_net(_method(library, 3))
    x = torch.rand(3, 8, 12) * 2
    set_step_mode(net, "s", 3)
    reset_states(net)
    with torch.no_grad():
        net(x[0])
        kept, before, twin = KeptState(net), _membranes(net), copy.deepcopy(net)
        net(x[1])  # a step to be undone
        assert not all(torch.equal(a, b) for a, b in zip(_membranes(net), before, strict=True))
        kept.restore()
        for a, b in zip(_membranes(net), before, strict=True):
            assert torch.equal(a, b)
        torch.testing.assert_close(net(x[2]), twin(x[2]), rtol=0, atol=0)
        assert all(torch.equal(a, b) for a, b in
                   zip(_membranes(net), _membranes(twin), strict=True))


def test_gradient_only_is_the_per_step_gradient_sum():
    """optimizer=None: Σ_t ∇ℓ_t/T at fixed W (uniform: SLTT's online gradient), no W̄."""
    method, sltt = _method("torch", 4, weighting="uniform"), get_method("sltt")(
        make_cell("sltt", "torch", timesteps=4))
    net = method.build((1, 8, 8), 10)
    twin = copy.deepcopy(net)
    x_seq, y = torch.rand(4, 16, 1, 8, 8), torch.randint(0, 10, (16,))
    before = copy.deepcopy(net.state_dict())
    method.train_step(net, x_seq, y, None)
    sltt.train_step(twin, x_seq, y, None)
    assert not method.running
    for (name, p), q in zip(net.named_parameters(), twin.parameters(), strict=True):
        assert torch.equal(p.detach(), before[name])
        torch.testing.assert_close(p.grad, q.grad)


def test_supports_rejects_a_non_positive_alpha():
    ok, why = FPTT.supports(make_cell("fptt", params={"alpha": 0.0}))
    assert not ok and "alpha" in why
    assert FPTT.supports(make_cell("fptt"))[0]


class _Stop(Exception):
    pass


def test_running_average_survives_a_checkpoint(tmp_path, monkeypatch):
    cell = make_cell("fptt", timesteps=2, epochs=2, batch_size=512, lr=0.05, augment=(),
                     bn_stats="running")
    whole = execute(cell, checkpoint_dir=tmp_path / "whole")
    save = checkpoint.save

    def save_then_stop(folder, state):
        assert state["method"]["running_average"]  # W̄ is in the checkpoint
        save(folder, state)
        raise _Stop  # the process "dies" after its first epoch's checkpoint

    monkeypatch.setattr(checkpoint, "save", save_then_stop)
    with pytest.raises(_Stop):
        execute(cell, checkpoint_dir=tmp_path / "resumed")
    monkeypatch.setattr(checkpoint, "save", save)
    resumed = execute(cell, checkpoint_dir=tmp_path / "resumed")
    assert resumed["resumed_at_epochs"] == [1]
    for key in ("test_top1_curve", "train_loss_curve", "firing_rates"):
        assert resumed[key] == whole[key], key


def test_loss_goes_down_on_digits():
    digits, T = get_dataset("digits"), 3
    x, y = digits.splits(T).train[:128]
    x_seq = digits.encode(x, T)
    method = _method("torch", T)
    net = method.build(digits.in_shape, digits.num_classes)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    losses = [float(method.train_step(net, x_seq[:, i:i + 64], y[i:i + 64], optimizer))
              for _ in range(3) for i in (0, 64)]
    assert losses[-1] < 0.5 * losses[0], losses
