"""Spiking VGGs: OTTT's VGG-11 (CIFAR) and TET's VGGSNN (CIFAR10-DVS at 48×48).

Both stack 3×3 conv → norm → LIF layers with 2×2 average pooling; they differ in where the
pools sit and in the readout. Convolutions carry a bias, as in every official code they follow.
"""

from __future__ import annotations

from typing import ClassVar, Final, Literal

from torch import nn

from ..snn.layers import LayerFactory
from .base import Architecture, register_architecture

POOL: Final = "A"
"""A 2×2, stride-2 average pool in a layer list; any other entry is a conv's output channels."""

Config = tuple[int | Literal["A"], ...]


def conv_stack(f: LayerFactory, in_channels: int, cfg: Config) -> list[nn.Module]:
    """3×3 conv (padding 1, bias) → norm → LIF for each channel count, avg pool for ``POOL``."""
    layers: list[nn.Module] = []
    for entry in cfg:
        if entry == POOL:
            layers.append(f.avg_pool(2, 2))
        else:
            layers += [
                f.conv(in_channels, entry, 3, padding=1, bias=True),
                f.norm(entry),
                f.neuron(),
            ]
            in_channels = entry
    return layers


def pooled_size(size: int, cfg: Config) -> int:
    """Spatial size after the pools of ``cfg`` (each floors, like ``AvgPool2d(2)``)."""
    for entry in cfg:
        if entry == POOL:
            size //= 2
    return size


@register_architecture
class VGG11(Architecture):
    """The VGG-11 of OTTT (Xiao et al. 2022), also OS's VGG for CIFAR: 8 conv layers, GAP, FC.

    ``64C3-128C3-AP2-256C3-256C3-AP2-512C3-512C3-AP2-512C3-512C3-GAP-FC``, each conv followed by
    norm and LIF, then the light classifier (adaptive avg pool to 1×1, flatten, linear 512 →
    classes). Pools are average pools. This is cfg ``'A'`` of ``models/spiking_vgg.py`` in
    pkuxmq/OTTT-SNN (run with ``fc_hw=1``; zhuyaoyu/SNN-online-normalization has the same cfg)
    and cfg ``'S'`` of spikingjelly's ``ottt_spiking_vggws``. It is not torchvision's VGG-11
    order (``64-M-128-M-256-256-M-512-512-M-512-512-M``), which only the heavy-classifier
    ``ottt_spiking_vgg11`` of spikingjelly and SLTT's DVS model (``spiking_vgg_bn.py``, with a
    7×7 adaptive pool before the FC) use; the conv parameters are the same either way.
    """

    name = "vgg11"
    description = "OTTT VGG-11: 8 conv-norm-LIF, 3 avg-pools, GAP, linear 512→classes"
    input_size = "32×32"
    cfg: ClassVar[Config] = (64, 128, POOL, 256, 256, POOL, 512, 512, POOL, 512, 512)

    def build(self, f: LayerFactory, in_shape: tuple[int, ...], num_classes: int) -> nn.Module:
        return nn.Sequential(
            *conv_stack(f, in_shape[0], self.cfg),
            f.adaptive_avg_pool(1),
            f.flatten(),
            f.readout(512, num_classes),
        )


@register_architecture
class VGGSNN(Architecture):
    """VGGSNN of TET (Deng et al. 2022), used for CIFAR10-DVS by rate-based BP and OS.

    ``64C3-128C3-AP2-256C3-256C3-AP2-512C3-512C3-AP2-512C3-512C3-AP2-FC``: each conv followed by
    norm and LIF, average pools, and one linear layer on the flattened final map (3×3 at 48×48
    input, so 512·9 = 4608 → classes). Follows ``'VGGSNN_DVS'`` in ``model/vgg.py`` of
    Tab-ct/rate-based-backpropagation. OS's code (``models/spiking_vgg.py``) instead drops the
    fourth pool and reads out through a 1×1 adaptive pool, i.e. :class:`VGG11`.
    """

    name = "vggsnn"
    description = "TET VGGSNN: 8 conv-norm-LIF, 4 avg-pools, linear on the flattened map"
    input_size = "48×48"
    cfg: ClassVar[Config] = (64, 128, POOL, 256, 256, POOL, 512, 512, POOL, 512, 512, POOL)

    def build(self, f: LayerFactory, in_shape: tuple[int, ...], num_classes: int) -> nn.Module:
        channels, height, width = in_shape
        features = 512 * pooled_size(height, self.cfg) * pooled_size(width, self.cfg)
        return nn.Sequential(
            *conv_stack(f, channels, self.cfg),
            f.flatten(),
            f.readout(features, num_classes),
        )
