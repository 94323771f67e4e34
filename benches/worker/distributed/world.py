"""This process's place in a distributed cell, and the process group it belongs to.

A cell with ``gpus_per_cell × nodes > 1`` trains as that many torch.distributed ranks: NCCL on
CUDA (one GPU per rank, ``cuda:LOCAL_RANK``), gloo on a CPU. Every collective has a timeout
(:data:`TIMEOUT_ENV`, default :data:`DEFAULT_TIMEOUT_S`), so a rank that dies or hangs ends the
cell instead of blocking it for ever; the record keeps the value.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist

from benches.cell import Cell

BACKENDS = {"cpu": "gloo", "cuda": "nccl"}
TIMEOUT_ENV = "BENCHES_COLLECTIVE_TIMEOUT_S"
"""Seconds a collective may wait for the other ranks before the cell fails."""
DEFAULT_TIMEOUT_S = 600.0


@dataclass
class World:
    """The ranks of one cell, seen from one of them."""

    rank: int
    size: int
    local_rank: int
    backend: str
    timeout_s: float
    allreduces: int = 0
    """Gradient all-reduces this rank has issued (one per optimizer step)."""

    @property
    def main(self) -> bool:
        return self.rank == 0


_WORLD: World | None = None


def world() -> World | None:
    """This process's :class:`World`, or ``None`` outside a distributed cell."""
    return _WORLD


def is_main() -> bool:
    """Whether this process writes (rank 0, or the only process)."""
    return _WORLD is None or _WORLD.main


def collective_timeout_s() -> float:
    """``$BENCHES_COLLECTIVE_TIMEOUT_S`` (a positive number), else the default."""
    value = os.environ.get(TIMEOUT_ENV, "").strip()
    if not value:
        return DEFAULT_TIMEOUT_S
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise ValueError(f"{TIMEOUT_ENV} must be a positive number of seconds, got {value!r}")
    return seconds


def join(cell: Cell, rank: int, local_rank: int) -> World:
    """Join the cell's process group as ``rank`` (rendezvous: ``MASTER_ADDR``/``MASTER_PORT``,
    torch's ``env://``); on CUDA this rank takes ``cuda:local_rank``."""
    global _WORLD
    backend, timeout = BACKENDS[cell.device], collective_timeout_s()
    if cell.device == "cuda":
        torch.cuda.set_device(local_rank)
    dist.init_process_group(backend, rank=rank, world_size=cell.world_size,
                            timeout=timedelta(seconds=timeout))
    _WORLD = World(rank, cell.world_size, local_rank, backend, timeout)
    return _WORLD


def leave(wait: bool = True) -> None:
    """Leave the process group after the last collective: once every rank is there
    (``wait``), or at once (this rank failed: the others are being stopped)."""
    global _WORLD
    if dist.is_initialized():
        if wait:
            dist.barrier()
        dist.destroy_process_group()
    _WORLD = None


def describe(cell: Cell, sync_bn: bool) -> dict[str, Any]:
    """The record's ``distributed`` entry: how the cell was spread."""
    here = _WORLD
    return {"world_size": cell.world_size, "nodes": cell.nodes,
            "gpus_per_cell": cell.gpus_per_cell,
            "per_rank_batch": cell.recipe.get("batch_size", 0) // cell.world_size,
            "backend": here.backend if here else BACKENDS[cell.device],
            "sync_bn": sync_bn, "collective_timeout_s": here.timeout_s if here else None,
            **({"allreduces": here.allreduces} if here else {})}

