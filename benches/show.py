"""``benches show``: terminal tables (tabulate) from the stored records."""

from __future__ import annotations

from tabulate import tabulate

from .aggregate import records_frame, seed_summary
from .errors import UserError
from .records import load_records
from .tables import PROBLEM_HEADERS, leaderboards, problems


def show(out_dir: str, dataset: str | None = None, fmt: str = "github") -> str:
    records, bad = load_records(out_dir)
    if not records:
        raise UserError(f"no records in {out_dir}; run `python -m benches run --matrix smoke` "
                        "first or pass --out DIR")
    frame = records_frame(records)
    if dataset:
        frame = frame[frame["dataset"] == dataset]
        if frame.empty:
            raise UserError(f"no records for dataset {dataset!r} in {out_dir}")
    parts = []
    for table in leaderboards(seed_summary(frame)):
        text = tabulate(table.rows, table.headers, tablefmt=fmt, disable_numparse=True)
        parts.append(f"## {table.title}\n{text}")
    issues = problems(frame)
    if issues:
        parts.append("## Not ok\n" + tabulate(issues, PROBLEM_HEADERS, tablefmt=fmt))
    if bad:
        parts.append("## Unreadable records\n" + "\n".join(bad))
    return "\n\n".join(parts)
