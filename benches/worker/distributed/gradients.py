"""Gradients averaged over the ranks once per optimizer step.

The methods differ in how often they back-propagate per batch (bptt once; ottt, sltt, os, ndot
and fptt once per time step) and in how often they step the optimizer (once per batch; ottt_o
and fptt every time step). What DistributedDataParallel does for them with ``no_sync`` on every
backward but the last before a step is what matters: gradients are averaged exactly when the
optimizer is about to use them. So the all-reduce hangs on the optimizer
(``Optimizer.register_step_pre_hook``): one flat all-reduce of every gradient per optimizer
step, whatever the method does in between, counted in :attr:`World.allreduces`. Unlike DDP it
does not overlap the communication with the backward pass (the record's time per iteration
includes it whole).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist
from torch._utils import _flatten_dense_tensors, _unflatten_dense_tensors

from benches.worker.distributed.world import World


def average_gradients(params: list[torch.nn.Parameter], here: World) -> None:
    """Replace every gradient by its mean over the ranks (one all-reduce per dtype)."""
    by_dtype: dict[torch.dtype, list[torch.nn.Parameter]] = {}
    for p in params:
        if p.grad is None:  # every rank must send the same tensors: a missing one is zero
            p.grad = torch.zeros_like(p)
        by_dtype.setdefault(p.grad.dtype, []).append(p)
    for group in by_dtype.values():
        grads = [p.grad for p in group if p.grad is not None]
        flat = _flatten_dense_tensors(grads)
        dist.all_reduce(flat)
        flat /= here.size
        for grad, synced in zip(grads, _unflatten_dense_tensors(flat, grads), strict=True):
            grad.copy_(synced)
    here.allreduces += 1


def synchronise_steps(optimizer: torch.optim.Optimizer, here: World) -> Any:
    """Average the gradients over the ranks before each of ``optimizer``'s steps; returns the
    hook's handle."""
    params = [p for group in optimizer.param_groups for p in group["params"]]

    def before_step(opt: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        average_gradients(params, here)

    return optimizer.register_step_pre_hook(before_step)
