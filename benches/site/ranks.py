"""The significance groups of a leaderboard page (:mod:`benches.report.significance`): letters
per row, one sentence per configuration, and the table of every pair tested."""

from __future__ import annotations

from typing import Any

from benches.report.significance import ALPHA, rank_configurations
from benches.schema import number

GROUP_TITLE = ("Group", f"rows of one configuration sharing a letter do not differ in top-1 "
                        f"(t-tests over seeds, Holm-corrected, α = {ALPHA:g})")
PAIR_HEADERS = ["T", "A", "B", "seeds", "test", "mean A − B (pp)", "p", "p (Holm)",
                "differ"]


def rank_rows(rows: list[Any], top1: dict[str, float]) -> tuple[list[str], list[list[str]]]:
    """Set ``row.texts['group']`` on every board row from the top-1 of its records (``top1``:
    record key → top-1); the sentences per configuration and the rows of the pair table."""
    ranking = rank_configurations(
        [(row.config, {seed: top1[key] for seed, key in row.records if key in top1})
         for row in rows])
    for row, letter in zip(rows, ranking.letters, strict=True):
        row.texts["group"] = letter
    pairs = []
    for t in sorted(ranking.pairs, key=lambda t: sorted((int(t.a), int(t.b)))):
        i, j = int(t.a), int(t.b)
        sign = 1 if i < j else -1  # A: the row higher on the board
        a, b = rows[min(i, j)], rows[max(i, j)]
        pairs.append([str(a.config["timesteps"]), _name(a), _name(b),
                      str(t.n), t.test, number(100 * sign * t.difference, 2, signed=True),
                      f"{t.p:.3g}", f"{t.p_adjusted:.3g}", "yes" if t.differs else "no"])
    return ranking.notes, pairs


def _name(row: Any) -> str:
    """The method of a board row, with its parameters where it has any."""
    params = row.config.get("params")
    return f"{row.texts['method']} [{params}]" if params else row.texts["method"]
