"""Which differences in top-1 between methods are real: pairwise tests over seeds, Holm's
correction, and groups of methods that do not differ (a compact letter display).

Within one configuration (same dataset, architecture, T, library, track, recipe variant), the
runs of two methods with the same seed train on the same batches in the same order (the data
order is drawn from the seed), and every method with the same network starts from the same
weights (checked by ``tests/harness/test_significance.py``; OTTT's and NDOT's
weight-standardised networks have other parameters, drawn from the same seeded generator). So
their top-1 values are paired by seed: a paired t-test on the per-seed differences. Methods
whose seeds are not the same are compared by Welch's t-test. The p-values of all pairs of one
configuration are adjusted together by Holm's step-down method; a pair differs when its adjusted
p < α.

With few seeds these tests have little power: :func:`detectable_difference` says how large a
true difference must be to be found at α with 80 % power, given the observed spread.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import statistics
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from scipy import stats

from benches.report.frames import GROUP

ALPHA = 0.05
"""Significance level of every pairwise test (after Holm's correction)."""
POWER = 0.8
"""The power at which :func:`detectable_difference` is stated."""
GROUP_NOTE = (f"Group: rows of one configuration sharing a letter do not differ in top-1 "
              f"(t-tests over seeds, paired by seed, Holm-corrected, α = {ALPHA:g}).")
"""What the Group column means, as ``show`` and the Markdown summary say it."""
PER_CONFIG = [k for k in GROUP if k not in ("method", "params")]
"""What must be equal for two rows to be compared: all but the method and its parameters."""


@dataclass(frozen=True)
class PairTest:
    """One pair of methods: the mean difference ``a − b``, the test used and its p-values."""

    a: str
    b: str
    n: int  # seeds in the test (paired: common seeds; Welch: the smaller sample)
    difference: float
    test: str  # "paired t", "Welch t" or "too few seeds"
    p: float  # NaN when there are too few seeds
    p_adjusted: float = math.nan
    spread: float = math.nan  # paired: the standard deviation of the per-seed differences

    @property
    def differs(self) -> bool:
        """Whether the two methods differ at :data:`ALPHA` after Holm's correction."""
        return self.p_adjusted < ALPHA


def _paired_p(differences: list[float]) -> float:
    if all(d == 0 for d in differences):
        return 1.0
    if statistics.pstdev(differences) == 0:  # the same non-zero difference at every seed
        return 0.0
    return float(stats.ttest_1samp(differences, 0.0).pvalue)


def _welch_p(a: list[float], b: list[float]) -> float:
    if statistics.pstdev(a) == 0 and statistics.pstdev(b) == 0:
        return 1.0 if a[0] == b[0] else 0.0
    return float(stats.ttest_ind(a, b, equal_var=False).pvalue)


def pair_test(name_a: str, a: dict[int, float], name_b: str, b: dict[int, float]) -> PairTest:
    """Compare two methods' values by seed (seed → top-1): paired over the seeds they share
    (at least two), else Welch's over all their seeds."""
    seeds = sorted(set(a) & set(b))
    if len(seeds) >= 2:
        diffs = [a[s] - b[s] for s in seeds]
        return PairTest(name_a, name_b, len(seeds), statistics.fmean(diffs), "paired t",
                        _paired_p(diffs), spread=statistics.stdev(diffs))
    va, vb = list(a.values()), list(b.values())
    difference = statistics.fmean(va) - statistics.fmean(vb) if va and vb else math.nan
    if len(va) >= 2 and len(vb) >= 2:
        return PairTest(name_a, name_b, min(len(va), len(vb)), difference, "Welch t",
                        _welch_p(va, vb))
    return PairTest(name_a, name_b, min(len(va), len(vb)), difference, "too few seeds",
                    math.nan)


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the given order (NaN stays NaN and is not
    counted among the tests)."""
    order = sorted((p, i) for i, p in enumerate(p_values) if not math.isnan(p))
    adjusted = [math.nan] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(order):
        running = max(running, min(1.0, (len(order) - rank) * p))
        adjusted[i] = running
    return adjusted


def pairwise_tests(values: dict[str, dict[int, float]]) -> list[PairTest]:
    """Every pair of methods (name → seed → top-1), Holm-adjusted together."""
    tests = [pair_test(a, values[a], b, values[b])
             for a, b in itertools.combinations(sorted(values), 2)]
    adjusted = holm([t.p for t in tests])
    return [dataclasses.replace(t, p_adjusted=q) for t, q in zip(tests, adjusted, strict=True)]


def letter_groups(order: list[str], tests: list[PairTest]) -> dict[str, str]:
    """A compact letter display over ``order`` (best first), by Piepho's insert-absorb
    algorithm (2004): two methods share a letter exactly when their test did not find a
    difference. Letters go by the best method of each group ('a' holds the best)."""
    columns: list[set[str]] = [set(order)]
    for t in tests:
        if not t.differs:
            continue
        split: list[set[str]] = []
        for column in columns:
            if t.a in column and t.b in column:
                split += [column - {t.a}, column - {t.b}]
            else:
                split.append(column)
        columns = [c for c in split if c and not any(c < other for other in split)]
        columns = [c for i, c in enumerate(columns) if c not in columns[:i]]
    rank = {name: i for i, name in enumerate(order)}
    columns.sort(key=lambda c: sorted(rank[n] for n in c))
    letters = {name: "" for name in order}
    for n, column in enumerate(columns):
        for name in sorted(column, key=rank.__getitem__):
            letters[name] += _letter(n)
    return letters


def _letter(n: int) -> str:
    return "abcdefghijklmnopqrstuvwxyz"[n] if n < 26 else f"[{n + 1}]"


def detectable_difference(sd: float, n: int, alpha: float = ALPHA,
                          power: float = POWER) -> float | None:
    """The smallest true mean difference a two-sided paired t-test at ``alpha`` finds with
    ``power`` over ``n`` seeds, for per-seed differences of standard deviation ``sd``:
    ``(t₁₋α/₂ + t_power)·sd/√n`` with n − 1 degrees of freedom (None below two seeds)."""
    if n < 2 or math.isnan(sd):
        return None
    quantiles = stats.t.ppf(1 - alpha / 2, n - 1) + stats.t.ppf(power, n - 1)
    return float(quantiles * sd / math.sqrt(n))


@dataclass
class Ranking:
    """The significance of a table's rows: a letter string per row, a sentence per
    configuration, and every pair tested (``a`` and ``b`` are row indices as strings)."""

    letters: list[str]
    notes: list[str]
    pairs: list[PairTest]


def rank_configurations(rows: list[tuple[dict[str, Any], dict[int, float]]]) -> Ranking:
    """Letters for table rows — each row ``(config, seed → top-1)``, its configuration's rows
    best first — compared within their configuration (:data:`PER_CONFIG`); and one sentence per
    configuration of two rows or more: its seeds, the pairs that differ and the difference
    detectable at :data:`POWER`."""
    blocks: dict[tuple, list[int]] = defaultdict(list)
    for i, (config, _) in enumerate(rows):
        blocks[tuple(str(config[k]) for k in PER_CONFIG)].append(i)
    ranking = Ranking([""] * len(rows), [], [])
    for members in blocks.values():
        values = {str(i): rows[i][1] for i in members if rows[i][1]}
        if len(values) < 2:
            continue
        tests = pairwise_tests(values)
        found = letter_groups([str(i) for i in members if str(i) in values], tests)
        for i in members:
            ranking.letters[i] = found.get(str(i), "")
        ranking.notes.append(_note(rows[members[0]][0], tests))
        ranking.pairs += tests
    return ranking


def _note(config: dict[str, Any], tests: list[PairTest]) -> str:
    """How many seeds the tests had and what difference they could detect."""
    where = f"T = {config['timesteps']}, {config['library']}, {config['track']}"
    paired = [t for t in tests if t.test == "paired t"]
    if not paired:
        return f"{where}: too few shared seeds for paired tests."
    n = min(t.n for t in paired)
    spread = statistics.median(t.spread for t in paired)
    mdd = detectable_difference(spread, n)
    text = f"{where}: {len(tests)} pairs, {n} seeds each, {sum(t.differs for t in tests)} differ"
    if mdd is None:
        return text + "."
    return (text + f"; at this spread (median s.d. of per-seed differences {100 * spread:.2f}"
            f" pp) a difference must be about {100 * mdd:.1f} pp to be found with "
            f"{POWER:.0%} power.")
