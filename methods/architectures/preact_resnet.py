"""SLTT's pre-activation spiking ResNet-18 for CIFAR.

Facts from ``models/spiking_resnet.py`` of qymeng94/SLTT (``spiking_resnet18``, the model of the
README's CIFAR-10/100 commands):

- stem: one 3×3 stride-1 conv to 64 channels without bias, and nothing after it (norm and
  neuron come with the first block);
- four stages of [2, 2, 2, 2] pre-activation blocks of 64/128/256/512 channels, the first block
  of stages 2–4 with stride 2;
- block: ``s = LIF(BN(x))``; ``y = conv3×3(drop(LIF(BN(conv3×3(s)))))`` (the first conv carries
  the stride); output ``y + shortcut``, the shortcut being ``s`` itself, or a 1×1 conv of ``s``
  where the stride or width changes. Both the identity and the 1×1 conv take the block's
  *spikes* ``s``, not its input ``x``; every conv in a block has a bias, no shortcut has a norm;
- after the last stage: BN → LIF → 4×4 average pool (1×1 at 32×32 input) → flatten → dropout →
  linear 512 → classes;
- dropout (``-drop_rate``, spikingjelly ``layer.Dropout``) sits between the second neuron and
  the second conv of every block and before the linear layer.

Its weight initialisation is the ``sltt`` scheme of :mod:`methods.architectures.init`.
"""

from __future__ import annotations

import torch
from torch import nn

from ..snn.layers import LayerFactory
from ..snn.trace import SpikeTrace
from .base import Architecture, register_architecture
from .resnet import stages

POOL = 4
"""Side of the final average pool (``nn.AvgPool2d(4)`` in the official model)."""


def strided(size: int, stride: int) -> int:
    """Output side of a 3×3 conv with padding 1 (or a 1×1 conv without padding)."""
    return (size - 1) // stride + 1


class PreActBlock(nn.Module):
    """``conv(drop(LIF(norm(conv(s))))) + shortcut(s)`` with ``s = LIF(norm(x))``."""

    def __init__(self, f: LayerFactory, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.pre = nn.Sequential(f.norm(cin), f.neuron())
        self.residual = nn.Sequential(
            f.conv(cin, cout, 3, stride, padding=1, bias=True),
            f.norm(cout),
            f.neuron(),
            f.drop(),
            f.conv(cout, cout, 3, 1, padding=1, bias=True),
        )
        self.shortcut = (
            f.conv(cin, cout, 1, stride, bias=True) if stride != 1 or cin != cout else None
        )
        self.add = f.add()

    def forward(self, x: torch.Tensor) -> torch.Tensor | SpikeTrace:
        spikes = self.pre(x)  # spikes, or OTTT's spike/trace pairs in training
        identity = spikes if self.shortcut is None else self.shortcut(spikes)
        return self.add(self.residual(spikes), identity)


@register_architecture
class PreActResNet18(Architecture):
    """SLTT's pre-activation spiking ResNet-18 (Meng et al. 2023): bias-free 3×3 stem,
    [2, 2, 2, 2] pre-activation blocks of 64–512 channels whose shortcuts carry the block's
    spikes, final norm → LIF → 4×4 avg pool, dropout, linear. See the module docstring for the
    structure and its source."""

    name = "preact_resnet18"
    description = "SLTT pre-act ResNet-18: [2,2,2,2] pre-act blocks 64–512, norm-LIF, AP4, linear"
    input_size = "32×32"

    def build(self, f: LayerFactory, in_shape: tuple[int, ...], num_classes: int) -> nn.Module:
        channels, height, width = in_shape
        for _ in range(3):  # the stride-2 first blocks of stages 2–4
            height, width = strided(height, 2), strided(width, 2)
        features = 512 * (height // POOL) * (width // POOL)
        return nn.Sequential(
            f.conv(channels, 64, 3, 1, padding=1),
            *stages(f, PreActBlock, 64, (64, 128, 256, 512), (2, 2, 2, 2)),
            f.norm(512),
            f.neuron(),
            f.avg_pool(POOL),
            f.flatten(),
            f.drop(),
            f.readout(features, num_classes),
        )
