"""How long a matrix will take, from the records already present (``run --dry-run``).

A cell's estimate is, in order of preference: the duration of its own earlier ``ok`` record;
the median duration of ``ok`` records of the same configuration (dataset, architecture, method,
T, mode, device, precision, compile), scaled by the number of epochs; the median duration per
epoch and time step of ``ok`` records of the same dataset, architecture, mode and device, times
the cell's epochs and T. Cells with none of these have no estimate and are counted as such.
CUDA cells add up to GPU-hours, the others to CPU-hours.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field

from benches.cell import Cell
from benches.records import Record


def _epochs(cell: dict) -> int:
    return int(cell["recipe"].get("epochs", 1)) if cell["mode"] == "train" else 1


def _config(cell: dict) -> tuple:
    return (cell["dataset"], cell["architecture"], cell["method"], cell["timesteps"],
            cell["mode"], cell["device"], cell.get("precision", "fp32"),
            cell.get("compile", False))


def _setting(cell: dict) -> tuple:
    return cell["dataset"], cell["architecture"], cell["mode"], cell["device"]


@dataclass
class DatasetEstimate:
    cells: int = 0
    gpu_cells: int = 0
    gpu_hours: float = 0.0
    cpu_hours: float = 0.0
    unknown: int = 0


@dataclass
class Estimate:
    per_dataset: dict[str, DatasetEstimate] = field(default_factory=dict)
    records_used: int = 0

    @property
    def gpu_hours(self) -> float:
        return sum(d.gpu_hours for d in self.per_dataset.values())

    @property
    def cpu_hours(self) -> float:
        return sum(d.cpu_hours for d in self.per_dataset.values())

    @property
    def unknown(self) -> int:
        return sum(d.unknown for d in self.per_dataset.values())


def estimate(cells: list[Cell], records: list[Record]) -> Estimate:
    """Cell counts and estimated hours per dataset (see the module docstring)."""
    done = [(r, r["duration_s"]) for r in records if r["status"] == "ok" and r["duration_s"]]
    exact = {r["key"]: float(seconds) for r, seconds in done}
    by_config: dict[tuple, list[float]] = defaultdict(list)
    by_setting: dict[tuple, list[float]] = defaultdict(list)
    for r, seconds in done:
        c = r["cell"]
        by_config[_config(c)].append(float(seconds) / _epochs(c))
        by_setting[_setting(c)].append(float(seconds) / (_epochs(c) * c["timesteps"]))
    out = Estimate(records_used=len(done))
    for cell in cells:
        c = cell.to_dict()
        row = out.per_dataset.setdefault(cell.dataset, DatasetEstimate())
        row.cells += 1
        gpu = cell.device == "cuda"
        row.gpu_cells += gpu
        if cell.key() in exact:
            seconds = exact[cell.key()]
        elif by_config.get(_config(c)):
            seconds = statistics.median(by_config[_config(c)]) * _epochs(c)
        elif by_setting.get(_setting(c)):
            seconds = statistics.median(by_setting[_setting(c)]) * _epochs(c) * cell.timesteps
        else:
            row.unknown += 1
            continue
        if gpu:
            row.gpu_hours += seconds / 3600
        else:
            row.cpu_hours += seconds / 3600
    return out


def estimate_table(est: Estimate) -> tuple[list[str], list[list[str]]]:
    """Headers and rows for tabulate (one row per dataset and a total)."""
    headers = ["dataset", "cells", "GPU cells", "GPU-hours", "CPU-hours", "no estimate"]
    rows = [[name, str(d.cells), str(d.gpu_cells), f"{d.gpu_hours:.1f}", f"{d.cpu_hours:.2f}",
             str(d.unknown)] for name, d in sorted(est.per_dataset.items())]
    total = sum(d.cells for d in est.per_dataset.values())
    gpu_total = sum(d.gpu_cells for d in est.per_dataset.values())
    rows.append(["total", str(total), str(gpu_total), f"{est.gpu_hours:.1f}",
                 f"{est.cpu_hours:.2f}", str(est.unknown)])
    return headers, rows
