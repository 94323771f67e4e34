"""``benches show``: leaderboards fitted to the terminal, numbers right-aligned, T groups apart,
and CSV / markdown output; fabricated records, no training."""

from __future__ import annotations

import io
import re

import pandas as pd
import pytest
from helpers import make_cell

from benches.cell import Cell
from benches.commands import main
from benches.records import make_record, write_record

NUMBER = re.compile(r"\d+\.\d+( ± \d+\.\d+)?")
TITLE = "digits · convnet_digits · common recipe · cpu"


def record(method, timesteps, seed, top1, library="torch", test_samples=10000, status="ok",
           reason=None):
    cell = make_cell(method, library=library, timesteps=timesteps, seed=seed)
    metrics = {"test_top1": top1, "time_per_iter_s": 0.002 * timesteps,
               "activation_bytes": 3 * 2**20 * timesteps,
               "mean_firing_rate": 0.125, "test_samples": test_samples}
    env = {"device_name": "test-cpu", "cpu_model": "test-cpu", "versions": {"torch": "x"}}
    return make_record(cell, status, reason, metrics if status == "ok" else {}, env, matrix="m")


@pytest.fixture
def results(tmp_path):
    """bptt, sltt and rate_m at T = 4 and 16, two seeds each, all on torch."""
    folder = tmp_path / "results"
    tops = {"bptt": (0.90, 0.94), "sltt": (0.95, 0.97), "rate_m": (0.09, 0.10)}
    for T in (4, 16):
        for method, (a, b) in tops.items():
            write_record(record(method, T, 0, a), folder)
            write_record(record(method, T, 1, b), folder)
    return folder


def show(capsys, *args: str) -> str:
    assert main(["show", *args]) == 0
    return capsys.readouterr().out


def table_rows(out: str) -> list[str]:
    """The leaderboard's data rows (the lines that start with a method name)."""
    return [line for line in out.splitlines()
            if re.match(r"(bptt|sltt|rate_m)\s+\d", line)]


@pytest.mark.parametrize("width", [80, 200])
def test_every_line_fits_the_width(results, capsys, width):
    out = show(capsys, "--results", str(results), "--width", str(width))
    assert max(len(line) for line in out.splitlines()) <= width
    assert TITLE in out and "Top-1 (%) ↑" in out and "Time/iter (ms) ↓" in out
    flat = " ".join(out.split())
    if width == 80:  # the lowest-priority metrics go first, and the note names them once
        note = ("(left out to fit 80 columns: Firing rate, Activation mem; use --width or "
                "--format csv)")
        assert note in flat and "Firing rate" not in flat.replace(note, "")
        assert "Group" in out  # the significance groups stay beside top-1
    else:
        assert "(left out" not in out and "Firing rate" in out and "0.125" in out


