"""Claims: runners sharing one records folder never run a cell twice at the same time."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from helpers import plugin_package

from benches.records import read_record
from benches.run.claims import claim, claim_path

COUNTING = '''
import os
from methods.bptt import BPTT

class Counting(BPTT):
    name = "counting"
    def __init__(self, cell):
        super().__init__(cell)
        with open(os.environ["COUNT_FILE"], "a") as fh:  # one line per cell process
            fh.write(f"{cell.key()} {os.getpid()}\\n")
'''


def test_a_claim_is_exclusive_released_and_broken_when_its_owner_is_gone(tmp_path):
    with claim(tmp_path, "k", 60) as held:
        assert held is None and claim_path(tmp_path, "k").exists()
        with claim(tmp_path, "k", 60) as other:  # this process holds it: still exclusive
            assert other is not None and other["pid"] == os.getpid()
    assert not claim_path(tmp_path, "k").exists()  # released
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    path = claim_path(tmp_path, "k")
    path.write_text(json.dumps({"host": os.uname().nodename, "pid": int(dead), "since": 0}))
    with claim(tmp_path, "k", 60) as held:  # its owner process is gone: broken and retaken
        assert held is None
        assert json.loads(path.read_text())["pid"] == os.getpid()


def test_two_runners_on_one_folder_run_each_cell_once(tmp_path):
    env = {**os.environ,
           **plugin_package(tmp_path, "benches_counting", COUNTING, {"counting": "Counting"}),
           "COUNT_FILE": str(tmp_path / "runs.txt")}
    cmd = [sys.executable, "-m", "benches", "run", "--matrix", "default", "--datasets",
           "digits", "--methods", "counting", "--seeds", "0", "--epochs", "1",
           "--resume", "--no-site", "--out", str(tmp_path / "results")]
    runners = [subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for proc in runners:
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
    runs = (tmp_path / "runs.txt").read_text().split()[::2]
    assert len(runs) == len(set(runs)) == 3  # T = 2, 4, 8: each run exactly once
    records = [read_record(p) for p in (tmp_path / "results").glob("*.json")]
    assert len(records) == 3 and all(r["status"] == "ok" for r in records)
    assert not list((tmp_path / "results" / ".claims").glob("*.lock"))  # all released
