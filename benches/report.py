"""Efficiency and alignment reports: scaling fits, complexity verdicts, tables.

Efficiency records (one per method × T) give, per method, the time per iteration, backward time
and activation memory at each T; :func:`fit_scaling` fits ``y = a·T^b`` (log-log exponent ``b``)
and ``y = c + d·T`` (linear slope ``d``). The verdict compares the fitted exponents of
activation memory and backward time with the complexity the method claims (``Method.complexity``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from tabulate import tabulate

from .errors import UserError
from .records import load_records
from .schema import ALIGNMENT, EFFICIENCY, METRICS

ZERO_BELOW = 0.35  # a claimed O(1)-in-T figure must fit an exponent below this
ONE_ABOVE = 0.65  # a claimed O(T) figure must fit an exponent above this


@dataclass
class Fit:
    exponent: float  # b in y = a·T^b (least squares in log-log)
    slope: float  # d in y = c + d·T


def fit_scaling(ts: list[float], ys: list[float]) -> Fit | None:
    """Power-law exponent and linear slope of ``ys`` against ``ts`` (≥ 2 positive points)."""
    pairs = [(t, y) for t, y in zip(ts, ys, strict=True)
             if y is not None and y > 0 and not math.isnan(y)]
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


def ok_frame(records: list[dict], mode: str) -> pd.DataFrame:
    """One row per ok record of ``mode``: its cell, metrics and claimed complexity."""
    rows = []
    for r in records:
        if r["status"] != "ok" or r["cell"]["mode"] != mode:
            continue
        c, m = r["cell"], r["metrics"]
        rows.append({
            "method": c["method"] + "".join(f" {k}={v}" for k, v in sorted(c["params"].items())),
            "base_method": c["method"], "library": c["library"], "backend": c["backend"],
            "architecture": c["architecture"], "dataset": c["dataset"], "device": c["device"],
            "precision": c.get("precision", "fp32"),
            "compile": "compiled" if c.get("compile") else "eager",
            "timesteps": c["timesteps"], "seed": c["seed"],
            "claimed": ((r.get("about") or {}).get("method") or {}).get("complexity"), **m,
        })
    return pd.DataFrame(rows)


GROUP = ["dataset", "architecture", "library", "backend", "device", "precision", "compile"]


def efficiency_rows(frame: pd.DataFrame) -> list[dict]:
    """Per method: values at each T, fits and verdicts (medians over seeds)."""
    out = []
    for keys, block in frame.groupby(GROUP + ["method", "base_method"], sort=True):
        by_t = block.groupby("timesteps").median(numeric_only=True).sort_index()
        ts = [int(t) for t in by_t.index]
        row = dict(zip(GROUP + ["method", "base_method"], keys, strict=True))
        row["T"] = ts
        for metric in EFFICIENCY:
            column = by_t[metric].tolist() if metric in by_t else [None] * len(ts)
            values = [None if v is None or v != v else float(v) for v in column]
            row[metric] = values
            row[f"{metric}_fit"] = fit_scaling(ts, values)
        claims = [c for c in block["claimed"] if isinstance(c, dict)]
        claimed = claims[0] if claims else None  # the method's about["complexity"]
        row["claimed"] = claimed
        if claimed is not None and "memory_exponent" in claimed:
            row["memory_verdict"] = verdict(row["activation_bytes_fit"],
                                            claimed["memory_exponent"])
            row["backward_verdict"] = verdict(row["backward_s_fit"],
                                              claimed["backward_exponent"])
        out.append(row)
    return out


def _fmt(value, scale, digits):
    if value is None:
        return "–"
    return f"{value * scale + 0.0:.{digits}f}".replace("-0.000", "0.000").replace("-0.00", "0.00")


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
    for keys, group in pd.DataFrame(rows).groupby(GROUP, sort=True):
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
                _fmt(tf and tf.exponent, 1, 2), _fmt(tf and tf.slope, time.scale, 2),
                _fmt(bf and bf.exponent, 1, 2),
                _fmt(mf and mf.exponent, 1, 2), _fmt(mf and mf.slope, memory.scale, 3),
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
    for keys, block in frame.groupby(GROUP, sort=True):
        setting = " / ".join(str(k) for k in keys)
        ts = sorted(set(block["timesteps"]))
        for metric in ALIGNMENT:
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
