"""``train`` mode: train for the recipe's epochs, then report accuracy and costs.

Per iteration the method's ``train_step`` is timed (phases included); the first iteration is
the activation-memory probe and, with the next ``warmup_iters - 1``, is not timed. Evaluation
runs after every epoch and is never counted as training time.

**Data wait.** Per timed iteration, the host time from the end of the previous step (or from
the start of the epoch, for its first batch) until the batch is on the device: fetching it from
the loader (collate, augmentation, or waiting for a worker) plus, on CUDA, the host-to-device
copy (``non_blocking`` from pinned memory, its duration timed with CUDA events; the batch is
taken to be there at ``max(host time after the copy call, host time before it + copy time)``).
The record reports its median, ``data_wait_s``, and ``data_wait_fraction`` = total wait /
(total wait + total step time) over the timed iterations, with ``data_workers``, the loader
processes used (``BENCHES_WORKERS``, see :mod:`benches.worker.loading`).

**Checkpoints.** Given a ``checkpoint_dir`` (see :mod:`benches.worker.checkpoint`), the whole
training state is saved after every epoch, after its evaluation: model (its ``state_dict`` and
the module state outside it, see :func:`benches.worker.checkpoint.module_extras`), the method's
own state (``Method.state_dict``), optimizer and schedule, every RNG,
the curves, iteration count, training time, activation bytes, the iteration-time and data-wait
samples, and (after the last epoch) the firing rates. A run that finds a checkpoint restores it
and continues at the next epoch; on the CPU it ends with exactly the metrics and curves of an
uninterrupted run (same batches, same augmentations, same arithmetic). What a resumed cell's
timing covers: the timed iterations of every process that trained it, each process's first
``max(warmup_iters, 1)`` iterations untimed (a fresh process is cold again; the activation probe
runs only in the first process, and its figure is kept). An epoch interrupted midway is trained
again from its start and only its completed run counts, in the samples and in ``train_time_s``
(the sum of completed epochs' training time). ``iterations`` counts each completed epoch's
iterations once. ``resumed_at_epochs`` lists the epochs a process resumed at (empty if none);
on CUDA the memory figures are those of the last process.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from benches.measure.firing import firing_rates
from benches.measure.memory import CudaMemory, SavedTensorMeter
from benches.measure.timing import DataWait, IterationTimer
from benches.worker import checkpoint
from benches.worker.loading import Batches, data_workers
from benches.worker.modes import Mode, register_mode
from benches.worker.modes.common import (
    Diverged,
    data_options,
    evaluate,
    make_optimizer,
    make_schedule,
    model_tensors,
)
from benches.worker.modes.precise_bn import evaluation_statistics
from benches.worker.step_runner import StepRunner
from datasets import Dataset
from datasets.base import DataRoot
from methods import Method

CHECKPOINT_FORMAT = 1


def run(
    method: Method, dataset: Dataset, model: nn.Module, device: torch.device,
    data_root: DataRoot = None, checkpoint_dir: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Train ``model`` through the recipe's stages (one, unless the recipe has ``stages``).

    Each stage of a staged recipe (e.g. SLTT's ImageNet: T = 1, then T = 6 at a lower rate)
    trains the same model with its own recipe and T, a fresh optimizer and schedule, and its
    own checkpoint folder (``stageN``). The record then reports the last stage's metrics, the
    curves and training time of all stages joined, and ``stages``: per stage its epochs, T,
    learning rate, final top-1 and training time."""
    stages = method.recipe.stage_recipes()
    if len(stages) == 1:
        return run_stage(method, dataset, model, device, data_root, checkpoint_dir)
    done: list[tuple[dict[str, Any], Any, int]] = []
    for i, (recipe, T) in enumerate(stages, 1):
        cell = replace(method.cell, timesteps=T or method.cell.timesteps,
                       recipe=recipe.to_dict())
        folder = Path(checkpoint_dir) / f"stage{i}" if checkpoint_dir is not None else None
        metrics = run_stage(type(method)(cell), dataset, model, device, data_root, folder)
        done.append((metrics, recipe, cell.timesteps))
    last = dict(done[-1][0])
    last["test_top1_curve"] = [a for m, _, _ in done for a in m["test_top1_curve"]]
    last["train_loss_curve"] = [x for m, _, _ in done for x in m["train_loss_curve"]]
    last["train_time_s"] = sum(m["train_time_s"] for m, _, _ in done)
    last["iterations"] = sum(m["iterations"] for m, _, _ in done)
    last["stages"] = [{"epochs": r.epochs, "timesteps": T, "lr": r.lr,
                       "weight_decay": r.weight_decay, "test_top1": m["test_top1"],
                       "train_time_s": m["train_time_s"]} for m, r, T in done]
    return last


