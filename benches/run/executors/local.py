"""``--executor local``: cells on this machine, one after another or ``--jobs N`` at once.

With several jobs each CUDA cell gets a GPU of its own (``CUDA_VISIBLE_DEVICES``; a cell waits
while every GPU is taken) and each cell gets ``cores / jobs`` torch threads unless it fixes its
own. Timing cells (``efficiency`` mode) always run alone, after the others: their numbers must
not share the machine.
"""

from __future__ import annotations

import os
import queue
from concurrent.futures import ThreadPoolExecutor

from benches.cell import THREADS_ENV
from benches.run.executors.base import Executor, Progress, register_executor
from benches.run.job import CellJob


def visible_gpus() -> list[str]:
    """The GPU ids cells may be given: ``CUDA_VISIBLE_DEVICES`` if set, else every device."""
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        return [g.strip() for g in listed.split(",") if g.strip() and g.strip() != "-1"]
    import torch

    return [str(i) for i in range(torch.cuda.device_count())]


@register_executor
class LocalExecutor(Executor):
    name = "local"
    description = "this machine, --jobs cells at once (each CUDA cell gets a GPU)"
    options = {"jobs": "jobs"}

    def __init__(self, jobs: int = 1, gpus: list[str] | None = None) -> None:
        if jobs < 1:
            raise ValueError(f"jobs must be ≥ 1, got {jobs}")
        self.jobs = jobs
        self.gpus = visible_gpus() if gpus is None else gpus

    def describe(self, jobs: list[CellJob]) -> str:
        timing = sum(j.cell.mode == "efficiency" for j in jobs)
        return (f"executor local: {self.jobs} cell(s) at once, GPUs {self.gpus or 'none'}; "
                f"{timing} timing cell(s) run alone")

    def run(self, jobs: list[CellJob], progress: Progress) -> list[dict]:
        if self.jobs == 1:
            return [self._one(job, progress, {}) for job in jobs]
        shared = [j for j in jobs if j.cell.mode != "efficiency"]
        alone = [j for j in jobs if j.cell.mode == "efficiency"]
        slots: queue.Queue[str] = queue.Queue()
        for gpu in self.gpus:
            slots.put(gpu)
        threads = max(1, (os.cpu_count() or 1) // self.jobs)

        def run_shared(job: CellJob) -> dict:
            gpu = slots.get() if job.cell.device == "cuda" and self.gpus else None
            try:
                env = {THREADS_ENV: str(threads)}
                if gpu is not None:
                    env["CUDA_VISIBLE_DEVICES"] = gpu
                return self._one(job, progress, env)
            finally:
                if gpu is not None:
                    slots.put(gpu)

        with ThreadPoolExecutor(max_workers=self.jobs) as pool:
            records = list(pool.map(run_shared, shared))
        for job in alone:  # the whole machine, the first GPU
            env = {"CUDA_VISIBLE_DEVICES": self.gpus[0]} if job.cell.device == "cuda" and \
                self.gpus else {}
            records.append(self._one(job, progress, env))
        return records

    @staticmethod
    def _one(job: CellJob, progress: Progress, env: dict[str, str]) -> dict:
        progress.started()
        record = job.run(env)
        progress.finished(job, record)
        return record
