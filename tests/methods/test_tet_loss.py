"""The TET loss (Deng et al., ICLR 2022) as a recipe choice: its value, its gradient through
each kind of method, and the rate methods' refusal."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from helpers import make_cell
from torch import nn

from methods import get_method
from methods.recipes import COMMON
from methods.snn.loss import sequence_loss, step_loss


def official_form(out_seq: torch.Tensor, y: torch.Tensor, lamb: float, means: float):
    """TET as the paper writes it: (1 − λ)·(1/T)·Σ_t CE(o_t, y) + λ·MSE(O, φ) over the whole
    output tensor O = [T, B, C]."""
    ce = sum(F.cross_entropy(o, y) for o in out_seq) / out_seq.shape[0]
    return (1 - lamb) * ce + lamb * F.mse_loss(out_seq, torch.full_like(out_seq, means))


def test_sequence_loss_is_the_papers_formula():
    torch.manual_seed(0)
    out = torch.randn(5, 7, 4, dtype=torch.float64)
    y = torch.randint(0, 4, (7,))
    recipe = COMMON.updated(loss="tet", tet_lambda=0.2, tet_phi=0.7)
    torch.testing.assert_close(sequence_loss(out, y, recipe), official_form(out, y, 0.2, 0.7))
    # not the cross-entropy of the mean output (the common "ce")
    assert abs(float(sequence_loss(out, y, COMMON)) - float(sequence_loss(out, y, recipe))) > 1e-3


def tiny_net(method):
    f = method.layers()
    return nn.Sequential(f.linear(10, 12), f.neuron(), f.linear(12, 4)).double()


def gradients(name: str, x_seq, y, **recipe) -> list[torch.Tensor]:
    torch.manual_seed(3)
    method = get_method(name)(make_cell(name, timesteps=x_seq.shape[0], **recipe))
    net = tiny_net(method)
    method.train_step(net, x_seq, y, optimizer=None)
    return [p.grad.clone() for p in net.parameters()]


def test_bptt_back_propagates_the_tet_loss_of_its_outputs():
    torch.manual_seed(1)
    x_seq = torch.randn(4, 6, 10, dtype=torch.float64) + 0.8
    y = torch.randint(0, 4, (6,))
    got = gradients("bptt", x_seq, y, loss="tet", tet_lambda=0.3)
    torch.manual_seed(3)
    method = get_method("bptt")(make_cell("bptt", timesteps=4))
    net = tiny_net(method)
    from methods import forward_sequence
    official_form(forward_sequence(net, x_seq), y, 0.3, 1.0).backward()
    for a, b in zip(got, [p.grad for p in net.parameters()], strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14)


def test_an_online_method_with_tet_lambda_zero_is_its_ce_objective():
    """Online methods already minimise the mean over t of CE(o_t); TET adds the MSE term."""
    torch.manual_seed(2)
    x_seq = torch.randn(4, 6, 10, dtype=torch.float64) + 0.8
    y = torch.randint(0, 4, (6,))
    ce = gradients("sltt", x_seq, y)
    tet0 = gradients("sltt", x_seq, y, loss="tet", tet_lambda=0.0)
    tet = gradients("sltt", x_seq, y, loss="tet", tet_lambda=0.5)
    for a, b in zip(ce, tet0, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14)
    assert not torch.allclose(ce[-2], tet[-2])


def test_step_loss_uses_lambda_and_phi():
    out = torch.tensor([[2.0, 0.0]], dtype=torch.float64)
    y = torch.tensor([0])
    recipe = COMMON.updated(loss="tet", tet_lambda=0.5, tet_phi=1.0)
    ce = float(F.cross_entropy(out, y))
    mse = ((2.0 - 1.0) ** 2 + (0.0 - 1.0) ** 2) / 2
    assert float(step_loss(out, y, recipe)) == pytest.approx(0.5 * ce + 0.5 * mse, rel=1e-12)


@pytest.mark.parametrize("name", ["rate_m", "rate_s"])
def test_rate_methods_refuse_tet_with_the_reason(name):
    ok, why = get_method(name).supports(make_cell(name, loss="tet"))
    assert not ok and "TET" in why and "one output" in why


@pytest.mark.parametrize("name", ["bptt", "bptt_reset", "ottt_a", "ottt_o", "sltt", "sltt_k",
                                  "os"])
def test_methods_with_step_outputs_accept_tet(name):
    ok, why = get_method(name).supports(make_cell(name, loss="tet"))
    assert ok, why


def test_tet_lambda_is_checked():
    with pytest.raises(ValueError, match="tet_lambda"):
        COMMON.updated(loss="tet", tet_lambda=1.5)
