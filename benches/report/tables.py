"""What the tables of ``show`` and of the site share: the titles of the row keys, the
test-set size a table's accuracies are shown for, and the list of records that are not ok."""

from __future__ import annotations

import pandas as pd

from benches.report.frames import method_label

TEXT_COLUMNS = {  # row keys of a leaderboard: title, description
    "method": ("Method", "training method (see Methods)"),
    "params": ("Params", "method parameters that differ from its defaults"),
    "variant": ("Recipe variant", "recipe settings that differ from the method's own recipe; "
                "\"library's own neuron\" where the library runs its closest neuron instead of "
                "the suite's LIF (its semantics and spike mismatch are in the record)"),
    "track": ("Track", "recipe track: common (one recipe for all) or paper (each paper's own)"),
    "library": ("Library", "SNN library the layers come from"),
    "backend": ("Backend", "the library's neuron backend"),
    "precision": ("Precision", "fp32 or bf16 autocast"),
    "compile": ("Compiled", "torch.compile on"),
    "device": ("Device", "where the cells ran"),
    "timesteps": ("T", "time steps per sample"),
}


def median_test_samples(block: pd.DataFrame) -> int | None:
    """The median test-set size of a table's rows (None where no record says): what sets the
    decimals of its accuracies (:func:`~benches.schema.accuracy_digits`)."""
    if "test_samples" in block and block["test_samples"].notna().any():
        return int(block["test_samples"].median())
    return None


PROBLEM_HEADERS = ["Status", "Mode", "Dataset", "Method", "Library", "T", "Seed", "Reason"]


def problems(frame: pd.DataFrame) -> list[list[str]]:
    """Rows of records that are not ok: status, cell, reason."""
    bad = frame[frame["status"] != "ok"].sort_values(["status", "dataset", "method"])
    return [
        [r["status"], r["mode"], r["dataset"],
         method_label(r["method"], r["params"], r["variant"]),
         r["library"], str(r["timesteps"]), str(r["seed"]), r["reason"] or ""]
        for _, r in bad.iterrows()
    ]
