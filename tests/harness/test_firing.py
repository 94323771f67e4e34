"""Firing rates per spiking layer, whichever method wraps the neuron."""

from __future__ import annotations

import pytest
import torch
from helpers import make_cell
from torch import nn

from benches.measure.firing import firing_rates
from methods import get_method
from methods.libraries import SpikingNeuron


def hand_rate(c: float, T: int, tau: float = 2.0, theta: float = 1.0) -> float:
    v, spikes = 0.0, 0
    for _ in range(T):
        h = (1 - 1 / tau) * v + c
        s = h >= theta
        spikes += s
        v = h - theta * s
    return spikes / T


@pytest.mark.parametrize("name, library", [("bptt", "torch"), ("bptt", "spikingjelly"),
                                           ("ottt_a", "spikingjelly"), ("rate_m", "torch"),
                                           ("sltt", "torch")])
def test_rate_of_a_constant_current(name, library):
    method = get_method(name)(make_cell(name, library, timesteps=10))
    model = nn.Sequential(method.layers().neuron()).eval()
    currents = [0.3, 0.6, 0.75, 1.2]
    x_seq = torch.tensor(currents).repeat(10, 25, 1)  # [T, B, 4]
    with firing_rates(model) as rates:
        method.predict(model, x_seq)
    (rate,) = rates.values()
    assert rate == pytest.approx(sum(hand_rate(c, 10) for c in currents) / 4)
    neuron = next(m for m in model.modules() if isinstance(m, SpikingNeuron))
    assert not neuron._forward_hooks and not neuron._forward_pre_hooks  # hooks removed


def test_os_layers_are_counted_step_by_step():
    """OS evaluates step by step through its OTS wrapper: the rate is still recorded."""
    method = get_method("os")(make_cell("os", timesteps=6))
    model = nn.Sequential(method.layers().neuron()).eval()
    x_seq = torch.randn(6, 20, 30) + 0.5
    with firing_rates(model) as rates:
        method.predict(model, x_seq)
    (rate,) = rates.values()
    thresholds = model[0].thresholds
    assert len(thresholds) == 6 and 0.0 < rate < 1.0
