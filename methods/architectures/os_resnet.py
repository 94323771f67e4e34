"""Online Stabilization's spiking ResNet-19 for CIFAR.

Facts from ``models/spiking_resnet.py`` of zhuyaoyu/SNN-online-normalization
(``online_spiking_resnet19``; no yaml of the repository selects it — ``yamls/CIFAR10.yaml`` sets
no ``model`` and so runs the default ``online_spiking_vgg11_ws`` of ``config.py`` — but it is
the ResNet-19 the OS paper reports):

- stem: 3×3 stride-1 conv to 128 channels → norm → LIF;
- three stages of [3, 3, 2] basic blocks of 128/256/512 channels, the first block of stages 2
  and 3 with stride 2;
- block: ``LIF(norm(conv3×3(LIF(norm(conv3×3(x)))) + shortcut(x)))``: the second norm comes
  *after* the residual add, on the sum; the shortcut is ``x``, or a 1×1 conv → norm where the
  stride or width changes;
- every conv has a bias;
- head: 2×2 stride-2 average pool (8×8 → 4×4 at 32×32 input), flatten, linear 512·16 → 256,
  a 1-d norm, linear 256 → classes; no neuron between the two linear layers;
- no dropout: the block and stem neurons are built without the ``neuron_dropout`` argument.

How it differs from the suite's ``resnet19`` (rate-based BP's ``model/resnet.py``), which has the
same stem width, stage widths, depths and strides:

1. ``resnet19`` normalises the residual branch before the add (``LIF(norm(conv(...)) +
   shortcut)``); this net normalises the sum (``LIF(norm(conv(...) + shortcut))``);
2. ``resnet19``'s convs have no bias, these have one;
3. ``resnet19`` reads out through global average pooling to 512 features, linear 512 → 256,
   LIF, linear 256 → classes; this one through a 2×2 average pool to 512·4·4 = 8192 features,
   linear 8192 → 256, a norm and no neuron, linear 256 → classes (about 2.1 M head parameters
   instead of 0.13 M).

Its weight initialisation is the ``os`` scheme of :mod:`methods.architectures.init` (for a
ResNet: Kaiming-normal conv weights, everything else as built).
"""

from __future__ import annotations

import torch
from torch import nn

from ..snn.layers import LayerFactory
from ..snn.trace import SpikeTrace
from .base import Architecture, register_architecture
from .preact_resnet import strided
from .resnet import stages


class PostAddNormBlock(nn.Module):
    """``LIF(norm(conv3×3(LIF(norm(conv3×3(x)))) + shortcut(x)))``: the second norm on the sum.

    The shortcut is the identity, or a 1×1 conv → norm where the stride or width changes.
    """

    def __init__(self, f: LayerFactory, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.residual = nn.Sequential(
            f.conv(cin, cout, 3, stride, padding=1, bias=True),
            f.norm(cout),
            f.neuron(),
            f.conv(cout, cout, 3, 1, padding=1, bias=True),
        )
        self.shortcut = (
            nn.Sequential(f.conv(cin, cout, 1, stride, bias=True), f.norm(cout))
            if stride != 1 or cin != cout
            else None
        )
        self.add = f.add()
        self.norm = f.norm(cout)
        self.neuron = f.neuron()

    def forward(self, x: torch.Tensor | SpikeTrace) -> torch.Tensor | SpikeTrace:
        # spikes, or OTTT's spike/trace pairs in training
        identity = x if self.shortcut is None else self.shortcut(x)
        return self.neuron(self.norm(self.add(self.residual(x), identity)))


@register_architecture
class OSResNet19(Architecture):
    """Online Stabilization's ResNet-19 (Zhu et al. 2024): 128-channel 3×3 stem, [3, 3, 2]
    blocks of 128–512 channels with the second norm after the residual add, biased convs, 2×2
    avg pool, linear 8192 → 256 → norm → linear 256 → classes. See the module docstring for the
    source and the differences from ``resnet19``."""

    name = "os_resnet19"
    description = "OS ResNet-19: norm after the residual add, biased convs, AP2, linear-norm-linear"
    input_size = "32×32"

    def build(self, f: LayerFactory, in_shape: tuple[int, ...], num_classes: int) -> nn.Module:
        channels, height, width = in_shape
        for _ in range(2):  # the stride-2 first blocks of stages 2 and 3
            height, width = strided(height, 2), strided(width, 2)
        features = 512 * (height // 2) * (width // 2)
        return nn.Sequential(
            f.conv(channels, 128, 3, 1, padding=1, bias=True),
            f.norm(128),
            f.neuron(),
            *stages(f, PostAddNormBlock, 128, (128, 256, 512), (3, 3, 2)),
            f.avg_pool(2, 2),
            f.flatten(),
            f.linear(features, 256),
            f.norm(256, dims=1),
            f.readout(256, num_classes),
        )
