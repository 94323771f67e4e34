"""Records → pandas DataFrames: one row per record, and rows averaged over seeds."""

from __future__ import annotations

import hashlib
import json

import pandas as pd

from benches.cell import Cell
from benches.records import Record
from benches.schema import CONTENDED_LOAD, METRICS

GROUP = ["mode", "dataset", "track", "variant", "architecture", "method", "params", "library",
         "backend", "device", "precision", "compile", "timesteps"]
"""What makes a configuration: the fields of a cell but its seed (rows averaged over seeds)."""
SETTING = [k for k in GROUP
           if k not in ("mode", "track", "variant", "method", "params", "timesteps")]
"""What one efficiency or alignment table holds fixed: its rows are methods, its columns T."""
DEFAULT_TRACK = "common"
BUDGET_KEYS = {"epochs", "batch_size", "lr", "augment", "warmup_iters", "timed_iters", "track"}
ENV_KEYS = ("device_name", "cpu_model", "cpu_count", "torch_threads", "python", "versions",
            "cuda", "cudnn", "cuda_driver", "platform")


def env_id(env: dict) -> str:
    """A short stable id of the machine/software a record was measured on."""
    subset = {k: env.get(k) for k in ENV_KEYS}
    return hashlib.sha256(json.dumps(subset, sort_keys=True).encode()).hexdigest()[:8]


def track(recipe: dict) -> str:
    """The recipe's track (``common`` when a record does not say)."""
    return recipe.get("track", DEFAULT_TRACK)


def recipe_variant(record: Record) -> str:
    """Recipe settings that differ from the method's own track recipe (budget keys aside),
    e.g. ``reset=hard``; empty for the track as published (or a record that does not say
    what the method's recipe is). The method's recipes come from the record's ``about``, so
    a method that is not installed keeps its variant."""
    recipe = record["cell"]["recipe"]
    about = record["about"]["method"]
    base = about.get("recipes", {}).get(track(recipe))
    setup = record["about"]["paper_setup"]
    if track(recipe) == "paper" and setup:  # the published setup's own values
        base = setup.get("recipe") or base
    if base is None:
        return ""
    diff = {k: v for k, v in recipe.items() if k not in BUDGET_KEYS and base.get(k) != v}
    return ",".join(f"{k}={v}" for k, v in sorted(diff.items()))


OWN_NEURON = "library's own neuron"
"""The variant of a cell whose library runs its closest neuron, not the suite's LIF."""


def variant(record: Record) -> str:
    """The recipe variant, plus :data:`OWN_NEURON` where the record's library says its neuron
    differs from the suite's (``env.library.semantics``, e.g. snntorch's soft reset)."""
    own = record["env"]["library"].get("semantics") if record["env"] else None
    return ",".join(v for v in (recipe_variant(record), OWN_NEURON if own else "") if v)


def method_label(method: str, params: str | None = "", variant: str | None = "") -> str:
    """A method with what sets its configuration apart: ``bptt (k=v) (reset=hard)``."""
    return str(method) + "".join(f" ({v})" for v in (params, variant) if v)


def records_frame(records: list[Record]) -> pd.DataFrame:
    """One row per record: cell fields (the cell's defaults where an older record lacks one),
    status, reason, metrics (floats, NaN where missing), env id."""
    rows = []
    for r in records:
        cell = Cell.from_dict(r["cell"])
        row = {
            "key": r["key"], "status": r["status"], "reason": r["reason"],
            "matrix": r.get("matrix"), "mode": cell.mode, "dataset": cell.dataset,
            "track": track(cell.recipe), "variant": variant(r),
            "architecture": cell.architecture, "method": cell.method,
            "params": ",".join(f"{k}={v}" for k, v in sorted(cell.params.items())),
            "library": cell.library, "backend": cell.backend, "device": cell.device,
            "precision": cell.precision, "compile": cell.compile,
            "timesteps": cell.timesteps, "seed": cell.seed,
            "epochs": cell.recipe.get("epochs"), "env_id": env_id(r["env"]) if r["env"] else "",
            "started_at": r.get("started_at"),
            "cpus": r["env"].get("cpu_count"),
        }
        for key in METRICS:
            value = r["metrics"].get(key)
            row[key] = float(value) if isinstance(value, (int, float)) else None
        rows.append(row)
    columns = ["key", "status", "reason", "matrix", *GROUP, "seed", "epochs", "env_id",
               "started_at", "cpus", *METRICS]
    frame = pd.DataFrame(rows, columns=columns)
    frame[list(METRICS)] = frame[list(METRICS)].astype(float)
    return frame


def contended(frame: pd.DataFrame) -> pd.Series:
    """Per record: whether its timings were taken beside other work (load average above
    :data:`CONTENDED_LOAD` × the CPU count, or another cell seen running; False where unknown)."""
    load = pd.to_numeric(frame["load_average"], errors="coerce")
    cpus = pd.to_numeric(frame["cpus"], errors="coerce")
    others = pd.to_numeric(frame["other_cells"], errors="coerce") if "other_cells" in frame \
        else pd.Series(float("nan"), index=frame.index)
    return ((load > CONTENDED_LOAD * cpus) | (others > 0)).fillna(False).astype(bool)


def contention(row: pd.Series) -> str:
    """What a flagged record's machine was doing: "load 3.1 on 2 CPUs, 1 other cell"."""
    text = f"load {row['load_average']:.1f} on {int(row['cpus'])} CPUs" \
        if pd.notna(row.get("load_average")) and pd.notna(row.get("cpus")) else "load unknown"
    others = row.get("other_cells")
    if pd.notna(others) and others > 0:
        text += f", {int(others)} other cell{'s' if others > 1 else ''} running"
    return text


def seed_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """OK rows grouped over seeds: ``<metric>`` (mean), ``<metric>_std``, ``seeds``, env ids."""
    ok = frame[frame["status"] == "ok"]
    if ok.empty:
        return pd.DataFrame(columns=[*GROUP, "seeds", "env_ids"])
    grouped = ok.groupby(GROUP, dropna=False, sort=True)
    metrics = [m for m in METRICS if ok[m].notna().any()]
    mean = grouped[metrics].mean()
    std = grouped[metrics].std(ddof=1).add_suffix("_std")
    out = pd.concat([mean, std], axis=1)
    out["seeds"] = grouped.size()
    out["env_ids"] = grouped["env_id"].agg(lambda s: ",".join(sorted(set(s))))
    return out.reset_index()
