"""OTTT-O: as OTTT-A, but the optimizer steps after every time step."""

from __future__ import annotations

from .base import Complexity, register_method
from .ottt_a import OTTTA


@register_method
class OTTTO(OTTTA):
    name = "ottt_o"
    description = "online training through time, optimizer step at every time step (OTTT-O)"
    complexity = Complexity(memory="L", backward="L·T", optimizer_steps="T")
    step_every = True
