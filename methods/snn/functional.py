"""Time-aware modules and whole-model helpers: kept state, step mode, pass switching.

This module imports nothing of the suite: the library neurons (``methods.libraries``), the
method wrappers and the helpers below all build on it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn


class MemoryModule(nn.Module):
    """A module that keeps state between calls (spikingjelly's ``register_memory`` idea).

    Every kept value is declared once with :meth:`register_memory`; :meth:`reset_state` puts
    them all back to their initial values and :meth:`detach_state` cuts the tensors among them
    from the graph. A module that keeps state in an object of its own library extends both.
    :func:`reset_states` resets every memory module of a model, one way.
    """

    def __init__(self) -> None:
        super().__init__()
        self._memories: dict[str, Any] = {}

    def register_memory(self, name: str, init: Any = None) -> None:
        """Keep ``name`` between calls, starting (and reset) at ``init``; a callable ``init``
        (``list``) gives a fresh value at every reset."""
        self._memories[name] = init
        setattr(self, name, init() if callable(init) else init)

    def reset_state(self) -> None:
        """Forget kept state (start of a new sequence)."""
        for name, init in self._memories.items():
            setattr(self, name, init() if callable(init) else init)

    def detach_state(self) -> None:
        """Cut kept tensors from the graph (no gradient across time)."""
        for name in self._memories:
            value = getattr(self, name)
            if isinstance(value, torch.Tensor):
                setattr(self, name, value.detach())


class StepModule(MemoryModule):
    """A module of this suite that behaves per step mode: ``'m'`` takes folded ``[T·B, ...]``
    input (``T`` set here), ``'s'`` one step ``[B, ...]`` and keeps state between calls.
    Only these are switched by :func:`set_step_mode` (library layers keep their own modes).

    ``exact`` (set by :func:`exact_mode` only) asks for the plain differentiable forward."""

    def __init__(self) -> None:
        super().__init__()
        self.step_mode = "m"
        self.T = 1
        self.exact = False


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
        if isinstance(module, MemoryModule):
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
    reference.

    Only the ``exact`` flag of every :class:`StepModule` is set for the duration; each module
    reads it (a library neuron runs with its reset detached while it is set), and no
    configuration object is replaced."""
    modules = [m for m in model.modules() if isinstance(m, StepModule)]
    for module in modules:
        module.exact = True
    try:
        yield model
    finally:
        for module in modules:
            module.exact = False
