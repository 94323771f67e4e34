"""A small convolutional SNN for 8×8 inputs (scikit-learn digits and its event version)."""

from __future__ import annotations

from torch import nn

from ..snn.layers import LayerFactory
from .base import Architecture, register_architecture


@register_architecture
class ConvNetDigits(Architecture):
    """conv3×3(16)–norm–LIF, conv3×3(32)–norm–LIF, avgpool 2, linear → classes."""

    name = "convnet_digits"
    description = "2 conv + LIF blocks, avg-pool, linear readout (8×8 inputs)"
    input_size = "8×8"

    def build(self, f: LayerFactory, in_shape: tuple[int, ...], num_classes: int) -> nn.Module:
        channels, height, width = in_shape
        return nn.Sequential(
            f.conv(channels, 16, 3, padding=1),
            f.norm(16),
            f.neuron(),
            f.conv(16, 32, 3, padding=1),
            f.norm(32),
            f.neuron(),
            f.avg_pool(2),
            f.flatten(),
            f.readout(32 * (height // 2) * (width // 2), num_classes),
        )
