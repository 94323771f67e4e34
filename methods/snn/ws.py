"""Scaled weight standardisation (OTTT's normaliser in place of BatchNorm).

``Ŵ = gain · (W − mean(W)) / sqrt(var(W) · fan_in + eps)`` per output unit (unbiased variance,
eps = 1e-4), the formula of the OTTT reference and of spikingjelly's ``WSConv2d``.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

EPS = 1e-4


def standardize(
    weight: torch.Tensor, gain: torch.Tensor | None, eps: float = EPS
) -> torch.Tensor:
    dims = list(range(1, weight.ndim))
    fan_in = math.prod(weight.shape[1:])
    mean = weight.mean(dim=dims, keepdim=True)
    var = weight.var(dim=dims, keepdim=True)
    w = (weight - mean) / torch.sqrt(var * fan_in + eps)
    return w if gain is None else w * gain


class ScaledWSConv2d(nn.Conv2d):
    """Conv2d whose weight is standardised at every call, with a learnable per-channel gain."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.gain = nn.Parameter(torch.ones(self.out_channels, 1, 1, 1))

    def effective_weight(self) -> torch.Tensor:
        return standardize(self.weight, self.gain)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.effective_weight(), self.bias, self.stride, self.padding,
                        self.dilation, self.groups)


class ScaledWSLinear(nn.Linear):
    """Linear layer with a standardised weight and a learnable per-unit gain."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.gain = nn.Parameter(torch.ones(self.out_features, 1))

    def effective_weight(self) -> torch.Tensor:
        return standardize(self.weight, self.gain)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.effective_weight(), self.bias)
