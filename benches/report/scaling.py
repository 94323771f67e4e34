"""Efficiency and alignment reports: scaling fits, complexity verdicts, tables.

Efficiency records (one per method × T) give, per method, the time per iteration, backward time
and activation memory at each T; :func:`fit_scaling` fits ``y = a·T^b`` (log-log exponent ``b``)
and ``y = c + d·T`` (linear slope ``d``). The verdict compares the fitted exponents of
activation memory and backward time with the complexity the method claims (``Method.complexity``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from tabulate import tabulate

from benches.errors import UserError
from benches.records import Record, load_records
from benches.report.frames import SETTING, method_label, records_frame
from benches.schema import ALIGNMENT, EFFICIENCY, METRICS, number, present

ZERO_BELOW = 0.35  # a claimed O(1)-in-T figure must fit an exponent below this
ONE_ABOVE = 0.65  # a claimed O(T) figure must fit an exponent above this
CLAIM_OF = {"backward_s": "backward", "activation_bytes": "memory"}
"""Metric → the figure of the method's claimed complexity (``about["complexity"]``) it is
judged against; the exponent is ``<figure>_exponent``."""


@dataclass
class Fit:
    exponent: float  # b in y = a·T^b (least squares in log-log)
    slope: float  # d in y = c + d·T


def fit_scaling(ts: Sequence[float], ys: Sequence[float | None]) -> Fit | None:
    """Power-law exponent and linear slope of ``ys`` against ``ts`` (≥ 2 positive points)."""
    pairs = [(t, v) for t, y in zip(ts, ys, strict=True) if (v := present(y)) is not None and v > 0]
    if len(pairs) < 2 or len({t for t, _ in pairs}) < 2:
        return None
    t, y = np.array(pairs, dtype=float).T
    exponent = float(np.polyfit(np.log(t), np.log(y), 1)[0])
    slope = float(np.polyfit(t, y, 1)[0])
    return Fit(exponent, slope)


def verdict(fit: Fit | None, claimed_exponent: int) -> str:
    """``ok`` if the fitted exponent matches the claimed O(1) or O(T), else ``differs``."""
    if fit is None:
        return "n/a"
    if claimed_exponent == 0:
        return "ok" if fit.exponent < ZERO_BELOW else "differs"
    return "ok" if fit.exponent > ONE_ABOVE else "differs"


def ok_frame(records: list[Record], mode: str) -> pd.DataFrame:
    """The :func:`~benches.report.frames.records_frame` rows of the ok records of ``mode``, with
    ``method`` labelled by its params and recipe variant (``base_method``: the name alone),
    ``compile`` as ``compiled``/``eager``, and the method's ``claimed`` complexity (from the
    record's ``about``; None where it does not say)."""
    chosen = [r for r in records if r["status"] == "ok" and r["cell"]["mode"] == mode]
    if not chosen:
        return pd.DataFrame()
    frame = records_frame(chosen)
    frame["base_method"] = frame["method"]
    frame["method"] = [method_label(*r) for r in
                       zip(frame["method"], frame["params"], frame["variant"], strict=True)]
    frame["compile"] = frame["compile"].map({True: "compiled", False: "eager"})
    frame["claimed"] = [r["about"]["method"].get("complexity")
                        for r in chosen]
    return frame


def efficiency_rows(frame: pd.DataFrame) -> list[dict]:
    """Per method: values at each T, fits and verdicts (medians over seeds)."""
    out = []
    keys_of_row = [*SETTING, "method", "base_method"]
    for keys, block in frame.groupby(keys_of_row, sort=True):
        by_t = block.groupby("timesteps")[list(EFFICIENCY)].median().sort_index()
        ts = [int(t) for t in by_t.index]
        row = dict(zip(keys_of_row, keys, strict=True))
        row["T"] = ts
        for metric in EFFICIENCY:
            values = [present(v) for v in by_t[metric]]
            row[metric] = values
            row[f"{metric}_fit"] = fit_scaling(ts, values)
        claims = [c for c in block["claimed"] if isinstance(c, dict)]
        claimed = claims[0] if claims else None  # the method's about["complexity"]
        row["claimed"] = claimed
        for metric, figure in CLAIM_OF.items():
            if claimed is not None and f"{figure}_exponent" in claimed:
                row[f"{figure}_verdict"] = verdict(row[f"{metric}_fit"],
                                                   claimed[f"{figure}_exponent"])
        out.append(row)
    return out


