"""Leaderboard tables built from the seed summary and the metric schema (shared by the
terminal ``show`` command and the static site)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from .schema import LEADERBOARD, METRICS

ROW_KEYS = ("method", "params", "variant", "library", "backend", "precision", "compile",
            "architecture", "timesteps")
ROW_TITLES = {"method": "Method", "params": "Params", "variant": "Recipe variant",
              "library": "Library", "backend": "Backend", "precision": "Precision",
              "compile": "Compiled", "architecture": "Architecture", "timesteps": "T"}
OPTIONAL_KEYS = ("params", "variant", "compile")  # shown when some row has one


def _shown(key: str, block: pd.DataFrame) -> bool:
    if key in OPTIONAL_KEYS:
        return block[key].astype(bool).any()
    if key == "precision":
        return (block[key] != "fp32").any()
    if key == "backend":  # worth a column only when some cell used a non-default backend
        return (block[key] != "torch").any()
    return True


@dataclass
class Table:
    title: str
    headers: list[str]
    rows: list[list[str]]
    descriptions: list[str]
    env_ids: list[str]


def leaderboards(summary: pd.DataFrame, metrics=LEADERBOARD) -> list[Table]:
    """One table per (dataset, track, device) of train-mode rows, best accuracy first."""
    train = summary[summary["mode"] == "train"] if not summary.empty else summary
    tables = []
    for (dataset, track, device), block in train.groupby(["dataset", "track", "device"], sort=True):
        block = block.sort_values(["timesteps", "test_top1"], ascending=[True, False])
        keys = [k for k in ROW_KEYS if _shown(k, block)]
        shown = [m for m in metrics if m in block and block[m].notna().any()]
        headers = [ROW_TITLES[k] for k in keys] + [METRICS[m].title for m in shown] + ["Seeds"]
        rows = []
        for _, r in block.iterrows():
            cells = [str(r[k]) for k in keys]
            for m in shown:
                std = r.get(f"{m}_std") if m == "test_top1" else None
                cells.append(METRICS[m].format(r[m], std if r["seeds"] > 1 else None))
            cells.append(str(int(r["seeds"])))
            rows.append(cells)
        descriptions = [""] * len(keys) + [METRICS[m].description for m in shown] + [""]
        tables.append(Table(f"{dataset} — {track} recipe — {device}", headers, rows,
                            descriptions, list(block["env_ids"])))
    return tables


def problems(frame: pd.DataFrame) -> list[list[str]]:
    """Rows of records that are not ok: status, cell, reason."""
    bad = frame[frame["status"] != "ok"].sort_values(["status", "dataset", "method"])
    return [
        [r["status"], r["mode"], r["dataset"],
         r["method"] + "".join(f" ({v})" for v in (r["params"], r["variant"]) if v),
         r["library"], str(r["timesteps"]), str(r["seed"]), r["reason"] or ""]
        for _, r in bad.iterrows()
    ]


PROBLEM_HEADERS = ["Status", "Mode", "Dataset", "Method", "Library", "T", "Seed", "Reason"]
