"""``efficiency`` mode: the cost of a training iteration at one T, on one fixed batch.

No training to convergence: the first iteration is the activation-memory probe, then
``warmup_iters − 1`` untimed iterations and ``timed_iters`` timed ones on the same batch. On
CUDA the step runs as :mod:`benches.worker.step_runner` runs it (CUDA graphs where the method
allows: every variant is captured before the timed iterations), and one more iteration, profiled,
gives the GPU busy fraction and the kernel count (:mod:`benches.measure.profiling`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from benches.measure.flops import PhaseFlops
from benches.measure.memory import CudaMemory, SavedTensorMeter
from benches.measure.profiling import profile_iteration
from benches.measure.timing import IterationTimer
from benches.worker.loading import batches
from benches.worker.modes import Mode, register_mode
from benches.worker.modes.common import data_options, make_optimizer, model_tensors
from benches.worker.step_runner import StepRunner
from datasets import Dataset
from datasets.base import DataRoot
from methods import Method


def run(method: Method, dataset: Dataset, model: nn.Module, device: torch.device,
        data_root: DataRoot = None, checkpoint_dir: object = None) -> dict[str, Any]:
    recipe, T = method.recipe, method.T
    splits = dataset.splits(T, (), data_root, **data_options(method.recipe, dataset))
    x, y = next(batches(splits.train, recipe.batch_size, True, seed=method.cell.seed))
    x_seq, y = dataset.encode(x.to(device), T), y.to(device)
    optimizer = make_optimizer(model, recipe)
    runner = StepRunner(method, model, optimizer, device)
    model.train()
    flops = PhaseFlops()
    with SavedTensorMeter(exclude=model_tensors(model)) as meter, flops.iteration():
        runner(x_seq, y, flops)
    timer = IterationTimer(device)
    for _ in range(max(recipe.warmup_iters - 1, 0)):
        with timer.iteration(record=False):
            runner(x_seq, y, timer)
    runner.capture_all(x_seq, y)
    cuda_mem = CudaMemory(device) if device.type == "cuda" else None
    if cuda_mem is not None:
        cuda_mem.start()
    for _ in range(recipe.timed_iters):
        with timer.iteration():
            runner(x_seq, y, timer)
    metrics = {"activation_bytes": meter.peak, **flops.metrics(), **timer.summary(len(y))}
    if cuda_mem is not None:
        metrics.update(cuda_mem.summary())
        if runner.graphed:  # replays allocate nothing: the working memory of an eager step
            metrics["cuda_max_allocated_bytes"] = runner.eager_peak_bytes
        metrics.update(profile_iteration(lambda: runner(x_seq, y), device))
    metrics["execution"] = runner.info()
    return metrics


register_mode(Mode("efficiency", "time, activation memory and GPU use of fixed-shape "
                   "iterations (a T sweep point)", run))
