"""Spiking VGGs: OTTT's VGG-11 (CIFAR), TET's VGGSNN (CIFAR10-DVS at 48×48) and SLTT's
VGG-11 with BN (DVS).

All stack 3×3 conv → norm → LIF layers with 2×2 average pooling; they differ in where the
pools sit, in the readout and in where dropout goes. Convolutions carry a bias, as in every
official code they follow.
"""

from __future__ import annotations

from typing import ClassVar, Final, Literal

from torch import nn

from ..snn.layers import LayerFactory
from .base import Architecture, register_architecture

POOL: Final = "A"
"""A 2×2, stride-2 average pool in a layer list; any other entry is a conv's output channels."""

Config = tuple[int | Literal["A"], ...]


def conv_stack(
    f: LayerFactory, in_channels: int, cfg: Config, drop: bool = False
) -> list[nn.Module]:
    """3×3 conv (padding 1, bias) → norm → LIF for each channel count, avg pool for ``POOL``;
    with ``drop``, the recipe's dropout after every LIF."""
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
            if drop:
                layers.append(f.drop())
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
    ``ottt_spiking_vgg11`` of spikingjelly and SLTT's DVS model (:class:`VGG11BN`) use; the conv
    parameters are the same either way.

    Dropout (the recipe's rate) follows every LIF of the conv stack and nowhere else: OTTT's
    ``OnlineLIFNode`` (``modules/neuron.py``) multiplies its spikes by a dropout mask
    (``neuron_dropout``, from ``-drop_rate`` in ``train_cifar10dvs.py``), and every conv layer's
    neuron of ``models/spiking_vgg.py`` gets it; OS's ``OnlineLIFNode`` (``modules/neurons.py``)
    does the same in each ``SynapseNeuron`` of its ``models/spiking_vgg.py``. The light
    classifier of both has no dropout.
    """

    name = "vgg11"
    description = "OTTT VGG-11: 8 conv-norm-LIF, 3 avg-pools, GAP, linear 512→classes"
    input_size = "32×32"
    cfg: ClassVar[Config] = (64, 128, POOL, 256, 256, POOL, 512, 512, POOL, 512, 512)

    def build(self, f: LayerFactory, in_shape: tuple[int, ...], num_classes: int) -> nn.Module:
        return nn.Sequential(
            *conv_stack(f, in_shape[0], self.cfg, drop=True),
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


@register_architecture
class VGG11BN(Architecture):
    """SLTT's DVS network (Meng et al. 2023): torchvision's VGG-11 layer order with BN, average
    pools, a 7×7 adaptive average pool and one linear layer.

    ``64C3-AP2-128C3-AP2-256C3-256C3-AP2-512C3-512C3-AP2-512C3-512C3-AP2-AAP7-FC``: each conv
    (with bias) followed by norm, LIF and dropout at the recipe's rate, 2×2 average pools, an
    adaptive average pool to 7×7 (it enlarges the 1×1 map of 48×48 input and the 4×4 map of
    128×128 input), flatten, linear 512·49 = 25088 → classes. Follows ``spiking_vgg11_bn`` in
    ``models/spiking_vgg_bn.py`` of qymeng94/SLTT: there a spikingjelly ``layer.Dropout``
    follows every spiking layer (``-drop_rate``: 0.3 for DVS-CIFAR10, 0.4 for DVS-Gesture in
    the README) and the classifier (flatten, linear) has none. Its weight initialisation is the
    ``sltt`` scheme of :mod:`methods.architectures.init`.
    """

    name = "vgg11_bn"
    description = "SLTT VGG-11 BN: torchvision order, 8 conv-norm-LIF-drop, 5 avg-pools, AAP7, FC"
    input_size = "48×48"
    cfg: ClassVar[Config] = (64, POOL, 128, POOL, 256, 256, POOL, 512, 512, POOL, 512, 512, POOL)

    def build(self, f: LayerFactory, in_shape: tuple[int, ...], num_classes: int) -> nn.Module:
        return nn.Sequential(
            *conv_stack(f, in_shape[0], self.cfg, drop=True),
            f.adaptive_avg_pool(7),
            f.flatten(),
            f.readout(512 * 7 * 7, num_classes),
        )
