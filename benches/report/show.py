"""``benches show``: leaderboards in the terminal from the stored records: one table per
(dataset, architecture, track, device), fitted to the terminal, or as markdown or CSV."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

import pandas as pd

from benches.errors import UserError
from benches.records import load_records
from benches.report.frames import GROUP, contended, contention, records_frame, seed_summary
from benches.report.significance import GROUP_NOTE, Ranking, rank_configurations
from benches.report.tables import PROBLEM_HEADERS, TEXT_COLUMNS, median_test_samples, problems
from benches.report.terminal import Column, drop_to_fit, fit, render, terminal_width, wrap
from benches.schema import CONTENDED_LOAD, LEADERBOARD, METRICS, accuracy_digits, missing

FORMATS = ("plain", "markdown", "csv")
TABLE_KEYS = ["dataset", "architecture", "track", "device"]
DESCRIPTORS = {k: TEXT_COLUMNS[k][0] for k in
               ("params", "variant", "library", "backend", "precision", "compile")}
"""Row columns besides method and T (key → title); said once above a table, in lower case,
when constant over it."""
TOP1 = "test_top1"


@dataclass
class Board:
    """One leaderboard: title, what all its rows share, its columns and where T changes."""

    title: str
    fixed: list[str]
    columns: list[Column]
    breaks: tuple[int, ...] = field(default_factory=tuple)
    notes: list[str] = field(default_factory=list)  # the significance of its Group column


def _text(key: str, value: object) -> str:
    if key == "compile":
        return "yes" if value else ""
    return "" if missing(value) else str(value)


def top1_digits(block: pd.DataFrame) -> int:
    """Decimals of Top-1 supported by the table's median test-set size."""
    return accuracy_digits(median_test_samples(block), METRICS[TOP1].digits)


def _metric_title(key: str) -> str:
    m = METRICS[key]
    return f"{m.title} {m.arrow}".rstrip()


def _sorted(block: pd.DataFrame) -> pd.DataFrame:
    if TOP1 in block:
        return block.sort_values(["timesteps", TOP1], ascending=[True, False],
                                 na_position="last", kind="stable")
    return block.sort_values("timesteps", kind="stable")


def board(block: pd.DataFrame, frame: pd.DataFrame | None = None) -> Board:
    """The leaderboard of one table's seed-summary rows: sorted by T, then Top-1 descending;
    constant row columns go to ``fixed``; metric columns droppable, Top-1 last. With the
    records' ``frame``, a Group column says which rows differ in top-1 over seeds."""
    key = block.iloc[0]
    title = f"{key['dataset']} · {key['architecture']} · {key['track']} recipe · {key['device']}"
    block = _sorted(block)
    ranking = significance(block, frame) if frame is not None and TOP1 in block else None
    letters, notes = (ranking.letters, ranking.notes) if ranking else ([], [])
    fixed: list[str] = []
    columns = [Column("Method", "Method", [str(v) for v in block["method"]])]
    for k, heading in DESCRIPTORS.items():
        cells = [_text(k, v) for v in block[k]]
        if len(set(cells)) == 1:
            if cells[0]:
                name = heading.lower()
                fixed.append(name if k == "compile" else f"{name} {cells[0]}")
            continue
        columns.append(Column(heading, heading, cells))
    columns.append(Column("T", "T", [str(int(t)) for t in block["timesteps"]], numeric=True))
    if notes:
        columns.append(Column("Group", "Group", letters, drop_rank=0))
    shown = [m for m in LEADERBOARD if m in block and block[m].notna().any()]
    for rank, m in enumerate(shown):
        digits = top1_digits(block) if m == TOP1 else None
        std = block[f"{m}_std"] if m == TOP1 else [None] * len(block)
        cells = [METRICS[m].format(v, s if n > 1 else None, digits)
                 for v, s, n in zip(block[m], std, block["seeds"], strict=True)]
        columns.append(Column(METRICS[m].name, _metric_title(m), cells, numeric=True,
                              drop_rank=None if m == TOP1 else rank + 1))
    seeds = [str(int(n)) for n in block["seeds"]]
    if len(set(seeds)) == 1:
        fixed.append(f"seeds {seeds[0]}")
    else:
        columns.append(Column("Seeds", "Seeds", seeds, numeric=True, drop_rank=0))
    ts = list(block["timesteps"])
    breaks = tuple(i for i in range(1, len(ts)) if ts[i] != ts[i - 1])
    return Board(title, fixed, columns, breaks, notes)


def significance(block: pd.DataFrame, frame: pd.DataFrame) -> Ranking:
    """Group letters for the (sorted) summary rows of ``block`` from the per-seed top-1 of the
    records in ``frame``, and the sentences per configuration (:mod:`.significance`)."""
    ok = frame[(frame["status"] == "ok") & frame[TOP1].notna()]
    seeds: dict[tuple, dict[int, float]] = {}
    for _, r in ok.iterrows():
        seeds.setdefault(tuple(str(r[k]) for k in GROUP), {})[int(r["seed"])] = float(r[TOP1])
    rows = [({k: r[k] for k in GROUP}, seeds.get(tuple(str(r[k]) for k in GROUP), {}))
            for _, r in block.iterrows()]
    return rank_configurations(rows)


