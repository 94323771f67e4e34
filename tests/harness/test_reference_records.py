"""The default matrix's reference records (``results/reference``, made pinned) reproduce: one
cell of every method (digits_seq, seed 0) is run again and its numbers must equal the stored
ones bit for bit. A change to training numerics fails here; the references are then regenerated
on purpose (README, "Reference records"), in a commit that says why."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from helpers import REPO

from benches.measure import numerics
from benches.measure.provenance import tracked_distributions

REFERENCE = REPO / "results" / "reference"
SAME = ("test_top1", "test_top1_curve", "train_loss_curve", "activation_bytes", "firing_rates",
        "iterations", "parameters", "neuron_spike_mismatch", "test_samples")
"""What must be equal (times, memory of the process and load are not)."""


def _references() -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(REFERENCE.glob("*.json"))]


def _versions_differ(records: list[dict]) -> list[str]:
    from importlib.metadata import PackageNotFoundError, version

    stored = records[0]["env"]["versions"]
    out = []
    for name in tracked_distributions():
        try:
            here = version(name)
        except PackageNotFoundError:
            here = None
        if stored.get(name) != here:
            out.append(f"{name} {stored.get(name)} (reference) vs {here} (here)")
    return out


def test_the_references_are_the_default_matrix_pinned():
    records = _references()
    assert len(records) == 101 and all(r["status"] == "ok" for r in records)
    assert all(r["cell"]["numerics"] == "pinned" and r["env"]["numerics"]["pinned"]
               for r in records)
    methods = {r["cell"]["method"] for r in records if r["cell"]["dataset"] == "digits_seq"}
    assert len(methods) == 13


@pytest.mark.skipif(numerics.why_not_pinnable() is not None,
                    reason=f"this machine cannot pin: {numerics.why_not_pinnable()}")
def test_a_sample_of_reference_cells_reruns_bit_for_bit(tmp_path):
    records = _references()
    differ = _versions_differ(records)
    if differ:
        pytest.skip("other library versions than the references': " + "; ".join(differ))
    sample = {r["key"]: r for r in records
              if r["cell"]["dataset"] == "digits_seq" and r["cell"]["seed"] == 0}
    proc = subprocess.run(
        [sys.executable, "-m", "benches", "run", "--matrix", "default", "--datasets",
         "digits_seq", "--seeds", "0", "--out", str(tmp_path / "again"), "--no-site"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True,
        text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    again = {p.stem: json.loads(p.read_text()) for p in (tmp_path / "again").glob("*.json")}
    assert set(again) == set(sample)
    for key, reference in sample.items():
        for name in SAME:
            assert again[key]["metrics"].get(name) == reference["metrics"].get(name), \
                (reference["cell"]["method"], name)
