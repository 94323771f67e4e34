"""What each page of the site shows, built from the records alone."""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from benches.records import ABOUT_DEFAULTS, Record
from benches.report import scaling as report
from benches.report.frames import GROUP, SETTING, env_id, method_label
from benches.report.recipe_view import format_value, recipe_rows
from benches.report.scaling import CLAIM_OF, ONE_ABOVE, ZERO_BELOW
from benches.report.tables import PROBLEM_HEADERS, problems
from benches.schema import CONTENDED_LOAD, LEADERBOARD, METRICS, number, present
from benches.site import plots
from benches.site.leaderboard import (
    INTERVAL_NOTE,
    TEXT_COLUMNS,
    Board,
    Value,
    board_csv,
    boards,
    mark_best,
    slugify,
)
from benches.site.ranks import PAIR_HEADERS
from benches.site.reproduction import reproduction

SCALING = ("time_per_iter_s", *CLAIM_OF)
"""Metrics plotted against T: the time per iteration and those judged against a claim."""


@dataclass
class Page:
    file: str
    title: str
    template: str
    context: dict[str, Any] = field(default_factory=dict)
    toc: list[tuple[str, str]] = field(default_factory=list)  # (anchor, heading)


@dataclass
class OverviewRow:
    method: str
    board: Board
    config: dict[str, Any]
    values: dict[str, Value]
    seeds: int

    @property
    def score(self) -> float:
        """Mean top-1 in % (−∞ when the row has none): what picks and orders the rows."""
        top1 = self.values.get("test_top1")
        return top1.mean if top1 is not None and top1.mean is not None else float("-inf")


@dataclass
class Overview:
    dataset: str
    description: str
    track: str
    metrics: list[str]
    rows: list[OverviewRow]


@dataclass
class SiteContent:
    pages: list[Page]
    n_records: int
    counts: dict[str, int]
    overviews: list[Overview]
    headline_plots: list[plots.Plot]
    csv_tables: dict[str, pd.DataFrame]
    commands: list[str]

    @property
    def nav(self) -> list[tuple[str, str]]:
        return [(p.file, p.title) for p in self.pages]


def _abouts(records: list[Record], part: str) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for r in sorted(records, key=lambda r: r["started_at"] or ""):
        about = r["about"][part]
        if about:
            out[about["name"]] = about
    return out


def _label(config: dict[str, Any], varying: list[str]) -> str:
    label = method_label(config["method"], config.get("params"), config.get("variant"))
    extra = [str(config[k]) for k in ("library", "track", "backend", "precision", "device")
             if k in varying]
    if "compile" in varying and config.get("compile"):
        extra.append("compiled")
    return label + (f" [{', '.join(extra)}]" if extra else "")


def _series(block: pd.DataFrame, claims: dict[str, dict], metrics: tuple[str, ...]
            ) -> list[plots.Series]:
    """One series per configuration (all GROUP fields but T) of a seed summary block."""
    keys = [k for k in GROUP if k != "timesteps"]
    varying = [k for k in keys if block[k].astype(str).nunique() > 1]
    out = []
    for _, part in block.groupby(keys, dropna=False, sort=True):
        part = part.sort_values("timesteps")
        config = part.iloc[0].to_dict()
        claim = claims[config["method"]]["complexity"] if config["method"] in claims else {}
        out.append(plots.Series(
            _label(config, varying), str(config["method"]),
            [int(t) for t in part["timesteps"]],
            {m: [present(v) for v in part[m]] for m in metrics if m in part},
            {m: claim[c] for m, c in CLAIM_OF.items() if c in claim}))
    return out


def _points(board: Board) -> list[dict]:
    varying = [c.key for c in board.text_columns]
    points = []
    for row in board.rows:
        item = {"label": _label(row.config, varying), "method": str(row.config["method"]),
                "T": int(row.config["timesteps"])}
        for col, value in zip(board.metric_columns, row.values, strict=True):
            item[col.key] = value.mean
        points.append(item)
    return points