def run_stage(
    method: Method, dataset: Dataset, model: nn.Module, device: torch.device,
    data_root: DataRoot = None, checkpoint_dir: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Train ``model`` for one stage: ``method``'s recipe, at its T."""
    cell, recipe, T = method.cell, method.recipe, method.T
    splits = dataset.splits(T, recipe.augment, data_root, **data_options(method.recipe, dataset))
    optimizer = make_optimizer(model, recipe)
    schedule = make_schedule(optimizer, recipe)
    runner = StepRunner(method, model, optimizer, device)
    timer = IterationTimer(device)
    wait = DataWait(device)
    cuda_mem = CudaMemory(device) if device.type == "cuda" else None
    cuda_mem_started = False
    workers = data_workers(device)
    train_batches = Batches(splits.train, recipe.batch_size, True, device, workers)
    test_batches = Batches(splits.test, recipe.batch_size, False, device, workers)
    loss_curve: list[float] = []
    acc_curve: list[float] = []
    activation_bytes = None
    rates: dict[str, float] | None = None
    resumed_at: list[int] = []
    iteration = 0
    train_time = 0.0
    start_epoch = 0

    state = checkpoint.load(checkpoint_dir) if checkpoint_dir is not None else None
    if state is not None:
        if state.get("format") != CHECKPOINT_FORMAT or state.get("cell") != cell.key():
            raise ValueError(f"the checkpoint in {checkpoint_dir} is not one of this cell's "
                             "(delete the folder to start afresh)")
        model.load_state_dict(state["model"])
        checkpoint.restore_module_extras(model, state["module_extras"])
        method.load_state_dict(state.get("method", {}))  # e.g. FPTT's running average
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["scheduler"])
        loss_curve, acc_curve = list(state["train_loss_curve"]), list(state["test_top1_curve"])
        activation_bytes, rates = state["activation_bytes"], state["firing_rates"]
        iteration, train_time = state["iterations"], state["train_time_s"]
        timer.samples[:] = state["timer"]["samples"]
        for phase, values in state["timer"]["phases"].items():
            timer.phase_samples[phase] = list(values)
        wait.samples[:] = state["data_wait_s"]
        start_epoch = state["epoch"] + 1
        resumed_at = [*state["resumed_at_epochs"], start_epoch]
        checkpoint.set_rng_state(state["rng"])  # last: nothing may draw between it and training
        del state
    first_here = iteration  # this process's first iteration
    untimed = max(recipe.warmup_iters, 1)  # per process: the probe or a cold start, then warm-up

    model.train()
    bar = tqdm(range(start_epoch, recipe.epochs), desc="  epochs", leave=False, position=1,
               disable=None, total=recipe.epochs, initial=start_epoch)
    try:
        for epoch in bar:
            losses = []
            epoch_start = time.perf_counter()
            wait.restart()
            for x, y in train_batches.epoch(cell.seed * 1000 + epoch):
                x, y = wait.to_device(x, y)
                x_seq = dataset.encode(x, T)
                local = iteration - first_here
                record = local >= untimed
                if iteration == 0:
                    with SavedTensorMeter(exclude=model_tensors(model)) as meter:
                        loss = runner(x_seq, y)
                    activation_bytes = meter.peak
                else:
                    if cuda_mem is not None and local == untimed:
                        cuda_mem.start()
                        cuda_mem_started = True
                    with timer.iteration(record=record):
                        loss = runner(x_seq, y, timer)
                wait.step_done(record)
                losses.append(loss)
                if device.type != "cuda" and not math.isfinite(float(loss)):  # no sync on CPU
                    raise Diverged(epoch, iteration, float(loss))
                iteration += 1
            train_time += time.perf_counter() - epoch_start
            schedule.step()
            epoch_losses = torch.stack(losses)
            finite = torch.isfinite(epoch_losses)
            if not bool(finite.all()):  # on CUDA: one check per epoch, not a sync per step
                first = int((~finite).nonzero()[0])
                raise Diverged(epoch, iteration - len(losses) + first,
                               float(epoch_losses[first]))
            loss_curve.append(float(epoch_losses.mean()))
            last = epoch == recipe.epochs - 1
            with runner.autocast(), evaluation_statistics(method, model, dataset, train_batches), \
                    firing_rates(model) if last else contextlib.nullcontext() as r:
                acc = evaluate(method, model, dataset, test_batches, device, recipe.batch_size)
            if last:
                rates = r
            acc_curve.append(acc)
            bar.set_postfix(loss=f"{loss_curve[-1]:.3f}", top1=f"{acc:.3f}")
            if checkpoint_dir is not None:
                checkpoint.save(checkpoint_dir, {
                    "format": CHECKPOINT_FORMAT, "cell": cell.key(), "epoch": epoch,
                    "model": model.state_dict(), "module_extras": checkpoint.module_extras(model),
                    "method": method.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": schedule.state_dict(),
                    "train_loss_curve": loss_curve, "test_top1_curve": acc_curve,
                    "iterations": iteration, "train_time_s": train_time,
                    "activation_bytes": activation_bytes, "firing_rates": rates,
                    "timer": {"samples": timer.samples,
                              "phases": {k: list(v) for k, v in timer.phase_samples.items()}},
                    "data_wait_s": wait.samples, "resumed_at_epochs": resumed_at,
                    "rng": checkpoint.rng_state(),
                })
    finally:
        train_batches.close()
        test_batches.close()
    metrics = {
        "test_top1": acc_curve[-1],
        "test_samples": len(splits.test),  # type: ignore[arg-type]
        "test_top1_curve": acc_curve,
        "train_loss_curve": loss_curve,
        "train_time_s": train_time,
        "iterations": iteration,
        "activation_bytes": activation_bytes,
        "firing_rates": rates,
        "mean_firing_rate": sum(rates.values()) / len(rates) if rates else None,
        **timer.summary(recipe.batch_size),
        **wait.summary(timer.samples),
        "data_workers": train_batches.workers,
        "resumed_at_epochs": resumed_at,
    }
    if cuda_mem is not None and cuda_mem_started and timer.samples:
        metrics.update(cuda_mem.summary())
        if runner.graphed:  # replays allocate nothing: the working memory of an eager step
            metrics["cuda_max_allocated_bytes"] = runner.eager_peak_bytes
    metrics["execution"] = runner.info()
    return metrics


register_mode(Mode("train", "accuracy and cost of a full training run (curves, time, "
                   "memory, firing)", run))
