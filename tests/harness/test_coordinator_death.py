"""A coordinator killed with SIGKILL stops its cells at once, whichever way they were started
(forked from the fork server, or a fresh interpreter when a cell needs its own environment),
and no cell writes its record after its coordinator died."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from helpers import REPO, plugin_package

from benches.measure.presence import process_alive

PLUGIN = '''
import os, time
from methods.bptt import BPTT

class Lingering(BPTT):
    """bptt whose cell, after its first training step, leaves its process id in STARTED_FILE
    and waits LINGER_S seconds before it trains on: its coordinator is killed while it waits,
    and the record it would write comes soon after."""
    name = "lingering"
    def train_step(self, *args, **kwargs):
        out = super().train_step(*args, **kwargs)
        started = os.environ["STARTED_FILE"]
        if not os.path.exists(started):
            with open(started + ".tmp", "w") as fh:
                fh.write(str(os.getpid()))
            os.replace(started + ".tmp", started)
            time.sleep(float(os.environ["LINGER_S"]))
        return out
'''

COORDINATOR = '''
import sys
sys.path.insert(0, {tests!r})
from helpers import make_cell
from benches.cell import THREADS_ENV
from benches.run.job import CellJob
cell = make_cell("lingering", timesteps=2, epochs=1, augment=())
# a variable beyond threads and memory: the cell gets a fresh interpreter (subprocess.Popen)
CellJob(cell, {out!r}).run({{THREADS_ENV: "1", "BENCHES_TEST_OWN_ENV": "1"}})
'''

LINGER_S = 1.0  # the cell's record would be written about 1.5 s after it started training
AT_ONCE_S = 0.75  # the fork server alone needs 1-3 s to go after its coordinator


def coordinator(how: str, tmp_path: Path, results: Path) -> list[str]:
    """The command line of a coordinator that runs one lingering cell, started ``how``."""
    if how == "forkserver":  # the default: `benches run` forks its cells from a fork server
        return [sys.executable, "-m", "benches", "run", "--matrix", "default", "--datasets",
                "digits", "--methods", "lingering", "--seeds", "0", "--timesteps", "2",
                "--epochs", "1", "--threads", "1", "--no-site", "--out", str(results)]
    script = COORDINATOR.format(tests=str(REPO / "tests"), out=str(results))
    return [sys.executable, "-c", script]


def wait_for(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


@pytest.mark.parametrize("how", ["forkserver", "subprocess"])
def test_killed_coordinator_stops_its_cell_at_once_and_no_record_is_written(tmp_path, how):
    started = tmp_path / "started.txt"
    env = {**os.environ,
           **plugin_package(tmp_path, "benches_lingering", PLUGIN, {"lingering": "Lingering"}),
           "STARTED_FILE": str(started), "LINGER_S": str(LINGER_S)}
    results = tmp_path / "results"
    proc = subprocess.Popen(coordinator(how, tmp_path, results), cwd=tmp_path, env=env,
                            start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    descendants: list[psutil.Process] = []
    try:
        if not wait_for(lambda: started.exists() or proc.poll() is not None, 120):
            raise AssertionError("the cell did not start training in time")
        assert started.exists(), f"the coordinator ended first:\n{proc.communicate()[1]}"
        cell = int(started.read_text())
        descendants = psutil.Process(proc.pid).children(recursive=True)
        assert cell in [p.pid for p in descendants]
        proc.kill()  # SIGKILL: nothing runs in the coordinator
        proc.wait()
        assert wait_for(lambda: not process_alive(cell), AT_ONCE_S), \
            "the cell ran on after its coordinator was killed"
        time.sleep(LINGER_S + 2)  # longer than the cell needed to write its record
        assert not list(results.glob("*.json")), "a record was written after the coordinator died"
        assert not list(results.glob(".*.tmp"))
        assert wait_for(lambda: not any(process_alive(p.pid) for p in descendants), 10), \
            "a process of the coordinator outlived it"  # the fork server included
    finally:
        for p in descendants:  # whatever the outcome, nothing of this test runs on
            try:
                p.kill()
            except psutil.Error:
                pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
