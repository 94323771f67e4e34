"""Run a matrix: decide what runs, hand it to an executor, one atomic record per cell.

Before anything runs, cells with an ``ok`` record (``--resume``), cells whose method, library or
dataset cannot run them, and cells of missing data sets get their ``skipped`` record here; the
rest go to an executor (:mod:`benches.executors`). Whichever executor runs it, a cell runs in its
own process with a timeout (:func:`run_cell_isolated`), so a crash, a hang or an out-of-memory
kill takes down only that cell: its record says so and the matrix goes on.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field

from tqdm import tqdm

from methods.libraries import get_library

from .cell import Cell
from .claims import sweep
from .errors import RECORD_WRITE_FAILED, RecordWriteError
from .execute import support
from .executors import CellJob, Executor, LocalExecutor, Progress
from .executors.base import DEFAULT_TIMEOUT_S, MEMORY_ENV, THREADS_ENV
from .records import has_ok_record, make_record, now, read_record, record_path, write_record

_CONTEXT: mp.context.ForkServerContext | mp.context.SpawnContext | None = None


def _context() -> mp.context.ForkServerContext | mp.context.SpawnContext:
    """A fork server that has imported torch, the libraries and the registries once."""
    global _CONTEXT
    if _CONTEXT is None:
        if "forkserver" in mp.get_all_start_methods():
            server = mp.get_context("forkserver")
            server.set_forkserver_preload(["benches.worker"])
            _CONTEXT = server
        else:
            _CONTEXT = mp.get_context("spawn")
    return _CONTEXT


@dataclass
class RunSummary:
    counts: Counter = field(default_factory=Counter)
    resumed: int = 0

    def line(self) -> str:
        parts = [f"{n} {status}" for status, n in sorted(self.counts.items())]
        if self.resumed:
            parts.append(f"{self.resumed} already done (--resume)")
        return ", ".join(parts) or "nothing to run"


def _run_in_forkserver(cell: Cell, out_dir: str, data_root: str | None, matrix: str | None,
                       timeout_s: float,
                       env: dict[str, str], keep_checkpoints: bool,
                       command: str | None = None) -> int | None:
    from .worker import run_cell

    process = _context().Process(
        target=run_cell, args=(cell.to_dict(), out_dir, data_root, matrix, env, keep_checkpoints,
                                 command, True),
        daemon=False,
    )
    process.start()
    try:
        process.join(timeout_s)
    except BaseException:  # Ctrl-C: the cell goes with the run (--resume runs it again)
        process.kill()
        process.join()
        raise
    if process.is_alive():
        process.kill()
        process.join()
        return None
    return process.exitcode


def _run_in_subprocess(
    cell: Cell, out_dir: str, data_root: str | None, matrix: str | None, timeout_s: float,
    env: dict[str, str],
    keep_checkpoints: bool = False, command: str | None = None,
) -> int | None:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump({"cell": cell.to_dict(), "matrix": matrix,
                   "keep_checkpoints": keep_checkpoints, "command": command}, fh)
        payload = fh.name
    cmd = [sys.executable, "-m", "benches.worker", payload, out_dir]
    if data_root:
        cmd.append(str(data_root))
    try:
        proc = subprocess.Popen(cmd, env={**os.environ, **env})
        try:
            return proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            return None
        except BaseException:  # Ctrl-C: the cell goes with the run (--resume runs it again)
            proc.kill()
            proc.wait()
            raise
    finally:
        os.unlink(payload)


def run_cell_isolated(
    cell: Cell, out_dir: str, data_root: str | None = None, matrix: str | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S, env: dict[str, str] | None = None,
    keep_checkpoints: bool = False, command: str | None = None,
) -> dict:
    """Run ``cell`` in its own process and return its record (written in any case).

    ``env`` is added to the cell process's environment. A cell that needs variables read at
    import or at CUDA start-up (a spikingjelly backend, ``CUDA_VISIBLE_DEVICES``) gets a fresh
    interpreter; the others are forked from a server that has imported everything once.
    """
    started = now()
    env = dict(env or {})
    if cell.device == "cuda":
        env.update(get_library(cell.library).backend_env(cell.backend))
    if set(env) - {THREADS_ENV, MEMORY_ENV}:
        code = _run_in_subprocess(cell, out_dir, data_root, matrix, timeout_s, env,
                                  keep_checkpoints, command)
    else:
        code = _run_in_forkserver(cell, out_dir, data_root, matrix, timeout_s, env,
                                  keep_checkpoints, command)
    if code == 0:
        return read_record(record_path(out_dir, cell))
    if code == RECORD_WRITE_FAILED:
        raise RecordWriteError(_unwritable(cell, out_dir))
    if code is None:
        status, reason = "timeout", f"cell exceeded its {timeout_s:g} s timeout and was killed"
    elif code == -signal.SIGKILL:
        status, reason = "oom", "cell process was killed by SIGKILL (out of memory, most likely)"
    elif code < 0:
        status, reason = "failed", f"cell process died with signal {signal.Signals(-code).name}"
    else:
        status, reason = "failed", f"cell process exited with status {code}"
    record = make_record(cell, status, reason, matrix=matrix, started_at=started,
                         command=command)
    write_or_stop(record, cell, out_dir)
    return record


def _unwritable(cell: Cell, out_dir: str, exc: OSError | None = None) -> str:
    why = f" ({exc.strerror or exc})" if exc is not None else ""
    return (f"the record of {cell.label()} could not be written to {out_dir}{why}; the run "
            "stopped with nothing half-written: free space, then run again with --resume")


def write_or_stop(record: dict, cell: Cell, out_dir: str) -> None:
    """Write a record from the coordinator; a failure (disk full) stops the run."""
    try:
        write_record(record, out_dir)
    except OSError as exc:
        raise RecordWriteError(_unwritable(cell, out_dir, exc)) from None


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
