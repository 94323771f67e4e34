"""Run a matrix: decide what runs, hand it to an executor, one atomic record per cell.

Before anything runs, cells with an ``ok`` record (``--resume``), cells whose method, library or
dataset cannot run them, and cells of missing data sets get their ``skipped`` record here; the
rest go to an executor (:mod:`benches.run.executors`), which runs each as a
:class:`benches.run.job.CellJob` in a process of its own.
"""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass, field

from tqdm import tqdm

from benches.cell import DEFAULT_TIMEOUT_S, Cell
from benches.records import has_ok_record, make_record, now
from benches.run.claims import sweep
from benches.run.executors import Executor, LocalExecutor, Progress
from benches.run.job import CellJob, write_or_stop
from benches.worker.setup import support


@dataclass
class RunSummary:
    counts: Counter = field(default_factory=Counter)
    resumed: int = 0

    def line(self) -> str:
        parts = [f"{n} {status}" for status, n in sorted(self.counts.items())]
        if self.resumed:
            parts.append(f"{self.resumed} already done (--resume)")
        return ", ".join(parts) or "nothing to run"


def run_cells(
    cells: list[Cell],
    out_dir: str,
    *,
    matrix: str | None = None,
    data_root: str | None = None,
    resume: bool = False,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    timeouts: dict[str, float] | None = None,
    executor: Executor | None = None,
    missing: dict[str, str] | None = None,
    keep_checkpoints: bool = False,
    check_support: bool = True,
    command: str | None = None,
    memory_limit_gb: float | None = None,
) -> RunSummary:
    """Run every cell; the skipped ones get a record saying why.

    ``missing`` maps a data set whose files are absent to the reason its cells are skipped;
    ``timeouts`` maps a cell key to its own timeout (else ``timeout_s``); ``check_support=False``
    leaves the support check to the cell process (remote executors: the driver may have no GPU);
    ``command`` (the command line that ran the matrix) is kept in every record.
    """
    summary = RunSummary()
    out_dir = str(out_dir)
    executor = executor or LocalExecutor()
    sweep(out_dir, max([timeout_s, *(timeouts or {}).values()]) + 60)  # a killed runner's claims
    jobs = []
    for cell in cells:
        if resume and has_ok_record(out_dir, cell):
            summary.resumed += 1
            continue
        reason = (missing or {}).get(cell.dataset)
        quiet = reason is not None  # one block names missing data sets, not one line per cell
        if reason is None and check_support:
            ok, why = support(cell)
            reason = None if ok else why
        if reason is not None:
            record = make_record(cell, "skipped", reason, matrix=matrix, started_at=now(),
                                 command=command)
            write_or_stop(record, cell, out_dir)
            summary.counts["skipped"] += 1
            if not quiet:
                tqdm.write(_result_line(cell, record), file=sys.stderr)
            continue
        jobs.append(CellJob(cell, out_dir, data_root, matrix,
                            (timeouts or {}).get(cell.key(), timeout_s), keep_checkpoints,
                            command, memory_limit_gb, resume))
    progress = Progress(len(jobs), line=_result_line)
    try:
        records = executor.run(jobs, progress) if jobs else []
    finally:
        progress.close()
    for record in records:
        summary.counts[record["status"]] += 1
    return summary


def _result_line(cell: Cell, record: dict) -> str:
    m = record["metrics"]
    if record["status"] != "ok":
        return f"{record['status']:>7}  {cell.label()}: {record['reason']}"
    parts = []
    if m.get("test_top1") is not None:
        parts.append(f"top1 {m['test_top1']:.3f}")
    if m.get("grad_cosine") is not None:
        parts.append(f"cos {m['grad_cosine']:.3f}")
    if m.get("time_per_iter_s"):
        parts.append(f"{1000 * m['time_per_iter_s']:.1f} ms/it")
    if m.get("activation_bytes") is not None:
        parts.append(f"{m['activation_bytes'] / 2**20:.2f} MiB act")
    return f"     ok  {cell.label()}: " + ", ".join(parts)
