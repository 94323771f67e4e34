"""Leaderboards: configurations averaged over seeds, with 95 % intervals, the best value of each
column and the values tied with it (intervals that overlap the best one's)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from scipy import stats

from benches.report.frames import GROUP, contended, contention
from benches.report.tables import TEXT_COLUMNS, median_test_samples
from benches.schema import LEADERBOARD, METRICS, Metric, accuracy_digits
from benches.site.ranks import GROUP_TITLE, rank_rows

CONFIDENCE = 0.95
PERCENT = f"{CONFIDENCE * 100:g} %"
INTERVAL_NOTE = (
    f"Each value is the mean over n seeds ± the standard deviation over seeds. Its {PERCENT} "
    "interval "
    "is mean ± t·s/√n (Student t with n − 1 degrees of freedom). In each column the best mean "
    "is marked ★ and every value whose interval overlaps the best one's is marked ≈ (a tie: "
    "the seeds do not tell them apart). A configuration with one seed has no interval and "
    "ties only with an equal value."
)

ALWAYS = ("method", "timesteps")
FILTERS = ("timesteps", "library", "track", "method")


@dataclass
class Value:
    """One metric of one row, in display units."""

    text: str
    mean: float | None
    std: float | None = None
    lo: float | None = None
    hi: float | None = None
    mark: str = ""  # "best", "tie" or ""

    @property
    def std_text(self) -> str:
        return self.text.split(" ± ", 1)[1] if " ± " in self.text else ""

    @property
    def mean_text(self) -> str:
        return self.text.split(" ± ", 1)[0]


@dataclass
class Column:
    key: str
    title: str
    description: str
    numeric: bool
    better: str | None = None
    arrow: str = ""


@dataclass
class Row:
    texts: dict[str, str]
    values: list[Value]
    seeds: int
    records: list[tuple[int, str]]  # (seed, record key)
    config: dict[str, Any] = field(default_factory=dict)  # every GROUP field
    contended: list[str] = field(default_factory=list)  # "seed s: load x on n CPUs"

    @property
    def filters(self) -> dict[str, str]:
        return {k: str(self.config.get(k, "")) for k in FILTERS}


@dataclass
class Board:
    """The leaderboard of one dataset × architecture (train cells)."""

    dataset: str
    architecture: str
    columns: list[Column]
    rows: list[Row]
    fixed: dict[str, str]  # row keys with one value on the whole board
    test_samples: int | None
    frame: pd.DataFrame  # the seed summary rows behind it
    file: str = ""  # its page in the site
    significance: list[str] = field(default_factory=list)  # one sentence per configuration
    pairs: list[list[str]] = field(default_factory=list)  # every pair tested (ranks.PAIR_HEADERS)

    @property
    def slug(self) -> str:
        return slugify(f"{self.dataset}-{self.architecture}")

    @property
    def title(self) -> str:
        return f"{self.dataset} · {self.architecture}"

    @property
    def text_columns(self) -> list[Column]:
        return [c for c in self.columns if not c.numeric]

    @property
    def metric_columns(self) -> list[Column]:
        return [c for c in self.columns if c.numeric]


def slugify(text: str) -> str:
    """A file-name-safe id: lowercase letters, digits and dashes."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


def interval(mean: float, std: float | None, n: int) -> tuple[float, float] | None:
    """The Student-t interval (:data:`CONFIDENCE`) of a mean over ``n`` seeds (``None`` for one
    seed)."""
    if n < 2 or std is None or std != std:
        return None
    half = float(stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1)) * std / n**0.5
    return mean - half, mean + half


def _bounds(mean: float, v: Value) -> tuple[float, float]:
    """The value's interval, or its mean at both ends (one seed)."""
    return (v.lo, v.hi) if v.lo is not None and v.hi is not None else (mean, mean)


def mark_best(values: list[Value], better: str | None) -> None:
    """Mark the best mean ``best`` and the values whose interval overlaps it ``tie``."""
    for v in values:
        v.mark = ""
    present = [(v.mean, v) for v in values if v.mean is not None]
    if better is None or not present:
        return
    pick = max if better == "higher" else min
    best_mean, best = pick(present, key=lambda mv: mv[0])
    best.mark = "best"
    blo, bhi = _bounds(best_mean, best)
    for mean, v in present:
        if v is best:
            continue
        lo, hi = _bounds(mean, v)
        if lo <= bhi and hi >= blo:
            v.mark = "tie"


