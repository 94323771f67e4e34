"""Executors and cells of several ranks: GPU slots (local), ``num_gpus`` (ray), arrays per shape
and the rendezvous (slurm), refusals, and the tasks of ranks above 0 writing no record."""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from helpers import make_cell

from benches.cell import THREADS_ENV, Cell
from benches.errors import UserError
from benches.records import make_record, now, read_record, record_path
from benches.run import job as job_module
from benches.run.executors import LocalExecutor, Progress, RayExecutor, SlurmExecutor
from benches.run.executors.local import Slots
from benches.run.job import CellJob, follower_rank

MULTI_NODE = "multi-node cells run under Slurm: --executor slurm --nodes M"


def cells(count: int, device: str = "cuda", gpus_per_cell: int = 1, nodes: int = 1,
          mode: str = "train") -> list[Cell]:
    """``count`` distinct cells (by seed) of one shape."""
    base = make_cell("bptt", timesteps=2, mode=mode)
    return [dataclasses.replace(base, seed=s, device=device, gpus_per_cell=gpus_per_cell,
                                nodes=nodes) for s in range(count)]


def jobs_of(cell_list: list[Cell], out: Path | str = "results") -> list[CellJob]:
    return [CellJob(c, str(out)) for c in cell_list]


@pytest.fixture
def fake_run(monkeypatch):
    """``CellJob.run`` replaced: notes each job's environment and the GPUs in use meanwhile;
    each job waits until a second one runs beside it (or 0.3 s)."""
    seen: list[dict[str, str]] = []
    in_use: set[str] = set()
    overlaps: list[bool] = []
    lock, together = threading.Lock(), threading.Barrier(2)

    def run(self: CellJob, env: dict[str, str] | None = None) -> dict:
        env = dict(env or {})
        gpus = [g for g in env.get("CUDA_VISIBLE_DEVICES", "").split(",") if g]
        with lock:
            assert not in_use & set(gpus), f"GPUs {gpus} given twice at once"
            in_use.update(gpus)
            seen.append(env)
        try:
            together.wait(timeout=0.3)
            overlaps.append(True)
        except threading.BrokenBarrierError:
            overlaps.append(False)
        finally:
            with lock:
                in_use.difference_update(gpus)
        return make_record(self.cell, "ok", None, started_at=now())

    monkeypatch.setattr(CellJob, "run", run)
    return seen, overlaps


def test_local_cuda_cells_take_their_gpus_at_once_and_disjoint(fake_run):
    seen, overlaps = fake_run
    executor = LocalExecutor(jobs=2, gpus=["0", "1", "2", "3"])
    records = executor.run(jobs_of(cells(4, gpus_per_cell=2)), Progress(4))
    assert len(records) == 4 and len(seen) == 4
    for env in seen:
        ids = env["CUDA_VISIBLE_DEVICES"].split(",")
        assert len(ids) == 2 and len(set(ids)) == 2 and set(ids) <= {"0", "1", "2", "3"}
    assert any(overlaps)  # two cells of 2 GPUs ran side by side (on disjoint GPUs: fake_run)


def test_local_cells_wait_while_too_few_gpus_are_free(fake_run):
    seen, overlaps = fake_run
    executor = LocalExecutor(jobs=2, gpus=["0", "1", "2"])
    executor.run(jobs_of(cells(2, gpus_per_cell=2)), Progress(2))
    assert not any(overlaps)  # 3 GPUs hold one cell of 2 at a time
    assert [env["CUDA_VISIBLE_DEVICES"] for env in seen] == ["0,1", "0,1"]


