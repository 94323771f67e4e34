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

from benches.measure.firing import spiking_activity
from benches.measure.flops import PhaseFlops
from benches.measure.inference import SAMPLES, inference_cost
from benches.measure.memory import CudaMemory, SavedTensorMeter
from benches.measure.timing import DataWait, IterationTimer
from benches.worker import checkpoint
from benches.worker.distributed import world
from benches.worker.distributed.batchnorm import broadcast_buffers, synchronise_batchnorm
from benches.worker.distributed.gradients import synchronise_steps
from benches.worker.distributed.reduce import mean_over_ranks, summed_activity
from benches.worker.distributed.world import describe
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
    stage = Stage(method, dataset, model, device, data_root)
    if checkpoint_dir is not None:
        stage.restore(checkpoint_dir)
    stage.first_here = stage.iteration  # this process's first iteration
    model.train()
    bar = tqdm(range(stage.start_epoch, method.recipe.epochs), desc="  epochs", leave=False,
               position=1, disable=None, total=method.recipe.epochs, initial=stage.start_epoch)
    try:
        for epoch in bar:
            loss, acc = stage.train_epoch(epoch)
            bar.set_postfix(loss=f"{loss:.3f}", top1=f"{acc:.3f}")
            if checkpoint_dir is not None and (stage.world is None or stage.world.main):
                checkpoint.save(checkpoint_dir, stage.state(epoch))
    finally:
        stage.train_batches.close()
        stage.test_batches.close()
    return stage.metrics()