def metric_value(metric: Metric, row: pd.Series, digits: int | None = None) -> Value:
    mean = metric.display(row.get(metric.key))
    if mean is None:
        return Value("–", None)
    n = int(row["seeds"])
    raw_std = row.get(f"{metric.key}_std")
    std = metric.display(raw_std) if n > 1 else None
    text = metric.format(row.get(metric.key), raw_std if n > 1 else None, digits)
    span = interval(mean, std, n)
    return Value(text, mean, std, *(span or (None, None)))


def _record_keys(frame: pd.DataFrame) -> dict[tuple, list[tuple[int, str]]]:
    ok = frame[frame["status"] == "ok"]
    out: dict[tuple, list[tuple[int, str]]] = {}
    for keys, block in ok.groupby(GROUP, dropna=False, sort=False):
        out[tuple(keys)] = sorted(zip(block["seed"].astype(int), block["key"], strict=True))
    return out


def _top1_by_key(frame: pd.DataFrame) -> dict[str, float]:
    ok = frame[(frame["status"] == "ok") & frame["test_top1"].notna()] if "test_top1" in frame \
        else frame.iloc[0:0]
    return dict(zip(ok["key"], ok["test_top1"].astype(float), strict=True))


def boards(frame: pd.DataFrame, summary: pd.DataFrame,
           metrics: tuple[str, ...] = LEADERBOARD) -> list[Board]:
    """One board per (dataset, architecture) of train rows: T ascending, then best top-1."""
    if summary.empty:
        return []
    train = summary[summary["mode"] == "train"]
    keys_of = _record_keys(frame)
    top1 = _top1_by_key(frame)
    flagged = frame[contended(frame)] if not frame.empty else frame
    busy = {r["key"]: f"seed {int(r['seed'])}: {contention(r)}" for _, r in flagged.iterrows()}
    out = []
    for (dataset, arch), block in train.groupby(["dataset", "architecture"], sort=True):
        block = block.sort_values(["timesteps", "test_top1" if "test_top1" in block else "seeds"],
                                  ascending=[True, False], na_position="last")
        varying = [k for k in TEXT_COLUMNS
                   if k in ALWAYS or block[k].astype(str).nunique() > 1]
        fixed = {TEXT_COLUMNS[k][0]: str(block[k].iloc[0]) for k in TEXT_COLUMNS
                 if k not in varying and str(block[k].iloc[0]) not in ("", "False")}
        shown = [m for m in metrics if m in block and block[m].notna().any()]
        samples = median_test_samples(block)
        digits = {m: accuracy_digits(samples, METRICS[m].digits) if m == "test_top1" else None
                  for m in shown}
        columns = [Column(k, *TEXT_COLUMNS[k], numeric=False) for k in varying]
        columns += [Column(m, METRICS[m].title, METRICS[m].description, True,
                           METRICS[m].better, METRICS[m].arrow) for m in shown]
        rows = []
        for _, r in block.iterrows():
            config = {k: r[k] for k in GROUP}
            rows.append(Row(
                {k: str(r[k]) for k in varying},
                [metric_value(METRICS[m], r, digits[m]) for m in shown],
                int(r["seeds"]), keys_of.get(tuple(r[k] for k in GROUP), []), config))
            rows[-1].contended = [busy[k] for _, k in rows[-1].records if k in busy]
        for i, m in enumerate(shown):
            mark_best([row.values[i] for row in rows], METRICS[m].better)
        board = Board(dataset, arch, columns, rows, fixed, samples, block)
        if "test_top1" in shown:
            board.significance, board.pairs = rank_rows(rows, top1)
            columns.insert(len(varying), Column("group", *GROUP_TITLE, numeric=False))
        out.append(board)
    return out


def board_csv(board: Board) -> pd.DataFrame:
    """The board as a table in display units: row keys, ``<title> mean``/``std``, n, records."""
    data = []
    for row in board.rows:
        item = {**{k: row.config[k] for k in GROUP}}
        for col, value in zip(board.metric_columns, row.values, strict=False):
            item[f"{col.title} mean"] = value.mean
            item[f"{col.title} std"] = value.std
        item["group"] = row.texts.get("group", "")
        item["seeds"] = row.seeds
        item["records"] = " ".join(key for _, key in row.records)
        data.append(item)
    return pd.DataFrame(data)
