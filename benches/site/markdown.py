"""``benches site --markdown DIR``: a README-ready summary — the overview tables in Markdown
and the headline plots as SVG files next to it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from tabulate import tabulate

from benches.atomic import write_atomically
from benches.report.significance import GROUP_NOTE
from benches.schema import METRICS
from benches.site.leaderboard import PERCENT

if TYPE_CHECKING:
    from benches.site.content import SiteContent


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell (pipes escaped, markup neutralised)."""
    return (text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;")
            .replace(">", "&gt;"))


def summary_markdown(content: SiteContent, figure_files: dict[str, str]) -> str:
    """The overview tables and links to the plot files."""
    lines = [f"Measured from {content.n_records} records "
             f"({', '.join(f'{n} {s}' for s, n in sorted(content.counts.items()))}).", ""]
    for ov in content.overviews:
        lines.append(f"### {_cell(ov.dataset)} — {ov.track} recipe: each method's best "
                     "configuration")
        headers = ["Method", "Architecture", "T", "Library",
                   *[f"{METRICS[m].title} {METRICS[m].arrow}".strip() for m in ov.metrics], "n"]
        rows = []
        for r in ov.rows:
            cells = [_cell(r.method), _cell(str(r.config["architecture"])),
                     str(r.config["timesteps"]), _cell(str(r.config["library"]))]
            for m in ov.metrics:
                v = r.values.get(m)
                text = v.text if v else "–"
                cells.append({"best": f"**{text}**", "tie": f"{text} ≈"}.get(
                    v.mark if v else "", text))
            cells.append(str(r.seeds))
            rows.append(cells)
        lines += [tabulate(rows, headers, tablefmt="github", disable_numparse=True,
                           colalign=["left"] * 4 + ["right"] * (len(headers) - 4)), ""]
    lines.append(f"Bold: the best mean of the column; ≈: its {PERCENT} interval over seeds "
                 "overlaps the best one's.")
    lines.append("")
    lines += significance_markdown(content)
    for plot_id, name in figure_files.items():
        plot = next(p for p in content.headline_plots if p.id == plot_id)
        lines += [f"![{_cell(plot.title)}]({name})", ""]
    return "\n".join(lines)


def significance_markdown(content: SiteContent) -> list[str]:
    """Per leaderboard with significance groups: method, T, group and top-1, then the
    sentences of :mod:`benches.site.ranks`."""
    lines: list[str] = []
    for page in content.pages:
        board = page.context.get("board")
        if board is None or not board.significance:
            continue
        lines.append(f"### {_cell(board.title)}: which differences are real")
        top1 = next(i for i, c in enumerate(board.metric_columns) if c.key == "test_top1")
        rows = [[_cell(r.texts["method"]), str(r.config["timesteps"]), r.texts["group"],
                 r.values[top1].text] for r in board.rows]
        lines += [tabulate(rows, ["Method", "T", "Group", board.metric_columns[top1].title],
                           tablefmt="github", disable_numparse=True,
                           colalign=["left", "right", "left", "right"]), ""]
        lines += [" ".join([GROUP_NOTE, *board.significance]), ""]
    return lines


def write_markdown(content: SiteContent, out: Path) -> Path:
    """Write ``summary.md`` and one SVG per headline plot into ``out``; returns the .md path."""
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}
    for plot in content.headline_plots:
        name = f"{plot.id}.svg"
        _write_bytes(out / name, ('<?xml version="1.0" encoding="utf-8"?>\n'
                                  + plot.svg).encode())
        files[plot.id] = name
    text = summary_markdown(content, files)
    return _write_bytes(out / "summary.md", text.encode())


def _write_bytes(path: Path, data: bytes) -> Path:
    return write_atomically(path, lambda fh: fh.write(data), binary=True)
