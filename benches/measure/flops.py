"""Operations of one training iteration, comparable across machines and free of noise.

The activation-memory probe (a cell's first, untimed iteration) also runs under
``torch.utils.flop_counter.FlopCounterMode``: the floating-point operations of the whole step,
and of its ``forward``, ``backward`` and ``optimizer`` phases apart (the methods' own phase
markers, as the timer reads them). The counter counts what torch's FLOP formulas cover:
matrix products and convolutions (2 per multiply-accumulate), forward and backward; elementwise
work (neuron updates, normalisation, an SGD step) counts 0. Watching the probe changes none of its
arithmetic, so training is unchanged.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Iterator

from torch.utils.flop_counter import FlopCounterMode

PHASES = ("forward", "backward", "optimizer")


class PhaseFlops:
    """A phase timer (``flops(phase)``, what methods call ``timer(phase)``) that counts FLOPs
    instead of time; :meth:`iteration` counts the whole step around them."""

    def __init__(self) -> None:
        self.by_phase: dict[str, int] = defaultdict(int)
        self.total = 0

    @contextlib.contextmanager
    def __call__(self, phase: str) -> Iterator[None]:
        with FlopCounterMode(display=False) as counter:
            yield
        self.by_phase[phase] += counter.get_total_flops()

    @contextlib.contextmanager
    def iteration(self) -> Iterator[None]:
        with FlopCounterMode(display=False) as counter:
            yield
        self.total = counter.get_total_flops()

    def metrics(self) -> dict[str, int]:
        """``flops_per_iter`` and ``flops_<phase>`` for the record."""
        return {"flops_per_iter": self.total,
                **{f"flops_{phase}": self.by_phase.get(phase, 0) for phase in PHASES}}
