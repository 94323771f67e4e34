"""Time-aware modules and whole-model helpers: step mode, state reset, pass switching."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager

from torch import nn


class StepModule(nn.Module):
    """A module of this suite that behaves per step mode: ``'m'`` takes folded ``[T·B, ...]``
    input (``T`` set here), ``'s'`` one step ``[B, ...]`` and keeps state between calls.
    Only these are switched by :func:`set_step_mode` (library layers keep their own modes)."""

    def __init__(self) -> None:
        super().__init__()
        self.step_mode = "m"
        self.T = 1
        self.exact = False  # behave as a plain differentiable module (see ``exact_mode``)

    def reset_state(self) -> None:
        """Forget kept state (start of a new sequence)."""


class TwoPassModule(StepModule):
    """A module of rate-based BP: ``phase`` is ``'spike'`` (pass 1) or ``'rate'`` (pass 2)."""

    def __init__(self) -> None:
        super().__init__()
        self.phase = "spike"


def set_step_mode(model: nn.Module, mode: str, timesteps: int) -> None:
    """Put every :class:`StepModule` in ``'m'`` (folded ``[T·B, ...]``) or ``'s'`` mode."""
    if mode not in ("m", "s"):
        raise ValueError(f"step mode must be 'm' or 's', got {mode!r}")
    for module in model.modules():
        if isinstance(module, StepModule):
            module.step_mode = mode
            module.T = timesteps


def reset_states(model: nn.Module) -> None:
    """Forget every kept state (membranes, traces, per-sequence accumulators)."""
    for module in model.modules():
        if isinstance(module, StepModule):
            module.reset_state()


def set_phase(model: nn.Module, phase: str) -> None:
    """Switch the rate-based modules between their ``spike`` and ``rate`` pass."""
    if phase not in ("spike", "rate"):
        raise ValueError(f"phase must be 'spike' or 'rate', got {phase!r}")
    for module in model.modules():
        if isinstance(module, TwoPassModule):
            module.phase = phase


@contextmanager
def exact_mode(model: nn.Module) -> Iterator[nn.Module]:
    """The model's own forward with exact gradients through time: no detached membranes, no
    traces, no two-pass substitution, normalisers differentiated as computed, and every neuron
    with its reset spike detached (the ``bptt`` convention). Used as gradient-alignment
    reference."""
    from ..libraries.base import SpikingNeuron

    saved = []
    for module in model.modules():
        if isinstance(module, StepModule):
            module.exact = True
        if isinstance(module, SpikingNeuron):
            saved.append((module, module.cfg))
            module.cfg = dataclasses.replace(module.cfg, detach_reset=True)
            module.on_config_change()
    try:
        yield model
    finally:
        for module in model.modules():
            if isinstance(module, StepModule):
                module.exact = False
        for module, cfg in saved:
            module.cfg = cfg
            module.on_config_change()
