"""The significance groups of a leaderboard: for each configuration (the board's rows that
differ only in method), which methods' top-1 differ over seeds (:mod:`benches.report.
significance`), as letters per row and one sentence per configuration."""

from __future__ import annotations

import statistics
from collections import defaultdict
from typing import Any

from benches.report.frames import GROUP
from benches.report.significance import (
    ALPHA,
    POWER,
    PairTest,
    detectable_difference,
    letter_groups,
    pairwise_tests,
)

PER_CONFIG = [k for k in GROUP if k not in ("method", "params")]
"""What must be equal for two rows to be compared: all but the method and its parameters."""
GROUP_TITLE = ("Group", f"rows of one configuration sharing a letter do not differ in top-1 "
                        f"(t-tests over seeds, Holm-corrected, α = {ALPHA:g})")


def rank_rows(rows: list[Any], top1: dict[str, float]) -> list[str]:
    """Set ``row.texts['group']`` on every row of ``rows`` (board rows, best top-1 first
    within a configuration) from the top-1 of their records (``top1``: record key → top-1);
    return one sentence per configuration with two rows or more."""
    blocks: dict[tuple, list[Any]] = defaultdict(list)
    for row in rows:
        row.texts["group"] = ""
        blocks[tuple(str(row.config[k]) for k in PER_CONFIG)].append(row)
    notes = []
    for block in blocks.values():
        values = {str(i): {seed: top1[key] for seed, key in row.records if key in top1}
                  for i, row in enumerate(block)}
        values = {k: v for k, v in values.items() if v}
        if len(values) < 2:
            continue
        tests = pairwise_tests(values)
        letters = letter_groups([k for k in map(str, range(len(block))) if k in values], tests)
        for i, row in enumerate(block):
            row.texts["group"] = letters.get(str(i), "")
        notes.append(_note(block[0].config, tests))
    return notes


def _note(config: dict[str, Any], tests: list[PairTest]) -> str:
    """How many seeds the tests had and what difference they could detect."""
    where = f"T = {config['timesteps']}, {config['library']}, {config['track']}"
    paired = [t for t in tests if t.test == "paired t"]
    if not paired:
        return f"{where}: too few shared seeds for paired tests."
    n = min(t.n for t in paired)
    spread = statistics.median(t.spread for t in paired)
    mdd = detectable_difference(spread, n)
    found = sum(t.differs for t in tests)
    text = f"{where}: {len(tests)} pairs, {n} seeds each, {found} differ"
    if mdd is None:
        return text + "."
    return (text + f"; at this spread (median s.d. of per-seed differences {100 * spread:.2f}"
            f" pp) a difference must be about {100 * mdd:.1f} pp to be found with "
            f"{POWER:.0%} power.")

