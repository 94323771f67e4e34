"""What the method wrappers (online, trace, OTS, two-pass) use of a library neuron, as a type.

:class:`methods.libraries.SpikingNeuron` has all of it; the wrappers are typed against this
protocol so that :mod:`methods.snn` need not import :mod:`methods.libraries` (which builds on it).
"""

from __future__ import annotations

from typing import Any, Protocol

import torch

from .config import LIFConfig


class Neuron(Protocol):
    """A library LIF layer (an ``nn.Module``) seen through the interface the wrappers call."""

    @property
    def cfg(self) -> LIFConfig:
        """The constants of the next call."""
        ...

    @property
    def h(self) -> torch.Tensor | None:
        """The charged potential ``H_t`` of the last single step."""
        ...

    @property
    def eligibility(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        """``(rate, eligibility)`` of the last multi-step spike pass."""
        ...

    def __call__(self, *args: Any, **kwargs: Any) -> Any: ...

    def detach_state(self) -> None: ...

    def membrane(self) -> torch.Tensor | None: ...
