"""The cell process: runs one cell and writes its record (ok, failed or oom) atomically.

Started by the runner through a fork server that has already imported this module (so torch,
the libraries and the registries load once per matrix, not once per cell), or as
``python -m benches.worker.cell_process CELL_JSON OUT_DIR [DATA_ROOT]`` when a cell needs its own
environment variables (e.g. a spikingjelly CUDA backend chosen at import).

Either way the cell watches its coordinator (the process that started it) through a pipe whose
write end only the coordinator holds: the pipe's end of file says that the coordinator is gone,
killed with SIGKILL included, and the cell then kills its own child processes and itself at
once, writing no record (a fork server outlives its coordinator by seconds, so the parent-death
signal alone comes too late for a forked cell).
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import sys
import threading
import time
import traceback
from multiprocessing.connection import Connection
from typing import Any, NoReturn

import torch

from benches.cell import MEMORY_ENV, THREADS_ENV, Cell
from benches.errors import RECORD_WRITE_FAILED
from benches.measure.numerics import pin
from benches.measure.presence import announced
from benches.measure.provenance import record_environment
from benches.records import make_record, now, write_record
from benches.worker.checkpoint import checkpoint_dir
from benches.worker.checkpoint import remove as remove_checkpoint
from benches.worker.distributed.launch import slurm_rank
from benches.worker.modes.common import Diverged
from benches.worker.parent import die_with_parent
from benches.worker.setup import execute, support
from datasets import list_datasets
from methods import get_method, list_methods
from methods.architectures import list_architectures
from methods.libraries import get_library, list_libraries


def preload() -> None:
    """Import everything a cell needs (no computation, so forking stays safe)."""
    list_methods()
    list_datasets()
    list_architectures()
    for name in list_libraries():
        get_library(name).available()
    import sklearn.datasets  # noqa: F401
    import torch.utils.data  # noqa: F401


def about(cell: Cell) -> dict:
    """The method's and data set's declarations, kept in the record so that reports and the
    site need nothing but the records."""
    from datasets import get_dataset

    out = {}
    if cell.method in list_methods():
        out["method"] = get_method(cell.method).about()
    if cell.dataset in list_datasets():
        out["dataset"] = get_dataset(cell.dataset).about()
    from methods.paper_recipes import paper_setup

    setup = paper_setup(cell.method, cell.dataset)
    if setup is not None:  # the method's published setup on this dataset, with every source
        out["paper_setup"] = setup.to_dict()  # (what a paper-track cell follows)
    return out


def limit_memory(extra_bytes: int) -> None:
    """Let this process map at most ``extra_bytes`` more than it holds now (``RLIMIT_AS``): an
    allocation past it fails with out-of-memory, which the record reports as ``oom``."""
    import resource

    with open("/proc/self/statm") as fh:
        held = int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = held + extra_bytes
    resource.setrlimit(resource.RLIMIT_AS, (limit if hard == resource.RLIM_INFINITY
                                            else min(limit, hard), hard))


def records_hostname(command: str | None) -> bool:
    """Whether the run asked for the host name in its records (``--record-hostname``); the
    flag travels in the record's command line, so every executor honours it."""
    return bool(command) and "--record-hostname" in shlex.split(command)


def is_oom(exc: BaseException) -> bool:
    if isinstance(exc, (MemoryError, torch.OutOfMemoryError)):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and ("out of memory" in text or "can't allocate" in text)


_COORDINATOR: Connection | None = None
"""The read end of the pipe whose write end only this cell's coordinator holds (``None``: the
cell runs in the caller's process, or was started by hand)."""


def coordinator_alive() -> bool:
    """Whether this cell's coordinator still runs: the coordinator never writes to the pipe, so
    a readable read end is its end of file (every write end closed: the coordinator died)."""
    return _COORDINATOR is None or not _COORDINATOR.poll(0)


def _descendants() -> list[int]:
    """This process's children, theirs and so on, each parent before its children (psutil
    when installed, else Linux's ``/proc``; elsewhere none)."""
    try:
        import psutil
    except ImportError:
        pass
    else:
        try:
            return [p.pid for p in psutil.Process().children(recursive=True)]
        except psutil.Error:
            return []
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as fh:  # PID (COMM) STATE PPID ...
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue  # not a process, or gone meanwhile
        children.setdefault(ppid, []).append(int(name))
    found, queue = [], [os.getpid()]
    while queue:
        kids = children.get(queue.pop(0), [])
        found += kids
        queue += kids
    return found


def die() -> NoReturn:
    """Kill this cell's child processes (and theirs) and then this process with SIGKILL: its
    coordinator is gone, so nothing of the cell may run on (``os._exit`` would leave the
    children)."""
    for pid in _descendants():
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass  # gone meanwhile
    os.kill(os.getpid(), signal.SIGKILL)
    os._exit(-signal.SIGKILL)  # not reached: SIGKILL cannot be caught


def _await_coordinator_death(watch: Connection) -> None:
    """Block until the coordinator's end of the pipe closes, then :func:`die`."""
    try:
        while True:
            watch.recv_bytes()  # the coordinator never writes: this waits for end of file
    except EOFError:
        die()
    except OSError:
        return  # the pipe was closed under the watcher: the cell is ending anyway


def watch_coordinator(watch: Connection) -> None:
    """Die with the coordinator that holds the write end of ``watch``'s pipe: at once if it is
    already gone, else from a daemon thread as soon as the pipe reaches its end of file."""
    global _COORDINATOR
    _COORDINATOR = watch
    if not coordinator_alive():
        die()
    threading.Thread(target=_await_coordinator_death, args=(watch,), daemon=True,
                     name="coordinator-watch").start()


