"""Firing rate per spiking layer (mean over time, neurons and samples), via forward hooks."""

from __future__ import annotations

from contextlib import contextmanager

import torch
from torch import nn

from methods.libraries import SpikingNeuron


@contextmanager
def firing_rates(model: nn.Module):
    """Yields a dict filled, on exit, with ``layer name → mean spike rate`` of every LIF layer."""
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    handles = []

    def hook(name):
        def record(module, inputs, output):
            spikes = output[0] if isinstance(output, (tuple, list)) else output
            if isinstance(spikes, torch.Tensor):
                sums[name] = sums.get(name, 0.0) + float(spikes.detach().float().sum())
                counts[name] = counts.get(name, 0) + spikes.numel()
        return record

    for name, module in model.named_modules():
        if isinstance(module, SpikingNeuron):
            handles.append(module.register_forward_hook(hook(name)))
    rates: dict[str, float] = {}
    try:
        yield rates
    finally:
        for h in handles:
            h.remove()
        rates.update({name: sums[name] / counts[name] for name in sums if counts[name]})
