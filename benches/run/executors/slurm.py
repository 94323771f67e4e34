"""``--executor slurm``: the cells as Slurm job arrays, submitted through submitit.

One array per kind of cell (GPU cells, CPU cells, and timing cells — ``efficiency`` mode — on
exclusive nodes) and per shape (the cells' ``gpus_per_cell`` and ``nodes``). A cell on one node
is one array task with ``gpus_per_cell`` GPUs (CUDA) and ``gpus_per_cell × cpus_per_cell`` CPUs:
the cell process starts its ranks itself. A cell on ``M > 1`` nodes is one array task of
``M`` nodes that ``srun`` runs as ``M × gpus_per_cell`` tasks (``gpus_per_cell`` per node, each
with ``cpus_per_cell`` CPUs), one rank each: every task exports the rendezvous
(:func:`slurm_rendezvous`) and runs the cell process; rank 0's writes the record.

Every array task writes its record into the results folder, which must be on a file system the
compute nodes share (submitit's own logs go to ``RESULTS/.submitit/``). Parameters come from the
flags or the matrix's ``[executor]`` table: ``partition``, ``cpus_per_cell`` (CPUs per rank),
``time_limit_min``, ``max_concurrent`` (the array's concurrency cap), ``account``, ``qos``; the
GPUs and nodes of a cell come from the cell (``--gpus-per-cell``, ``--nodes``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benches.cell import THREADS_ENV
from benches.records import make_record, now, write_record
from benches.run.executors.base import Executor, Progress, register_executor
from benches.run.job import CellJob

SETTINGS = ("partition", "cpus_per_cell", "time_limit_min", "max_concurrent", "account", "qos")
RENDEZVOUS = ("MASTER_ADDR", "MASTER_PORT")
FIRST_PORT, PORTS = 20000, 20000
"""The rendezvous port of a job: ``FIRST_PORT + job id % PORTS``."""
SBATCH_NAMES = {"timeout_min": "time", "cpus_per_task": "cpus_per_task", "name": "job_name",
                "slurm_array_parallelism": "array_parallelism", "nodes": "nodes",
                "tasks_per_node": "ntasks_per_node", "gpus_per_node": "gpus_per_node",
                "slurm_partition": "partition", "slurm_account": "account",
                "slurm_qos": "qos", "slurm_exclusive": "exclusive"}
"""submitit's parameter names → those of its sbatch script (for ``--dry-run``)."""


def rendezvous(hosts: Sequence[str], job_id: int) -> dict[str, str]:
    """``MASTER_ADDR`` (the job's first host) and ``MASTER_PORT`` (from the job id) for the
    ranks of a multi-node cell."""
    return {"MASTER_ADDR": hosts[0], "MASTER_PORT": str(FIRST_PORT + job_id % PORTS)}


def slurm_rendezvous() -> dict[str, str]:
    """:func:`rendezvous` from Slurm's variables (``SLURM_JOB_NODELIST``, ``SLURM_JOB_ID``),
    the same in every task of the job."""
    from submitit.slurm.slurm import SlurmJobEnvironment

    return rendezvous(SlurmJobEnvironment().hostnames, int(os.environ["SLURM_JOB_ID"]))


def _run_array_task(job: CellJob) -> dict:
    """Body of one array task (of each of its tasks, one per rank, for a multi-node cell): the
    cell in its own process; its record, or ``{}`` in the tasks of ranks above 0."""
    env = {THREADS_ENV: os.environ.get("SLURM_CPUS_PER_TASK", "1")}
    if os.environ.get("CUDA_VISIBLE_DEVICES") is not None:
        env["CUDA_VISIBLE_DEVICES"] = os.environ["CUDA_VISIBLE_DEVICES"]
    if job.cell.nodes > 1:
        env.update(slurm_rendezvous())
    else:  # one task: the cell process starts its ranks (a stray rendezvous would say otherwise)
        for key in RENDEZVOUS:
            os.environ.pop(key, None)
    return job.run(env)


def array_name(kind: str, gpus_per_cell: int, nodes: int) -> str:
    """``gpu``, ``gpu-8`` (8 ranks on one node), ``gpu-4x2`` (4 ranks on each of 2 nodes)."""
    if nodes > 1:
        return f"{kind}-{gpus_per_cell}x{nodes}"
    return kind if gpus_per_cell == 1 else f"{kind}-{gpus_per_cell}"


