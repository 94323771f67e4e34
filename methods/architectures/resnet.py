"""Spiking CIFAR ResNets (ResNet-18, ResNet-19) as in rate-based BP, OS and SLTT.

Layout of ``model/resnet.py`` in Tab-ct/rate-based-backpropagation: a 3×3 stride-1 stem conv →
norm → LIF, basic blocks whose second LIF fires after the residual add, adaptive avg pool to
1×1, then the classifier. Convolutions have no bias; linear layers do.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from ..snn.layers import LayerFactory
from ..snn.trace import SpikeTrace
from .base import Architecture, register_architecture

Block = Callable[[LayerFactory, int, int, int], nn.Module]
"""``block(f, in_channels, out_channels, stride)``."""


class BasicBlock(nn.Module):
    """``LIF(norm(conv3×3(LIF(norm(conv3×3(x))))) + shortcut(x))``.

    The shortcut is the identity, or a 1×1 conv → norm where the stride or width changes.
    """

    def __init__(self, f: LayerFactory, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.residual = nn.Sequential(
            f.conv(cin, cout, 3, stride, padding=1),
            f.norm(cout),
            f.neuron(),
            f.conv(cout, cout, 3, 1, padding=1),
            f.norm(cout),
        )
        self.shortcut = (
            nn.Sequential(f.conv(cin, cout, 1, stride), f.norm(cout))
            if stride != 1 or cin != cout
            else None
        )
        self.add = f.add()
        self.neuron = f.neuron()

    def forward(self, x: torch.Tensor | SpikeTrace) -> torch.Tensor | SpikeTrace:
        # spikes, or OTTT's spike/trace pairs in training
        identity = x if self.shortcut is None else self.shortcut(x)
        return self.neuron(self.add(self.residual(x), identity))


def stages(
    f: LayerFactory, block: Block, cin: int, widths: Sequence[int], depths: Sequence[int]
) -> list[nn.Module]:
    """Residual stages: the first keeps the resolution, each later one halves it in its first
    block; ``depths[i]`` blocks of ``widths[i]`` channels."""
    layers: list[nn.Module] = []
    for i, (width, depth) in enumerate(zip(widths, depths, strict=True)):
        for j in range(depth):
            stride = 2 if i > 0 and j == 0 else 1
            layers.append(block(f, cin, width, stride))
            cin = width
    return layers


def cifar_resnet(
    f: LayerFactory,
    in_channels: int,
    widths: Sequence[int],
    depths: Sequence[int],
    head: Sequence[nn.Module],
) -> nn.Module:
    """3×3 stem of ``widths[0]`` channels, basic-block stages, GAP, flatten, ``head``."""
    return nn.Sequential(
        f.conv(in_channels, widths[0], 3, 1, padding=1),
        f.norm(widths[0]),
        f.neuron(),
        *stages(f, BasicBlock, widths[0], widths, depths),
        f.adaptive_avg_pool(1),
        f.flatten(),
        *head,
    )


@register_architecture
class ResNet18(Architecture):
    """Spiking ResNet-18 for CIFAR: 64-channel 3×3 stem, [2, 2, 2, 2] basic blocks of
    64/128/256/512 channels, GAP, linear 512 → classes (``resnet18`` of rate-based BP)."""

    name = "resnet18"
    description = "CIFAR ResNet-18: 3×3 stem, [2,2,2,2] basic blocks 64–512, GAP, linear"
    input_size = "32×32"

    def build(self, f: LayerFactory, in_shape: tuple[int, ...], num_classes: int) -> nn.Module:
        head = [f.readout(512, num_classes)]
        return cifar_resnet(f, in_shape[0], (64, 128, 256, 512), (2, 2, 2, 2), head)


@register_architecture
class ResNet19(Architecture):
    """Spiking ResNet-19 for CIFAR (Zheng et al. 2021): 128-channel 3×3 stem, [3, 3, 2] basic
    blocks of 128/256/512 channels, GAP, linear 512 → 256, LIF, linear 256 → classes
    (``resnet19`` of rate-based BP)."""

    name = "resnet19"
    description = "CIFAR ResNet-19: 3×3 stem, [3,3,2] basic blocks 128–512, GAP, 2-layer head"
    input_size = "32×32"

    def build(self, f: LayerFactory, in_shape: tuple[int, ...], num_classes: int) -> nn.Module:
        head = [f.linear(512, 256), f.neuron(), f.readout(256, num_classes)]
        return cifar_resnet(f, in_shape[0], (128, 256, 512), (3, 3, 2), head)
