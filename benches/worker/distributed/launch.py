"""Starting a distributed cell's ranks, and putting their measurements together.

On one node the cell's own process starts ``gpus_per_cell`` ranks with torch's launcher
machinery (``torch.multiprocessing.start_processes``, spawn): each joins the process group at a
free port of this host (torch's ``env://`` rendezvous), trains, and rank 0 hands its metrics
back through a file; the cell process writes the record, as for any cell. If a rank raises or
dies, or hangs so that another's collective times out, the others are ended (SIGTERM after
:data:`GRACE_S` seconds, SIGKILL after as many again) and the record says ``failed``: no rank
ever writes a record. Several nodes: Slurm's ``srun``
starts one cell process per rank (:func:`slurm_rank`), rank 0 writes.
"""

from __future__ import annotations

import os
import socket
import sys
import tempfile
from collections.abc import Callable
from typing import Any

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from benches.cell import THREADS_ENV, Cell
from benches.worker.distributed.world import join, leave, world
from benches.worker.parent import die_with_parent

SLOWEST = ("time_per_iter_s", "forward_s", "backward_s", "optimizer_s", "train_time_s",
           "data_wait_s", "data_wait_fraction", "activation_bytes", "cuda_max_allocated_bytes",
           "peak_memory_bytes", "peak_rss_bytes")
"""Metrics the record takes from the rank with the largest value (the slowest, the fullest)."""
GRACE_S = 5.0
"""Seconds the other ranks get to exit after one failed, before SIGTERM, then SIGKILL."""


class RankFailed(RuntimeError):
    """A rank of a distributed cell raised or died; the message says which and why, in one
    line (the rank's last traceback line, or the signal)."""

    def __init__(self, exc: mp.ProcessRaisedException | mp.ProcessExitedException) -> None:
        if isinstance(exc, mp.ProcessExitedException):
            why = f"died ({exc.signal_name or f'exit status {exc.exit_code}'})"
        else:
            lines = [line for line in str(exc).splitlines() if line.strip()]
            why = f"raised {lines[-1].strip() if lines else 'an exception'}"
        super().__init__(f"rank {exc.error_index} of the cell {why}; the other ranks were "
                         "stopped")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


Work = Callable[[Cell, Any, Any], dict[str, Any]]
"""What each rank runs: ``work(cell, data_root, checkpoint_dir)`` → its metrics (the worker's
``execute``, handed in so that this module imports no runner)."""


def run_ranks(work: Work, cell: Cell, data_root: str | None,
              checkpoint_dir: Any) -> dict[str, Any]:
    """Run ``work`` for ``cell`` as ``cell.gpus_per_cell`` ranks on this node; rank 0's
    combined metrics."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="benches-ranks-") as folder:
        result = os.path.join(folder, "metrics.pt")
        ranks = mp.start_processes(_rank_main, nprocs=cell.gpus_per_cell, join=False,
                                   args=(work, cell.to_dict(), data_root, checkpoint_dir,
                                         result, port), start_method="spawn")
        try:
            while not ranks.join(grace_period=GRACE_S):  # raises once a rank fails
                pass
        except (mp.ProcessRaisedException, mp.ProcessExitedException) as exc:
            raise RankFailed(exc) from None
        metrics: dict[str, Any] = torch.load(result, weights_only=False)
    return metrics


def _rank_main(local_rank: int, work: Work, cell_dict: dict, data_root: str | None,
               checkpoint_dir: Any, result: str, port: int) -> None:
    """One rank: dies with the cell process, joins the group at this host's ``port``, trains,
    rank 0 saves metrics."""
    die_with_parent()
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    cell = Cell.from_dict(cell_dict)
    metrics = train_as_rank(work, cell, local_rank, local_rank, data_root, checkpoint_dir)
    if metrics is not None:
        torch.save(metrics, result)
    # done: leave without the interpreter's teardown, where a communication thread of the
    # destroyed group may still be joinable (an abort: "terminate called without an active
    # exception", seen once in CI after a cell had finished)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def train_as_rank(work: Work, cell: Cell, rank: int, local_rank: int, data_root: str | None,
                  checkpoint_dir: Any) -> dict[str, Any] | None:
    """Join, run ``work``, combine; the record's metrics on rank 0 (``None`` on the others)."""
    if cell.device == "cpu" and not cell.threads:
        torch.set_num_threads(rank_threads(cell))
    join(cell, rank, local_rank)
    try:
        metrics = combine(work(cell, data_root, checkpoint_dir))
    except BaseException:
        leave(wait=False)
        raise
    leave()
    return metrics


def rank_threads(cell: Cell) -> int:
    """A CPU rank's torch threads: the cell's share of the cores (``THREADS_ENV`` from the
    executor, else this process's CPUs) split over the node's ranks; under ``srun`` a task's
    CPUs are its rank's already."""
    budget = int(os.environ.get(THREADS_ENV) or len(os.sched_getaffinity(0)))
    return max(1, budget if slurm_rank() is not None else budget // cell.gpus_per_cell)


def combine(metrics: dict[str, Any]) -> dict[str, Any] | None:
    """On rank 0: its metrics with :data:`SLOWEST` taken from the rank where they are largest
    and the throughput from the slowest rank; ``None`` elsewhere."""
    here = world()
    assert here is not None
    every: list[dict[str, Any] | None] = [None] * here.size
    dist.all_gather_object(every, {k: metrics.get(k) for k in (*SLOWEST, "samples_per_s")})
    if not here.main:
        return None
    out = dict(metrics)
    for key in SLOWEST:
        values = [m[key] for m in every if m and m.get(key) is not None]
        if values:
            out[key] = max(values)
    rates = [m["samples_per_s"] for m in every if m and m.get("samples_per_s") is not None]
    if rates:
        out["samples_per_s"] = min(rates)
    out["rank_metrics"] = every
    return out


def slurm_rank() -> tuple[int, int] | None:
    """``(rank, local_rank)`` when ``srun`` started this process as one task of a multi-node
    cell (the rendezvous host and port exported by the job script), else ``None``."""
    if "SLURM_PROCID" not in os.environ or "MASTER_ADDR" not in os.environ:
        return None
    return int(os.environ["SLURM_PROCID"]), int(os.environ.get("SLURM_LOCALID", "0"))
