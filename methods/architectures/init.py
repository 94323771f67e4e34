"""Weight initialisation schemes, by name (the recipe's ``init``).

``default`` keeps what PyTorch's layers draw when they are built. The paper track names the
scheme of each method's official code; :func:`initialize` applies it to a built network.

A scheme is named after a paper family (``rate_bp``, ``ottt``, ``sltt``, ``os``) because the
recipes are per family, but in the official codes the rule belongs to the *model file*: each of
the four families initialises its VGGs and its ResNets differently (and OS's CIFAR table has a
VGG and a ResNet under one recipe). So a family's scheme looks at the built network — plain
feed-forward (the VGGs), rate-based BP's CIFAR ResNet (``resnet18``, ``resnet19``), another
residual network, or a normaliser-free ResNet (``nf_resnet34``) — and applies the rule of the
family's model file for that kind. Where a family published no network of a kind, the scheme's
docstring says which of its rules it uses and that this is the suite's choice. Six distinct
rules occur in the four codes (``_keep``, ``_kaiming_convs``, ``_kaiming_convs_zero_fc_bias``,
``_normal_half``, ``_torchvision_vgg``, ``_normaliser_free``).

Layers are found by type over ``model.modules()``, so the layers a method wraps are reached
too: a conv is any ``nn.Conv2d`` (OTTT's weight-standardised convs are subclasses, inside its
trace synapses), a linear any ``nn.Linear``, a norm any BatchNorm (also the one inside
rate-based BP's two-pass norm), GroupNorm, LayerNorm or OS's OSR norm.

Weight-standardised layers (OTTT's synapses, every conv of ``nf_resnet34``) get the same draw
as plain ones, on their raw weight; their gain is left as built (1). This is what OTTT's code
does (its init loop matches ``ScaledWSConv2d`` as a conv and draws Kaiming weights for it). The
standardisation removes each output unit's mean and scale from the raw weight, so on these
layers a scheme changes only the random direction of the effective weight, not its size.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Literal

import torch
from torch import nn

from ..snn.layers import Add
from ..snn.osr import OSRNorm
from ..snn.trace import PairAdd
from .nf_resnet import NFBlock
from .resnet import BasicBlock

Scheme = Callable[[nn.Module], None]
Network = Literal["plain", "cifar_resnet", "resnet", "nf_resnet"]

NORMS = (nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.LayerNorm, OSRNorm)
"""Layers with a per-channel scale ``weight`` and shift ``bias``."""


def network_kind(model: nn.Module) -> Network:
    """``nf_resnet`` (has NF blocks), ``cifar_resnet`` (rate-based BP's basic blocks),
    ``resnet`` (any other residual sum), or ``plain``."""
    modules = list(model.modules())
    if any(isinstance(m, NFBlock) for m in modules):
        return "nf_resnet"
    if any(isinstance(m, BasicBlock) for m in modules):
        return "cifar_resnet"
    if any(isinstance(m, (Add, PairAdd)) for m in modules):
        return "resnet"
    return "plain"


# -- the rules found in the official codes ------------------------------------------------------
def _convs(model: nn.Module) -> Iterator[nn.Conv2d]:
    return (m for m in model.modules() if isinstance(m, nn.Conv2d))


def _linears(model: nn.Module) -> Iterator[nn.Linear]:
    return (m for m in model.modules() if isinstance(m, nn.Linear))


def _zero_biases(layers: Iterable[nn.Conv2d | nn.Linear]) -> None:
    for layer in layers:
        if layer.bias is not None:
            nn.init.zeros_(layer.bias)


def _unit_norms(model: nn.Module) -> None:
    for norm in model.modules():
        if isinstance(norm, NORMS):
            if isinstance(norm.weight, torch.Tensor):
                nn.init.ones_(norm.weight)
            if isinstance(norm.bias, torch.Tensor):
                nn.init.zeros_(norm.bias)


def _keep(model: nn.Module) -> None:
    """PyTorch's draw, as the layers were built."""


def _kaiming_convs(model: nn.Module) -> None:
    """Kaiming-normal conv weights (fan-out, ReLU gain: std √(2 / (out_channels·k²))), norm
    weight 1 and bias 0; conv biases and linear layers as built."""
    for conv in _convs(model):
        nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
    _unit_norms(model)


def _kaiming_convs_zero_fc_bias(model: nn.Module) -> None:
    """:func:`_kaiming_convs`, and linear biases 0."""
    _kaiming_convs(model)
    _zero_biases(_linears(model))


def _normal_half(model: nn.Module) -> None:
    """Conv and linear weights N(0, 0.5²), their biases 0, norm weight 1 and bias 0."""
    for conv in _convs(model):
        nn.init.normal_(conv.weight, 0.0, 0.5)
    for linear in _linears(model):
        nn.init.normal_(linear.weight, 0.0, 0.5)
    _zero_biases(_convs(model))
    _zero_biases(_linears(model))
    _unit_norms(model)


def _torchvision_vgg(model: nn.Module) -> None:
    """Kaiming-normal conv weights (fan-out, ReLU gain) with zero biases, linear weights
    N(0, 0.01²) with zero biases, norm weight 1 and bias 0 (torchvision's VGG rule)."""
    _kaiming_convs(model)
    _zero_biases(_convs(model))
    for linear in _linears(model):
        nn.init.normal_(linear.weight, 0.0, 0.01)
    _zero_biases(_linears(model))


def _normaliser_free(model: nn.Module) -> None:
    """Kaiming-normal conv weights (fan-out, ReLU gain) with zero biases, linear weights 0
    (biases as built); what ``nf_resnet34`` already starts from."""
    for conv in _convs(model):
        nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
    _zero_biases(_convs(model))
    for linear in _linears(model):
        nn.init.zeros_(linear.weight)


def _by_network(rules: dict[Network, Scheme]) -> Scheme:
    def apply(model: nn.Module) -> None:
        rules[network_kind(model)](model)

    return apply


# -- the schemes a recipe names -----------------------------------------------------------------
def _default(model: nn.Module) -> None:
    """PyTorch's own initialisation, as the layers were built: nothing to do."""


_rate_bp = _by_network({
    "plain": _normal_half,
    "cifar_resnet": _keep,
    "resnet": _kaiming_convs,
    "nf_resnet": _kaiming_convs,
})
_rate_bp.__doc__ = """Tab-ct/rate-based-backpropagation.

- plain (``model/vgg.py`` ``VGG._initialize_weights``, the ``vggsnn``): :func:`_normal_half`;
- CIFAR ResNet (``model/resnet.py``, ``resnet18``/``resnet19``): none, PyTorch's draw;
- other ResNets (``model/sew_resnet.py``, ``resnet34``; ``model/preact_resnet.py``):
  :func:`_kaiming_convs`;
- NF-ResNet (none published): :func:`_kaiming_convs`, the suite's choice.
"""

_ottt = _by_network({
    "plain": _torchvision_vgg,
    "cifar_resnet": _torchvision_vgg,
    "resnet": _torchvision_vgg,
    "nf_resnet": _normaliser_free,
})
_ottt.__doc__ = """pkuxmq/OTTT-SNN.

- plain (``models/spiking_vgg.py`` ``_initialize_weights``, the ``vgg11``):
  :func:`_torchvision_vgg`;
- NF-ResNet (``models/spiking_resnet_imagenet.py``, ``nf_resnet34``): :func:`_normaliser_free`;
- other ResNets (none published): :func:`_torchvision_vgg`, the suite's choice.
"""

_sltt = _by_network({
    "plain": _torchvision_vgg,
    "cifar_resnet": _kaiming_convs_zero_fc_bias,
    "resnet": _kaiming_convs_zero_fc_bias,
    "nf_resnet": _normaliser_free,
})
_sltt.__doc__ = """qymeng94/SLTT.

- plain (``models/spiking_vgg_bn.py``, the ``vgg11_bn``): :func:`_torchvision_vgg`;
- ResNet (``models/spiking_resnet.py`` ``PreActResNet``, ``preact_resnet18``):
  :func:`_kaiming_convs_zero_fc_bias`; rate-based BP's CIFAR ResNets get the same (the suite's
  choice);
- NF-ResNet (``models/spiking_resnet_imagenet.py``, ``nf_resnet34``): :func:`_normaliser_free`.
"""

_os = _by_network({
    "plain": _torchvision_vgg,
    "cifar_resnet": _kaiming_convs,
    "resnet": _kaiming_convs,
    "nf_resnet": _kaiming_convs,
})
_os.__doc__ = """zhuyaoyu/SNN-online-normalization.

- plain (``models/spiking_vgg.py`` ``_initialize_weights``, the ``vgg11``):
  :func:`_torchvision_vgg`;
- ResNets (``models/spiking_resnet.py``, ``os_resnet19``; ``models/spiking_resnet_SEW.py``,
  ``resnet34``; ``models/spiking_resnet_NF.py``): :func:`_kaiming_convs` (its OSR norms start
  at weight 1, bias 0, ``modules/layers.py`` ``MySyncBN``); on ``nf_resnet34`` (OTTT's NF net)
  this re-draws the conv weights and keeps the zero readout and conv biases it starts with;
  rate-based BP's CIFAR ResNets get the same (the suite's choice).
"""

SCHEMES: dict[str, Scheme] = {
    "default": _default,
    "rate_bp": _rate_bp,
    "ottt": _ottt,
    "sltt": _sltt,
    "os": _os,
}
INIT_SCHEMES = tuple(SCHEMES)
"""The scheme names a recipe may give."""


def initialize(model: nn.Module, scheme: str) -> None:
    """Re-initialise ``model``'s weights in place with ``scheme`` (one of :data:`INIT_SCHEMES`)."""
    try:
        apply = SCHEMES[scheme]
    except KeyError:
        raise ValueError(f"unknown init scheme {scheme!r} (known: {', '.join(SCHEMES)})") from None
    apply(model)