class Stage:
    """One training stage in progress: what it trains with, and what it has measured so far
    (the state a checkpoint holds)."""

    def __init__(self, method: Method, dataset: Dataset, model: nn.Module,
                 device: torch.device, data_root: DataRoot) -> None:
        self.method, self.dataset, self.model, self.device = method, dataset, model, device
        recipe = self.recipe = method.recipe
        self.splits = dataset.splits(method.T, recipe.augment, data_root,
                                     **data_options(recipe, dataset))
        here = self.world = world()
        if here is not None and recipe.sync_bn:
            synchronise_batchnorm(model, device)
        self.optimizer = make_optimizer(model, recipe)
        if here is not None:
            synchronise_steps(self.optimizer, here)
        self.schedule = make_schedule(self.optimizer, recipe)
        self.runner = StepRunner(method, model, self.optimizer, device)
        self.timer = IterationTimer(device)
        self.wait = DataWait(device)
        self.cuda_mem = CudaMemory(device) if device.type == "cuda" else None
        self.cuda_mem_started = False
        workers = data_workers(device)
        shard = None if here is None else (here.rank, here.size)
        per_rank = recipe.batch_size // (1 if here is None else here.size)
        self.train_batches = Batches(self.splits.train, per_rank, True, device, workers, shard,
                                     recipe.drop_last)
        self.test_batches = Batches(self.splits.test, per_rank, False, device, workers, shard)
        self.loss_curve: list[float] = []
        self.acc_curve: list[float] = []
        self.activation_bytes: int | None = None
        self.flops: dict[str, int] = {}  # of the probe iteration (measure.flops)
        self.inference: dict[str, Any] = {}  # the trained network's costs (measure.inference)
        self.rates: dict[str, float] | None = None
        self.resumed_at: list[int] = []
        self.iteration, self.train_time, self.start_epoch, self.first_here = 0, 0.0, 0, 0
        # per process: the probe or a cold start, then warm-up
        self.untimed = max(recipe.warmup_iters, 1)

    def restore(self, folder: str | os.PathLike[str]) -> None:
        """Continue from the checkpoint in ``folder``, if there is one."""
        state = checkpoint.load(folder)
        if state is None:
            return
        if state.get("format") != CHECKPOINT_FORMAT or state.get("cell") != self.method.cell.key():
            raise ValueError(f"the checkpoint in {folder} is not one of this cell's "
                             "(delete the folder to start afresh)")
        self.model.load_state_dict(state["model"])
        checkpoint.restore_module_extras(self.model, state["module_extras"])
        self.method.load_state_dict(state.get("method", {}))  # e.g. FPTT's running average
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["scheduler"])
        self.loss_curve = list(state["train_loss_curve"])
        self.acc_curve = list(state["test_top1_curve"])
        self.activation_bytes, self.rates = state["activation_bytes"], state["firing_rates"]
        # checkpoints written before FLOPs and inference costs were counted lack them
        self.flops, self.inference = state.get("flops", {}), state.get("inference", {})
        self.iteration, self.train_time = state["iterations"], state["train_time_s"]
        self.timer.samples[:] = state["timer"]["samples"]
        for phase, values in state["timer"]["phases"].items():
            self.timer.phase_samples[phase] = list(values)
        self.wait.samples[:] = state["data_wait_s"]
        self.start_epoch = state["epoch"] + 1
        self.resumed_at = [*state["resumed_at_epochs"], self.start_epoch]
        checkpoint.set_rng_state(state["rng"])  # last: nothing may draw between it and training

    def train_epoch(self, epoch: int) -> tuple[float, float]:
        """Train and evaluate one epoch; its mean loss and test top-1."""
        epoch_start = time.perf_counter()
        self.wait.restart()
        order = epoch if self.recipe.reshuffle else 0  # the epoch's sample order
        losses = [self.step(x, y, epoch)
                  for x, y in self.train_batches.epoch(self.method.cell.seed * 1000 + order)]
        self.train_time += time.perf_counter() - epoch_start
        self.schedule.step()
        epoch_losses = mean_over_ranks(torch.stack(losses))
        finite = torch.isfinite(epoch_losses)
        if not bool(finite.all()):  # on CUDA: one check per epoch, not a sync per step
            first = int((~finite).nonzero()[0])
            raise Diverged(epoch, self.iteration - len(losses) + first,
                           float(epoch_losses[first]))
        self.loss_curve.append(float(epoch_losses.mean()))
        last = epoch == self.recipe.epochs - 1
        if self.world is not None:  # evaluate with rank 0's moving averages, as DDP would
            broadcast_buffers(self.model)
        with self.runner.autocast(), \
                evaluation_statistics(self.method, self.model, self.dataset, self.train_batches):
            with spiking_activity(self.model) if last else contextlib.nullcontext() as activity:
                acc = evaluate(self.method, self.model, self.dataset, self.test_batches,
                               self.device, self.recipe.batch_size)
            if last and (self.world is None or self.world.main):
                # the evaluated network, with the statistics it was evaluated with
                self.inference = inference_cost(self.method, self.model, self.inference_input())
        if last and activity is not None:
            activity = summed_activity(activity)
            self.rates = {name: spikes / updates for name, (spikes, updates) in activity.items()}
        self.acc_curve.append(acc)
        return self.loss_curve[-1], acc

    def inference_input(self) -> torch.Tensor:
        """The first :data:`~benches.measure.inference.SAMPLES` test samples, encoded."""
        count = min(SAMPLES, len(self.splits.test))  # type: ignore[arg-type]
        x = torch.stack([self.splits.test[i][0] for i in range(count)]).to(self.device)
        return self.dataset.encode(x, self.method.T)

    def step(self, x: torch.Tensor, y: torch.Tensor, epoch: int) -> torch.Tensor:
        """One training iteration (the first: the activation-memory probe); its loss."""
        x, y = self.wait.to_device(x, y)
        x_seq = self.dataset.encode(x, self.method.T)
        local = self.iteration - self.first_here
        timed = local >= self.untimed
        if self.iteration == 0:
            flops = PhaseFlops()
            with SavedTensorMeter(exclude=model_tensors(self.model)) as meter, \
                    flops.iteration():
                loss = self.runner(x_seq, y, flops)
            self.activation_bytes, self.flops = meter.peak, flops.metrics()
        else:
            if self.cuda_mem is not None and local == self.untimed:
                self.cuda_mem.start()
                self.cuda_mem_started = True
            with self.timer.iteration(record=timed):
                loss = self.runner(x_seq, y, self.timer)
        self.wait.step_done(timed)
        if self.device.type != "cuda" and not math.isfinite(float(loss)):  # no sync on CPU
            raise Diverged(epoch, self.iteration, float(loss))
        self.iteration += 1
        return loss

    def state(self, epoch: int) -> dict[str, Any]:
        """What a checkpoint after ``epoch`` holds."""
        timer = self.timer
        return {
            "format": CHECKPOINT_FORMAT, "cell": self.method.cell.key(), "epoch": epoch,
            "model": self.model.state_dict(),
            "module_extras": checkpoint.module_extras(self.model),
            "method": self.method.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.schedule.state_dict(),
            "train_loss_curve": self.loss_curve, "test_top1_curve": self.acc_curve,
            "iterations": self.iteration, "train_time_s": self.train_time,
            "activation_bytes": self.activation_bytes, "firing_rates": self.rates,
            "flops": self.flops, "inference": self.inference,
            "timer": {"samples": timer.samples,
                      "phases": {k: list(v) for k, v in timer.phase_samples.items()}},
            "data_wait_s": self.wait.samples, "resumed_at_epochs": self.resumed_at,
            "rng": checkpoint.rng_state(),
        }

    def metrics(self) -> dict[str, Any]:
        """The record's metrics of the finished stage."""
        rates = self.rates
        metrics = {
            "test_top1": self.acc_curve[-1],
            "test_samples": len(self.splits.test),  # type: ignore[arg-type]
            "test_top1_curve": self.acc_curve,
            "train_loss_curve": self.loss_curve,
            "train_time_s": self.train_time,
            "iterations": self.iteration,
            "activation_bytes": self.activation_bytes,
            **self.flops,
            **self.inference,
            "firing_rates": rates,
            "mean_firing_rate": sum(rates.values()) / len(rates) if rates else None,
            **self.timer.summary(self.recipe.batch_size),
            **self.wait.summary(self.timer.samples),
            "data_workers": self.train_batches.workers,
            "resumed_at_epochs": self.resumed_at,
        }
        if self.cuda_mem is not None and self.cuda_mem_started and self.timer.samples:
            metrics.update(self.cuda_mem.summary())
            if self.runner.graphed:  # replays allocate nothing: an eager step's working memory
                metrics["cuda_max_allocated_bytes"] = self.runner.eager_peak_bytes
        metrics["execution"] = self.runner.info()
        if self.world is not None:
            metrics["distributed"] = describe(self.method.cell, self.recipe.sync_bn)
        return metrics


register_mode(Mode("train", "accuracy and cost of a full training run (curves, time, "
                   "memory, firing)", run))
