"""What a method may need from a library's neuron, by name.

A method declares ``needs`` (a set of these names); a library declares ``capabilities`` and,
for each one it lacks, why (``lacks``). A library added by an outside package runs every
built-in method whose needs it covers, and the neuron configurations its ``supports`` accepts.
"""

from __future__ import annotations

MULTI_STEP = "multi_step"
"""T steps at once from a zero state, with the library's own autograd (BPTT)."""
SINGLE_STEP = "single_step"
"""One step at a time from a kept membrane state (online methods, rate-based BP's spike pass)."""
DETACH_STATE = "detach_state"
"""Cut the kept membrane state from the graph between steps (no gradient across time)."""
STEP_THRESHOLD = "step_threshold"
"""A threshold given with each single step, deciding that step's spike and reset (OS's OTS)."""

ALL = frozenset({MULTI_STEP, SINGLE_STEP, DETACH_STATE, STEP_THRESHOLD})
