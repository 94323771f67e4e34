"""Spikes scaled by a constant count as spikes.

Some networks multiply every spike by a constant before the next layer (OTTT's and NDOT's
weight-standardised networks: ×2.74 after each neuron). A layer then sees ``{0, c}`` instead of
``{0, 1}``; spikingjelly's counters would take it for real-valued input (multiply-accumulates,
no synaptic operation). But ``W·(c·s) = (c·W)·s``: on hardware the constant folds into the
weights and the layer is still spike-driven. :func:`count_scaled_spikes_as_spikes` makes a
counter's rules see such an input as the binary spikes it is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

aten = torch.ops.aten

SPIKE_INPUT = {aten.mm.default: 0, aten.addmm.default: 1, aten.bmm.default: 0,
               aten.baddbmm.default: 1, aten.convolution.default: 0}
"""Operator → position of its activation operand (the other one is the weight)."""


def is_scaled_spikes(x: torch.Tensor) -> bool:
    """Whether ``x`` holds zeros and one other constant (not 1: plain spikes need nothing). Both
    must occur: a tensor of one constant alone is taken for real-valued input."""
    if not x.is_floating_point():
        return False
    nonzero = x[x != 0]
    if nonzero.numel() in (0, x.numel()):
        return False
    value = nonzero[0]
    return bool(value != 1) and bool((nonzero == value).all())


def _binarised(rule: Callable, position: int) -> Callable:
    """``rule`` applied with the operand at ``position`` as ``{0, 1}`` when it is scaled
    spikes."""

    def counted(args: tuple, kwargs: dict, out: Any) -> Any:
        x = args[position]
        with torch._C._ExcludeDispatchKeyGuard(
                torch._C.DispatchKeySet(torch._C.DispatchKey.Python)):
            if torch.is_tensor(x) and is_scaled_spikes(x):
                args = (*args[:position], (x != 0).to(x.dtype), *args[position + 1:])
        return rule(args, kwargs, out)

    return counted


def count_scaled_spikes_as_spikes(counter: Any) -> Any:
    """``counter`` (a spikingjelly op counter), its matrix-product and convolution rules
    taking scaled spikes for spikes; returned for chaining."""
    for op, position in SPIKE_INPUT.items():
        if op in counter.rules:
            counter.rules[op] = _binarised(counter.rules[op], position)
    return counter
