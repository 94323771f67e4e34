"""What a trained network costs to run: operations, sparsity and energy per test sample.

After training, the network runs in evaluation mode on a fixed part of the test set (its first
:data:`SAMPLES` images, in order) under spikingjelly's operation counters
(``activation_based.op_counter``), which see aten operations and so count any library's
network alike:

* ``synops``: spike-driven synaptic operations (``SynOpCounter``: matrix products and
  convolutions whose input is binary, one per non-zero input and weight it meets);
* ``acs``: every accumulate (``ACCounter``: synops plus the additions inside normalisation,
  pooling and residual additions);
* ``macs``: multiply-accumulates on real-valued input (``MACCounter``: the first layer, the
  readout of a rate);
* ``dense_macs``: the multiply-accumulates of the same products executed densely (torch's
  ``FlopCounterMode`` / 2), what a non-spiking execution of the network would do;
* ``effective_ops``: their sum, synaptic operations + multiply-accumulates (what the weight
  layers do executed event-driven; NeuroBench's Effective_ACs + Effective_MACs);
* activation sparsity (1 − firing rate) per spiking layer and over all neuron updates, and the
  neuron state updates (neurons × T);
* the parameter footprint in bytes and the connection sparsity (the share of zero weights).

Energy, two models kept apart (each with its identifier and constants in the record):
``energy_uj`` is the convention of the SNN papers, compute only: 0.9 pJ per synaptic operation
(accumulate) and 4.6 pJ per multiply-accumulate (Horowitz, ISSCC 2014; 45 nm, fp32);
``energy_sj_uj`` is spikingjelly's ``estimate_simple_energy``, which adds the memory traffic of
reading weights (and so is several times larger).

Spikes scaled by a constant (OTTT's and NDOT's ×2.74) count as spikes
(:mod:`benches.measure.scaled_spikes`) for the three counters; spikingjelly's own energy
estimate takes them as it finds them.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from benches.measure.firing import spiking_activity
from benches.measure.scaled_spikes import count_scaled_spikes_as_spikes

SAMPLES = 64
"""Test images the costs are counted on (the first ones, in order)."""
ENERGY_MODEL = {"id": "horowitz2014_45nm_fp32_compute", "pj_per_synop": 0.9, "pj_per_mac": 4.6,
                "scope": "compute only: synaptic operations (accumulates) and "
                         "multiply-accumulates", "source": "Horowitz, ISSCC 2014"}


class _Predict(nn.Module):
    """The method's evaluation forward as a module (what the counters call)."""

    def __init__(self, method: Any, model: nn.Module) -> None:
        super().__init__()
        self.method, self.model = method, model

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        return self.method.predict(self.model, x_seq)


def inference_cost(method: Any, model: nn.Module, x_seq: torch.Tensor) -> dict[str, Any]:
    """The record's inference metrics for ``x_seq`` (``[T, N, ...]``, N samples), per sample."""
    from spikingjelly.activation_based.op_counter import (
        ACCounter,
        DispatchCounterMode,
        MACCounter,
        SynOpCounter,
    )

    n = x_seq.shape[1]
    predict = _Predict(method, model)
    counters = {kind: count_scaled_spikes_as_spikes(counter()) for kind, counter in
                (("synops", SynOpCounter), ("acs", ACCounter), ("macs", MACCounter))}
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), spiking_activity(model) as activity, \
                FlopCounterMode(display=False) as dense, \
                DispatchCounterMode(list(counters.values())):
            predict(x_seq)
        energy_sj = _spikingjelly_energy(predict, x_seq)
    finally:
        model.train(was_training)
    counts = {k: c.get_total() / n for k, c in counters.items()}
    metrics: dict[str, Any] = {**counts, "dense_macs": dense.get_total_flops() / 2 / n,
                               "effective_ops": counts["synops"] + counts["macs"],
                               "inference_samples": n}
    metrics["energy_uj"] = (ENERGY_MODEL["pj_per_synop"] * counts["synops"]
                            + ENERGY_MODEL["pj_per_mac"] * counts["macs"]) / 1e6
    metrics.update(energy_sj)
    metrics["layer_ops"] = _per_layer(model, counters, n)
    metrics.update(_sparsity(activity, n))
    metrics.update(_parameters(model))
    metrics["energy_model"] = ENERGY_MODEL
    return metrics


def _spikingjelly_energy(predict: nn.Module, x_seq: torch.Tensor) -> dict[str, Any]:
    """spikingjelly's simple energy model (compute and weight traffic), per sample."""
    from spikingjelly.activation_based.op_counter import estimate_simple_energy

    with torch.no_grad():
        report = estimate_simple_energy(predict, (x_seq,))
    n = x_seq.shape[1]
    return {"energy_sj_uj": report.energy_total_pj / n / 1e6,
            "energy_sj_compute_uj": report.energy_compute_pj / n / 1e6,
            "energy_sj_model": report.model_info.model_id}


def _per_layer(model: nn.Module, counters: dict[str, Any], n: int) -> dict[str, dict[str, float]]:
    """Per layer with weights: its synaptic operations and multiply-accumulates per sample."""
    counts = {kind: c.get_counts() for kind, c in counters.items() if kind != "acs"}
    out = {}
    for name, module in model.named_modules():
        if list(module.children()) or not isinstance(getattr(module, "weight", None),
                                                     torch.Tensor):
            continue
        scope = f"{_Predict.__name__}.model.{name}"
        ops = {kind: sum(c.get(scope, {}).values()) / n for kind, c in counts.items()}
        if any(ops.values()):
            out[name] = ops
    return out


def _sparsity(activity: dict[str, tuple[float, int]], n: int) -> dict[str, Any]:
    spikes = sum(s for s, _ in activity.values())
    updates = sum(u for _, u in activity.values())
    return {"activation_sparsity": 1.0 - spikes / updates if updates else None,
            "layer_sparsity": {name: 1.0 - s / u for name, (s, u) in activity.items()},
            "neuron_updates": updates / n}


def _parameters(model: nn.Module) -> dict[str, Any]:
    params = list(model.parameters())
    total = sum(p.numel() for p in params)
    zeros = sum(int((p == 0).sum()) for p in params)
    return {"parameter_bytes": sum(p.numel() * p.element_size() for p in params),
            "connection_sparsity": zeros / total if total else None}
