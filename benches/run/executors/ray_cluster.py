"""``--executor ray``: every cell a Ray task, still run in its own process inside the task.

A task asks for ``num_gpus`` = the cell's ``gpus_per_cell`` (CUDA cells; Ray sets
``CUDA_VISIBLE_DEVICES`` and the cell process starts one rank per GPU) or 0, and for the cell's
CPUs: ``gpus_per_cell`` × (its ``threads``, else ``--cpus-per-cell``, else 1), at most a node's; a
timing cell (``efficiency`` mode) asks for every CPU of a node, so nothing shares the node while
it is timed. Ray retries a task whose worker died. A cell spanning several nodes is refused
(Slurm runs those).

Records: the driver leaves a token file in the results folder. A worker that sees it shares the
folder (one machine, or a shared file system) and writes the record there itself, as the local
executor does; a worker that does not runs the cell in a temporary folder and returns the record,
which the driver writes. Either way every record ends up in the driver's results folder.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

from benches.cell import THREADS_ENV
from benches.records import make_record, now, read_record, record_path, write_record
from benches.run.claims import ELSEWHERE
from benches.run.executors.base import Executor, Progress, register_executor
from benches.run.job import CellJob


def _run_task(job: CellJob, token: str, tracker: Any) -> dict[str, Any]:  # a _Tracker actor
    """Body of a Ray task: run the cell in its own process; return its record."""
    import ray

    tracker.started.remote()
    env = {}
    if os.environ.get("CUDA_VISIBLE_DEVICES") is not None:  # Ray sets it for num_gpus tasks
        env["CUDA_VISIBLE_DEVICES"] = os.environ["CUDA_VISIBLE_DEVICES"]
    cpus = ray.get_runtime_context().get_assigned_resources().get("CPU", 1)
    env[THREADS_ENV] = str(max(1, int(cpus)))
    if (Path(job.out_dir) / token).is_file():
        return job.run(env)
    with tempfile.TemporaryDirectory() as tmp:  # results folder not shared: hand it back
        return dataclasses.replace(job, out_dir=tmp).run(env)


class _Tracker:
    """Counts tasks that have started (so progress can tell running from queued)."""

    def __init__(self) -> None:
        self.count = 0

    def started(self) -> None:
        self.count += 1

    def value(self) -> int:
        return self.count


@register_executor
class RayExecutor(Executor):
    name = "ray"
    description = "a Ray cluster: one task per cell"
    requires = "ray"
    options = {"ray_address": "address", "cpus_per_cell": "cpus_per_cell"}

    def __init__(self, address: str | None = None, cpus_per_cell: int | None = None,
                 max_retries: int = 3, init_kwargs: dict | None = None) -> None:
        self.address = address
        self.cpus_per_cell = cpus_per_cell
        self.max_retries = max_retries
        self.init_kwargs = init_kwargs or {}

    def describe(self, jobs: list[CellJob]) -> str:
        self.check(jobs)
        where = self.address or "a local Ray cluster started for this run"
        gpus = sum(self._gpus(j) for j in jobs)
        asking = sum(self._gpus(j) > 0 for j in jobs)
        return (f"executor ray on {where}: {len(jobs)} task(s), {asking} asking for GPUs "
                f"({gpus} in all)")

    @staticmethod
    def _gpus(job: CellJob) -> int:
        """GPUs a cell's task asks for: one per rank of a CUDA cell."""
        return job.cell.gpus_per_cell if job.cell.device == "cuda" else 0

    def _cpus(self, job: CellJob, node_cpus: int) -> int:
        if job.cell.mode == "efficiency":
            return node_cpus
        per_rank = job.cell.threads or self.cpus_per_cell or 1
        return min(node_cpus, per_rank * job.cell.gpus_per_cell)

    def run(self, jobs: list[CellJob], progress: Progress) -> list[dict]:
        self.check(jobs)
        import ray

        if not ray.is_initialized():
            ray.init(address=self.address, include_dashboard=False, log_to_driver=False,
                     **self.init_kwargs)
        out_dir = Path(jobs[0].out_dir) if jobs else None
        token = f".ray-shared-{uuid.uuid4().hex}"
        if out_dir is not None:
            out_dir.mkdir(parents=True, exist_ok=True)
            (out_dir / token).write_text("results folder shared with the Ray workers\n")
        try:
            return self._run(ray, jobs, progress, token)
        finally:
            if out_dir is not None:
                (out_dir / token).unlink(missing_ok=True)

    def _run(self, ray: ModuleType, jobs: list[CellJob], progress: Progress,
             token: str) -> list[dict[str, Any]]:
        tracker = ray.remote(_Tracker).remote()
        task = ray.remote(_run_task)
        node_cpus = max(int(n["Resources"].get("CPU", 1)) for n in ray.nodes() if n["Alive"])
        pending = {}
        for job in jobs:
            ref = task.options(
                num_cpus=self._cpus(job, node_cpus),
                num_gpus=self._gpus(job),
                max_retries=self.max_retries,
            ).remote(job, token, tracker)
            pending[ref] = job
        records, started = [], 0
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
            count = ray.get(tracker.value.remote())
            if count > started:
                progress.started(count - started)
                started = count
            for ref in done:
                job = pending.pop(ref)
                record = self._collect(ray, ref, job)
                records.append(record)
                progress.finished(job, record)
        return records

    @staticmethod
    def _collect(ray: ModuleType, ref: Any, job: CellJob) -> dict[str, Any]:  # ref: ObjectRef
        """The task's record, written into the driver's folder unless the worker did."""
        try:
            record = ray.get(ref)
        except Exception as exc:  # noqa: BLE001 - a task Ray gave up on is a failed cell
            record = make_record(job.cell, "failed", f"Ray task failed: {type(exc).__name__}: "
                                 f"{exc}".splitlines()[0][:500], matrix=job.matrix,
                                 command=job.command, started_at=now())
        if record["status"] == ELSEWHERE:  # another runner holds the cell and writes it
            return record
        path = record_path(job.out_dir, job.cell)
        try:
            written = read_record(path) == record  # the worker shared the folder
        except (OSError, ValueError):
            written = False
        if not written:
            write_record(record, job.out_dir)
        return record
