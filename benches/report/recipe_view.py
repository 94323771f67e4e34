"""A paper setup as a table: each recipe value with its source (``show --recipe``, the site).

Works on the setup's dict form (:meth:`methods.paper_recipes.PaperSetup.to_dict`, also what a
paper-track record keeps in ``about.paper_setup``), so the site needs nothing but records.
"""

from __future__ import annotations

from typing import Any

from tabulate import tabulate

ORDER = ("rows", "params", "amp", "tau", "threshold", "reset", "detach_reset", "surrogate",
         "alpha", "loss", "mse_weight", "mse_target", "mse_const", "tet_lambda", "tet_phi",
         "grad_scale_by_T",
         "optimizer", "lr", "momentum", "weight_decay", "decay_norm_and_bias", "schedule",
         "epochs", "batch_size", "stages", "augment", "normalize", "resolution", "train_split",
         "dropout", "init", "osr_eps", "osr_bound", "rate_bn", "bn_stats")
"""Rows in reading order: where it runs, the neuron, the loss, the optimiser and schedule,
the data, the network, evaluation (keys not listed follow, sorted)."""
SUITE_CHOICE = "suite's choice"


def format_value(key: str, value: Any) -> str:
    """A value as a reader writes it (rows as ``vgg11 T=6``, lists comma-separated)."""
    if key == "rows":
        return ", ".join(f"{r['architecture']} T={r['timesteps']}" for r in value)
    if key == "stages":
        return "; ".join(", ".join(f"{k}={v}" for k, v in stage.items()) for stage in value)
    if isinstance(value, bool):
        return "true" if value else "false"  # as the TOML file writes it
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "none"
    return str(value)


def recipe_rows(setup: dict[str, Any],
                common: dict[str, Any] | None = None) -> list[dict[str, str]]:
    """One row per value: ``key``, ``value``, ``common`` (the common track's value where it
    differs, else empty), ``source`` and ``kind`` (``source`` or ``choice``)."""
    values: dict[str, dict[str, Any]] = setup["values"]
    keys = [k for k in ORDER if k in values] + sorted(set(values) - set(ORDER))
    rows = []
    for key in keys:
        item = values[key]
        differs = common is not None and key in common and \
            _comparable(common[key]) != _comparable(item["value"])
        rows.append({
            "key": key, "value": format_value(key, item["value"]),
            "common": format_value(key, common[key]) if differs and common else "",
            "source": item.get("source") or f"{SUITE_CHOICE}: " + str(item.get("choice", "")),
            "kind": "source" if "source" in item else "choice",
        })
    return rows


def _comparable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def recipe_text(setup: dict[str, Any], common: dict[str, Any] | None = None) -> str:
    """The setup as plain text: a heading (method, dataset, paper, code) and the value table."""
    head = [f"{setup['method']} on {setup['dataset']}: the published setup of "
            f"{setup['paper']}", f"official code: {setup['code']} (sources are its files, "
            "or the paper)"]
    rows = [[r["key"], r["value"], r["common"], r["source"]]
            for r in recipe_rows(setup, common)]
    table = tabulate(rows, ["key", "value", "common track (if other)", "source"],
                     maxcolwidths=[None, 28, 16, 70], disable_numparse=True)
    return "\n".join(head) + "\n\n" + table
