"""Fault campaign: SIGKILL of the coordinator and of one of two runners sharing a folder, and a
disk that fills while a record is written; each followed by ``--resume``. Every test asserts
what was lost (0 records), what was duplicated (0 cells run to completion twice) and the
statuses recorded. A plug-in method logs each cell process it starts; the disk-full fault is a
patched record write that writes half the file and then fails with ENOSPC.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from helpers import plugin_package

from benches.measure.presence import announced, others, process_alive
from benches.records import read_record

PLUGIN = '''
import errno, io, json, os, time
import benches.records as _records
from methods.bptt import BPTT

class Counting(BPTT):
    name = "counting"
    def __init__(self, cell):
        super().__init__(cell)
        with open(os.environ["COUNT_FILE"], "a") as fh:  # one line per cell process started
            fh.write(f"{cell.key()} {os.getpid()} T={cell.timesteps} s={cell.seed}\\n")

_write = _records.write_atomically

def _disk_full(path, write, **kw):
    """With DISK_FULL_T set: a record of that T gets half written, then ENOSPC."""
    full_t = os.environ.get("DISK_FULL_T")
    if not full_t:
        return _write(path, write, **kw)
    buf = io.StringIO()
    write(buf)
    text = buf.getvalue()
    if json.loads(text)["cell"]["timesteps"] != int(full_t):
        return _write(path, lambda fh: fh.write(text), **kw)
    def half(fh):
        fh.write(text[: len(text) // 2])
        fh.flush()
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    return _write(path, half, **kw)

_records.write_atomically = _disk_full
'''


def setup(tmp_path: Path) -> tuple[dict, list[str], Path]:
    env = {**os.environ,
           **plugin_package(tmp_path, "benches_faults", PLUGIN, {"counting": "Counting"}),
           "COUNT_FILE": str(tmp_path / "runs.txt")}
    results = tmp_path / "results"
    cmd = [sys.executable, "-m", "benches", "run", "--matrix", "default", "--datasets",
           "digits", "--methods", "counting", "--no-site", "--out", str(results)]
    return env, cmd, results


def starts(tmp_path: Path) -> list[tuple[str, int]]:
    """(cell key, pid) per cell process started, in order."""
    path = tmp_path / "runs.txt"
    lines = path.read_text().splitlines() if path.exists() else []
    return [(line.split()[0], int(line.split()[1])) for line in lines]


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def records_of(results: Path) -> dict[str, bytes]:
    return {p.stem: p.read_bytes() for p in results.glob("*.json")}


def assert_whole(results: Path) -> None:
    """Every record that exists parses and is ok; no temporary file is left behind."""
    for path in results.glob("*.json"):
        json.loads(path.read_text())
        assert read_record(path)["status"] == "ok"
    assert not list(results.glob(".*.tmp"))


def resume(cmd: list[str], env: dict, cwd: Path) -> None:
    again = subprocess.run([*cmd, "--resume"], cwd=cwd, env=env, capture_output=True,
                           text=True, timeout=300)
    assert again.returncode == 0, again.stderr


def test_coordinator_killed_mid_matrix_leaves_no_orphan_and_resume_completes(tmp_path):
    env, cmd, results = setup(tmp_path)
    cmd += ["--seeds", "0", "--epochs", "4"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    wait_for(lambda: len(starts(tmp_path)) >= 2 and len(records_of(results)) == 1, 180,
             "the second cell to be training")
    proc.kill()  # SIGKILL: no handler runs in the coordinator
    proc.wait()
    pids = [pid for _, pid in starts(tmp_path)]
    wait_for(lambda: not any(process_alive(p) for p in pids), 10, "the cell processes to die")
    assert_whole(results)
    before = records_of(results)
    killed = {key for key, _ in starts(tmp_path)} - set(before)
    assert len(before) in (1, 2) and len(killed) <= 1
    resume(cmd, env, tmp_path)
    after = records_of(results)
    assert len(after) == 3  # lost: 0
    assert all(after[k] == v for k, v in before.items())  # finished cells were not run again
    runs = Counter(key for key, _ in starts(tmp_path))
    assert all(runs[k] == (2 if k in killed else 1) for k in after)  # duplicated: 0
    assert_whole(results)
    assert not list((results / ".claims").glob("*.lock"))


def test_one_of_two_runners_killed_the_other_and_resume_finish_each_cell_once(tmp_path):
    env, cmd, results = setup(tmp_path)
    cmd += ["--seeds", "0", "1", "--epochs", "2", "--resume"]
    a = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    b = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    claims = results / ".claims"

    def a_holds_a_running_cell() -> bool:
        held = [json.loads(p.read_text() or "{}").get("pid") for p in claims.glob("*.lock")]
        return a.pid in held and len(starts(tmp_path)) >= 2

    wait_for(a_holds_a_running_cell, 180, "runner A to run a cell")
    killed = {p.stem for p in claims.glob("*.lock")
              if json.loads(p.read_text() or "{}").get("pid") == a.pid}
    a.kill()
    a.wait()
    _, err = b.communicate(timeout=600)
    assert b.returncode == 0, err
    assert "Traceback" not in err
    assert_whole(results)
    before = records_of(results)
    resume([c for c in cmd if c != "--resume"], env, tmp_path)
    after = records_of(results)
    assert len(after) == 6  # lost: 0
    assert all(after[k] == v for k, v in before.items())
    runs = Counter(key for key, _ in starts(tmp_path))
    assert set(runs) == set(after)
    assert all(n == 1 for k, n in runs.items() if k not in killed)  # duplicated: 0
    assert all(runs[k] <= 2 for k in killed)  # A's killed run, then one that finished
    assert not list(claims.glob("*.lock"))


def test_disk_full_while_writing_a_record_stops_the_run_and_resume_completes(tmp_path):
    env, cmd, results = setup(tmp_path)
    cmd += ["--seeds", "0", "--epochs", "1"]
    full = subprocess.run(cmd, cwd=tmp_path, env={**env, "DISK_FULL_T": "4"},
                          capture_output=True, text=True, timeout=300)
    assert full.returncode == 1, full.stderr
    assert "Traceback" not in full.stderr
    lines = [x for x in full.stderr.splitlines() if x.startswith("benches")]
    assert len(lines) == 2 and "No space left on device" in lines[0], full.stderr
    assert "could not be written" in lines[1] and "--resume" in lines[1]
    assert_whole(results)  # no half record, no temporary file
    before = records_of(results)
    assert [read_record(results / f"{k}.json")["cell"]["timesteps"] for k in before] == [2]
    assert len(starts(tmp_path)) == 2  # T = 8 never started: the run stopped
    assert list((results / ".checkpoints").iterdir())  # the T = 4 cell's training is kept
    resume(cmd, env, tmp_path)
    after = records_of(results)
    assert len(after) == 3 and all(after[k] == v for k, v in before.items())  # lost: 0
    runs = Counter(key for key, _ in starts(tmp_path))
    assert sorted(runs.values()) == [1, 1, 2]  # duplicated: 0 (T = 4 ran again, unrecorded)
    assert_whole(results)


def test_cells_running_beside_each_other_are_seen(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCHES_CELLS_DIR", str(tmp_path / "cells"))
    code = ("from benches.measure.presence import announced; import time, sys\n"
            "with announced():\n    print('in', flush=True); time.sleep(60)\n")
    other = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "BENCHES_CELLS_DIR": str(tmp_path / "cells")})
    try:
        assert other.stdout.readline().strip() == "in"
        with announced() as seen:
            assert others() == 1
        assert seen.peak == 1
        other.kill()  # killed: its file stays, but a dead process is not counted
        other.wait()
        assert (tmp_path / "cells" / str(other.pid)).exists()
        with announced() as seen:
            pass
        assert seen.peak == 0 and others() == 0
    finally:
        other.kill()
