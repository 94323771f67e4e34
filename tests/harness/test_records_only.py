"""``show``, ``site`` and ``compare`` read the records alone: they run where torch, the methods
and the data sets cannot be imported, and a record of a plug-in method that is not installed
keeps what its ``about`` block says (its recipe variant)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import REPO, make_cell
from site_records import ENV, write_site_records

from benches.cell import Cell
from benches.records import make_record, write_record
from benches.worker.cell_process import about

BLOCKED = ("torch", "methods", "datasets")

WRAPPER = f"""
import sys, traceback

BLOCKED = {BLOCKED!r}
tried = []


class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            tried.append(name + "\\n" + "".join(traceback.format_stack(limit=8)))
            raise ImportError(f"{{name}} is blocked: show, site and compare read records alone")
        return None


sys.meta_path.insert(0, Blocker())
from benches.commands import main

try:
    status = main(sys.argv[1:])
except Exception:
    traceback.print_exc()
    status = 98
loaded = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
if tried or loaded:
    print("imported a blocked module:", *tried, *loaded, file=sys.stderr)
    sys.exit(97)
sys.exit(status)
"""

PLUGIN = "plugin_m"


def run_blocked(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """``benches ARGS`` in a fresh interpreter where torch, methods and datasets cannot be
    imported; exit status 97 if anything tried to, 98 if the command raised."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-c", WRAPPER, *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def plugin_record(seed: int, top1: float, **recipe) -> dict:
    """A train record of a method no installed package provides, with its ``about`` block."""
    base = make_cell("bptt", seed=seed)
    cell = Cell(PLUGIN, "torch", base.dataset, base.architecture, base.timesteps, seed,
                recipe={**base.recipe, **recipe})
    declared = about(base)
    declared["method"] = {**declared["method"], "name": PLUGIN,
                          "description": "a plug-in method that is not installed here"}
    return make_record(cell, "ok", None, {"test_top1": top1, "test_samples": 450,
                                          "time_per_iter_s": 0.01, "activation_bytes": 2**20},
                       ENV, about=declared)


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("records") / "results"
    write_site_records(folder)
    for seed, top1 in enumerate((0.85, 0.87)):
        write_record(plugin_record(seed, top1), folder)
    write_record(plugin_record(0, 0.83, reset="hard"), folder)
    return folder


def test_the_blocker_catches_an_import_of_torch(tmp_path):
    """The wrapper fails a command that imports torch (``list libraries`` does)."""
    proc = run_blocked("list", "libraries", cwd=tmp_path)
    assert proc.returncode == 97
    assert "blocked" in proc.stderr


def test_show_reads_records_alone(results, tmp_path):
    proc = run_blocked("show", "--results", str(results), "--width", "200", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    for method in ("bptt", "ottt_a", "rate_m", PLUGIN):
        assert method in proc.stdout
    plugin_rows = [line for line in proc.stdout.splitlines() if line.startswith(PLUGIN)]
    assert any("reset=hard" in line for line in plugin_rows), proc.stdout  # from its about
    assert any("reset=hard" not in line for line in plugin_rows)


def test_show_efficiency_and_alignment_read_records_alone(results, tmp_path):
    proc = run_blocked("show", "--efficiency", "--alignment", "--results", str(results),
                       cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "O(L·T) ok" in proc.stdout  # the claimed complexity comes from the records
    assert "Grad cosine" in proc.stdout


def test_site_reads_records_alone(results, tmp_path):
    out = tmp_path / "site"
    proc = run_blocked("site", "--results", str(results), "--out", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    index = (out / "index.html").read_text()
    for method in ("bptt", "ottt_a", "rate_m", PLUGIN):
        assert method in index
    board = next(out.glob("board-digits-*.html")).read_text()
    assert "reset=hard" in board
    assert PLUGIN in (out / "methods.html").read_text()


def test_compare_reads_records_alone(results, tmp_path):
    candidate = tmp_path / "candidate"
    candidate.mkdir()
    for path in results.glob("*.json"):
        record = json.loads(path.read_text())
        if record["cell"]["method"] == PLUGIN and record["status"] == "ok":
            record["metrics"]["activation_bytes"] *= 2  # a memory regression
        (candidate / path.name).write_text(json.dumps(record))
    proc = run_blocked("compare", str(results), str(candidate), cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr  # the regression, not an import
    assert "## Regressions" in proc.stdout and PLUGIN in proc.stdout
    assert "bptt digits/convnet_digits" in proc.stdout