def test_the_terminal_width_comes_from_columns(results, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    out = show(capsys, "--results", str(results))
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "(left out to fit 80 columns: Firing rate," in out


def test_a_narrow_width_keeps_method_t_and_top1(results, capsys):
    out = show(capsys, "--results", str(results), "--width", "40")
    assert max(len(line) for line in out.splitlines()) <= 40
    rows = table_rows(out)
    assert len(rows) == 6 and all(NUMBER.search(r) for r in rows)
    assert "Top-1" in out and "Time/iter" not in out.split("(left out")[1].split(")")[1]


def test_constant_columns_are_said_once_above_the_table(results, capsys):
    out = show(capsys, "--results", str(results), "--width", "200")
    lines = out.splitlines()
    assert lines[0] == TITLE
    assert lines[1] == "library torch · backend torch · precision fp32 · seeds 2"
    assert "Library" not in out and "Seeds" not in out


def test_a_column_that_varies_is_kept(results, capsys):
    write_record(record("bptt", 4, 0, 0.5, library="snntorch"), results)
    out = show(capsys, "--results", str(results), "--width", "200")
    assert "Library" in out and "Seeds" in out  # snntorch's row has one seed, the others two
    assert "library torch" not in out and "seeds 2" not in out
    assert any(re.match(r"bptt\s+snntorch\s+4\s+50\.00\s", line) for line in out.splitlines())


def test_numbers_right_aligned_text_left_and_rows_sorted(results, capsys):
    out = show(capsys, "--results", str(results), "--width", "200")
    rows = table_rows(out)
    assert len(rows) == 6
    ends = {tuple(m.end() for m in NUMBER.finditer(row)) for row in rows}
    assert len(ends) == 1  # every number column ends at the same place in every row
    t_ends = {re.match(r"\S+\s+\d+", row).end() for row in rows}
    assert len(t_ends) == 1  # T = 4 and T = 16 end in the same column
    assert [row.split()[0] for row in rows] == ["sltt", "bptt", "rate_m"] * 2  # best first
    assert "9.50 ± 0.71" in rows[2] and "96.00 ± 1.41" in rows[0]  # mean ± sample std


def test_t_groups_are_apart(results, capsys):
    out = show(capsys, "--results", str(results), "--width", "200")
    lines = out.splitlines()
    rows = table_rows(out)
    last_t4, first_t16 = lines.index(rows[2]), lines.index(rows[3])
    assert first_t16 == last_t4 + 2
    assert set(lines[last_t4 + 1]) <= {"-", " "} and "-" in lines[last_t4 + 1]
    assert [int(row.split()[1]) for row in rows] == [4, 4, 4, 16, 16, 16]


def test_csv_has_every_column_mean_and_std_in_display_units(results, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")  # no width fitting
    frame = pd.read_csv(io.StringIO(show(capsys, "--results", str(results), "--format", "csv")))
    assert len(frame) == 6
    for title in ("Top-1 (%)", "Time/iter (ms)", "Activation mem (MiB)", "Firing rate"):
        assert f"{title} mean" in frame and f"{title} std" in frame
    assert {"dataset", "architecture", "method", "library", "timesteps", "seeds"} <= set(frame)
    bptt = frame[(frame["method"] == "bptt") & (frame["timesteps"] == 16)].iloc[0]
    assert bptt["Top-1 (%) mean"] == pytest.approx(92.0)
    assert bptt["Top-1 (%) std"] == pytest.approx(2.0 * 2**0.5)
    assert bptt["Time/iter (ms) mean"] == pytest.approx(32.0)
    assert bptt["Activation mem (MiB) mean"] == pytest.approx(48.0)
    assert bptt["Firing rate std"] == pytest.approx(0.0)
    assert list(frame["method"]) == ["sltt", "bptt", "rate_m"] * 2


def test_markdown_is_a_pipe_table(results, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")  # no width fitting
    out = show(capsys, "--results", str(results), "--format", "markdown")
    lines = out.splitlines()
    assert lines[0] == f"## {TITLE}"
    table = [line for line in lines if line.startswith("|")]
    assert len(table) == 2 + 6 + 1  # header, alignment row, rows, a gap between T groups
    assert all(line.endswith("|") for line in table)
    assert set(table[5]) <= {"|", " "}  # the empty row after the three T = 4 rows
    assert "Firing rate" in table[0] and "Top-1 (%) ↑" in table[0]
    titles = [cell.strip() for cell in table[0].strip("|").split("|")]
    align = table[1].strip("|").split("|")
    assert [cell.endswith(":") for cell in align] == [t not in ("Method", "Group")
                                                        for t in titles]
    assert "Group: rows of one configuration sharing a letter" in out


@pytest.mark.parametrize("test_samples, expected", [(450, "92.0 ± 2.8"),
                                                    (10000, "92.00 ± 2.83")])
def test_top1_decimals_follow_the_test_set_size(tmp_path, capsys, test_samples, expected):
    for seed, top1 in enumerate((0.90, 0.94)):
        write_record(record("bptt", 4, seed, top1, test_samples=test_samples), tmp_path)
    rows = table_rows(show(capsys, "--results", str(tmp_path), "--width", "200"))
    assert NUMBER.search(rows[0]).group() == expected


def test_problems_and_unreadable_records_are_listed(results, capsys):
    write_record(record("sltt", 8, 0, None, status="failed",
                        reason="RuntimeError: a deliberate failure " + "and so on " * 8), results)
    (results / "broken.json").write_text("{not json")
    out = show(capsys, "--results", str(results), "--width", "80")
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "Not ok" in out and "RuntimeError: a deliberate failure" in out
    assert "Unreadable records" in out and "broken.json" in out


@pytest.mark.parametrize("args, expected", [
    (["--dataset", "nope"], "no records for dataset 'nope'"),
    (["--width", "abc"], "--width"),
    (["--width", "10"], "--width"),
    (["--efficiency", "--format", "csv"], "--format csv"),
])
def test_user_mistakes_are_one_line_and_exit_2(results, capsys, args, expected):
    assert main(["show", "--results", str(results), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and expected in err[0]


@pytest.mark.parametrize("mode, expected", [(None, "no records"),
                                             ("efficiency", "no training records")])
def test_no_records_is_one_line_and_exit_2(tmp_path, capsys, mode, expected):
    if mode:  # records, but none for a leaderboard
        cell = make_cell("bptt", mode=mode, dataset="synthetic_cifar", architecture="resnet18")
        write_record(make_record(cell, "ok", None, {"time_per_iter_s": 0.01}, {}), tmp_path)
    assert main(["show", "--results", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and expected in err[0]


def test_contended_timings_are_listed(tmp_path, capsys):
    from site_records import train_record

    write_record(train_record("bptt", 0, 0.9, 2, 0.01, 2**20, load_average=6.0), tmp_path)
    write_record(train_record("ottt_a", 0, 0.9, 2, 0.01, 2**20, load_average=1.0,
                              other_cells=0), tmp_path)
    write_record(train_record("os", 0, 0.9, 2, 0.01, 2**20, load_average=1.0, other_cells=2),
                 tmp_path)
    assert main(["show", "--results", str(tmp_path), "--width", "100"]) == 0
    out = capsys.readouterr().out
    assert "Timings taken beside other work" in out
    assert "digits bptt T=2 seed 0: load 6.0 on 2 CPUs" in out and "ottt_a T=2 seed" not in out
    assert "digits os T=2 seed 0: load 1.0 on 2 CPUs, 2 other cells running" in out


def test_a_library_running_its_own_neuron_is_a_variant(tmp_path, capsys):
    from site_records import train_record

    exact = train_record("bptt", 0, 0.9, 2, 0.01, 2**20)
    own = train_record("bptt", 0, 0.8, 2, 0.01, 2**20)
    own["cell"]["library"] = "snntorch"
    own["key"] = Cell.from_dict(own["cell"]).key()
    own["env"] = {**own["env"], "library": {"name": "snntorch", "semantics": "fires on U > θ"}}
    for record in (exact, own):
        write_record(record, tmp_path)
    assert main(["show", "--results", str(tmp_path), "--width", "160"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if " bptt" in line or line.startswith("bptt")]
    assert any("library's own neuron" in r and "snntorch" in r for r in rows), out
    assert any("library's own neuron" not in r and "torch" in r for r in rows), out


def test_markdown_with_a_width_leaves_out_whole_columns(results, capsys):
    out = show(capsys, "--results", str(results), "--format", "markdown", "--width", "60")
    table = [line for line in out.splitlines() if line.startswith("|")]
    assert table and max(len(line) for line in table) <= 60
    assert "(left out to fit 60 columns:" in out and "Top-1 (%) ↑" in table[0]
    assert all(line.endswith("|") for line in table)  # rows are never wrapped