def _curves(board: Board, by_key: dict[str, Record]) -> dict[int, list[dict]]:
    varying = [c.key for c in board.text_columns if c.key != "timesteps"]
    groups: dict[int, list[dict]] = {}
    for row in board.rows:
        runs = [by_key[k]["metrics"] for _, k in row.records if k in by_key]
        accs = [m.get("test_top1_curve") or [] for m in runs]
        losses = [m.get("train_loss_curve") or [] for m in runs]
        n = min((len(a) for a in accs), default=0)
        if n == 0:
            continue
        mean = lambda series, i: sum(s[i] for s in series) / len(series)  # noqa: E731
        groups.setdefault(int(row.config["timesteps"]), []).append({
            "label": _label(row.config, varying), "method": str(row.config["method"]),
            "acc": [mean(accs, i) for i in range(n)],
            "loss": [mean(losses, i) for i in range(min(len(x) for x in losses))]})
    return groups


def findings(series: list[plots.Series], where: str) -> list[str]:
    """Sentences that say, from fitted exponents, which costs grow with T and which stay flat."""
    out = []
    for metric in ("activation_bytes", "backward_s", "time_per_iter_s"):
        noun = METRICS[metric].name
        grows: list[str] = []
        flat: list[str] = []
        between: list[str] = []
        for s in series:
            ys = s.values.get(metric) or [None] * len(s.ts)  # records without that metric
            fit = report.fit_scaling(s.ts, ys)
            if fit is None:
                continue
            item = f"{s.label} (b = {number(fit.exponent, 2)})"
            (grows if fit.exponent > ONE_ABOVE else flat if fit.exponent < ZERO_BELOW
             else between).append(item)
        if not grows and not flat and not between:
            continue
        ts = sorted({t for s in series for t in s.ts})
        parts = [f"{noun} on {where} over T = {', '.join(map(str, ts))}, fitted as T^b:"]
        if grows:
            parts.append(f"grows about linearly with T for {', '.join(grows)};")
        if between:
            parts.append(f"grows sublinearly for {', '.join(between)};")
        if flat:
            parts.append(f"stays flat for {', '.join(flat)}.")
        out.append(" ".join(parts).rstrip(";") + ("" if parts[-1].endswith(".") else "."))
    return out


def overview_tables(all_boards: list[Board], datasets: dict[str, dict]) -> list[Overview]:
    """Per dataset and track: each method's best configuration by mean top-1."""
    out = []
    for dataset in sorted({b.dataset for b in all_boards}):
        mine = [b for b in all_boards if b.dataset == dataset]
        metrics = [m for m in LEADERBOARD
                   if any(m in [c.key for c in b.metric_columns] for b in mine)]
        tracks = sorted({str(r.config["track"]) for b in mine for r in b.rows})
        for track in tracks:
            best: dict[str, OverviewRow] = {}
            for b in mine:
                keys = [c.key for c in b.metric_columns]
                for row in b.rows:
                    if str(row.config["track"]) != track:
                        continue
                    name = _label(row.config, [])
                    candidate = OverviewRow(name, b, row.config, {
                        k: dataclasses.replace(v)
                        for k, v in zip(keys, row.values, strict=True)}, row.seeds)
                    if name not in best or candidate.score > best[name].score:
                        best[name] = candidate
            rows = sorted(best.values(), key=lambda r: -r.score)
            for m in metrics:
                mark_best([r.values[m] for r in rows if m in r.values], METRICS[m].better)
            about = datasets.get(dataset, {})
            out.append(Overview(dataset, about.get("description", ""), track, metrics, rows))
    return out


def environments(records: list[Record]) -> list[dict]:
    seen: dict[str, dict] = {}
    for r in records:
        if r["env"]:
            seen.setdefault(env_id(r["env"]), r["env"])
    return [
        {"id": k, "device": e.get("device_name"), "cpu": e.get("cpu_model"),
         "threads": e.get("torch_threads"), "cpus": e.get("cpu_count"),
         "python": e.get("python"), "platform": e.get("platform"),
         "versions": ", ".join(f"{n} {v}" for n, v in e.get("versions", {}).items() if v),
         "cuda": e.get("cuda"), "cudnn": e.get("cudnn"), "driver": e.get("cuda_driver"),
         "commit": (e.get("git_commit") or "")[:10] + (" (dirty)" if e.get("git_dirty") else "")}
        for k, e in sorted(seen.items())
    ]


def _common_only(board: Board, methods: dict[str, dict]) -> list[str]:
    """On a board with paper-track rows: the methods (of the records) that published nothing
    on its dataset, which therefore run on the common track only."""
    if "track" not in board.frame or not (board.frame["track"] == "paper").any():
        return []
    return sorted(name for name, about in methods.items()
                  if "published" in about and board.dataset not in about["published"])