def _fit_text(fit: Fit | None, part: str, scale: float = 1.0, digits: int = 2) -> str:
    """A fit's ``exponent`` or ``slope`` (times ``scale``) at ``digits`` decimals."""
    return number(None if fit is None else getattr(fit, part) * scale, digits)


def _per_t(metric: str, values: list | None, ts: list[int], at: list[int],
           extra_digits: int = 0) -> list[str]:
    m = METRICS[metric]
    index = dict(zip(at, range(len(at)), strict=True))
    return [m.format(values[index[t]], digits=m.digits + extra_digits)
            if values is not None and t in index else "–" for t in ts]


def efficiency_tables(rows: list[dict]) -> list[dict]:
    """Tables (title, headers, rows) from :func:`efficiency_rows`: each metric of
    :data:`~benches.schema.EFFICIENCY` at each T, then the fits and verdicts."""
    if not rows:
        return []
    tables = []
    time, memory = METRICS["time_per_iter_s"], METRICS["activation_bytes"]
    for keys, group in pd.DataFrame(rows).groupby(SETTING, sort=True):
        setting = " / ".join(str(k) for k in keys)
        ts = sorted({t for r in group["T"] for t in r})
        t_headers = ["method"] + [f"T={t}" for t in ts]
        for metric in EFFICIENCY:
            if not any(v is not None for values in group[metric] for v in values):
                continue
            tables.append({
                "title": f"{METRICS[metric].title} — {setting}", "headers": t_headers,
                "rows": [[r["method"], *_per_t(metric, r[metric], ts, r["T"])]
                         for _, r in group.iterrows()]})
        fit_rows = []
        for _, r in group.iterrows():
            tf, bf, mf = r["time_per_iter_s_fit"], r["backward_s_fit"], r["activation_bytes_fit"]
            claimed = r["claimed"]
            fit_rows.append([
                r["method"],
                _fit_text(tf, "exponent"), _fit_text(tf, "slope", time.scale),
                _fit_text(bf, "exponent"),
                _fit_text(mf, "exponent"), _fit_text(mf, "slope", memory.scale, 3),
                f"O({claimed['memory']}) {r.get('memory_verdict', 'n/a')}" if claimed else "–",
                f"O({claimed['backward']}) {r.get('backward_verdict', 'n/a')}" if claimed
                else "–",
            ])
        tables.append({
            "title": f"Scaling in T and verdict — {setting}",
            "headers": ["method", f"{time.name} exp.", f"{time.name} slope ({time.unit}/T)",
                        f"{METRICS['backward_s'].name} exp.", f"{memory.name} exp.",
                        f"{memory.name} slope ({memory.unit}/T)", "memory: claimed, verdict",
                        "backward: claimed, verdict"],
            "rows": fit_rows})
    return tables


def alignment_tables(frame: pd.DataFrame) -> list[dict]:
    """Each metric of :data:`~benches.schema.ALIGNMENT` per method over T (means over seeds,
    one decimal more than the schema's so small departures from 1 show), from the
    :func:`ok_frame` of the alignment records."""
    if frame.empty:
        return []
    tables = []
    for keys, block in frame.groupby(SETTING, sort=True):
        setting = " / ".join(str(k) for k in keys)
        ts = sorted(set(block["timesteps"]))
        for metric in ALIGNMENT:
            if block[metric].isna().all():
                continue
            rows = []
            for method, mblock in block.groupby("method", sort=True):
                means = mblock.groupby("timesteps")[metric].mean()
                rows.append([method, *_per_t(metric, list(means), ts, list(means.index),
                                             extra_digits=1)])
            tables.append({"title": f"{METRICS[metric].title} with BPTT — {setting}",
                           "headers": ["method"] + [f"T={t}" for t in ts], "rows": rows})
    return tables


def _render(tables: list[dict], fmt: str = "github") -> str:
    return "\n\n".join(f"## {t['title']}\n"
                       + tabulate(t["rows"], t["headers"], tablefmt=fmt, disable_numparse=True)
                       for t in tables)


def show_report(results: str, kind: str) -> str:
    """Terminal tables of the ``efficiency`` or ``alignment`` records."""
    records, _ = load_records(results)
    frame = ok_frame(records, kind)
    if kind == "efficiency":
        tables = efficiency_tables(efficiency_rows(frame) if not frame.empty else [])
    else:
        tables = alignment_tables(frame)
    if not tables:
        raise UserError(f"no {kind} records in {results}; run "
                        f"`python -m benches run --matrix {kind}` first")
    return _render(tables)
