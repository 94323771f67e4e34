"""A cell whose training loss becomes NaN stops at once and is recorded ``diverged``."""

from __future__ import annotations

from helpers import make_cell

from benches.records import read_record, record_path
from benches.site import render_site
from benches.worker.cell_process import run_cell
from methods.bptt import BPTT


def test_nan_loss_stops_the_cell_and_is_recorded_diverged(tmp_path, monkeypatch):
    calls = []
    original = BPTT.train_step

    def poisoned(self, *args, **kwargs):
        loss = original(self, *args, **kwargs)
        calls.append(1)
        return loss * float("nan") if len(calls) == 20 else loss  # the 20th iteration

    monkeypatch.setattr(BPTT, "train_step", poisoned)
    cell = make_cell("bptt", timesteps=2, epochs=3, augment=[])
    run_cell(cell.to_dict(), str(tmp_path), command="python -m benches run --matrix m")
    record = read_record(record_path(tmp_path, cell))
    assert record["status"] == "diverged"
    # digits: 1078 training images, batch 64 → 17 iterations an epoch; the 20th call is
    # iteration 19 (from 0), the second epoch's (epoch 1) third
    assert record["diverged_at"] == {"epoch": 1, "iteration": 19}
    assert "nan" in record["reason"] and "epoch 1, iteration 19" in record["reason"]
    assert len(calls) == 20  # stopped at once: no further step ran
    html = render_site(str(tmp_path), str(tmp_path / "site")).parent / "environment.html"
    assert "status-diverged" in html.read_text()  # listed with the failures and skips
