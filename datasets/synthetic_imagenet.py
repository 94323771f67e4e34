"""Random ImageNet-shaped tensors for memory and cost measurements (they depend on shapes only)."""

from __future__ import annotations

import torch
from torch.utils.data import TensorDataset

from .base import DataRoot, Dataset, Splits, register_dataset


@register_dataset
class SyntheticImageNet(Dataset):
    name = "synthetic_imagenet"
    description = "random 3×224×224 tensors, 1000 classes, fixed seed (cost measurements only)"
    num_classes = 1000
    in_shape = (3, 224, 224)
    encoding = "direct"
    default_architecture = "resnet34"
    recipe_defaults = {"batch_size": 1, "epochs": 1, "augment": ()}

    def splits(self, timesteps: int, augment: tuple[str, ...] = (),
               root: DataRoot = None) -> Splits:
        g = torch.Generator().manual_seed(0)

        def part(n: int) -> TensorDataset:
            return TensorDataset(torch.randn(n, *self.in_shape, generator=g),
                                 torch.randint(0, self.num_classes, (n,), generator=g))
        return Splits(train=part(4), test=part(2))
