"""Measured top-1 against the published numbers shipped in ``benches/data/reported.csv``."""

from __future__ import annotations

import csv
import io
import shlex
from dataclasses import dataclass
from importlib import resources

import pandas as pd

from benches.schema import METRICS, accuracy_digits, missing, number

# A published row may name a method family when the paper does not say which variant it ran.
VARIANTS = {"rate": ("rate_m", "rate_s"), "ottt": ("ottt_a", "ottt_o")}


def published() -> list[dict[str, str]]:
    """The published results shipped with the suite, one dict per row."""
    text = (resources.files("benches") / "data" / "reported.csv").read_text()
    return list(csv.DictReader(io.StringIO(text)))


@dataclass
class Match:
    published: dict[str, str]
    method: str
    track: str
    library: str
    architecture: str
    timesteps: int
    measured: float  # top-1 in display units (%)
    std: float | None
    seeds: int
    digits: int  # decimals the test set supports

    @property
    def delta(self) -> float:
        return self.measured - float(self.published["top1"])

    @property
    def measured_text(self) -> str:
        return number(self.measured, self.digits)

    @property
    def std_text(self) -> str:
        return "" if self.std is None else number(self.std, self.digits)

    @property
    def delta_text(self) -> str:
        return number(self.delta, self.digits, signed=True)


def _matches(p: dict[str, str], row: pd.Series) -> bool:
    methods = VARIANTS.get(p["method"], (p["method"],))
    return (row["dataset"] == p["dataset"] and row["method"] in methods
            and (not p["architecture"] or row["architecture"] == p["architecture"])
            and (not p["T"] or int(row["timesteps"]) == int(p["T"])))


def _samples(row: pd.Series) -> int | None:
    value = row.get("test_samples")
    return None if missing(value) else int(value)


def reproduction(summary: pd.DataFrame) -> tuple[list[Match], list[dict[str, str]]]:
    """Every (published row, measured train configuration) pair that matches on dataset,
    method, architecture and T (the last two where the row gives them), and the published
    rows that nothing measured matches."""
    top1 = METRICS["test_top1"]
    train = (summary[(summary["mode"] == "train") & summary["test_top1"].notna()]
             if not summary.empty and "test_top1" in summary else summary.iloc[0:0])
    matches, unmatched = [], []
    for p in published():
        found = [r for _, r in train.iterrows() if _matches(p, r)]
        if not found:
            unmatched.append({**p, "command": measure_command(p)})
        for r in found:
            std = r.get("test_top1_std")
            measured = top1.display(r["test_top1"])
            assert measured is not None  # train holds the rows with a test_top1 only
            matches.append(Match(
                p, r["method"], r["track"], r["library"], r["architecture"],
                int(r["timesteps"]), measured,
                top1.display(std) if r["seeds"] > 1 else None, int(r["seeds"]),
                accuracy_digits(_samples(r), top1.digits)))
    matches.sort(key=lambda m: (m.published["dataset"], m.method, m.timesteps, m.track))
    return matches, unmatched


def measure_command(p: dict[str, str]) -> str:
    """The command that runs a published point on its paper track."""
    args = ["python", "-m", "benches", "run", "--matrix", "paper", "--datasets", p["dataset"],
            "--methods", ",".join(VARIANTS.get(p["method"], (p["method"],)))]
    if p["T"]:
        args += ["--timesteps", p["T"]]
    return shlex.join(args)
