"""Faults of a distributed cell (2 gloo ranks): a rank killed with SIGKILL, or hung, ends the
cell within the collective timeout; every rank is gone, the record says ``failed`` and nothing
else is written; ``--resume`` continues from rank 0's last checkpoint."""

from __future__ import annotations

import os
import time
from pathlib import Path

import psutil
import pytest
from helpers import plugin_package, run_cli

from benches.records import load_records

PLUGIN = '''
import os, signal, time
from methods.bptt import BPTT

class RankFault(BPTT):
    """bptt whose rank 1, at its FAULT_STEP-th step (in epoch 1, after epoch 0's checkpoint),
    once (FAULT_FILE), dies with SIGKILL (FAULT=die) or hangs (FAULT=hang)."""
    name = "rank_fault"
    def train_step(self, *args, **kwargs):
        from benches.worker.distributed import world
        self.steps = getattr(self, "steps", 0) + 1
        here, marker = world(), os.environ["FAULT_FILE"]
        if here is not None and here.rank == 1 and self.steps == 30 \\
                and not os.path.exists(marker):
            with open(marker, "w") as fh:
                fh.write(str(os.getpid()))
            if os.environ["FAULT"] == "die":
                os.kill(os.getpid(), signal.SIGKILL)
            time.sleep(3600)
        return super().train_step(*args, **kwargs)
'''
MATRIX = """
description = "one 2-rank cell"
timeout_s = 600
[[grid]]
methods = ["rank_fault"]
datasets = ["digits"]
timesteps = [2]
gpus_per_cell = 2
recipe = { epochs = 3, augment = [] }
"""
TIMEOUT_S = 10


def _run(tmp_path: Path, env: dict, *extra: str):
    return run_cli("run", "--matrix", str(tmp_path / "m.toml"), "--out", str(tmp_path / "out"),
                   "--no-site", *extra, cwd=tmp_path, env=env, timeout=300)


@pytest.mark.parametrize("fault", ["die", "hang"])
def test_a_failed_rank_ends_the_cell_and_resume_continues(tmp_path, fault):
    (tmp_path / "m.toml").write_text(MATRIX)
    marker = tmp_path / "fault.pid"
    env = {**plugin_package(tmp_path, "benches_rank_faults", PLUGIN, {"rank_fault": "RankFault"}),
           "FAULT": fault, "FAULT_FILE": str(marker),
           "BENCHES_COLLECTIVE_TIMEOUT_S": str(TIMEOUT_S)}
    start = time.monotonic()
    first = _run(tmp_path, env)
    assert first.returncode == 1, first.stderr
    assert marker.exists()
    assert not psutil.pid_exists(int(marker.read_text())) or \
        psutil.Process(int(marker.read_text())).status() == psutil.STATUS_ZOMBIE
    records, _ = load_records(tmp_path / "out")
    assert [r["status"] for r in records] == ["failed"]
    reason = records[0]["reason"]
    assert ("rank 1 of the cell died (SIGKILL)" in reason) if fault == "die" else \
        ("rank 0 of the cell raised" in reason and "imed out" in reason), reason
    if fault == "hang":  # the collective timeout, the grace periods, start-up: well inside this
        assert time.monotonic() - start < TIMEOUT_S + 90
    checkpoints = list((tmp_path / "out" / ".checkpoints").rglob("*.pt"))
    assert checkpoints  # epoch 0's, written by rank 0
    second = _run(tmp_path, env, "--resume")
    assert second.returncode == 0, second.stderr
    records, _ = load_records(tmp_path / "out")
    assert [r["status"] for r in records] == ["ok"]
    metrics = records[0]["metrics"]
    assert metrics["resumed_at_epochs"] == [1] and len(metrics["test_top1_curve"]) == 3
    assert metrics["distributed"]["world_size"] == 2
    assert not [p for p in psutil.process_iter(["environ"])
                if (p.info["environ"] or {}).get("FAULT_FILE") == str(marker)]
    assert os.listdir(tmp_path / "out")
