"""Random tensors of a data set's shape for cost measurements (cost does not depend on the
data): CIFAR-shaped for the efficiency sweeps, and the base of every such data set."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch.utils.data import TensorDataset

from .base import DataRoot, Dataset, Splits, register_dataset


class RandomTensors(Dataset):
    """Normal random inputs of ``in_shape`` and uniform labels, fixed seed; ``sizes`` gives the
    training and test set sizes."""

    encoding = "direct"
    sizes: ClassVar[tuple[int, int]] = (128, 32)

    def splits(self, timesteps: int, augment: tuple[str, ...] = (),
               root: DataRoot = None) -> Splits:
        g = torch.Generator().manual_seed(0)

        def part(n: int) -> TensorDataset:
            return TensorDataset(torch.randn(n, *self.in_shape, generator=g),
                                 torch.randint(0, self.num_classes, (n,), generator=g))
        return Splits(train=part(self.sizes[0]), test=part(self.sizes[1]))


@register_dataset
class SyntheticCIFAR(RandomTensors):
    name = "synthetic_cifar"
    description = "random 3×32×32 tensors, 10 classes, fixed seed (efficiency sweeps only)"
    num_classes = 10
    in_shape = (3, 32, 32)
    default_architecture = "resnet18"
    recipe_defaults = {"batch_size": 16, "epochs": 1, "augment": ()}
