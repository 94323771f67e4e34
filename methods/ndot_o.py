"""NDOT-O: as NDOT-A, but the optimizer steps after every time step."""

from __future__ import annotations

from .base import Complexity, register_method
from .ndot_a import NDOTA


@register_method
class NDOTO(NDOTA):
    """As ndot_a, except that the optimizer steps and zeroes the gradients right after each
    step's backward (T optimizer steps per batch; step t+1 runs with the weights of step t)."""

    name = "ndot_o"
    description = "neuronal dynamics-based online training, optimizer step at every time step " \
        "(NDOT-O)"
    complexity = Complexity(memory="L", backward="L·T", optimizer_steps="T")
    step_every = True
