"""Ctrl-C stops the matrix cleanly: exit 130, no half-written record, and --resume finishes
the cells that had not run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from helpers import plugin_package

from benches.records import read_record

PLUGIN = '''
import os, time
from methods.bptt import BPTT

class Held(BPTT):
    """bptt whose cell of T = HOLD_T (when set) stays in training after its first step until
    its process is stopped: Ctrl-C always lands while that cell runs, however fast or busy
    the machine is."""
    name = "held"
    def train_step(self, *args, **kwargs):
        out = super().train_step(*args, **kwargs)
        if str(self.cell.timesteps) == os.environ.get("HOLD_T"):
            time.sleep(600)  # the coordinator kills the cell on Ctrl-C (the matrix: 300 s)
        return out
'''


def test_ctrl_c_exits_130_and_resume_completes(tmp_path):
    env = {**os.environ, **plugin_package(tmp_path, "benches_held", PLUGIN, {"held": "Held"})}
    cmd = [sys.executable, "-m", "benches", "run", "--matrix", "default", "--datasets",
           "digits", "--methods", "held", "--seeds", "0", "--epochs", "1", "--no-site"]
    # cells run in matrix order (T = 2, 4, 8), one at a time; T = 4 is held
    proc = subprocess.Popen(cmd, cwd=tmp_path, env={**env, "HOLD_T": "4"},
                            start_new_session=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    results = tmp_path / "results"

    def second_cell_running() -> bool:
        """What the suite reports: the first cell's record, then the next cell's claim."""
        return (len(list(results.glob("*.json"))) == 1
                and bool(list((results / ".claims").glob("*.lock"))))

    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and proc.poll() is None and not second_cell_running():
        time.sleep(0.05)
    if not second_cell_running():
        os.killpg(proc.pid, signal.SIGKILL)
        _, err = proc.communicate(timeout=60)
        raise AssertionError(f"the second cell did not start in time (exit {proc.returncode})"
                             f"\n{err}")
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does: the whole foreground group
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    done = list(results.glob("*.json"))
    assert len(done) == 1  # the held cell and the one after it did not finish
    for path in done:  # every record that exists is whole
        json.loads(path.read_text())
        assert read_record(path)["status"] == "ok"
    assert read_record(done[0])["cell"]["timesteps"] == 2
    assert not list(results.glob(".*.tmp"))  # no temporary file left behind
    assert not list((results / ".claims").glob("*.lock"))  # the interrupted cell's claim too
    again = subprocess.run([*cmd, "--resume"], cwd=tmp_path, env=env, capture_output=True,
                           text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    records = [read_record(p) for p in results.glob("*.json")]
    assert len(records) == 3 and all(r["status"] == "ok" for r in records)
