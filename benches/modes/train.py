"""``train`` mode: train for the recipe's epochs, then report accuracy and costs.

Per iteration the method's ``train_step`` is timed (phases included); the first iteration is
the activation-memory probe and, with the next ``warmup_iters - 1``, is not timed. Evaluation
runs after every epoch and is never counted as training time.
"""

from __future__ import annotations

import contextlib
import time

import torch
from tqdm import tqdm

from datasets import Dataset
from methods import Method

from ..execution import StepRunner
from ..firing import firing_rates
from ..memory import CudaMemory, SavedTensorMeter
from ..timing import IterationTimer
from .common import batches, evaluate, make_optimizer, make_schedule, model_tensors


def run(method: Method, dataset: Dataset, model, device: torch.device, data_root=None) -> dict:
    cell, recipe, T = method.cell, method.recipe, method.T
    splits = dataset.splits(T, recipe.augment, data_root)
    optimizer = make_optimizer(model, recipe)
    schedule = make_schedule(optimizer, recipe)
    runner = StepRunner(method, model, optimizer, device)
    timer = IterationTimer(device)
    cuda_mem = CudaMemory(device) if device.type == "cuda" else None
    loss_curve: list[float] = []
    acc_curve: list[float] = []
    activation_bytes = None
    iteration = 0
    train_time = 0.0
    model.train()
    bar = tqdm(range(recipe.epochs), desc="  epochs", leave=False, position=1, disable=None)
    for epoch in bar:
        losses = []
        epoch_start = time.perf_counter()
        for x, y in batches(splits.train, recipe.batch_size, True, seed=cell.seed * 1000 + epoch):
            x_seq = dataset.encode(x.to(device, non_blocking=True), T)
            y = y.to(device, non_blocking=True)
            if iteration == 0:
                with SavedTensorMeter(exclude=model_tensors(model)) as meter:
                    loss = runner(x_seq, y)
                activation_bytes = meter.peak
            else:
                if cuda_mem is not None and iteration == max(recipe.warmup_iters, 1):
                    cuda_mem.start()  # iteration 0 is always the probe
                with timer.iteration(record=iteration >= recipe.warmup_iters):
                    loss = runner(x_seq, y, timer)
            losses.append(loss)
            iteration += 1
        train_time += time.perf_counter() - epoch_start
        schedule.step()
        loss_curve.append(float(torch.stack(losses).mean()))
        last = epoch == recipe.epochs - 1
        with runner.autocast(), firing_rates(model) if last else contextlib.nullcontext() as rates:
            acc = evaluate(method, model, dataset, splits.test, device, recipe.batch_size)
        acc_curve.append(acc)
        bar.set_postfix(loss=f"{loss_curve[-1]:.3f}", top1=f"{acc:.3f}")
    metrics = {
        "test_top1": acc_curve[-1],
        "test_top1_curve": acc_curve,
        "train_loss_curve": loss_curve,
        "train_time_s": train_time,
        "iterations": iteration,
        "activation_bytes": activation_bytes,
        "firing_rates": rates,
        "mean_firing_rate": sum(rates.values()) / len(rates) if rates else None,
        **timer.summary(recipe.batch_size),
    }
    if cuda_mem is not None and timer.samples:
        metrics.update(cuda_mem.summary())
        if runner.graphed:  # replays allocate nothing: the working memory of an eager step
            metrics["cuda_max_allocated_bytes"] = runner.eager_peak_bytes
    metrics["execution"] = runner.info()
    return metrics