def _write(record: dict, out_dir: str) -> None:
    """Write the cell's record; if it cannot be written (disk full), exit with
    :data:`RECORD_WRITE_FAILED` so that the coordinator stops the run (nothing half-written).
    A cell whose coordinator is gone writes nothing: it dies (a runner that resumes reruns it)."""
    if not coordinator_alive():
        die()
    try:
        write_record(record, out_dir)
    except OSError as exc:
        print(f"benches: cannot write the record of {record['key']}: {exc.strerror or exc}",
              file=sys.stderr)
        sys.exit(RECORD_WRITE_FAILED)


def run_cell(
    cell_dict: dict, out_dir: str, data_root: str | None = None, matrix: str | None = None,
    env: dict[str, str] | None = None, keep_checkpoints: bool = False,
    command: str | None = None, own_process: bool = False,
    coordinator: Connection | None = None,
) -> None:
    """Execute the cell and write its record; never raises for a failure of the cell itself.

    ``env`` is applied first (before CUDA starts). The cell is checked here too, so that an
    executor on another machine skips what cannot run *there*. A train cell continues from its
    checkpoint (``RESULTS/.checkpoints/KEY``), which is removed once the ``ok`` record is written
    unless ``keep_checkpoints``. ``coordinator``: the read end of the pipe whose write end only
    the coordinator holds; the cell dies with it (:func:`watch_coordinator`).
    """
    if own_process:  # Ctrl-C reaches the whole process group: the coordinator stops the cell
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        die_with_parent()
    if coordinator is not None:
        watch_coordinator(coordinator)
    cell, not_pinned = _enter(cell_dict, env)
    started, t0 = now(), time.perf_counter()
    ok, why = support(cell)
    if not ok:
        if writes_record(cell):
            _write(make_record(cell, "skipped", why, matrix=matrix, started_at=started,
                               command=command, about=about(cell)), out_dir)
        return
    saved = checkpoint_dir(out_dir, cell) if cell.mode == "train" else None
    status, reason, metrics, extra = _measure(cell, data_root, saved)
    if not writes_record(cell):  # a rank > 0 of a multi-node cell: rank 0 writes the record
        return
    device = torch.device(cell.device if cell.device != "cuda" or torch.cuda.is_available()
                          else "cpu")
    record_env = record_environment(cell, device, hostname=records_hostname(command),
                                    ran=status == "ok", not_pinned=not_pinned)
    if status == "ok":  # how the library's neuron differs from the suite's, measured
        lif = get_method(cell.method).recipe_of(cell).lif()
        metrics["neuron_spike_mismatch"] = get_library(cell.library).spike_mismatch(lif)
    record = make_record(
        cell, status, reason, metrics, record_env, matrix=matrix, started_at=started,
        duration_s=time.perf_counter() - t0, command=command, about=about(cell), **extra,
    )
    _write(record, out_dir)
    if status == "ok" and saved is not None and not keep_checkpoints:
        remove_checkpoint(saved)


def writes_record(cell: Cell) -> bool:
    """Whether this process writes the cell's record: any cell process but the ranks other than
    0 of a cell that ``srun`` started one task per rank (:func:`slurm_rank`)."""
    rank = slurm_rank() if cell.world_size > 1 else None
    return rank is None or rank[0] == 0


def _enter(cell_dict: dict, env: dict[str, str] | None) -> tuple[Cell, str | None]:
    """Apply ``env`` and the limits it sets (before CUDA starts) and pin the numerics the cell
    asks for (before its first operation); the cell, and why a requested pin did not happen."""
    os.environ.update(env or {})
    if os.environ.get(MEMORY_ENV):
        limit_memory(int(os.environ[MEMORY_ENV]))
    cell = Cell.from_dict(cell_dict)
    not_pinned = pin(cell.numerics, cell.device)
    if cell.threads is None and os.environ.get(THREADS_ENV):
        torch.set_num_threads(int(os.environ[THREADS_ENV]))
    return cell, not_pinned


def _measure(cell: Cell, data_root: str | None, saved: Any
             ) -> tuple[str, str | None, dict[str, Any], dict[str, Any]]:
    """Run the cell: its status, reason, metrics and the record's extra keys (a failure of the
    cell becomes its status, never an exception)."""
    status, reason = "ok", None
    metrics: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    load_start = os.getloadavg()[0]
    try:
        with announced() as seen:
            metrics = execute(cell, data_root, checkpoint_dir=saved)
        # the machine's load while the cell ran (its own threads included) and the other cells
        # seen running beside it: timings taken beside other work are flagged by show and site
        metrics["load_average"] = max(load_start, os.getloadavg()[0])
        metrics["other_cells"] = seen.peak
    except Diverged as exc:  # the method's own outcome, not a failure of the harness
        status, reason = "diverged", str(exc)
        extra["diverged_at"] = {"epoch": exc.epoch, "iteration": exc.iteration}
    except Exception as exc:  # noqa: BLE001 - every failure becomes a record
        status = "oom" if is_oom(exc) else "failed"
        reason = f"{type(exc).__name__}: {exc}".strip().splitlines()[0][:500]
        extra["traceback"] = traceback.format_exc()
    return status, reason, metrics, extra

preload()


if __name__ == "__main__":
    args = sys.argv[1:]
    if len(args) not in (2, 3):
        sys.exit("usage: python -m benches.worker.cell_process CELL_JSON OUT_DIR [DATA_ROOT]")
    with open(args[0]) as fh:
        payload = json.load(fh)
    fd = payload.get("coordinator_fd")  # the pipe's read end, passed by the coordinator
    run_cell(payload["cell"], args[1], args[2] if len(args) == 3 else None, payload.get("matrix"),
             keep_checkpoints=payload.get("keep_checkpoints", False),
             command=payload.get("command"), own_process=True,
             coordinator=Connection(fd, writable=False) if fd is not None else None)