@register_executor
class SlurmExecutor(Executor):
    name = "slurm"
    description = "Slurm job arrays through submitit"
    requires = "submitit"
    options = {key: key for key in SETTINGS}

    def __init__(self, partition: str | None = None, cpus_per_cell: int = 8,
                 time_limit_min: int = 24 * 60, max_concurrent: int = 64,
                 account: str | None = None, qos: str | None = None, cluster: str = "slurm",
                 poll_s: float = 10.0) -> None:
        self.partition, self.cpus_per_cell = partition, cpus_per_cell
        self.time_limit_min, self.max_concurrent = time_limit_min, max_concurrent
        self.account, self.qos = account, qos
        self.cluster = cluster  # "local" runs the same arrays on this machine (submitit)
        self.poll_s = poll_s

    def _shape(self, kind: str, cuda: bool, gpus_per_cell: int, nodes: int) -> dict[str, Any]:
        """The submitit parameters of one array (beside the shared ones)."""
        gpus = gpus_per_cell if cuda else 0
        if nodes > 1:  # srun: one task per rank
            shape: dict[str, Any] = dict(nodes=nodes, tasks_per_node=gpus_per_cell,
                                         cpus_per_task=self.cpus_per_cell, gpus_per_node=gpus)
        else:  # one task: the cell process starts its ranks
            shape = dict(cpus_per_task=self.cpus_per_cell * gpus_per_cell, gpus_per_node=gpus)
        if kind == "timing":
            shape["slurm_exclusive"] = True
        return shape

    def groups(self, jobs: list[CellJob]) -> list[tuple[str, dict, list[CellJob]]]:
        """``(name, submitit parameters, jobs)`` per array: per kind (gpu, cpu, timing) and
        per shape (ranks per node, nodes)."""
        base = dict(timeout_min=self.time_limit_min, slurm_array_parallelism=self.max_concurrent,
                    name="benches")
        for name, value in (("slurm_partition", self.partition), ("slurm_account", self.account),
                            ("slurm_qos", self.qos)):
            if value:
                base[name] = value
        grouped: dict[tuple[str, bool, int, int], list[CellJob]] = {}
        for job in jobs:
            cell = job.cell
            kind = "timing" if cell.mode == "efficiency" else \
                "gpu" if cell.device == "cuda" else "cpu"
            key = (kind, cell.device == "cuda", cell.gpus_per_cell, cell.nodes)
            grouped.setdefault(key, []).append(job)
        order = {"gpu": 0, "cpu": 1, "timing": 2}
        out = []
        for key in sorted(grouped, key=lambda k: (order[k[0]], not k[1], k[3], k[2])):
            kind, cuda, gpus_per_cell, nodes = key
            name = array_name(kind, gpus_per_cell, nodes)
            if kind == "timing" and not cuda and (kind, True, gpus_per_cell, nodes) in grouped:
                name += "-cpu"
            out.append((name, {**base, **self._shape(kind, cuda, gpus_per_cell, nodes)},
                        grouped[key]))
        return out

    def check(self, jobs: list[CellJob]) -> None:
        """Slurm runs every shape of cell (``srun`` starts those spanning several nodes)."""

    def describe(self, jobs: list[CellJob]) -> str:
        from submitit.slurm.slurm import _make_sbatch_string

        folder = Path(jobs[0].out_dir if jobs else "results") / ".submitit"
        parts = []
        for name, params, group in self.groups(jobs):
            sbatch = {SBATCH_NAMES[k]: v for k, v in params.items() if k in SBATCH_NAMES}
            if not sbatch.get("gpus_per_node"):
                sbatch.pop("gpus_per_node", None)
            text = _make_sbatch_string(command="python -m submitit.core._submit %j",
                                       folder=str(folder), map_count=len(group), **sbatch)
            parts.append(f"# array '{name}': {len(group)} cell(s), at most "
                         f"{self.max_concurrent} at once\n{_layout(group[0], params)}\n{text}")
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
        """The record rank 0's task returned (the other tasks of a multi-node cell return
        ``{}``); a failed record, written here, if Slurm killed the job."""
        try:
            return handle.task(0).result() if handle.num_tasks > 1 else handle.result()
        except Exception as exc:  # noqa: BLE001 - a job Slurm killed is a failed cell
            record = make_record(job.cell, "failed", f"Slurm job {handle.job_id} failed: "
                                 f"{type(exc).__name__}: {exc}".splitlines()[0][:500],
                                 matrix=job.matrix, command=job.command,
                                 started_at=now())
            write_record(record, job.out_dir)
            return record


def _layout(job: CellJob, params: dict[str, Any]) -> str:
    """How an array task runs its cell's ranks (for ``--dry-run``)."""
    cell = job.cell
    if cell.nodes > 1:
        device = ", cuda:LOCAL_RANK" if cell.device == "cuda" else ", gloo"
        return (f"# per cell: srun starts {cell.nodes} nodes × {cell.gpus_per_cell} tasks = "
                f"{cell.world_size} tasks, one rank each (RANK = SLURM_PROCID, LOCAL_RANK = "
                f"SLURM_LOCALID{device})\n# every task: export MASTER_ADDR = first host of "
                f"SLURM_JOB_NODELIST, MASTER_PORT = {FIRST_PORT} + SLURM_JOB_ID % {PORTS}; run "
                "the cell process; rank 0 writes the record")
    if cell.gpus_per_cell > 1:
        where = f"one GPU each of {params['gpus_per_node']}" if cell.device == "cuda" else "gloo"
        return (f"# per cell: one task; the cell process starts its {cell.gpus_per_cell} ranks "
                f"({where}) and writes the record")
    return "# per cell: one task"
