"""Firing rate per spiking layer (mean over time, neurons and samples).

Every library neuron is instrumented for the duration of the context: its ``multi_step`` and
``single_step`` calls are counted (the outermost call only, so a library that loops over its own
single step is not counted twice), whichever wrapper of a method invokes them.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
from torch import nn

from methods.libraries import SpikingNeuron


def _instrument(neuron: SpikingNeuron, name: str, sums: dict, counts: dict, depth: list):
    originals = {}
    for attr in ("multi_step", "single_step"):
        original = getattr(neuron, attr)
        originals[attr] = original

        def counted(*args, _original=original, **kwargs):
            depth[0] += 1
            try:
                out = _original(*args, **kwargs)
            finally:
                depth[0] -= 1
            if depth[0] == 0 and isinstance(out, torch.Tensor):
                sums[name] = sums.get(name, 0.0) + float(out.detach().float().sum())
                counts[name] = counts.get(name, 0) + out.numel()
            return out

        setattr(neuron, attr, counted)
    return originals


@contextmanager
def firing_rates(model: nn.Module):
    """Yields a dict filled, on exit, with ``layer name → mean spike rate`` of every LIF layer."""
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    patched = []
    for name, module in model.named_modules():
        if isinstance(module, SpikingNeuron):
            patched.append((module, _instrument(module, name, sums, counts, [0])))
    rates: dict[str, float] = {}
    try:
        yield rates
    finally:
        for module, originals in patched:
            for attr in originals:
                delattr(module, attr)  # back to the class's methods
        rates.update({name: sums[name] / counts[name] for name in sums if counts[name]})
