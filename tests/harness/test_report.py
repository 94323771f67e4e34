"""Scaling fits, complexity verdicts and the efficiency / alignment reports."""

from __future__ import annotations

import pytest
from helpers import make_cell

from benches.commands import main
from benches.records import make_record, write_record
from benches.report.scaling import Fit, fit_scaling, verdict
from benches.worker.cell_process import about

TS = [1, 2, 4, 8, 16]


def test_fit_recovers_power_laws_and_slopes():
    linear = fit_scaling(TS, [3.0 + 2.0 * t for t in TS])
    assert linear.slope == pytest.approx(2.0)
    flat = fit_scaling(TS, [5.0] * 5)
    assert flat.exponent == pytest.approx(0.0, abs=1e-12) and flat.slope == pytest.approx(0.0)
    square = fit_scaling(TS, [0.5 * t**2 for t in TS])
    assert square.exponent == pytest.approx(2.0)
    assert fit_scaling([4], [1.0]) is None
    assert fit_scaling(TS, [None, 1.0, None, None, None]) is None


def test_verdicts():
    assert verdict(Fit(0.02, 0.0), 0) == "ok"
    assert verdict(Fit(0.9, 1.0), 0) == "differs"
    assert verdict(Fit(0.93, 1.0), 1) == "ok"
    assert verdict(Fit(0.1, 0.0), 1) == "differs"
    assert verdict(None, 1) == "n/a"


def efficiency_record(method, T, seconds, backward, act):
    cell = make_cell(method, timesteps=T, mode="efficiency", dataset="synthetic_cifar",
                     architecture="resnet18")
    metrics = {"time_per_iter_s": seconds, "backward_s": backward, "activation_bytes": act}
    return make_record(cell, "ok", None, metrics, {}, about=about(cell))


def test_show_efficiency_prints_fits_and_verdicts(tmp_path, capsys):
    for T in TS:
        write_record(efficiency_record("bptt", T, 0.01 * T, 0.006 * T, 2**20 * T), tmp_path)
        write_record(efficiency_record("rate_m", T, 0.004 * T + 0.01, 0.004, 3 * 2**20),
                     tmp_path)
        write_record(efficiency_record("sltt", T, 0.01 * T, 0.006 * T, 5 * 2**20 * T), tmp_path)
    assert main(["show", "--efficiency", "--results", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    lines = {line.split("|")[1].strip(): line for line in out.splitlines()
             if line.startswith("| ") and "method" not in line}
    fits = [line for line in out.splitlines() if "O(" in line]
    bptt = next(line for line in fits if "| bptt " in line)
    assert "O(L·T) ok" in bptt and "1.00" in bptt
    rate = next(line for line in fits if "| rate_m " in line)
    assert rate.count(" ok") == 2 and "0.00" in rate
    sltt = next(line for line in fits if "| sltt " in line)
    assert "O(L) differs" in sltt  # its (made-up) memory grows: the verdict says so
    assert lines  # the per-T tables are printed too
    assert "160.0" in out  # bptt at T=16: 0.16 s


def test_show_without_records_is_a_user_error(tmp_path, capsys):
    assert main(["show", "--efficiency", "--results", str(tmp_path)]) == 2
    assert "no efficiency records" in capsys.readouterr().err


def test_show_efficiency_prints_gpu_busy_and_kernels_per_precision(tmp_path, capsys):
    for T in (4, 8):
        for precision, busy in (("fp32", 0.91), ("bf16", 0.62)):
            cell = make_cell("os", timesteps=T, mode="efficiency", dataset="synthetic_cifar",
                             architecture="resnet18")
            cell = type(cell)(**{**cell.to_dict(), "device": "cuda", "precision": precision})
            metrics = {"time_per_iter_s": 0.01 * T, "backward_s": 0.005 * T,
                       "activation_bytes": 2**20, "gpu_busy_fraction": busy,
                       "kernels_per_iter": 1000 * T}
            write_record(make_record(cell, "ok", None, metrics, {}), tmp_path)
    assert main(["show", "--efficiency", "--results", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    titles = [line for line in out.splitlines() if line.startswith("## GPU busy")]
    assert len(titles) == 2 and any("bf16" in t for t in titles)  # one table per precision
    rows = [line for line in out.splitlines() if line.startswith("| os ")]
    sections = {part.split("\n", 1)[0]: part for part in out.split("## ")[1:]}
    busy = "".join(v for k, v in sections.items() if k.startswith("GPU busy (%)"))
    kernels = "".join(v for k, v in sections.items() if k.startswith("Kernels/iter"))
    assert "| 91 " in busy and "| 62 " in busy, rows
    assert "| 4000 " in kernels and "| 8000 " in kernels
