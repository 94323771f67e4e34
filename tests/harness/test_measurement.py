"""Measurement protocol: determinism, efficiency mode, timing, provenance."""

from __future__ import annotations

import socket
import time

import pytest
import torch
from helpers import make_cell

from benches.measure.provenance import environment
from benches.measure.timing import IterationTimer, iqr
from benches.worker.setup import execute


@pytest.mark.parametrize("name", ["bptt", "rate_m", "ottt_a"])
def test_identical_seeds_give_identical_accuracy_and_activation_memory(name):
    def run(seed):
        return execute(make_cell(name, timesteps=2, seed=seed, epochs=2, batch_size=64,
                                 lr=0.05, augment=()))

    a, b, c = run(0), run(0), run(1)
    assert a["test_top1"] == b["test_top1"] and a["train_loss_curve"] == b["train_loss_curve"]
    assert a["activation_bytes"] == b["activation_bytes"] == c["activation_bytes"]
    assert a["train_loss_curve"] != c["train_loss_curve"]  # the seed matters


def test_efficiency_mode_reports_costs_on_a_fixed_batch():
    def run(T):
        return execute(make_cell("bptt", timesteps=T, mode="efficiency", batch_size=16,
                                 augment=(), warmup_iters=2, timed_iters=4))

    two, four = run(2), run(4)
    for m in (two, four):
        assert len(m["time_per_iter_samples_s"]) == m["timed_iters"] == 4
        assert m["forward_s"] > 0 and m["backward_s"] > 0 and m["optimizer_s"] > 0
        assert m["forward_s"] + m["backward_s"] + m["optimizer_s"] <= m["time_per_iter_s"] * 1.5
        assert "test_top1" not in m  # no training to convergence, no evaluation
    # linear in T up to the loss's few B×C tensors, which do not depend on T
    assert four["activation_bytes"] == pytest.approx(2 * two["activation_bytes"], rel=1e-3)


def test_timer_sums_repeated_phases_and_skips_warmup():
    timer = IterationTimer(torch.device("cpu"))
    with timer.iteration(record=False):
        with timer("forward"):
            time.sleep(0.01)
    for _ in range(3):
        with timer.iteration():
            for _ in range(3):  # a per-step method enters a phase once per step
                with timer("forward"):
                    time.sleep(0.004)
                with timer("backward"):
                    time.sleep(0.002)
    summary = timer.summary(batch_size=10)
    assert summary["timed_iters"] == 3
    assert summary["forward_s"] == pytest.approx(0.012, abs=0.006)
    assert summary["backward_s"] == pytest.approx(0.006, abs=0.004)
    assert summary["optimizer_s"] is None
    assert summary["time_per_iter_s"] >= summary["forward_s"] + summary["backward_s"]
    assert summary["samples_per_s"] == pytest.approx(10 / summary["time_per_iter_s"])


def test_iqr():
    assert iqr([1.0, 2.0, 3.0, 4.0, 5.0]) == pytest.approx(2.0)
    assert iqr([7.0]) == 0.0


def test_provenance_names_the_machine_and_the_code():
    env = environment(torch.device("cpu"))
    for key in ("python", "cpu_model", "cpu_count", "torch_threads", "device_name", "git_commit",
                "git_dirty", "timestamp"):
        assert key in env
    assert env["versions"]["torch"] and env["versions"]["spikingjelly"]
    assert env["versions"]["snntorch"]
    assert env["torch_threads"] == torch.get_num_threads()
    assert "hostname" not in env  # records get published: no host name unless asked
    assert environment(torch.device("cpu"), hostname=True)["hostname"] == socket.gethostname()


def test_the_host_name_is_recorded_only_on_request(tmp_path, monkeypatch):
    from helpers import make_cell

    monkeypatch.setenv("BENCHES_CELLS_DIR", str(tmp_path / "cells"))  # no other cell announced

    from benches.records import read_record, record_path
    from benches.worker.cell_process import run_cell

    cell = make_cell("bptt", timesteps=2, epochs=1, augment=[])
    run_cell(cell.to_dict(), str(tmp_path / "a"), command="python -m benches run --matrix m")
    record = read_record(record_path(tmp_path / "a", cell))
    assert "hostname" not in record["env"]
    assert record["metrics"]["load_average"] >= 0  # the machine's load while it ran
    assert record["metrics"]["other_cells"] == 0  # no other cell announced in its folder
    run_cell(cell.to_dict(), str(tmp_path / "b"),
             command="python -m benches run --matrix m --record-hostname")
    assert read_record(record_path(tmp_path / "b", cell))["env"]["hostname"]
