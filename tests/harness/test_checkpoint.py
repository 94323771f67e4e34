"""Preemption-safe train cells: per-epoch checkpoints, and a cell killed mid-run that resumes to
exactly the result of an uninterrupted run."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import torch
from helpers import REPO, make_cell

from benches.worker import checkpoint
from benches.worker.setup import execute

EXACT = ("test_top1", "test_top1_curve", "train_loss_curve", "firing_rates", "mean_firing_rate",
         "activation_bytes", "iterations")


def _draws() -> tuple:
    return (torch.rand(4), np.random.standard_normal(3), random.gauss(0.0, 1.0), random.random())


def test_save_load_round_trip_with_weights_only(tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=5)
    model(torch.randn(8, 3)).sum().backward()
    optimizer.step()
    schedule.step()
    np.random.standard_normal()  # NumPy and Python then hold a cached Gaussian
    random.gauss(0.0, 1.0)
    folder = checkpoint.checkpoint_dir(tmp_path, make_cell("bptt", timesteps=2))
    assert folder.parent == tmp_path / ".checkpoints"
    assert checkpoint.load(folder) is None  # nothing yet
    state = {"epoch": 0, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
             "scheduler": schedule.state_dict(), "curve": [0.5, 0.25], "iterations": 7,
             "rates": {"2": 0.125}, "rng": checkpoint.rng_state()}
    expected = _draws()
    checkpoint.save(folder, state)
    state["epoch"] = 1
    path = checkpoint.save(folder, state)
    assert sorted(p.name for p in folder.iterdir()) == ["epoch-00001.pt"]  # latest only
    torch.load(path, weights_only=True)  # plain data: loads without unpickling objects
    back = checkpoint.load(folder)
    assert back["epoch"] == 1 and back["curve"] == [0.5, 0.25] and back["rates"] == {"2": 0.125}
    for key, value in state["model"].items():
        assert torch.equal(back["model"][key], value)
    assert torch.equal(back["optimizer"]["state"][0]["momentum_buffer"],
                       optimizer.state_dict()["state"][0]["momentum_buffer"])
    assert back["scheduler"] == schedule.state_dict()
    checkpoint.set_rng_state(back["rng"])
    again = _draws()
    assert torch.equal(again[0], expected[0]) and np.array_equal(again[1], expected[1])
    assert again[2:] == expected[2:]
    checkpoint.remove(folder)
    assert not folder.exists() and not (tmp_path / ".checkpoints").exists()


def test_a_killed_cell_resumes_to_the_result_of_an_uninterrupted_run(tmp_path):
    cell = make_cell("bptt", timesteps=2, epochs=4, batch_size=64, augment=())
    whole = execute(cell, checkpoint_dir=tmp_path / "whole")
    assert whole["resumed_at_epochs"] == []
    assert checkpoint.load(tmp_path / "whole")["epoch"] == 3  # kept until the caller removes it
    again = execute(cell, checkpoint_dir=tmp_path / "whole")  # died before its record: no epoch
    assert again["resumed_at_epochs"] == [4]                   # left, the same metrics
    for key in (*EXACT, "time_per_iter_samples_s", "train_time_s", "data_wait_s"):
        assert again[key] == whole[key], key

    folder = tmp_path / "killed"
    # the cell is held in its third epoch, after that epoch's first step, until it is killed:
    # the kill lands mid-epoch after the second epoch's checkpoint however busy the machine is
    code = textwrap.dedent("""
        import json, sys, time
        from benches.worker import checkpoint
        from benches.cell import Cell
        from benches.worker.setup import execute
        from methods.bptt import BPTT
        save, step, saved = checkpoint.save, BPTT.train_step, []
        def noted(folder, state):
            saved.append(state["epoch"])
            return save(folder, state)
        def held(self, *args, **kwargs):
            out = step(self, *args, **kwargs)
            if 1 in saved:
                time.sleep(600)
            return out
        checkpoint.save, BPTT.train_step = noted, held
        execute(Cell.from_dict(json.loads(sys.argv[1])), checkpoint_dir=sys.argv[2])
    """)
    proc = subprocess.Popen(
        [sys.executable, "-c", code, json.dumps(cell.to_dict()), str(folder)],
        env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    killed_after = None
    try:
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:
            state = checkpoint.load(folder)
            if state is not None and state["epoch"] >= 1:  # two epochs done
                os.kill(proc.pid, signal.SIGKILL)
                killed_after = state["epoch"]
                break
            time.sleep(0.01)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL and killed_after == 1

    resumed = execute(cell, checkpoint_dir=folder)
    assert resumed["resumed_at_epochs"] == [killed_after + 1]
    for key in EXACT:
        assert resumed[key] == whole[key], key
    # the timing covers both processes, each with its own warm-up
    assert len(resumed["time_per_iter_samples_s"]) == whole["timed_iters"] - 3
    assert 0.0 <= resumed["data_wait_fraction"] <= 1.0
