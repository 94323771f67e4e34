"""Random ImageNet-shaped tensors for memory and cost measurements (they depend on shapes only)."""

from __future__ import annotations

from .base import register_dataset
from .synthetic_cifar import RandomTensors


@register_dataset
class SyntheticImageNet(RandomTensors):
    name = "synthetic_imagenet"
    description = "random 3×224×224 tensors, 1000 classes, fixed seed (cost measurements only)"
    num_classes = 1000
    in_shape = (3, 224, 224)
    default_architecture = "resnet34"
    recipe_defaults = {"batch_size": 1, "epochs": 1, "augment": ()}
    sizes = (4, 2)
