"""``benches site``: render the records into a static site, one folder, viewable from
``file://`` with no network request (inline CSS, inline script, inline SVG plots).

Pages: overview, one leaderboard per dataset × architecture, efficiency and alignment (when
such records exist), reproduction against published numbers, methods, environment and
reproduction. Every table and plot takes its columns and axes from the metric schema, and
every string from a record is escaped (jinja2 autoescaping; matplotlib escapes SVG text).
The site reads nothing but the records (and the published numbers shipped with the suite): it
may import the kernel and ``report``, never torch, ``methods`` or ``datasets``.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from importlib import resources
from pathlib import Path

import jinja2
import pandas as pd

from benches.atomic import write_atomically
from benches.errors import UserError
from benches.records import Record, load_records
from benches.report.frames import records_frame, seed_summary
from benches.schema import METRICS
from benches.site.content import SiteContent, build_content
from benches.site.leaderboard import slugify
from benches.site.markdown import write_markdown

__all__ = ["render_site", "SiteContent"]


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("benches.site", "templates"), autoescape=True,
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
    )
    static = resources.files("benches.site") / "static"
    env.globals["css"] = (static / "site.css").read_text()
    env.globals["script"] = (static / "site.js").read_text()
    env.globals["metric_info"] = METRICS
    env.filters["slugify"] = slugify
    return env


def _write_text(path: Path, text: str) -> None:
    write_atomically(path, lambda fh: fh.write(text.encode("utf-8")), binary=True)


def render_site(results_dir: str, out_dir: str, markdown_dir: str | None = None) -> Path:
    """Write the site for the records in ``results_dir`` into ``out_dir``; returns the path of
    its ``index.html``. With ``markdown_dir``, also write a README-ready summary there."""
    records, unreadable = load_records(results_dir)
    if not records:
        raise UserError(f"no records in {results_dir}; run a matrix first "
                        "(python -m benches run --matrix smoke)")
    frame = records_frame(records)
    content = build_content(records, unreadable, frame, seed_summary(frame), results_dir,
                            out_dir)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _write_downloads(out, records, frame, content)
    env = _environment()
    generated = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    for page in content.pages:
        html = env.get_template(page.template).render(
            page=page, site=content, generated=generated, **page.context)
        _write_text(out / page.file, html)
    if markdown_dir is not None:
        write_markdown(content, Path(markdown_dir))
    return out / "index.html"


def _write_downloads(out: Path, records: list[Record], frame: pd.DataFrame,
                     content: SiteContent) -> None:
    """Raw records (one JSON file each and all in one), and the tables as CSV."""
    raw = out / "records"
    if raw.exists():
        shutil.rmtree(raw)
    raw.mkdir()
    for r in records:
        (raw / f"{r['key']}.json").write_text(json.dumps(r, indent=1, sort_keys=True))
    data = out / "data"
    data.mkdir(exist_ok=True)
    _write_text(data / "records.json", json.dumps(records, sort_keys=True))
    _write_text(data / "records.csv", frame.to_csv(index=False))
    for name, table in content.csv_tables.items():
        _write_text(data / name, table.to_csv(index=False))