def _paper_setups(records: list[Record]) -> dict[str, dict[str, dict]]:
    """Method → dataset → its published setup there, for the datasets of the records (each
    record of a method on a dataset with a published setup keeps it)."""
    out: dict[str, dict[str, dict]] = {}
    for r in records:
        setup = r["about"]["paper_setup"]
        if isinstance(setup, dict) and "values" in setup:
            out.setdefault(setup["method"], {}).setdefault(setup["dataset"], setup)
    return out


def _published(about: dict[str, Any]) -> str:
    """``cifar10 (vgg11 T=6), …``: where the method published, from its declaration."""
    published = about["published"]
    return ", ".join(f"{d} ({format_value('rows', rows)})" for d, rows in published.items())


def _common_recipe(methods: dict[str, dict]) -> dict[str, Any]:
    """The common-track recipe most methods share (a method's forced values aside)."""
    recipes = [m["recipes"].get("common", {}) for m in methods.values()]
    keys = sorted({k for r in recipes for k in r})
    return {k: Counter(repr(r.get(k)) for r in recipes).most_common(1)[0][0] for k in keys}


def _diff(recipe: dict[str, Any], base: dict[str, Any], as_repr: bool = False) -> str:
    items = []
    for k, v in sorted(recipe.items()):
        if k == "track":
            continue
        b = base.get(k)
        if (repr(v) if as_repr else v) != b:
            items.append(f"{k}={v}")
    return ", ".join(items) or "as the common recipe"


def build_content(records: list[Record], unreadable: list[str], frame: pd.DataFrame,
                  summary: pd.DataFrame, results_dir: str, out_dir: str) -> SiteContent:
    """Everything the templates show: one builder per page."""
    methods = _abouts(records, "method")
    datasets = _abouts(records, "dataset")
    colors = plots.method_colors(sorted(set(frame["method"])))
    all_boards = boards(frame, summary)
    csv_tables: dict[str, pd.DataFrame] = {}
    board_pages, headline = _board_pages(all_boards, records, methods, datasets, colors,
                                         csv_tables)
    overviews = overview_tables(all_boards, datasets)
    csv_tables.update(_overview_csv(overviews))
    eff_pages = [page for page in (_efficiency_page(records, colors),
                                   _alignment_page(records, colors)) if page is not None]
    method_rows = _method_rows(methods, frame, records)
    commands = sorted({c for c in (r["command"] for r in records) if c})
    pages = [_index_page(overviews, board_pages, headline, method_rows, datasets, frame),
             *board_pages, *eff_pages, _reproduction_page(summary),
             Page("methods.html", "Methods", "methods.html.j2",
                  {"methods": method_rows, "common": _common_recipe(methods) if methods else {}},
                  [(m["anchor"], m["name"]) for m in method_rows]),
             _environment_page(records, unreadable, frame, commands, results_dir, out_dir,
                               sorted(csv_tables))]
    statuses = Counter(r["status"] for r in records)
    return SiteContent(pages, len(records), dict(statuses), overviews, headline, csv_tables,
                       commands)


def _board_pages(all_boards: list[Board], records: list[Record], methods: dict[str, dict],
                 datasets: dict[str, dict], colors: dict[str, str],
                 csv_tables: dict[str, pd.DataFrame]) -> tuple[list[Page], list[plots.Plot]]:
    """One page per leaderboard (its table's CSV added to ``csv_tables``), and the headline
    plots (each board's first figure)."""
    by_key = {r["key"]: r for r in records}
    used: Counter[str] = Counter()
    pages, headline = [], []
    for board in all_boards:
        used[board.slug] += 1
        slug = board.slug if used[board.slug] == 1 else f"{board.slug}-{used[board.slug]}"
        board.file = f"board-{slug}.html"
        csv_tables[f"board-{slug}.csv"] = board_csv(board)
        series = _series(board.frame, methods, SCALING)
        figures = _board_figures(board, slug, series, by_key, colors)
        if figures:
            headline.append(figures[0])
        toc = [("table", "Leaderboard"), *[(f.id, f.heading) for f in figures],
               ("metrics", "Metrics")]
        pages.append(Page(
            board.file, board.title, "board.html.j2",
            {"board": board, "figures": figures, "csv": f"data/board-{slug}.csv",
             "interval_note": INTERVAL_NOTE,
             "legend_metrics": [METRICS[c.key] for c in board.metric_columns],
             "contended_load": f"{CONTENDED_LOAD:g}",
             "dataset_about": datasets.get(board.dataset, ABOUT_DEFAULTS["dataset"]),
             "findings": findings(series, board.title),
             "common_only": _common_only(board, methods),
             "filter_titles": {k: TEXT_COLUMNS[k][0] for k in TEXT_COLUMNS},
             "pair_headers": PAIR_HEADERS}, toc))
    return pages, headline


