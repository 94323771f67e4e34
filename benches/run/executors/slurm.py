"""``--executor slurm``: the cells as Slurm job arrays, submitted through submitit.

One array per kind of cell: GPU cells (``--gpus-per-cell`` GPUs each), CPU cells, and timing
cells (``efficiency`` mode, on an exclusive node). Every array task runs one cell in its own
process and writes its record into the results folder, which must be on a file system the
compute nodes share (submitit's own logs go to ``RESULTS/.submitit/``). Parameters come from the
flags or the matrix's ``[executor]`` table: ``partition``, ``gpus_per_cell``, ``cpus_per_cell``,
``time_limit_min``, ``max_concurrent`` (the array's concurrency cap), ``account``, ``qos``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from benches.cell import THREADS_ENV
from benches.records import make_record, now, write_record
from benches.run.executors.base import Executor, Progress, register_executor
from benches.run.job import CellJob

SETTINGS = ("partition", "gpus_per_cell", "cpus_per_cell", "time_limit_min", "max_concurrent",
            "account", "qos")


def _run_array_task(job: CellJob) -> dict:
    """Body of one array task: the cell in its own process."""
    env = {THREADS_ENV: os.environ.get("SLURM_CPUS_PER_TASK", "1")}
    if os.environ.get("CUDA_VISIBLE_DEVICES") is not None:
        env["CUDA_VISIBLE_DEVICES"] = os.environ["CUDA_VISIBLE_DEVICES"]
    return job.run(env)


@register_executor
class SlurmExecutor(Executor):
    name = "slurm"
    description = "Slurm job arrays through submitit"
    requires = "submitit"
    options = {key: key for key in ("partition", "gpus_per_cell", "cpus_per_cell",
                                    "time_limit_min", "max_concurrent", "account", "qos")}

    def __init__(self, partition: str | None = None, gpus_per_cell: int = 1,
                 cpus_per_cell: int = 8, time_limit_min: int = 24 * 60,
                 max_concurrent: int = 64, account: str | None = None, qos: str | None = None,
                 cluster: str = "slurm", poll_s: float = 10.0) -> None:
        self.partition, self.gpus_per_cell, self.cpus_per_cell = partition, gpus_per_cell, \
            cpus_per_cell
        self.time_limit_min, self.max_concurrent = time_limit_min, max_concurrent
        self.account, self.qos = account, qos
        self.cluster = cluster  # "local" runs the same arrays on this machine (submitit)
        self.poll_s = poll_s

    def groups(self, jobs: list[CellJob]) -> list[tuple[str, dict, list[CellJob]]]:
        """``(name, submitit parameters, jobs)`` per array."""
        base = dict(timeout_min=self.time_limit_min, cpus_per_task=self.cpus_per_cell,
                    slurm_array_parallelism=self.max_concurrent, name="benches")
        for key, value in (("slurm_partition", self.partition), ("slurm_account", self.account),
                           ("slurm_qos", self.qos)):
            if value:
                base[key] = value
        timing = [j for j in jobs if j.cell.mode == "efficiency"]
        gpu = [j for j in jobs if j.cell.mode != "efficiency" and j.cell.device == "cuda"]
        cpu = [j for j in jobs if j.cell.mode != "efficiency" and j.cell.device != "cuda"]
        out = []
        if gpu:
            out.append(("gpu", {**base, "gpus_per_node": self.gpus_per_cell}, gpu))
        if cpu:
            out.append(("cpu", {**base, "gpus_per_node": 0}, cpu))
        if timing:
            gpus = self.gpus_per_cell if any(j.cell.device == "cuda" for j in timing) else 0
            out.append(("timing", {**base, "gpus_per_node": gpus, "slurm_exclusive": True},
                        timing))
        return out

    def describe(self, jobs: list[CellJob]) -> str:
        from submitit.slurm.slurm import _make_sbatch_string

        folder = Path(jobs[0].out_dir if jobs else "results") / ".submitit"
        parts = []
        for name, params, group in self.groups(jobs):
            text = _make_sbatch_string(
                command="python -m submitit.core._submit %j", folder=str(folder),
                job_name=params["name"], partition=self.partition, time=self.time_limit_min,
                cpus_per_task=self.cpus_per_cell, gpus_per_node=params["gpus_per_node"] or None,
                account=self.account, qos=self.qos, exclusive=params.get("slurm_exclusive"),
                array_parallelism=self.max_concurrent, map_count=len(group))
            parts.append(f"# array '{name}': {len(group)} cell(s), at most "
                         f"{self.max_concurrent} at once\n{text}")
        return "executor slurm (submitit), would submit:\n" + "\n".join(parts)

    def run(self, jobs: list[CellJob], progress: Progress) -> list[dict]:
        import submitit

        if not jobs:
            return []
        folder = Path(jobs[0].out_dir) / ".submitit"
        submitted = []
        for _, params, group in self.groups(jobs):
            executor = submitit.AutoExecutor(folder=folder, cluster=self.cluster)
            executor.update_parameters(**params)
            submitted += list(zip(group, executor.map_array(_run_array_task, group),
                                  strict=True))
        records, started = [], set()
        while submitted:
            waiting = []
            for job, handle in submitted:
                if handle.done():
                    record = self._collect(job, handle)
                    if id(handle) not in started:
                        progress.started()
                    records.append(record)
                    progress.finished(job, record)
                    continue
                if id(handle) not in started and handle.state.upper().startswith("RUN"):
                    started.add(id(handle))
                    progress.started()
                waiting.append((job, handle))
            submitted = waiting
            if submitted:
                time.sleep(self.poll_s)
        return records

    @staticmethod
    def _collect(job: CellJob, handle: Any) -> dict[str, Any]:  # handle: a submitit Job
        try:
            return handle.result()
        except Exception as exc:  # noqa: BLE001 - a job Slurm killed is a failed cell
            record = make_record(job.cell, "failed", f"Slurm job {handle.job_id} failed: "
                                 f"{type(exc).__name__}: {exc}".splitlines()[0][:500],
                                 matrix=job.matrix, command=job.command,
                                 started_at=now())
            write_record(record, job.out_dir)
            return record
