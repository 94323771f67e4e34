"""Run one cell in this process: build the method, dataset and model, run the cell's mode."""

from __future__ import annotations

import os

import torch

from benches.cell import Cell
from benches.measure.memory import peak_rss_bytes
from benches.worker.distributed import world
from benches.worker.distributed.launch import run_ranks, slurm_rank, train_as_rank
from benches.worker.modes import get_mode
from benches.worker.modes.common import build_model, resolve_device, seed_everything
from benches.worker.step_runner import prepare_model
from datasets import get_dataset
from methods import get_method
from methods.libraries import get_library
from methods.recipes import COMMON, DATA_OPTIONS
from methods.snn.layers import count_parameters


def support(cell: Cell) -> tuple[bool, str]:
    """Whether the cell can run here; the reason goes into a ``skipped`` record."""
    library = get_library(cell.library)
    ok, reason = library.available()
    if not ok:
        return False, reason
    if cell.device == "cuda" and not torch.cuda.is_available():
        return False, "device cuda requested but no CUDA device is available"
    ok, reason = get_method(cell.method).supports(cell)
    if not ok:
        return False, reason
    dataset = get_dataset(cell.dataset)
    unread = [f"{key} = {cell.recipe[key]!r}" for key in DATA_OPTIONS
              if key in cell.recipe and cell.recipe[key] != getattr(COMMON, key)
              and key not in dataset.options]
    if unread:
        return False, f"{dataset.name} has no option {', '.join(unread)} " \
            f"(its options: {', '.join(dataset.options) or 'none'})"
    return dataset.supports(cell)


def execute(cell: Cell, data_root: str | None = None,
            checkpoint_dir: str | os.PathLike | None = None) -> dict:
    """Metrics of ``cell`` (raises on failure; the worker turns that into a record).

    ``checkpoint_dir`` (train mode only; other modes ignore it): the folder of this cell's
    per-epoch checkpoints (:func:`benches.worker.checkpoint.checkpoint_dir`); a checkpoint found
    there is resumed. The caller removes the folder once the cell's record is written.

    A cell of several ranks (``cell.world_size > 1``) starts them here (or, under ``srun``,
    is one of them): the metrics are rank 0's, combined (:mod:`benches.worker.distributed`);
    ``{}`` on the other ranks of a multi-node cell, which write nothing."""
    if cell.world_size > 1 and world() is None:
        slurm = slurm_rank()
        if slurm is None:
            return run_ranks(execute, cell, data_root, checkpoint_dir)
        return train_as_rank(execute, cell, *slurm, data_root, checkpoint_dir) or {}
    if cell.threads:
        torch.set_num_threads(cell.threads)
    device = resolve_device(cell.device)
    dataset = get_dataset(cell.dataset)
    seed_everything(cell.seed)
    method = get_method(cell.method)(cell)
    model = prepare_model(build_model(method, dataset, device), cell, device)
    metrics = get_mode(cell.mode).run(method, dataset, model, device, data_root,
                                      checkpoint_dir=checkpoint_dir)
    metrics["parameters"] = count_parameters(model)
    metrics["peak_rss_bytes"] = peak_rss_bytes()
    if device.type == "cuda":
        metrics["peak_memory_bytes"] = torch.cuda.max_memory_allocated(device)
    else:
        metrics["peak_memory_bytes"] = metrics["peak_rss_bytes"]
    return metrics
