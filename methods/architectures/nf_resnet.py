"""Normaliser-free spiking ResNet-34 (OTTT's NF-ResNet-34) for ImageNet, also reported by OS.

The network has no normalisation layer at all, whichever method builds it. Every convolution
standardises its weight (scaled WS with a learnable per-channel gain, :mod:`methods.snn.ws`),
every neuron's output is multiplied by a constant γ = 2.74, and signal growth along the residual
stream is controlled analytically, NF-Net style: each block divides its input by β, the square
root of the variance the stream is expected to have there, and adds its residual branch scaled
by α·g, with g a learnable scalar that starts at 0 (SkipInit), so at initialisation every block
is the identity.

Facts from ``models/spiking_resnet_imagenet.py`` of pkuxmq/OTTT-SNN (``online_spiking_nfresnet34``
with the arguments ``train_imagenet.py`` passes; no dropout, no stochastic depth):

- stem: a 7×7 stride-2 WS conv to 64 channels, then a 3×3 stride-2 *average* pool (padding 1);
  no neuron in the stem;
- four stages of pre-activation basic blocks, [3, 4, 6, 3] blocks of 64/128/256/512 channels,
  the first block of stages 2–4 with stride 2;
- block: ``s = γ·LIF(x / β)``; ``y = conv3×3(γ·LIF(conv3×3(s)))`` (the first conv carries the
  stride); shortcut = ``x``, or a 1×1 WS conv *of the spikes* ``s`` where the stride or width
  changes; output ``α·g·y + shortcut``;
- α = 0.2; β starts at 1, the expected variance grows by α² after each block and restarts at
  1 + α² after a block with a conv shortcut;
- readout: adaptive average pool to 1×1 of the (non-spiking) residual stream, then a plain
  linear 512 → classes whose weight starts at zero;
- every conv has a bias; convs start from Kaiming-normal (fan-out) weights and zero biases.

Built from the method's factory like the other architectures (conv, neuron, pooling, flatten,
residual add), with three deliberate exceptions, all because the normaliser-free design is part
of the architecture rather than of the method: a conv the factory returns plain is swapped for
the library's weight-standardised conv (inside whatever wrapper the method puts around it; OTTT's
convs are already standardised and stay as they are); γ is appended after a neuron unless the
method's neuron applies it itself (OTTT's does, for its weight-standardised VGG); the readout is
a plain zero-initialised linear and the stem's padded average pool a plain pool, since they only
ever see currents (never spikes), as in the official model.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from ..snn.layers import LayerFactory, Scale
from .base import Architecture, register_architecture

GAMMA = 2.74
"""The constant after each neuron of a weight-standardised spiking net (OTTT reference)."""
ALPHA = 0.2
"""Scale of each residual branch (the default of OTTT's NF-ResNets)."""


def ws_conv(
    f: LayerFactory, cin: int, cout: int, kernel: int, stride: int = 1, padding: int = 0
) -> nn.Module:
    """The method's conv (with bias), weight-standardised whatever the method.

    A plain ``nn.Conv2d`` from the factory, alone or inside the method's wrapper, is replaced by
    the library's scaled-WS conv of the same shape; an already standardised one is kept.
    """

    def standardized() -> nn.Module:
        return f.library.weight_standardized("conv", cin, cout, kernel, stride=stride,
                                             padding=padding, bias=True)

    conv = f.conv(cin, cout, kernel, stride, padding=padding, bias=True)
    if type(conv) is nn.Conv2d:
        return standardized()
    for parent in list(conv.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is nn.Conv2d:
                setattr(parent, name, standardized())
    return conv


def scaled_neuron(f: LayerFactory) -> nn.Module:
    """The method's neuron followed by ×γ (unless the neuron already scales by γ itself)."""
    neuron = f.neuron()
    if getattr(neuron, "scale", None) == GAMMA:
        return neuron
    return nn.Sequential(neuron, Scale(GAMMA))


class SkipInitGain(nn.Module):
    """``x · α · g`` with a learnable scalar ``g`` that starts at 0."""

    def __init__(self, alpha: float) -> None:
        super().__init__()
        self.alpha = alpha
        self.gain = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * (self.gain * self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class NFBlock(nn.Module):
    """Pre-activation NF basic block: ``α·g·conv(γ·LIF(conv(s))) + shortcut``, ``s = γ·LIF(x/β)``.

    The shortcut is ``x`` itself, or a 1×1 WS conv of ``s`` where the stride or width changes.
    """

    def __init__(self, f: LayerFactory, cin: int, cout: int, stride: int, beta: float,
                 alpha: float) -> None:
        super().__init__()
        self.beta = beta
        self.pre = Scale(1.0 / beta)
        self.neuron1 = scaled_neuron(f)
        self.conv1 = ws_conv(f, cin, cout, 3, stride, padding=1)
        self.neuron2 = scaled_neuron(f)
        self.conv2 = ws_conv(f, cout, cout, 3, 1, padding=1)
        self.skip_gain = SkipInitGain(alpha)
        self.shortcut = (
            ws_conv(f, cin, cout, 1, stride) if stride != 1 or cin != cout else None
        )
        self.add = f.add()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.neuron1(self.pre(x))
        identity = x if self.shortcut is None else self.shortcut(s)
        out = self.conv2(self.neuron2(self.conv1(s)))
        return self.add(self.skip_gain(out), identity)

    def extra_repr(self) -> str:
        return f"beta={self.beta:.4f}"


def nf_stages(
    f: LayerFactory, cin: int, widths: Sequence[int], depths: Sequence[int], alpha: float
) -> list[nn.Module]:
    """NF blocks with β from the expected variance of the residual stream at each block."""
    layers: list[nn.Module] = []
    variance = 1.0
    for i, (width, depth) in enumerate(zip(widths, depths, strict=True)):
        for j in range(depth):
            stride = 2 if i > 0 and j == 0 else 1
            block = NFBlock(f, cin, width, stride, math.sqrt(variance), alpha)
            # a conv shortcut restarts the stream at unit variance (a WS conv of γ-scaled spikes)
            variance = (1.0 if block.shortcut is not None else variance) + alpha**2
            layers.append(block)
            cin = width
    return layers


def init_nf(model: nn.Module, classifier: nn.Linear) -> None:
    """The official initialisation: Kaiming-normal (fan-out) convs, zero biases, zero readout."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
    nn.init.zeros_(classifier.weight)


@register_architecture
class NFResNet34(Architecture):
    """Normaliser-free ResNet-34 with scaled weight standardisation (OTTT, Xiao et al. 2022;
    also Online Stabilization's ImageNet net): 7×7 WS stem + avg pool, [3, 4, 6, 3]
    pre-activation NF blocks of 64–512 channels (γ = 2.74, α = 0.2, SkipInit gain), GAP,
    linear. See the module docstring for the structure and its source."""

    name = "nf_resnet34"
    description = "NF-ResNet-34 (OTTT): scaled-WS convs, no norm, [3,4,6,3] NF blocks, GAP, linear"
    input_size = "224×224"

    def build(self, f: LayerFactory, in_shape: tuple[int, ...], num_classes: int) -> nn.Module:
        classifier = nn.Linear(512, num_classes)
        model = nn.Sequential(
            ws_conv(f, in_shape[0], 64, 7, 2, padding=3),
            nn.AvgPool2d(3, 2, padding=1),
            *nf_stages(f, 64, (64, 128, 256, 512), (3, 4, 6, 3), ALPHA),
            f.adaptive_avg_pool(1),
            f.flatten(),
            classifier,
        )
        init_nf(model, classifier)
        return model
