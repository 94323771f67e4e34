"""Pinned CPU numerics: a pinned cell gives bit-identical metrics whatever wider instruction
set the environment allows; a native one does not (on a machine wider than AVX2). Each cell runs
in its own interpreter, as the runner runs it."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

import pytest
from helpers import REPO

from benches.cell import Cell
from benches.measure import numerics
from benches.plan.matrix import load_matrix

WIDEST = {"ATEN_CPU_CAPABILITY": "avx512", "ONEDNN_MAX_CPU_ISA": "AVX512_CORE"}
PINNED_ENV_NAMES = tuple(numerics.PINNED_ENV)


def _cell(numerics_mode: str) -> Cell:
    """A default-matrix cell whose top-1 moved with the instruction set (sltt, digits_seq,
    seed 1: 78.0 % with AVX-512 kernels, 77.8 % with AVX2 on the machine that wrote this; the
    first epochs agree to the last bit, the difference grows later)."""
    cell = next(c for c in load_matrix("default").cells
                if c.dataset == "digits_seq" and c.method == "sltt" and c.seed == 1)
    return dataclasses.replace(cell, numerics=numerics_mode)


def _run(cell: Cell, tmp_path, env: dict[str, str]) -> dict:
    """The record of ``cell`` run by the cell process in a fresh interpreter with ``env``."""
    folder = tmp_path / f"run{len(list(tmp_path.iterdir()))}"
    folder.mkdir()
    payload = folder / "cell.json"
    payload.write_text(json.dumps({"cell": cell.to_dict()}))
    base = {k: v for k, v in os.environ.items() if k not in PINNED_ENV_NAMES}
    subprocess.run([sys.executable, "-m", "benches.worker.cell_process", str(payload),
                    str(folder / "r")], env={**base, **env, "PYTHONPATH": str(REPO)},
                   check=True, capture_output=True, timeout=300)
    return json.loads(next((folder / "r").glob("*.json")).read_text())


def _numbers(record: dict) -> tuple:
    m = record["metrics"]
    return m["test_top1"], m["train_loss_curve"], m["test_top1_curve"], m["firing_rates"]


def _native_capability() -> str:
    code = "import torch; print(torch.backends.cpu.get_cpu_capability())"
    base = {k: v for k, v in os.environ.items() if k not in PINNED_ENV_NAMES}
    return subprocess.run([sys.executable, "-c", code], env=base, capture_output=True,
                          text=True, check=True).stdout.strip()


@pytest.mark.skipif(numerics.why_not_pinnable() is not None,
                    reason=f"this machine cannot pin: {numerics.why_not_pinnable()}")
def test_pinned_cells_ignore_a_wider_instruction_set(tmp_path):
    plain = _run(_cell("pinned"), tmp_path, {})
    widest = _run(_cell("pinned"), tmp_path, WIDEST)
    assert _numbers(plain) == _numbers(widest)  # bit for bit: floats compared exactly
    block = plain["env"]["numerics"]
    assert block["pinned"] and block["level"] == "avx2" and block["cpu_capability"] == "AVX2"
    assert block["aten_cpu_capability"] == "avx2" and block["mkl_cbwr"] == "AVX2"


@pytest.mark.skipif(numerics.why_not_pinnable() is not None
                    or _native_capability() in ("DEFAULT", "AVX2"),
                    reason="the machine's widest kernels are AVX2 or narrower: native and "
                    "pinned runs take the same code paths")
def test_native_cells_follow_the_instruction_set(tmp_path):
    native = _run(_cell("native"), tmp_path, {})
    narrowed = _run(_cell("native"), tmp_path, dict(numerics.PINNED_ENV))
    assert _numbers(native) != _numbers(narrowed)
    assert native["env"]["numerics"]["pinned"] is False
    assert native["env"]["numerics"]["cpu_capability"] != "AVX2"


def test_the_matrix_pins_cpu_train_cells_only():
    assert {c.numerics for c in load_matrix("default").cells} == {"pinned"}
    assert {c.numerics for c in load_matrix("efficiency").cells} == {"native"}
    assert {c.numerics for c in load_matrix("default", {"pin": False}).cells} == {"native"}
    assert _cell("pinned").key() != _cell("native").key()
    assert Cell("bptt", "torch", "digits", "convnet_digits", 2, 0).key() == \
        Cell("bptt", "torch", "digits", "convnet_digits", 2, 0, numerics="native").key()


def test_a_bad_pin_value_is_one_line(tmp_path):
    matrix = tmp_path / "m.toml"
    matrix.write_text('[[grid]]\nmethods = ["bptt"]\ndatasets = ["digits"]\npin = "yes"\n')
    proc = subprocess.run([sys.executable, "-m", "benches", "run", "--matrix", str(matrix),
                           "--dry-run"], capture_output=True, text=True, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "pin must be true or false" in proc.stderr


def test_a_machine_that_cannot_pin_runs_unpinned_and_says_so(monkeypatch, capsys):
    monkeypatch.setattr(numerics.platform, "machine", lambda: "aarch64")
    for name in PINNED_ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    why = numerics.pin("pinned", "cpu")
    assert why == "aarch64 is not x86-64"
    assert "not pinned" in capsys.readouterr().err
    assert not any(name in os.environ for name in PINNED_ENV_NAMES)
    block = numerics.numerics_block("pinned", "cpu", why)
    assert block["pinned"] is False and block["not_pinned_because"] == why
