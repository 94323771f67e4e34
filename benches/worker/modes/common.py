"""Pieces every mode uses: seeding, device, optimizer, model construction, evaluation
(batches come from :mod:`benches.worker.loading`)."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset as TorchDataset

from benches.worker.distributed.reduce import summed
from benches.worker.loading import Batches
from datasets import Dataset
from methods import Method
from methods.recipes import Recipe


class Diverged(RuntimeError):
    """The training loss became NaN or infinite: the cell stops and is recorded ``diverged``."""

    def __init__(self, epoch: int, iteration: int, loss: float) -> None:
        super().__init__(f"the training loss became {loss} at epoch {epoch}, iteration "
                         f"{iteration} (counted from 0 over the whole run)")
        self.epoch, self.iteration = epoch, iteration


def data_options(recipe: Recipe, dataset: Dataset) -> dict[str, Any]:
    """The recipe's data-pipeline values that ``dataset`` reads (its ``options``)."""
    return {key: getattr(recipe, key) for key in dataset.options}


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def resolve_device(name: str) -> torch.device:
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' requested but torch.cuda.is_available() is False")
    return torch.device(name)


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


def make_schedule(optimizer: torch.optim.Optimizer,
                  recipe: Recipe) -> torch.optim.lr_scheduler.LRScheduler:
    if recipe.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=recipe.epochs)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: 1.0)


def build_model(method: Method, dataset: Dataset, device: torch.device) -> nn.Module:
    shape = dataset.input_shape(**data_options(method.recipe, dataset))
    return method.build(shape, dataset.num_classes).to(device)


def model_tensors(model: nn.Module) -> list[torch.Tensor]:
    """Parameters and buffers: excluded from activation memory."""
    return [*model.parameters(), *model.buffers()]


@torch.no_grad()
def evaluate(
    method: Method, model: nn.Module, dataset: Dataset, data: TorchDataset | Batches,
    device: torch.device, batch_size: int,
) -> float:
    """Top-1 accuracy in [0, 1] (model in eval mode, time-averaged output); ``data`` is a
    dataset or a :class:`Batches` of it made once for every evaluation (on several ranks, each
    its share of the test set: the counts are summed)."""
    model.eval()
    correct = total = 0
    loader = data if isinstance(data, Batches) else Batches(data, batch_size, False, device)
    for x, y in loader.epoch(0):
        x_seq = dataset.encode(x.to(device, non_blocking=True), method.T)
        pred = method.predict(model, x_seq).argmax(1)
        correct += int((pred.cpu() == y).sum().item())
        total += len(y)
    model.train()
    right, seen = summed(correct, total)
    return right / max(seen, 1)