def board_text(b: Board, fmt: str, width: int | None) -> str:
    """One leaderboard as ``plain`` text fitted to ``width`` or as a ``markdown`` table."""
    fixed = " · ".join(b.fixed)
    if fmt == "markdown":  # with --width: whole columns left out to fit, never wrapped
        kept, left_out = drop_to_fit(b.columns, width, b.breaks, "pipe") if width \
            else (b.columns, [])
        table = render(kept, "pipe", b.breaks)
        note = f"(left out to fit {width} columns: {', '.join(left_out)})" if left_out else ""
        notes = "\n".join(_significance_lines(b))
        return "\n\n".join(p for p in (f"## {b.title}", fixed, note, table, notes) if p)
    assert width is not None
    table, left_out = fit(b.columns, width, b.breaks)
    note = (f"(left out to fit {width} columns: {', '.join(left_out)}; "
            "use --width or --format csv)") if left_out else ""
    head = [wrap(line, width) for line in (b.title, fixed, note) if line]
    return "\n".join([*head, table, *(wrap(n, width) for n in _significance_lines(b))])


def _significance_lines(b: Board) -> list[str]:
    if not b.notes:
        return []
    return [GROUP_NOTE, *b.notes]


def problems_text(issues: list[list[str]], fmt: str, width: int | None) -> str:
    """The records that are not ok: a pipe table in ``markdown``; in ``plain``, fitted to
    ``width`` with the columns they share said once above."""
    if fmt == "markdown":
        return "## Not ok\n\n" + render(_problem_columns(issues), "pipe")
    assert width is not None
    columns, fixed = [], []
    for c in _problem_columns(issues):
        if c.name in ("Mode", "Dataset", "Library") and len(set(c.cells)) == 1:
            fixed.append(f"{c.name.lower()} {c.cells[0]}")
        else:
            columns.append(c)
    head = ["Not ok", wrap(" · ".join(fixed), width)] if fixed else ["Not ok"]
    return "\n".join([*head, fit(columns, width)[0]])


def _problem_columns(issues: list[list[str]]) -> list[Column]:
    return [Column(h, h, [row[i] for row in issues], numeric=h in ("T", "Seed"))
            for i, h in enumerate(PROBLEM_HEADERS)]


def leaderboard_csv(summary: pd.DataFrame) -> str:
    """Every leaderboard row with every column: metrics in display units, ``<title> mean``
    and ``<title> std`` (empty for one seed)."""
    keys = [*TABLE_KEYS, "method", *DESCRIPTORS, "timesteps", "seeds"]
    shown = [m for m in LEADERBOARD if m in summary and summary[m].notna().any()]
    if not summary.empty:
        summary = summary.sort_values(TABLE_KEYS, kind="stable")
        summary = pd.concat([_sorted(g) for _, g in summary.groupby(TABLE_KEYS, sort=False)])
    out = summary.reindex(columns=keys).copy()
    for m in shown:
        scale = METRICS[m].scale
        out[f"{METRICS[m].title} mean"] = summary[m] * scale
        out[f"{METRICS[m].title} std"] = summary[f"{m}_std"] * scale
    return out.to_csv(index=False, float_format="%.12g", lineterminator="\n").rstrip("\n")


def show(out_dir: str, dataset: str | None = None, fmt: str = "plain",
         width: str | int | None = None) -> str:
    """The leaderboards of the records in ``out_dir`` in ``fmt`` (plain: fitted to ``width``,
    default the terminal's), then the records that are not ok and those unreadable."""
    if fmt not in FORMATS:
        raise UserError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    limit = terminal_width(width) if fmt == "plain" or width is not None else None
    records, bad = load_records(out_dir)
    if not records:
        raise UserError(f"no records in {out_dir}; run `python -m benches run --matrix smoke` "
                        "first or pass --results DIR")
    frame = records_frame(records)
    if dataset:
        known = sorted(set(frame["dataset"]))
        if dataset not in known:
            raise UserError(f"no records for dataset {dataset!r} in {out_dir} "
                            f"(there are: {', '.join(known)})")
        frame = frame[frame["dataset"] == dataset]
    summary = seed_summary(frame)
    train = summary[summary["mode"] == "train"]
    issues = problems(frame)
    if train.empty and not issues and not bad:
        raise UserError(f"no training records in {out_dir}; --efficiency and --alignment show "
                        "the others")
    if fmt == "csv":
        if issues or bad:
            print(f"left out of the CSV: {len(issues)} records not ok, {len(bad)} unreadable "
                  "(`benches show` lists them)", file=sys.stderr)
        return leaderboard_csv(train)
    plain = fmt == "plain"
    parts = [board_text(board(block, frame), fmt, limit)
             for _, block in train.groupby(TABLE_KEYS, sort=True)]
    busy = frame[(frame["status"] == "ok") & contended(frame)]
    if not busy.empty:
        lines = [f"{r['dataset']} {r['method']} T={r['timesteps']} seed {r['seed']}: "
                 f"{contention(r)}" for _, r in busy.iterrows()]
        head = (f"Timings taken beside other work (load average above {CONTENDED_LOAD:g} × the "
                "CPUs, or other cells running; their times are not comparable)")
        parts.append((f"{head}\n" if plain else f"## {head}\n\n")
                     + "\n".join(wrap(x, limit) if plain else f"- {x}" for x in lines))
    if issues:
        parts.append(problems_text(issues, fmt, limit))
    if bad:
        lines = [wrap(b, limit) if plain else f"- {b}" for b in bad]
        parts.append(("Unreadable records\n" if plain else "## Unreadable records\n\n")
                     + "\n".join(lines))
    return "\n\n".join(parts)
