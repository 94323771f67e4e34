"""``benches site``: render every record into one self-contained static ``index.html``.

Columns come from the metric schema; every string taken from a record is HTML-escaped by
jinja2's autoescaping. The page needs no network (inline CSS, no scripts or fonts).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from importlib import resources
from pathlib import Path

import jinja2

from .aggregate import env_id, records_frame, seed_summary
from .atomic import write_atomically
from .errors import UserError
from .records import load_records
from .schema import METRICS
from .tables import PROBLEM_HEADERS, leaderboards, problems


def published() -> list[dict]:
    """Published results shipped with the suite (``benches/data/reported.csv``)."""
    text = (resources.files("benches") / "data" / "reported.csv").read_text()
    return list(csv.DictReader(io.StringIO(text)))


def environments(records: list[dict]) -> list[dict]:
    seen: dict[str, dict] = {}
    for r in records:
        if r["env"]:
            seen.setdefault(env_id(r["env"]), r["env"])
    return [
        {"id": k, "device": e.get("device_name"), "cpu": e.get("cpu_model"),
         "threads": e.get("torch_threads"), "cpus": e.get("cpu_count"),
         "python": e.get("python"),
         "versions": ", ".join(f"{n} {v}" for n, v in (e.get("versions") or {}).items() if v),
         "cuda": e.get("cuda"), "cudnn": e.get("cudnn"), "driver": e.get("cuda_driver"),
         "commit": (e.get("git_commit") or "")[:10] + (" (dirty)" if e.get("git_dirty") else "")}
        for k, e in sorted(seen.items())
    ]


def render_site(results_dir: str, out_dir: str, extra_sections: list[dict] | None = None) -> Path:
    """Write ``out_dir/index.html`` from the records in ``results_dir``; returns its path."""
    records, unreadable = load_records(results_dir)
    if not records:
        raise UserError(f"no records in {results_dir}; run a matrix first "
                        "(python -m benches run --matrix smoke)")
    frame = records_frame(records)
    summary = seed_summary(frame)
    datasets = sorted(set(frame["dataset"]))
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("benches", "templates"), autoescape=True,
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
    )
    html = env.get_template("index.html.j2").render(
        generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        n_records=len(records),
        counts=frame["status"].value_counts().to_dict(),
        matrices=sorted({m for m in frame["matrix"] if isinstance(m, str) and m}),
        leaderboards=leaderboards(summary),
        published=[p for p in published() if p["dataset"] in datasets] or published(),
        published_match=any(p["dataset"] in datasets for p in published()),
        problem_headers=PROBLEM_HEADERS,
        problems=problems(frame),
        environments=environments(records),
        unreadable=unreadable,
        metrics=[m for m in METRICS.values() if frame[m.key].notna().any()],
        sections=extra_sections or [],
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return write_atomically(out / "index.html", lambda fh: fh.write(html.encode("utf-8")),
                            binary=True)
