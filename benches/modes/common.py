"""Pieces every mode uses: seeding, device, batches, optimizer, model construction."""

from __future__ import annotations

import random
from collections.abc import Iterator

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from datasets import Dataset
from methods import Method
from methods.recipes import Recipe


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def resolve_device(name: str) -> torch.device:
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' requested but torch.cuda.is_available() is False")
    return torch.device(name)


def batches(
    data: torch.utils.data.Dataset,
    batch_size: int,
    shuffle: bool,
    seed: int = 0,
    workers: int = 0,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Mini-batches; in-memory tensor datasets are sliced directly (no per-sample collate)."""
    generator = torch.Generator().manual_seed(seed)
    if isinstance(data, TensorDataset):
        x, y = data.tensors
        order = torch.randperm(len(x), generator=generator) if shuffle else torch.arange(len(x))
        for i in range(0, len(order), batch_size):
            idx = order[i : i + batch_size]
            yield x[idx], y[idx]
        return
    loader = DataLoader(
        data, batch_size=batch_size, shuffle=shuffle, generator=generator, num_workers=workers,
        persistent_workers=False, pin_memory=False,
    )
    yield from loader


def make_optimizer(model: nn.Module, recipe: Recipe) -> torch.optim.Optimizer:
    """SGD (or Adam) with the recipe's weight decay; norm/bias parameters optionally exempt."""
    params = [p for p in model.parameters() if p.requires_grad]
    if recipe.decay_norm_and_bias:
        groups = [{"params": params, "weight_decay": recipe.weight_decay}]
    else:
        groups = [
            {"params": [p for p in params if p.ndim > 1], "weight_decay": recipe.weight_decay},
            {"params": [p for p in params if p.ndim <= 1], "weight_decay": 0.0},
        ]
    if recipe.optimizer == "adam":
        return torch.optim.Adam(groups, lr=recipe.lr)
    return torch.optim.SGD(groups, lr=recipe.lr, momentum=recipe.momentum)


def make_schedule(optimizer: torch.optim.Optimizer, recipe: Recipe):
    if recipe.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=recipe.epochs)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: 1.0)


def build_model(method: Method, dataset: Dataset, device: torch.device) -> nn.Module:
    return method.build(dataset.in_shape, dataset.num_classes).to(device)


def model_tensors(model: nn.Module) -> list[torch.Tensor]:
    """Parameters and buffers: excluded from activation memory."""
    return [*model.parameters(), *model.buffers()]


@torch.no_grad()
def evaluate(
    method: Method, model: nn.Module, dataset: Dataset, data, device, batch_size: int
) -> float:
    """Top-1 accuracy in [0, 1] (model in eval mode, time-averaged output)."""
    model.eval()
    correct = total = 0
    for x, y in batches(data, batch_size, shuffle=False):
        x_seq = dataset.encode(x.to(device), method.T)
        pred = method.predict(model, x_seq).argmax(1)
        correct += (pred.cpu() == y).sum().item()
        total += len(y)
    model.train()
    return correct / max(total, 1)
