"""The significance groups of a leaderboard page (:mod:`benches.report.significance`): letters
per row, one sentence per configuration."""

from __future__ import annotations

from typing import Any

from benches.report.significance import ALPHA, rank_configurations

GROUP_TITLE = ("Group", f"rows of one configuration sharing a letter do not differ in top-1 "
                        f"(t-tests over seeds, Holm-corrected, α = {ALPHA:g})")


def rank_rows(rows: list[Any], top1: dict[str, float]) -> list[str]:
    """Set ``row.texts['group']`` on every board row from the top-1 of its records (``top1``:
    record key → top-1); the sentences per configuration."""
    letters, notes = rank_configurations(
        [(row.config, {seed: top1[key] for seed, key in row.records if key in top1})
         for row in rows])
    for row, letter in zip(rows, letters, strict=True):
        row.texts["group"] = letter
    return notes
