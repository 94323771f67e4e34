"""Executors: the same records whichever runs the cells; concurrency rules; killed workers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from helpers import REPO, plugin_package, run_cli

from benches.plan.matrix import load_matrix
from benches.run.executors import SlurmExecutor
from benches.run.runner import run_cells

pytest.importorskip("ray")
pytest.importorskip("submitit")

QUICK = ["--epochs", "1", "--threads", "1"]  # one thread: the same arithmetic in every executor
VOLATILE = ("time_per_iter_s", "time_per_iter_iqr_s", "time_per_iter_samples_s", "samples_per_s",
            "forward_s", "backward_s", "optimizer_s", "train_time_s", "peak_rss_bytes",
            "peak_memory_bytes", "data_wait_s", "data_wait_fraction", "execution",
            "load_average", "other_cells")


def records_in(folder: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}


def stable(record: dict) -> dict:
    """What must not depend on the executor: status, cell and metrics bar timings and env."""
    metrics = {k: v for k, v in record["metrics"].items() if k not in VOLATILE}
    return {"status": record["status"], "cell": record["cell"], "metrics": metrics}


@pytest.fixture(scope="module")
def local_smoke(tmp_path_factory) -> dict[str, dict]:
    cwd = tmp_path_factory.mktemp("local")
    proc = run_cli("run", "--matrix", "smoke", *QUICK, "--no-site", cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    return records_in(cwd / "results")


def test_ray_executor_writes_the_same_records_as_the_local_one(local_smoke, tmp_path):
    proc = run_cli("run", "--matrix", "smoke", *QUICK, "--no-site", "--executor", "ray",
                   cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    ray = records_in(tmp_path / "results")
    assert ray.keys() == local_smoke.keys() and len(ray) == 2
    for key, record in ray.items():
        assert stable(record) == stable(local_smoke[key])
    assert not list((tmp_path / "results").glob(".ray-shared-*"))  # the token is removed


def test_submitit_job_arrays_write_the_same_records_as_the_local_executor(local_smoke, tmp_path):
    """The Slurm path (job arrays through submitit) on this machine: submitit's local
    cluster runs the same array tasks that Slurm would."""
    matrix = load_matrix("smoke", {"threads": 1, "recipe": {"epochs": 1}})
    executor = SlurmExecutor(cpus_per_cell=1, time_limit_min=10, cluster="local", poll_s=0.5)
    summary = run_cells(matrix.cells, str(tmp_path), matrix=matrix.name, executor=executor)
    assert summary.counts["ok"] == 2, summary.line()
    arrays = records_in(tmp_path)
    assert arrays.keys() == local_smoke.keys()
    for key, record in arrays.items():
        assert stable(record) == stable(local_smoke[key])


def _ray_task_pids() -> list[int]:
    import psutil

    return [p.pid for p in psutil.process_iter(["cmdline"])
            if any("_run_task" in part for part in (p.info["cmdline"] or []))]


def test_a_killed_ray_worker_loses_no_record_and_resume_duplicates_none(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "benches", "run", "--matrix", "smoke", *QUICK, "--no-site",
           "--executor", "ray"]
    driver = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    deadline, killed = time.time() + 120, None
    while killed is None and time.time() < deadline and driver.poll() is None:
        pids = _ray_task_pids()
        if pids:
            killed = pids[0]
            os.kill(killed, signal.SIGKILL)
        time.sleep(0.05)
    assert killed is not None, "no Ray task process appeared"
    driver.communicate(timeout=300)
    resumed = run_cli("run", "--matrix", "smoke", *QUICK, "--no-site", "--resume", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    records = records_in(tmp_path / "results")
    keys = {c.key() for c in load_matrix("smoke", {"threads": 1,
                                                   "recipe": {"epochs": 1}}).cells}
    assert set(records) == keys  # every cell once: nothing lost, nothing twice
    assert all(r["status"] == "ok" for r in records.values())


LOGGING_PLUGIN = '''
import os, time
from methods.bptt import BPTT

class Logging(BPTT):
    """bptt that notes when each of its steps runs (mode, process, start, end)."""
    name = "logging"
    def train_step(self, *args, **kwargs):
        start = time.time()
        time.sleep(0.02)
        out = super().train_step(*args, **kwargs)
        with open(os.environ["BENCHES_TEST_LOG"], "a") as fh:
            fh.write(f"{self.cell.mode} {os.getpid()} {start} {time.time()}\\n")
        return out
'''


def test_jobs_run_train_cells_together_and_timing_cells_alone(tmp_path):
    root = tmp_path / "plugin"
    root.mkdir()
    env = plugin_package(root, "benches_logging_plugin", LOGGING_PLUGIN, {"logging": "Logging"})
    (tmp_path / "m.toml").write_text(textwrap.dedent("""
        description = "two train cells and two timing cells"
        [defaults]
        methods = ["logging"]
        datasets = ["digits"]
        [[grid]]
        timesteps = [2, 3]
        recipe = { epochs = 1, batch_size = 128 }
        [[grid]]
        mode = "efficiency"
        timesteps = [2, 3]
        recipe = { batch_size = 32, warmup_iters = 1, timed_iters = 10 }
    """))
    log = tmp_path / "steps.log"
    proc = run_cli("run", "--matrix", str(tmp_path / "m.toml"), "--jobs", "2", "--no-site",
                   cwd=tmp_path, env={**env, "BENCHES_TEST_LOG": str(log)})
    assert proc.returncode == 0, proc.stderr
    spans: dict[tuple[str, int], list[float]] = {}
    for line in log.read_text().split("\n"):
        if line:
            mode, pid, start, end = line.split()
            span = spans.setdefault((mode, int(pid)), [float(start), float(end)])
            span[0], span[1] = min(span[0], float(start)), max(span[1], float(end))
    train = [s for (mode, _), s in spans.items() if mode == "train"]
    timing = [s for (mode, _), s in spans.items() if mode == "efficiency"]
    assert len(train) == 2 and len(timing) == 2

    def overlap(a, b):
        return a[0] < b[1] and b[0] < a[1]

    assert overlap(*train)  # the two train cells ran at the same time
    for t in timing:  # a timing cell shares the machine with no other cell
        assert not any(overlap(t, other) for other in train + timing if other is not t)


def test_full_matrix_without_data_runs_the_digits_parts_and_skips_the_rest(tmp_path):
    proc = run_cli("run", "--matrix", "full", "--methods", "bptt", "--timesteps", "2",
                   "--seeds", "0", "--epochs", "1", "--no-site", "--data-root",
                   str(tmp_path / "no-data"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "missing data sets" in proc.stderr
    for name in ("cifar10", "cifar100", "imagenet", "cifar10_dvs"):
        assert f"  {name}: files not found" in proc.stderr
    records = list(records_in(tmp_path / "results").values())
    by_dataset: dict[str, set[str]] = {}
    for r in records:
        by_dataset.setdefault(r["cell"]["dataset"], set()).add(r["status"])
    for name in ("cifar10", "cifar100", "imagenet", "cifar10_dvs"):
        assert by_dataset[name] == {"skipped"}
    skipped = [r for r in records if r["cell"]["dataset"] == "cifar10"]
    assert all("files not found" in r["reason"] for r in skipped)
    assert "ok" in by_dataset["digits"] and "ok" in by_dataset["synthetic_cifar"]
    strict = run_cli("run", "--matrix", "full", "--strict", "--dry-run", "--data-root",
                     str(tmp_path / "no-data"), cwd=tmp_path)
    assert strict.returncode == 2 and len(strict.stderr.strip().splitlines()) == 1
    assert "missing data set(s) (--strict)" in strict.stderr
