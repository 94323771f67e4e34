"""Measurements summed or averaged over the ranks (each a no-op in a single process)."""

from __future__ import annotations

import torch
import torch.distributed as dist

from benches.worker.distributed.world import world


def mean_over_ranks(values: torch.Tensor) -> torch.Tensor:
    """``values`` averaged elementwise over the ranks (e.g. each iteration's loss: the mean
    over equal parts of the global batch is the global batch's mean)."""
    here = world()
    if here is None:
        return values
    out = values.detach().clone()
    dist.all_reduce(out)
    return out / here.size


def summed(*counts: float) -> tuple[float, ...]:
    """``counts`` summed over the ranks (e.g. correct and total test samples)."""
    if world() is None:
        return counts
    out = torch.tensor(counts, dtype=torch.float64)
    dist.all_reduce(out)
    return tuple(float(v) for v in out)


def summed_activity(activity: dict[str, tuple[float, int]]) -> dict[str, tuple[float, int]]:
    """Per spiking layer ``(spikes, neuron updates)`` summed over the ranks."""
    if world() is None:
        return activity
    names = sorted(activity)
    out = summed(*(v for name in names for v in activity[name]))
    return {name: (out[2 * i], int(out[2 * i + 1])) for i, name in enumerate(names)}
