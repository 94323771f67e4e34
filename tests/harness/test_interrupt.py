"""Ctrl-C stops the matrix cleanly: exit 130, no half-written record, and --resume finishes
the cells that had not run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from helpers import REPO

from benches.records import read_record


def test_ctrl_c_exits_130_and_resume_completes(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "benches", "run", "--matrix", "default", "--datasets",
           "digits", "--methods", "bptt", "--seeds", "0", "--epochs", "1", "--no-site"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    results = tmp_path / "results"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list(results.glob("*.json")):
        time.sleep(0.05)
    assert list(results.glob("*.json")), "no cell finished in time"
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does: the whole foreground group
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    done = list(results.glob("*.json"))
    assert 1 <= len(done) < 3
    for path in done:  # every record that exists is whole
        json.loads(path.read_text())
        assert read_record(path)["status"] == "ok"
    assert not list(results.glob(".*.tmp"))  # no temporary file left behind
    again = subprocess.run([*cmd, "--resume"], cwd=tmp_path, env=env, capture_output=True,
                           text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    records = [read_record(p) for p in results.glob("*.json")]
    assert len(records) == 3 and all(r["status"] == "ok" for r in records)
