"""Random CIFAR-shaped tensors for efficiency sweeps (cost does not depend on the data)."""

from __future__ import annotations

import torch
from torch.utils.data import TensorDataset

from .base import DataRoot, Dataset, Splits, register_dataset


@register_dataset
class SyntheticCIFAR(Dataset):
    name = "synthetic_cifar"
    description = "random 3×32×32 tensors, 10 classes, fixed seed (efficiency sweeps only)"
    num_classes = 10
    in_shape = (3, 32, 32)
    encoding = "direct"
    default_architecture = "resnet18"
    recipe_defaults = {"batch_size": 16, "epochs": 1, "augment": ()}

    def splits(self, timesteps: int, augment: tuple[str, ...] = (),
               root: DataRoot = None) -> Splits:
        g = torch.Generator().manual_seed(0)
        def part(n: int) -> TensorDataset:
            return TensorDataset(torch.randn(n, *self.in_shape, generator=g),
                                 torch.randint(0, self.num_classes, (n,), generator=g))
        return Splits(train=part(128), test=part(32))
