"""``efficiency`` mode: the cost of a training iteration at one T, on one fixed batch.

No training to convergence: the first iteration is the activation-memory probe, then
``warmup_iters − 1`` untimed iterations and ``timed_iters`` timed ones on the same batch.
"""

from __future__ import annotations

import torch

from datasets import Dataset
from methods import Method

from ..memory import CudaMemory, SavedTensorMeter
from ..timing import IterationTimer
from .common import batches, make_optimizer, model_tensors


def run(method: Method, dataset: Dataset, model, device: torch.device, data_root=None) -> dict:
    recipe, T = method.recipe, method.T
    splits = dataset.splits(T, (), data_root)
    x, y = next(batches(splits.train, recipe.batch_size, True, seed=method.cell.seed))
    x_seq, y = dataset.encode(x.to(device), T), y.to(device)
    optimizer = make_optimizer(model, recipe)
    model.train()
    with SavedTensorMeter(exclude=model_tensors(model)) as meter:
        method.train_step(model, x_seq, y, optimizer)
    timer = IterationTimer(device)
    for _ in range(max(recipe.warmup_iters - 1, 0)):
        with timer.iteration(record=False):
            method.train_step(model, x_seq, y, optimizer, timer)
    cuda_mem = CudaMemory(device) if device.type == "cuda" else None
    if cuda_mem is not None:
        cuda_mem.start()
    for _ in range(recipe.timed_iters):
        with timer.iteration():
            method.train_step(model, x_seq, y, optimizer, timer)
    metrics = {"activation_bytes": meter.peak, **timer.summary(len(y))}
    if cuda_mem is not None:
        metrics.update(cuda_mem.summary())
    return metrics
