"""Spike-element-wise ResNet-34 (Fang et al. 2021) for ImageNet, as in rate-based BP and OS."""

from __future__ import annotations

import torch
from torch import nn

from ..snn.layers import LayerFactory
from ..snn.trace import SpikeTrace
from .base import Architecture, register_architecture
from .resnet import stages


class SEWBlock(nn.Module):
    """SEW basic block with the ADD connect function: ``SN(block(x)) + identity``.

    Both convs are conv3×3 → norm → LIF, so the output is spikes plus the identity's spikes (an
    integer count, which the next block takes as input). Where the stride or width changes the
    identity is 1×1 conv → norm → LIF.
    """

    def __init__(self, f: LayerFactory, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.residual = nn.Sequential(
            f.conv(cin, cout, 3, stride, padding=1, bias=True),
            f.norm(cout),
            f.neuron(),
            f.conv(cout, cout, 3, 1, padding=1, bias=True),
            f.norm(cout),
            f.neuron(),
        )
        self.shortcut = (
            nn.Sequential(f.conv(cin, cout, 1, stride, bias=True), f.norm(cout), f.neuron())
            if stride != 1 or cin != cout
            else None
        )
        self.add = f.add()

    def forward(self, x: torch.Tensor | SpikeTrace) -> torch.Tensor | SpikeTrace:
        # spikes, or OTTT's spike/trace pairs in training
        identity = x if self.shortcut is None else self.shortcut(x)
        return self.add(self.residual(x), identity)


@register_architecture
class ResNet34(Architecture):
    """SEW-ResNet-34 (ADD) for 224×224 ImageNet.

    Stem 7×7 stride-2 conv → norm → LIF → 3×3 stride-2 max pool; [3, 4, 6, 3] :class:`SEWBlock`
    of 64/128/256/512 channels; adaptive avg pool to 1×1; linear 512 → classes. Follows
    ``sew_resnet34`` in ``model/sew_resnet.py`` of Tab-ct/rate-based-backpropagation, which is
    the SEW net of ``models/spiking_resnet_SEW.py`` in zhuyaoyu/SNN-online-normalization (the
    ``model_type: SEW`` of its ImageNet config): convs carry a bias, as in both. Chosen over the
    pre-activation ResNet-34 (``model/preact_resnet.py``): it is rate-based BP's default ImageNet
    ``--arch`` and the SEW-34 that OS reports.
    """

    name = "resnet34"
    description = "SEW-ResNet-34 (ADD): 7×7 stem + max-pool, [3,4,6,3] SEW blocks, GAP, linear"
    input_size = "224×224"

    def build(self, f: LayerFactory, in_shape: tuple[int, ...], num_classes: int) -> nn.Module:
        return nn.Sequential(
            f.conv(in_shape[0], 64, 7, 2, padding=3, bias=True),
            f.norm(64),
            f.neuron(),
            f.max_pool(3, 2, padding=1),
            *stages(f, SEWBlock, 64, (64, 128, 256, 512), (3, 4, 6, 3)),
            f.adaptive_avg_pool(1),
            f.flatten(),
            f.readout(512, num_classes),
        )