def _board_figures(board: Board, slug: str, series: list[plots.Series],
                   by_key: dict[str, Record], colors: dict[str, str]) -> list[plots.Plot]:
    """A board's plots: accuracy against each cost, cost against T, training curves."""
    points = _points(board)
    return [p for p in (
        plots.tradeoff(f"{slug}-mem", f"{board.title}: accuracy vs activation memory",
                       points, "activation_bytes", "test_top1", colors),
        plots.tradeoff(f"{slug}-gpumem", f"{board.title}: accuracy vs GPU memory",
                       points, "cuda_max_allocated_bytes", "test_top1", colors),
        plots.tradeoff(f"{slug}-time", f"{board.title}: accuracy vs time per iteration",
                       points, "time_per_iter_s", "test_top1", colors),
        plots.tradeoff(f"{slug}-energy", f"{board.title}: accuracy vs inference energy",
                       points, "energy_uj", "test_top1", colors),
        plots.scaling(f"{slug}-scaling", f"{board.title}: cost vs T", series, SCALING, colors),
        plots.curves(f"{slug}-curves", f"{board.title}: training curves",
                     _curves(board, by_key), colors),
    ) if p is not None]


def _overview_csv(overviews: list[Any]) -> dict[str, pd.DataFrame]:
    """``overview.csv``: every overview row, mean and std apart."""
    rows = []
    for ov in overviews:
        for r in ov.rows:
            item = {"dataset": ov.dataset, "track": ov.track, "method": r.method,
                    "architecture": r.config["architecture"], "T": r.config["timesteps"],
                    "library": r.config["library"], "seeds": r.seeds}
            for m in ov.metrics:
                v = r.values.get(m)
                item[f"{METRICS[m].title} mean"] = v.mean if v else None
                item[f"{METRICS[m].title} std"] = v.std if v else None
            rows.append(item)
    if not overviews:
        return {}
    frames = [pd.DataFrame(rows)]
    return {"overview.csv": pd.concat([pd.DataFrame(), *frames], ignore_index=True)}


def _efficiency_page(records: list[Record], colors: dict[str, str]) -> Page | None:
    """Cost against T per setting, with the fits and verdicts (None without such records)."""
    eff_frame = report.ok_frame(records, "efficiency")
    if eff_frame.empty:
        return None
    rows = report.efficiency_rows(eff_frame)
    sections: list[dict[str, Any]] = []
    for keys, group in pd.DataFrame(rows).groupby(SETTING, sort=True):
        setting = " · ".join(str(k) for k in keys)
        series = []
        for _, r in group.iterrows():
            claim = r["claimed"]  # the method's declared complexity, or None
            series.append(plots.Series(
                str(r["method"]), str(r["base_method"]), list(r["T"]),
                {m: r[m] for m in SCALING},
                {m: claim[c] for m, c in CLAIM_OF.items()} if claim else {}))
        fig = plots.scaling(f"eff-{slugify(setting)}", f"Cost vs T — {setting}", series,
                            SCALING, colors)
        sections.append({"title": setting, "figure": fig, "findings": findings(series, setting)})
    return Page(
        "efficiency.html", "Efficiency", "efficiency.html.j2",
        {"sections": sections, "tables": report.efficiency_tables(rows),
         "note": f"One fixed batch per point, warm-up excluded. Exponents b of y = a·T^b are "
                 f"fitted in log–log; the verdict compares the exponents of activation memory "
                 f"and backward time with the claimed complexity (O(1) in T: b < "
                 f"{ZERO_BELOW}; O(T): b > {ONE_ABOVE})."},
        [(slugify(s["title"]), s["title"]) for s in sections] + [("tables", "Tables")])


