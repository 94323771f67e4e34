"""A small fully connected SNN for sequence input (one feature vector per time step)."""

from __future__ import annotations

from math import prod

from torch import nn

from ..snn.layers import LayerFactory
from .base import Architecture, register_architecture

HIDDEN = 128


@register_architecture
class FCSeq(Architecture):
    """linear(128)–norm–LIF, linear(128)–norm–LIF, linear → classes."""

    name = "fc_seq"
    description = "2 fully connected + norm + LIF layers of 128, linear readout (sequence input)"
    input_size = "a feature vector per step"

    def build(self, f: LayerFactory, in_shape: tuple[int, ...], num_classes: int) -> nn.Module:
        features = prod(in_shape)
        return nn.Sequential(
            f.flatten(),
            f.linear(features, HIDDEN),
            f.norm(HIDDEN, dims=1),
            f.neuron(),
            f.linear(HIDDEN, HIDDEN),
            f.norm(HIDDEN, dims=1),
            f.neuron(),
            f.readout(HIDDEN, num_classes),
        )
