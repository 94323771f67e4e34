"""What a trained network costs to run (``benches.measure.inference``), on a network whose
spikes are fixed, counted by hand from the definitions; and on a trained cell's record."""

from __future__ import annotations

import pytest
import torch
from helpers import make_cell
from torch import nn

from benches.measure.inference import ENERGY_MODEL, inference_cost
from benches.worker.setup import execute
from methods.libraries.torch import TorchLIF
from methods.snn.config import LIFConfig
from methods.snn.layers import Scale


class _Direct:
    """A stand-in for a method: its prediction is the network on the folded input."""

    def predict(self, model: nn.Module, x_seq: torch.Tensor) -> torch.Tensor:
        return model(x_seq.flatten(0, 1))


def _network() -> nn.Sequential:
    """4 real inputs → 3 LIF neurons (θ = 1) → 2 outputs; no biases. No weight is 0/1-valued
    throughout (the counters take a binary operand for spikes)."""
    first, second = nn.Linear(4, 3, bias=False), nn.Linear(3, 2, bias=False)
    with torch.no_grad():
        first.weight.copy_(torch.tensor([[1.5, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0.5]]))
        second.weight.fill_(0.5)
    return nn.Sequential(first, TorchLIF(LIFConfig(threshold=1.0)), second)


def test_counts_by_hand():
    # T = 1, two samples. First layer: H = (1.5, 0, 2) and (1.5, 0, 1.5): spikes (1, 0, 1) twice
    x_seq = torch.tensor([[[1.0, 2, 3, 4], [1.0, 0, 0, 3]]])
    m = inference_cost(_Direct(), _network(), x_seq)
    assert m["inference_samples"] == 2
    assert m["macs"] == 4 * 3  # real-valued input: every multiply-accumulate, per sample
    assert m["synops"] == 4 * 2 / 2  # 4 spikes in all, each reaching 2 outputs, over 2 samples
    assert m["dense_macs"] == 4 * 3 + 3 * 2  # what a dense execution would do
    assert m["effective_ops"] == 4 * 3 + 4 * 2 / 2
    assert m["acs"] >= m["synops"]  # accumulates also count the neurons' own additions
    assert m["activation_sparsity"] == pytest.approx(1 / 3)  # 4 of 6 neuron updates spiked
    assert m["layer_sparsity"] == {"1": pytest.approx(1 / 3)}
    assert m["neuron_updates"] == 3  # 3 neurons × T = 1, per sample
    assert m["layer_ops"] == {"0": {"synops": 0, "macs": 12}, "2": {"synops": 4, "macs": 0}}
    assert m["energy_uj"] == pytest.approx((0.9 * 4 + 4.6 * 12) / 1e6)
    assert m["energy_model"] == ENERGY_MODEL and ENERGY_MODEL["pj_per_mac"] == 4.6
    assert m["parameter_bytes"] == (12 + 6) * 4
    assert m["connection_sparsity"] == pytest.approx(10 / 18)  # the first layer's 10 zeros
    assert m["energy_sj_uj"] > m["energy_uj"]  # spikingjelly's model adds weight traffic
    assert m["energy_sj_model"]


def test_scaled_spikes_are_spikes():
    """OTTT's ×2.74 after a neuron: W·(c·s) = (c·W)·s, still one synaptic operation per spike
    and weight; a real-valued input is still multiply-accumulates."""
    x_seq = torch.tensor([[[1.0, 2, 3, 4], [1.0, 0, 0, 3]]])
    plain = _network()
    scaled = nn.Sequential(plain[0], plain[1], Scale(2.74), plain[2])
    m = inference_cost(_Direct(), scaled, x_seq)
    assert (m["synops"], m["macs"]) == (4 * 2 / 2, 4 * 3)
    assert m["energy_uj"] == pytest.approx((0.9 * 4 + 4.6 * 12) / 1e6)
    assert m["layer_ops"]["3"] == {"synops": 4, "macs": 0}


def test_no_spike_no_synaptic_operation():
    """Below threshold nothing fires: no synaptic operation; the input stays real-valued."""
    x_seq = torch.full((1, 2, 4), 0.3)
    m = inference_cost(_Direct(), _network(), x_seq)
    assert m["synops"] == 0 and m["activation_sparsity"] == 1.0 and m["macs"] == 12


def test_a_trained_cell_records_its_costs():
    m = execute(make_cell("bptt", timesteps=2, epochs=1, batch_size=64, augment=()))
    assert m["inference_samples"] == 64
    assert 0 < m["synops"] < m["dense_macs"] and m["macs"] > 0
    assert 0 < m["activation_sparsity"] < 1
    assert 1 - m["activation_sparsity"] == pytest.approx(
        sum(1 - s for s in m["layer_sparsity"].values()) / len(m["layer_sparsity"]), rel=0.5)
    assert m["energy_uj"] == pytest.approx((0.9 * m["synops"] + 4.6 * m["macs"]) / 1e6)

