"""Activation-memory accounting (saved-tensor hooks) and its scaling in T per method."""

from __future__ import annotations

import gc

import pytest
import torch
from helpers import BUILTIN_METHODS, make_cell
from torch import nn

from benches.measure.memory import SavedTensorMeter
from methods import get_method

N = 1000  # float32 elements → 4000 bytes


def test_known_graph_gives_known_bytes():
    x = torch.randn(N, requires_grad=True)
    with SavedTensorMeter() as meter:
        y = x.sigmoid()  # saves its result: 4000 B
        z = torch.exp(x)  # saves its result: 4000 B
        w = (y * y).sum() + (z * 3.0).sum()  # y*y saves y twice (same storage: counted once)
    assert meter.peak == 2 * 4 * N
    assert meter.current == 2 * 4 * N
    w.backward()
    assert meter.current == 0  # backward freed the graph
    assert meter.peak == 2 * 4 * N


def test_views_of_one_storage_count_once_and_parameters_not_at_all():
    lin = nn.Linear(10, 5)
    x = torch.randn(4, 10, requires_grad=True)
    with SavedTensorMeter(exclude=list(lin.parameters())) as meter:
        out = lin(x)  # saves x (160 B) and the weight (a parameter: excluded)
        out2 = lin(x[:2])  # a view of x: same storage, not counted again
    assert meter.peak == 4 * 4 * 10
    del out, out2


def test_freed_graph_lowers_the_live_count():
    x = torch.randn(N, requires_grad=True)
    with SavedTensorMeter() as meter:
        a = x.sigmoid()
        b = a.tanh()  # saves its result: 4000 B more
        assert meter.current == 8 * N
        del b
        gc.collect()
        assert meter.current == 4 * N  # b's graph node is gone
        del a
        gc.collect()
        assert meter.current == 0
    assert meter.peak == 8 * N


def activation_bytes(name: str, T: int, library: str = "torch") -> int:
    torch.manual_seed(0)
    method = get_method(name)(make_cell(name, library, timesteps=T))
    model = method.build((1, 8, 8), 10)
    x_seq = torch.randn(T, 16, 1, 8, 8)
    y = torch.randint(0, 10, (16,))
    with SavedTensorMeter(exclude=[*model.parameters(), *model.buffers()]) as meter:
        method.train_step(model, x_seq, y, optimizer=None)
    return meter.peak


@pytest.mark.parametrize("name", ["bptt", "bptt_reset", "bptt_ckpt"])
def test_bptt_memory_grows_linearly_in_t(name):
    sizes = {T: activation_bytes(name, T) for T in (2, 4, 8, 16)}
    for T in (4, 8, 16):
        assert sizes[T] / sizes[2] == pytest.approx(T / 2, rel=0.05)


@pytest.mark.parametrize("name", [m for m in BUILTIN_METHODS
                                  if m not in ("bptt", "bptt_reset", "bptt_ckpt")])
def test_online_and_rate_memory_is_flat_in_t(name):
    small, large = activation_bytes(name, 2), activation_bytes(name, 16)
    assert small > 0
    assert large == pytest.approx(small, rel=0.03)
