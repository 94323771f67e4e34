"""``--executor local``: cells on this machine, one after another or ``--jobs N`` at once.

With several jobs each CUDA cell takes ``gpus_per_cell`` GPUs of its own at once
(``CUDA_VISIBLE_DEVICES="a,b,…"``; a cell waits while fewer are free, and cells are served in
order, so a cell of many GPUs is not overtaken for ever); its ranks use ``cuda:0…g-1`` of them.
Each cell gets ``cores / jobs`` torch threads unless it fixes its own; a CPU cell of ``g`` ranks
counts as ``g`` of the ``jobs`` shares of the cores (and gets their threads). Timing cells
(``efficiency`` mode) always run alone, after the others: their numbers must not share the
machine. A CUDA cell of more GPUs than the machine shows, and any cell spanning several nodes,
is refused before anything runs.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

from benches.cell import THREADS_ENV, Cell
from benches.errors import UserError
from benches.run.executors.base import Executor, Progress, register_executor
from benches.run.job import CellJob


def visible_gpus() -> list[str]:
    """The GPU ids cells may be given: ``CUDA_VISIBLE_DEVICES`` if set, else every device."""
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        return [g.strip() for g in listed.split(",") if g.strip() and g.strip() != "-1"]
    import torch

    return [str(i) for i in range(torch.cuda.device_count())]


class Slots:
    """The GPUs and the ``jobs`` shares of the cores that concurrent cells take and give back.

    :meth:`take` serves cells in the order they ask, so that a cell waiting for several GPUs
    is not overtaken for ever by cells of one."""

    def __init__(self, gpus: list[str], shares: int) -> None:
        self.order = list(gpus)
        self.free = list(gpus)
        self.shares = shares
        self._cond = threading.Condition()
        self._tickets = 0
        self._serving = 0

    def take(self, gpus: int, shares: int) -> list[str]:
        """Wait for ``gpus`` free GPUs and ``shares`` free shares; the GPU ids taken."""
        with self._cond:
            ticket, self._tickets = self._tickets, self._tickets + 1
            self._cond.wait_for(lambda: self._serving == ticket and len(self.free) >= gpus
                                and self.shares >= shares)
            self._serving += 1
            taken, self.free = self.free[:gpus], self.free[gpus:]
            self.shares -= shares
            self._cond.notify_all()
            return taken

    def give(self, gpus: list[str], shares: int) -> None:
        """Give back what :meth:`take` returned (and the shares it took)."""
        with self._cond:
            self.free = sorted(self.free + gpus, key=self.order.index)
            self.shares += shares
            self._cond.notify_all()


@register_executor
class LocalExecutor(Executor):
    name = "local"
    description = "this machine, --jobs cells at once (each CUDA cell gets its GPUs)"
    options = {"jobs": "jobs"}

    def __init__(self, jobs: int = 1, gpus: list[str] | None = None) -> None:
        if jobs < 1:
            raise ValueError(f"jobs must be ≥ 1, got {jobs}")
        self.jobs = jobs
        self.gpus = visible_gpus() if gpus is None else gpus

    def describe(self, jobs: list[CellJob]) -> str:
        self.check(jobs)
        timing = sum(j.cell.mode == "efficiency" for j in jobs)
        wide = sorted({j.cell.gpus_per_cell for j in jobs if j.cell.device == "cuda"} - {1})
        each = f"; CUDA cells of {', '.join(map(str, wide))} GPUs take them at once" if wide \
            else ""
        return (f"executor local: {self.jobs} cell(s) at once, GPUs {self.gpus or 'none'}"
                f"{each}; {timing} timing cell(s) run alone")

    def check(self, jobs: list[CellJob]) -> None:
        """Refuse cells spanning several nodes and CUDA cells of more GPUs than are visible."""
        super().check(jobs)
        wide = [j.cell for j in jobs if j.cell.device == "cuda"
                and j.cell.gpus_per_cell > max(1, len(self.gpus))]
        if wide:
            most = max(wide, key=lambda c: c.gpus_per_cell)
            raise UserError(
                f"--executor local: {len(wide)} CUDA cell(s) ask for more GPUs than this machine "
                f"shows (e.g. {most.label()}: gpus_per_cell = {most.gpus_per_cell}; visible "
                f"GPUs: {','.join(self.gpus) or 'none'}): lower --gpus-per-cell, or run it "
                "under --executor slurm")

    def needs(self, cell: Cell) -> tuple[int, int]:
        """``(GPUs, shares of the cores)`` a cell takes while it runs beside others."""
        gpus = cell.gpus_per_cell if cell.device == "cuda" and self.gpus else 0
        shares = 1 if cell.device == "cuda" else min(cell.gpus_per_cell, self.jobs)
        return gpus, shares

    def run(self, jobs: list[CellJob], progress: Progress) -> list[dict]:
        self.check(jobs)
        if self.jobs == 1:
            return [self._one(job, progress, {}) for job in jobs]
        shared = [j for j in jobs if j.cell.mode != "efficiency"]
        alone = [j for j in jobs if j.cell.mode == "efficiency"]
        slots = Slots(self.gpus, self.jobs)
        with ThreadPoolExecutor(max_workers=self.jobs) as pool:
            records = list(pool.map(lambda job: self._beside(job, progress, slots), shared))
        for job in alone:  # the whole machine, the first GPUs
            gpus, _ = self.needs(job.cell)
            env = {"CUDA_VISIBLE_DEVICES": ",".join(self.gpus[:gpus])} if gpus else {}
            records.append(self._one(job, progress, env))
        return records

    def _beside(self, job: CellJob, progress: Progress, slots: Slots) -> dict:
        """Run a cell beside others: take its GPUs and shares, run, give them back."""
        gpus, shares = self.needs(job.cell)
        taken = slots.take(gpus, shares)
        try:
            threads = max(1, (os.cpu_count() or 1) // self.jobs) * shares
            env = {THREADS_ENV: str(threads)}
            if taken:
                env["CUDA_VISIBLE_DEVICES"] = ",".join(taken)
            return self._one(job, progress, env)
        finally:
            slots.give(taken, shares)

    @staticmethod
    def _one(job: CellJob, progress: Progress, env: dict[str, str]) -> dict:
        progress.started()
        record = job.run(env)
        progress.finished(job, record)
        return record
