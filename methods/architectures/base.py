"""Architecture interface and registry."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from torch import nn

from benches.registry import Registry

from ..snn.layers import LayerFactory


class Architecture(ABC):
    """Builds a network from a method's layers for an input shape and class count."""

    name: ClassVar[str]
    description: ClassVar[str]
    input_size: ClassVar[str] = "any"
    """The input size the architecture was published for (documentation; e.g. ``32×32``)."""

    @abstractmethod
    def build(self, f: LayerFactory, in_shape: tuple[int, ...], num_classes: int) -> nn.Module:
        """The network; it maps folded input ``[N, C, H, W]`` to logits ``[N, num_classes]``."""


ARCHITECTURES: Registry[type[Architecture]] = Registry(
    "architecture",
    "benches.architectures",
    builtins=(
        "methods.architectures.convnet_digits",
        "methods.architectures.fc_seq",
        "methods.architectures.vgg",
        "methods.architectures.resnet",
        "methods.architectures.sew_resnet",
        "methods.architectures.nf_resnet",
        "methods.architectures.preact_resnet",
        "methods.architectures.os_resnet",
    ),
)
register_architecture = ARCHITECTURES.register
list_architectures = ARCHITECTURES.names


def get_architecture(name: str) -> Architecture:
    """The architecture registered under ``name`` (an instance)."""
    return ARCHITECTURES.get(name)()
