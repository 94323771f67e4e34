"""The layer kinds an architecture is built from, supplied by the method (``LayerFactory``).

An architecture only calls the factory, so one architecture definition serves every method and
library: a method changes what ``conv``, ``norm`` or ``neuron`` return (weight-standardised conv
for OTTT, OSR for OS, two-pass layers for rate-based BP) and the architecture stays the same.
Layers take folded input: ``[T·B, ...]`` in multi-step mode, ``[B, ...]`` in single-step mode.
"""

from __future__ import annotations

import torch
from torch import nn

from ..libraries.base import Library
from .config import LIFConfig
from .functional import StepModule


class Add(nn.Module):
    """Residual addition as a module, so methods can make it trace-aware."""

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return a + b


class Scale(nn.Module):
    """Multiply by a constant (OTTT's 2.74 after each neuron of a weight-standardised net)."""

    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.value

    def extra_repr(self) -> str:
        return f"value={self.value}"


class LayerFactory:
    """Default layer kinds: plain conv/linear, BatchNorm, the library's LIF neuron."""

    def __init__(self, library: Library, lif: LIFConfig, drop_rate: float = 0.0) -> None:
        self.library = library
        self.lif = lif
        self.drop_rate = drop_rate
        """The recipe's dropout rate: architectures place :meth:`drop` where their published
        code has dropout."""

    def conv(
        self, cin: int, cout: int, kernel: int, stride: int = 1, padding: int = 0,
        bias: bool = False,
    ) -> nn.Module:
        return nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding, bias=bias)

    def linear(self, fin: int, fout: int, bias: bool = True) -> nn.Module:
        return nn.Linear(fin, fout, bias=bias)

    def readout(self, fin: int, fout: int) -> nn.Module:
        """The classifier at the end of a network (a method may keep it plainer than its
        hidden layers: OTTT's readout is not weight-standardised)."""
        return self.linear(fin, fout)

    def norm(self, channels: int, dims: int = 2) -> nn.Module:
        return nn.BatchNorm2d(channels) if dims == 2 else nn.BatchNorm1d(channels)

    def neuron(self) -> nn.Module:
        return self.library.neuron(self.lif)

    def max_pool(self, kernel: int, stride: int | None = None, padding: int = 0) -> nn.Module:
        return nn.MaxPool2d(kernel, stride=stride, padding=padding)

    def avg_pool(self, kernel: int, stride: int | None = None) -> nn.Module:
        return nn.AvgPool2d(kernel, stride=stride)

    def adaptive_avg_pool(self, size: int) -> nn.Module:
        return nn.AdaptiveAvgPool2d(size)

    def flatten(self) -> nn.Module:
        return nn.Flatten(1)

    def dropout(self, p: float) -> nn.Module:
        """Dropout at rate ``p`` with one mask per sample over the time steps (identity at 0)."""
        return SequenceDropout(p) if p > 0 else nn.Identity()

    def drop(self) -> nn.Module:
        """Dropout at the recipe's rate (identity at 0)."""
        return self.dropout(self.drop_rate)

    def add(self) -> nn.Module:
        return Add()


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


class SequenceDropout(StepModule):
    """Dropout with one mask per sample for the whole sequence, as spikingjelly's
    ``layer.Dropout`` (which OTTT, SLTT and OS use): the mask is drawn at the first step and
    kept until the state is reset. Multi-step input ``[T·B, ...]`` gets the mask of its
    sample at every step; in single-step mode each call reuses the kept mask, so a spike and
    its OTTT trace, passed one after the other, are dropped alike. Identity in eval mode."""

    _mask: torch.Tensor | None

    def __init__(self, p: float) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout rate must be in [0, 1), got {p}")
        self.p = p
        self.register_memory("_mask")

    def _draw(self, like: torch.Tensor) -> torch.Tensor:
        keep = torch.empty_like(like).bernoulli_(1.0 - self.p)
        return keep / (1.0 - self.p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        if self.step_mode == "m":
            steps = x.reshape(self.T, -1, *x.shape[1:])
            mask = self._draw(steps[0])
            return (steps * mask).reshape(x.shape)
        if self._mask is None or self._mask.shape != x.shape:
            self._mask = self._draw(x)
        return x * self._mask

    def extra_repr(self) -> str:
        return f"p={self.p}, one mask per sequence"
