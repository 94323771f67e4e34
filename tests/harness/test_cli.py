"""End to end through ``python -m benches``: records, site, resume, failures, bad input."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from helpers import REPO, make_cell, plugin_package, run_cli

from benches.commands import main
from benches.run.job import _run_in_subprocess

PLUGIN = '''
import os, time
from methods.bptt import BPTT

class Failing(BPTT):
    name = "failing"
    def train_step(self, *args, **kwargs):
        raise RuntimeError("deliberate failure")

class Crashing(BPTT):
    name = "crashing"
    def train_step(self, *args, **kwargs):
        os._exit(3)

class Exhausting(BPTT):
    name = "exhausting"
    def train_step(self, *args, **kwargs):
        raise MemoryError("simulated: no memory left")

class Hungry(BPTT):
    name = "hungry"
    def train_step(self, *args, **kwargs):
        import torch
        torch.ones(3 * 2**30, dtype=torch.uint8)  # 3 GiB
        return super().train_step(*args, **kwargs)

class Sleeping(BPTT):
    name = "sleeping"
    def train_step(self, *args, **kwargs):
        time.sleep(120)
'''


@pytest.fixture(scope="module")
def plugin_env(tmp_path_factory) -> dict:
    """An outside package adding three methods through the ``benches.methods`` entry points."""
    return plugin_package(tmp_path_factory.mktemp("plugin"), "benches_test_plugin", PLUGIN, {
        "failing": "Failing", "crashing": "Crashing", "sleeping": "Sleeping",
        "exhausting": "Exhausting", "hungry": "Hungry"})


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("smoke")
    proc = run_cli("run", "--matrix", "smoke", cwd=cwd)
    return cwd, proc


def records_in(folder: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]


def test_smoke_matrix_end_to_end(smoke):
    cwd, proc = smoke
    assert proc.returncode == 0, proc.stderr
    records = records_in(cwd / "results")
    assert len(records) == 2
    assert {r["cell"]["timesteps"] for r in records} == {2, 4}
    for r in records:
        assert r["status"] == "ok" and r["reason"] is None
        m = r["metrics"]
        assert 0.5 < m["test_top1"] <= 1.0  # two epochs already learn digits
        assert len(m["train_loss_curve"]) == 2
        assert m["time_per_iter_s"] > 0 and m["time_per_iter_iqr_s"] >= 0
        assert m["peak_memory_bytes"] > 0 and m["samples_per_s"] > 0
        assert r["env"]["versions"]["torch"] and r["env"]["cpu_count"]
        assert "git_commit" in r["env"]
    html = (cwd / "site" / "index.html").read_text()
    assert "digits" in html and "convnet_digits" in html
    board = (cwd / "site" / "board-digits-convnet-digits.html").read_text()
    for r in records:  # each row's accuracy, to the 0.1 pp that 450 test images support
        assert r["metrics"]["test_samples"] == 450
        assert f"{100 * r['metrics']['test_top1']:.1f}" in board
    for page in (html, board):  # self-contained: nothing loaded from elsewhere
        assert "<script src" not in page and "<link" not in page


def test_show_prints_the_leaderboard(smoke):
    cwd, _ = smoke
    proc = run_cli("show", cwd=cwd)
    assert proc.returncode == 0
    assert "Top-1 (%)" in proc.stdout and "bptt" in proc.stdout


def test_resume_skips_finished_cells(smoke):
    cwd, _ = smoke
    before = {p.name: p.stat().st_mtime_ns for p in (cwd / "results").glob("*.json")}
    proc = run_cli("run", "--matrix", "smoke", "--resume", "--no-site", cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    assert "2 already done" in proc.stderr
    after = {p.name: p.stat().st_mtime_ns for p in (cwd / "results").glob("*.json")}
    assert before == after


def test_failing_and_crashing_cells_are_recorded_and_the_matrix_goes_on(tmp_path, plugin_env):
    (tmp_path / "m.toml").write_text(textwrap.dedent("""
        description = "failure isolation"
        [[grid]]
        methods = ["failing", "crashing", "exhausting", "bptt"]
        datasets = ["digits"]
        timesteps = [2]
        recipe = { epochs = 1 }
    """))
    proc = run_cli("run", "--matrix", "m.toml", cwd=tmp_path, env=plugin_env)
    assert proc.returncode == 1, proc.stderr  # some cells failed; the run itself finished
    by_method = {r["cell"]["method"]: r for r in records_in(tmp_path / "results")}
    assert by_method["failing"]["status"] == "failed"
    assert by_method["failing"]["reason"] == "RuntimeError: deliberate failure"
    assert "Traceback" in by_method["failing"]["traceback"]
    assert by_method["crashing"]["status"] == "failed"
    assert "exited with status 3" in by_method["crashing"]["reason"]
    assert by_method["exhausting"]["status"] == "oom"
    assert "simulated: no memory left" in by_method["exhausting"]["reason"]
    assert by_method["bptt"]["status"] == "ok"
    html = (tmp_path / "site" / "environment.html").read_text()
    assert "deliberate failure" in html and "exited with status 3" in html


def test_memory_limit_records_oom_and_the_matrix_goes_on(tmp_path, plugin_env):
    proc = run_cli("run", "--matrix", "smoke", "--methods", "hungry,bptt", "--timesteps", "2",
                   "--epochs", "1", "--memory-limit", "1", "--no-site", cwd=tmp_path,
                   env=plugin_env)
    assert proc.returncode == 1, proc.stderr
    by_method = {r["cell"]["method"]: r for r in records_in(tmp_path / "results")}
    hungry = by_method["hungry"]
    assert hungry["status"] == "oom" and "allocate" in hungry["reason"], hungry["reason"]
    assert by_method["bptt"]["status"] == "ok"  # 1 GiB is plenty for a digits cell
    bad = run_cli("run", "--matrix", "smoke", "--memory-limit", "0", cwd=tmp_path)
    assert bad.returncode == 2 and "--memory-limit must be a finite number of GB > 0" in bad.stderr


def test_timeout_is_recorded(tmp_path, plugin_env):
    proc = run_cli("run", "--matrix", "smoke", "--methods", "sleeping", "--timesteps", "2",
                   "--timeout", "8", "--no-site", cwd=tmp_path, env=plugin_env)
    assert proc.returncode == 1
    (record,) = records_in(tmp_path / "results")
    assert record["status"] == "timeout" and "8 s timeout" in record["reason"]


def test_list_shows_entry_point_methods(tmp_path, plugin_env):
    proc = run_cli("list", "methods", cwd=tmp_path, env=plugin_env)
    assert proc.returncode == 0
    for name in ("bptt", "rate_m", "failing", "sleeping"):
        assert name in proc.stdout


BAD_MATRICES = {
    "not_toml.toml": ("description = [unclosed", "not valid TOML"),
    "unknown_key.toml": ('[[grid]]\nmethods = ["bptt"]\ndatasets = ["digits"]\nfoo = 1\n',
                         "unknown key"),
    "zero_t.toml": ('[[grid]]\nmethods = ["bptt"]\ndatasets = ["digits"]\ntimesteps = [0]\n',
                    "positive integers"),
    "bad_recipe.toml": ('[[grid]]\nmethods = ["bptt"]\ndatasets = ["digits"]\n'
                        'recipe = { epochz = 3 }\n', "unknown recipe key"),
    "no_grid.toml": ('description = "empty"\n', "[[grid]]"),
}


@pytest.mark.parametrize("args, expected", [
    (["run", "--matrix", "no_such_matrix"], "unknown matrix"),
    (["run", "--matrix", "smoke", "--methods", "nope"], "unknown method 'nope'"),
    (["run", "--matrix", "smoke", "--datasets", "nope"], "unknown dataset 'nope'"),
    (["run", "--matrix", "smoke", "--libraries", "nope"], "unknown library 'nope'"),
    (["run", "--matrix", "smoke", "--timesteps", "0"], "positive integers"),
    (["run", "--matrix", "smoke", "--timesteps", "two"], "must be integers"),
    (["run", "--matrix", "smoke", "--epochs", "0"], "--epochs"),
    (["run", "--matrix", "missing.toml"], "does not exist"),
    (["run"], "--matrix"),
    (["list", "nonsense"], "invalid choice"),
    (["show", "--results", "empty"], "no records"),
    (["site", "--results", "nowhere"], "does not exist"),
] + [(["run", "--matrix", name], msg) for name, (_, msg) in BAD_MATRICES.items()])
def test_bad_input_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys, args, expected):
    (tmp_path / "empty").mkdir()
    for name, (text, _) in BAD_MATRICES.items():
        (tmp_path / name).write_text(text)
    monkeypatch.chdir(tmp_path)
    try:
        code = main(args)
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert expected in lines[0]
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize("args, expected", [
    (["run", "--matrix", "smoke", "--timesteps", "-1"], "--timesteps"),
    (["run", "--matrix", "smoke", "--methods", "bptt,nope"], "unknown method 'nope'"),
])
def test_bad_input_from_the_shell(tmp_path, args, expected):
    proc = run_cli(*args, cwd=tmp_path)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0] and "Traceback" not in proc.stderr


def test_hugging_face_datasets_shadowing_is_detected(tmp_path):
    fake = tmp_path / "shadow" / "datasets"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text('"""Hugging Face datasets stand-in."""\n')
    proc = run_cli("list", "methods", cwd=tmp_path,
                   env={"PYTHONPATH": f"{tmp_path / 'shadow'}:{REPO}"})
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Hugging Face" in lines[0] and "virtual environment" in lines[0]


def test_backend_selection_reaches_the_cell_process(tmp_path):
    """A cell whose backend is chosen by an environment variable read at import (spikingjelly's
    CUDA kernels) runs in a fresh interpreter with that variable; provenance records it."""
    cell = make_cell("bptt", "spikingjelly", timesteps=2, epochs=1, batch_size=128, augment=())
    code = _run_in_subprocess(cell, str(tmp_path), None, "m", 300,
                              {"SJ_LIF_CUDA_IMPLEMENTATION": "torch"})
    assert code == 0
    (record,) = records_in(tmp_path)
    assert record["status"] == "ok"
    assert record["env"]["library"]["env"] == {"SJ_LIF_CUDA_IMPLEMENTATION": "torch"}
    assert record["env"]["library"]["backend_in_use"] == "torch-reference"  # CPU


def test_unwritable_records_folder_is_one_line_before_any_cell(tmp_path):
    (tmp_path / "a-file").write_text("not a folder")
    proc = run_cli("run", "--matrix", "smoke", "--out", "a-file/results", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 1  # the matrix line, then the error
    assert "records folder a-file/results cannot be written" in proc.stderr
