"""The list of records that are not ok, shared by ``show`` and the site."""

from __future__ import annotations

import pandas as pd

from .aggregate import method_label

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