def _alignment_page(records: list[Record], colors: dict[str, str]) -> Page | None:
    """Gradient cosine and norm ratio against BPTT over T (None without such records)."""
    al_frame = report.ok_frame(records, "alignment")
    if al_frame.empty:
        return None
    sections: list[dict[str, Any]] = []
    for keys, block in al_frame.groupby(SETTING, sort=True):
        setting = " · ".join(str(k) for k in keys)
        series = []
        for method, mblock in block.groupby("method", sort=True):
            means = mblock.groupby("timesteps")[["grad_cosine", "grad_norm_ratio"]].mean()
            series.append(plots.Series(
                str(method), str(mblock["base_method"].iloc[0]), [int(t) for t in means.index],
                {m: [present(v) for v in means[m]] for m in means}))
        figs = [f for f in (
            plots.over_t(f"cos-{slugify(setting)}", f"Gradient cosine with BPTT — {setting}",
                         series, "grad_cosine", colors, reference=1.0),
            plots.over_t(f"norm-{slugify(setting)}", f"Gradient norm ratio — {setting}",
                         series, "grad_norm_ratio", colors, log_y=True, reference=1.0),
        ) if f is not None]
        sections.append({"title": setting, "figures": figs})
    return Page(
        "alignment.html", "Gradient alignment", "alignment.html.j2",
        {"sections": sections, "tables": report.alignment_tables(al_frame),
         "note": "One batch, identical initial weights: the cosine between each method's "
                 "gradient and the exact BPTT gradient of the method's own objective through "
                 "its own forward (reset detached, as bptt), and the ratio of their norms."},
        [(slugify(s["title"]), s["title"]) for s in sections] + [("tables", "Tables")])


def _method_rows(methods: dict[str, dict], frame: pd.DataFrame,
                 records: list[Record]) -> list[dict[str, Any]]:
    """Per method: its declaration, its common recipe's differences, its published setups
    and the libraries it was measured on."""
    ok = frame[frame["status"] == "ok"]
    measured_libs = {m: sorted(set(b["library"])) for m, b in ok.groupby("method")}
    common = _common_recipe(methods) if methods else {}
    setups = _paper_setups(records)
    return [
        {"name": name, "anchor": slugify(name), "about": about,
         "common": _diff(about["recipes"].get("common", {}), common, as_repr=True),
         "published": _published(about), "declares_published": "published" in about,
         "setups": [{"dataset": d, "paper": s["paper"], "code": s["code"],
                     "rows": recipe_rows(s, about["recipes"].get("common"))}
                    for d, s in sorted(setups.get(name, {}).items())],
         "measured": measured_libs.get(name, [])}
        for name, about in sorted(methods.items())]


def _index_page(overviews: list[Any], board_pages: list[Page], headline: list[plots.Plot],
                method_rows: list[dict[str, Any]], datasets: dict[str, dict],
                frame: pd.DataFrame) -> Page:
    toc: list[tuple[str, str]] = [
        (slugify(f"{o.dataset}-{o.track}"), f"{o.dataset}, {o.track} recipe") for o in overviews]
    toc += [("plots", "Headline plots"), ("glossary", "What the names mean"),
            ("metrics", "Metrics")]
    return Page("index.html", "Overview", "index.html.j2", {
        "overviews": overviews, "board_pages": board_pages, "headline": headline,
        "methods": method_rows, "datasets": datasets,
        "legend_metrics": [METRICS[m] for m in METRICS if frame[m].notna().any()],
        "interval_note": INTERVAL_NOTE,
    }, toc)


def _reproduction_page(summary: pd.DataFrame) -> Page:
    matches, unmatched = reproduction(summary)
    return Page("reproduction.html", "Reproduction", "reproduction.html.j2",
                {"matches": matches, "unmatched": unmatched},
                [("measured", "Measured vs published"), ("unmeasured", "Not yet measured")])


def _environment_page(records: list[Record], unreadable: list[str], frame: pd.DataFrame,
                      commands: list[str], results_dir: str, out_dir: str,
                      downloads: list[str]) -> Page:
    started = sorted(s for s in (r["started_at"] for r in records) if s)
    return Page("environment.html", "Environment", "environment.html.j2", {
        "environments": environments(records), "commands": commands,
        "first": started[0] if started else None, "last": started[-1] if started else None,
        "results_dir": results_dir, "out_dir": out_dir,
        "problems": problems(frame), "problem_headers": PROBLEM_HEADERS,
        "unreadable": unreadable, "matrices": sorted({m for m in frame["matrix"]
                                                     if isinstance(m, str) and m}),
        "downloads": downloads,
    }, [("reproduce", "Reproduce this page"), ("machines", "Machines and versions"),
        ("downloads", "Downloads"), ("problems", "Failures and skips")])