def test_local_cpu_cells_take_no_gpu_and_count_their_ranks_as_shares(fake_run):
    seen, overlaps = fake_run
    executor = LocalExecutor(jobs=2, gpus=["0", "1"])
    executor.run(jobs_of(cells(2, device="cpu", gpus_per_cell=2)), Progress(2))
    assert not any(overlaps)  # each takes both shares of the cores
    share = max(1, (os.cpu_count() or 1) // 2)
    for env in seen:
        assert "CUDA_VISIBLE_DEVICES" not in env and env[THREADS_ENV] == str(2 * share)


def test_slots_serve_cells_in_order():
    slots = Slots(["0", "1", "2", "3"], shares=4)
    first = slots.take(3, 1)
    assert first == ["0", "1", "2"]
    order: list[str] = []

    def wants(name: str, gpus: int) -> None:
        taken = slots.take(gpus, 1)
        order.append(name)
        slots.give(taken, 1)

    big = threading.Thread(target=wants, args=("big", 4))
    big.start()
    time.sleep(0.05)
    small = threading.Thread(target=wants, args=("small", 1))  # one GPU is free, but it waits
    small.start()
    time.sleep(0.05)
    assert order == []
    slots.give(first, 1)
    big.join(2)
    small.join(2)
    assert order == ["big", "small"] and slots.free == ["0", "1", "2", "3"]


def test_local_refuses_more_gpus_than_visible_and_several_nodes(fake_run):
    seen, _ = fake_run
    executor = LocalExecutor(jobs=2, gpus=["0", "1", "2", "3"])
    for bad, words in ((cells(1, gpus_per_cell=8), "gpus_per_cell = 8; visible GPUs: 0,1,2,3"),
                       (cells(1, device="cpu", nodes=2), MULTI_NODE)):
        for call in (lambda j: executor.describe(j), lambda j: executor.run(j, Progress(1))):
            with pytest.raises(UserError, match="^--executor local") as err:
                call(jobs_of(cells(1) + bad))
            assert words in str(err.value) and "\n" not in str(err.value)
    assert seen == []  # nothing ran
    assert "GPUs ['0', '1', '2', '3']" in executor.describe(jobs_of(cells(1, gpus_per_cell=4)))


class _Ref:
    def __init__(self, value: Any) -> None:
        self.value = value


class _FakeRay:
    """The part of the ``ray`` module :meth:`RayExecutor._run` uses; notes each task's options."""

    def __init__(self) -> None:
        self.options: list[dict[str, Any]] = []

    def remote(self, target: Any) -> Any:
        fake = self

        class Remote:
            def remote(self, *args: Any) -> Any:
                if isinstance(target, type):  # the tracker actor
                    return type("Actor", (), {"value": type("M", (), {
                        "remote": staticmethod(lambda: 0)})()})()
                return _Ref(make_record(args[0].cell, "ok", None, started_at=now()))

            def options(self, **kwargs: Any) -> Remote:
                fake.options.append(kwargs)
                return self

        return Remote()

    @staticmethod
    def nodes() -> list[dict]:
        return [{"Alive": True, "Resources": {"CPU": 16, "GPU": 8}}]

    @staticmethod
    def wait(refs: list, num_returns: int, timeout: float) -> tuple[list, list]:
        return refs[:1], refs[1:]

    @staticmethod
    def get(ref: Any) -> Any:
        return ref.value if isinstance(ref, _Ref) else ref


def test_ray_tasks_ask_for_a_gpu_per_rank(tmp_path):
    executor = RayExecutor(cpus_per_cell=3)
    fake = _FakeRay()
    shapes = cells(1, gpus_per_cell=4) + cells(1) + cells(1, device="cpu", gpus_per_cell=2)
    jobs = jobs_of([dataclasses.replace(c, seed=i) for i, c in enumerate(shapes)], tmp_path)
    records = executor._run(fake, jobs, Progress(3), token=".none")
    assert len(records) == 3
    assert [(o["num_gpus"], o["num_cpus"]) for o in fake.options] == [(4, 12), (1, 3), (0, 6)]
    assert "3 task(s), 2 asking for GPUs (5 in all)" in executor.describe(jobs)


def test_ray_refuses_cells_of_several_nodes():
    executor = RayExecutor()
    jobs = jobs_of(cells(2, nodes=2, gpus_per_cell=4))
    for call in (lambda: executor.describe(jobs), lambda: executor.run(jobs, Progress(2))):
        with pytest.raises(UserError, match="^--executor ray") as err:
            call()
        assert MULTI_NODE in str(err.value) and "\n" not in str(err.value)


def test_slurm_arrays_per_shape(tmp_path):
    pytest.importorskip("submitit")
    executor = SlurmExecutor(cpus_per_cell=6)
    jobs = jobs_of(cells(2, gpus_per_cell=4, nodes=2) + cells(1, gpus_per_cell=8)
                   + cells(1) + cells(1, device="cpu"), tmp_path)
    groups = {name: (params, len(group)) for name, params, group in executor.groups(jobs)}
    assert list(groups) == ["gpu", "gpu-8", "gpu-4x2", "cpu"]
    two_nodes, count = groups["gpu-4x2"]
    assert count == 2
    assert (two_nodes["nodes"], two_nodes["tasks_per_node"], two_nodes["gpus_per_node"],
            two_nodes["cpus_per_task"]) == (2, 4, 4, 6)
    one_node, _ = groups["gpu-8"]
    assert (one_node["gpus_per_node"], one_node["cpus_per_task"]) == (8, 48)
    assert "nodes" not in one_node and "tasks_per_node" not in one_node
    assert groups["gpu"][0]["gpus_per_node"] == 1 and groups["cpu"][0]["gpus_per_node"] == 0
    assert not hasattr(executor, "gpus_per_cell") and "gpus_per_cell" not in executor.options


def test_slurm_dry_run_shows_the_sbatch_parameters_and_the_task_layout(tmp_path):
    pytest.importorskip("submitit")
    jobs = jobs_of(cells(2, gpus_per_cell=4, nodes=2) + cells(1, gpus_per_cell=8), tmp_path)
    text = SlurmExecutor(partition="gpu").describe(jobs)
    multi, single = text.split("# array 'gpu-4x2'")[1], text.split("# array 'gpu-4x2'")[0]
    for line in ("#SBATCH --nodes=2", "#SBATCH --ntasks-per-node=4", "#SBATCH --gpus-per-node=4",
                 "#SBATCH --cpus-per-task=8", "#SBATCH --partition=gpu",
                 "srun starts 2 nodes × 4 tasks = 8 tasks", "MASTER_ADDR = first host of "
                 "SLURM_JOB_NODELIST", "srun --unbuffered"):
        assert line in multi, line
    assert "# array 'gpu-8': 1 cell(s)" in single and "#SBATCH --gpus-per-node=8" in single
    assert "#SBATCH --nodes=1" in single and "--ntasks-per-node" not in single
    assert "starts its 8 ranks" in single


def test_slurm_rendezvous_from_the_job_variables(monkeypatch):
    pytest.importorskip("submitit")
    from benches.run.executors.slurm import rendezvous, slurm_rendezvous

    assert rendezvous(["gpu03", "gpu04"], 123456) == {"MASTER_ADDR": "gpu03",
                                                      "MASTER_PORT": "23456"}
    monkeypatch.setenv("SLURM_JOB_NODELIST", "gpu[03-04],cpu7")
    monkeypatch.setenv("SLURM_JOB_ID", "40001")
    assert slurm_rendezvous() == {"MASTER_ADDR": "gpu03", "MASTER_PORT": "20001"}


def test_slurm_task_exports_the_rendezvous_only_for_multi_node_cells(monkeypatch, tmp_path):
    pytest.importorskip("submitit")
    from benches.run.executors.slurm import _run_array_task

    seen: list[dict[str, str]] = []
    monkeypatch.setattr(CellJob, "run", lambda self, env=None: seen.append(dict(env or {})) or {})
    for key, value in (("SLURM_JOB_NODELIST", "node[1-2]"), ("SLURM_JOB_ID", "7"),
                       ("SLURM_PROCID", "5"), ("SLURM_LOCALID", "1"),
                       ("SLURM_CPUS_PER_TASK", "6"), ("MASTER_ADDR", "stray")):
        monkeypatch.setenv(key, value)
    assert _run_array_task(jobs_of(cells(1, gpus_per_cell=4, nodes=2), tmp_path)[0]) == {}
    assert seen[-1]["MASTER_ADDR"] == "node1" and seen[-1]["MASTER_PORT"] == "20007"
    assert seen[-1][THREADS_ENV] == "6"
    _run_array_task(jobs_of(cells(1, gpus_per_cell=4), tmp_path)[0])
    assert "MASTER_ADDR" not in seen[-1] and "MASTER_ADDR" not in os.environ


def test_rank_above_0_runs_the_cell_process_but_writes_and_reads_no_record(monkeypatch,
                                                                           tmp_path):
    launched: list[dict[str, str]] = []

    def launch(cell, out_dir, data_root, matrix, timeout_s, env, *rest) -> int:
        launched.append(env)
        return 1  # a failure, as for a rank whose cell process died

    monkeypatch.setattr(job_module, "_run_in_subprocess", launch)
    monkeypatch.setattr(job_module, "_run_in_forkserver", launch)
    cell = cells(1, device="cpu", gpus_per_cell=2, nodes=2)[0]
    job = CellJob(cell, str(tmp_path))
    env = {"MASTER_ADDR": "node1", "MASTER_PORT": "20007"}
    monkeypatch.setenv("SLURM_PROCID", "3")
    assert follower_rank(cell, env) == 3 and follower_rank(cell) is None
    assert job.run(env) == {} and len(launched) == 1
    assert list(tmp_path.rglob("*")) == []  # no record, no claim
    monkeypatch.setenv("SLURM_PROCID", "0")  # rank 0 writes the failed record
    assert follower_rank(cell, env) is None
    assert job.run(env)["status"] == "failed" and len(launched) == 2
    assert read_record(record_path(tmp_path, cell))["status"] == "failed"
    one_node = dataclasses.replace(cell, nodes=1)
    monkeypatch.setenv("SLURM_PROCID", "3")
    assert follower_rank(one_node, env) is None


def test_slurm_collects_rank_0s_record_of_a_multi_task_job(tmp_path):
    cell = cells(1, gpus_per_cell=4, nodes=2)[0]
    job = CellJob(cell, str(tmp_path))
    record = make_record(cell, "ok", None, started_at=now())

    class Task:
        def __init__(self, result: dict) -> None:
            self._result = result

        def result(self) -> dict:
            return self._result

    class Handle:
        num_tasks, job_id = 8, "12_0"

        def task(self, index: int) -> Task:
            return Task(record if index == 0 else {})

        def result(self) -> dict:
            raise AssertionError("You should use `results()` if your job has subtasks.")

    assert SlurmExecutor._collect(job, Handle()) == record
    assert list(tmp_path.glob("*.json")) == []  # rank 0's task wrote it, not the driver
