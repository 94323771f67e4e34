"""Firing rate per spiking layer (mean over time, neurons and samples).

For the duration of the context every library neuron carries a forward hook that counts the
spikes it returns. Every method wrapper calls its neuron as a module, so each call is seen
whichever method runs; only the outermost call of a neuron counts, so a library whose multi-step
call goes through its own single-step calls is not counted twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from methods.libraries import SpikingNeuron


class _SpikeCounter:
    """Forward hooks of one neuron: the spikes and elements of its outermost calls."""

    def __init__(self) -> None:
        self.depth = 0  # calls of this neuron under way (nested ones are not counted)
        self.spikes: torch.Tensor | None = None  # float64, on the spikes' device: no sync
        self.elements = 0

    def enter(self, module: nn.Module, args: tuple[Any, ...]) -> None:
        self.depth += 1

    def leave(self, module: nn.Module, args: tuple[Any, ...], out: object) -> None:
        self.depth -= 1
        if self.depth or not isinstance(out, torch.Tensor):
            return
        total = out.detach().float().sum().double()
        self.spikes = total if self.spikes is None else self.spikes + total
        self.elements += out.numel()



@contextmanager
def spiking_activity(model: nn.Module) -> Iterator[dict[str, tuple[float, int]]]:
    """Yields a dict filled, on exit, with ``layer name → (spikes, neuron updates)`` of every
    LIF layer (an update: one neuron at one step for one sample)."""
    counters: dict[str, _SpikeCounter] = {}
    handles: list[torch.utils.hooks.RemovableHandle] = []
    activity: dict[str, tuple[float, int]] = {}
    try:
        for name, module in model.named_modules():
            if isinstance(module, SpikingNeuron):
                counter = counters[name] = _SpikeCounter()
                handles.append(module.register_forward_pre_hook(counter.enter))
                # always_call: the depth comes back down even when the call raises
                handles.append(module.register_forward_hook(counter.leave, always_call=True))
        yield activity
    finally:
        for handle in handles:
            handle.remove()
        activity.update({name: (float(c.spikes), c.elements) for name, c in counters.items()
                         if c.spikes is not None and c.elements})


@contextmanager
def firing_rates(model: nn.Module) -> Iterator[dict[str, float]]:
    """Yields a dict filled, on exit, with ``layer name → mean spike rate`` of every LIF layer."""
    rates: dict[str, float] = {}
    try:
        with spiking_activity(model) as activity:
            yield rates
    finally:
        rates.update({name: spikes / updates for name, (spikes, updates) in activity.items()})
