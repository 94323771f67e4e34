"""A cell job: one cell with everything its process needs, and the launch of that process.

Whichever executor runs it, a cell runs in its own process with a timeout
(:func:`run_cell_isolated`), so a crash, a hang or an out-of-memory kill takes down only that
cell: its record says so and the matrix goes on. :class:`CellJob` adds the claim that keeps a
second runner off the same cell. Under ``srun``, a cell spanning several nodes runs as one task
per rank: the tasks of ranks above 0 (:func:`follower_rank`) run the cell process too, but take
no claim and neither read nor write the record (rank 0's task does).
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass

from benches.cell import DEFAULT_TIMEOUT_S, MEMORY_ENV, THREADS_ENV, Cell
from benches.errors import RECORD_WRITE_FAILED, RecordWriteError
from benches.records import (
    has_ok_record,
    make_record,
    now,
    read_record,
    record_path,
    write_record,
)
from benches.run.claims import claim, elsewhere
from methods.libraries import get_library

_CONTEXT: mp.context.ForkServerContext | mp.context.SpawnContext | None = None


def _context() -> mp.context.ForkServerContext | mp.context.SpawnContext:
    """A fork server that has imported torch, the libraries and the registries once."""
    global _CONTEXT
    if _CONTEXT is None:
        if "forkserver" in mp.get_all_start_methods():
            server = mp.get_context("forkserver")
            server.set_forkserver_preload(["benches.worker.cell_process"])
            _CONTEXT = server
        else:
            _CONTEXT = mp.get_context("spawn")
    return _CONTEXT


def _run_in_forkserver(cell: Cell, out_dir: str, data_root: str | None, matrix: str | None,
                       timeout_s: float,
                       env: dict[str, str], keep_checkpoints: bool,
                       command: str | None = None) -> int | None:
    from benches.worker.cell_process import run_cell

    # the cell's lifeline: it gets the read end; the write end stays in this process alone
    # (the fork server, which outlives this process by seconds, never holds it)
    watch, lifeline = _context().Pipe(duplex=False)
    try:
        process = _context().Process(
            target=run_cell, args=(cell.to_dict(), out_dir, data_root, matrix, env,
                                   keep_checkpoints, command, True, watch),
            daemon=False,
        )
        process.start()
        watch.close()  # the cell has its own copy now
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
    finally:
        watch.close()
        lifeline.close()


def _run_in_subprocess(
    cell: Cell, out_dir: str, data_root: str | None, matrix: str | None, timeout_s: float,
    env: dict[str, str],
    keep_checkpoints: bool = False, command: str | None = None,
) -> int | None:
    # the cell's lifeline, as for a forked cell: only this process holds the write end
    watch, lifeline = mp.Pipe(duplex=False)
    payload = None
    try:
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
            payload = fh.name
            json.dump({"cell": cell.to_dict(), "matrix": matrix,
                       "coordinator_fd": watch.fileno(),
                       "keep_checkpoints": keep_checkpoints, "command": command}, fh)
        cmd = [sys.executable, "-m", "benches.worker.cell_process", payload, out_dir]
        if data_root:
            cmd.append(str(data_root))
        try:
            proc = subprocess.Popen(cmd, env={**os.environ, **env}, pass_fds=(watch.fileno(),))
        finally:
            watch.close()  # the cell has its own copy now
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
        watch.close()
        lifeline.close()
        if payload is not None:
            os.unlink(payload)


def run_cell_isolated(
    cell: Cell, out_dir: str, data_root: str | None = None, matrix: str | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S, env: dict[str, str] | None = None,
    keep_checkpoints: bool = False, command: str | None = None,
) -> dict:
    """Run ``cell`` in its own process and return its record (written in any case); ``{}``,
    with no record read or written, in the task of a rank above 0 (:func:`follower_rank`).

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
    if follower_rank(cell, env) is not None:  # rank 0's task reads or writes the record
        return {}
    if code == 0:
        return dict(read_record(record_path(out_dir, cell)))
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


def follower_rank(cell: Cell, env: dict[str, str] | None = None) -> int | None:
    """This process's rank when ``srun`` started it as the task of a rank above 0 of a cell
    spanning several nodes (``SLURM_PROCID`` > 0, the rendezvous ``MASTER_ADDR`` exported in
    ``env`` or the environment), else ``None``."""
    seen = {**os.environ, **(env or {})}
    if cell.nodes < 2 or "MASTER_ADDR" not in seen:
        return None
    rank = int(seen.get("SLURM_PROCID") or 0)
    return rank if rank > 0 else None


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



@dataclass
class CellJob:
    """One cell to run, with everything its process needs."""

    cell: Cell
    out_dir: str
    data_root: str | None = None
    matrix: str | None = None
    timeout_s: float = DEFAULT_TIMEOUT_S
    keep_checkpoints: bool = False
    command: str | None = None  # the command line that ran the matrix (kept in the record)
    memory_limit_gb: float | None = None  # --memory-limit: CPU memory a cell may add
    resume: bool = False  # --resume: a cell another runner finished meanwhile is not rerun

    def run(self, env: dict[str, str] | None = None) -> dict:
        """Run the cell in its own process (``env`` added to it); its record (``{}`` in the
        task of a rank above 0 of a multi-node cell: :func:`follower_rank`)."""
        if self.memory_limit_gb is not None:
            env = {**(env or {}), MEMORY_ENV: str(int(self.memory_limit_gb * 2**30))}
        if follower_rank(self.cell, env) is not None:  # rank 0's task holds claim and record
            return run_cell_isolated(self.cell, self.out_dir, self.data_root, self.matrix,
                                     self.timeout_s, env=env,
                                     keep_checkpoints=self.keep_checkpoints,
                                     command=self.command)
        try:
            with claim(self.out_dir, self.cell.key(), self.timeout_s + 60) as held:
                if held is not None:
                    return elsewhere(self.cell.key(), held)
                if self.resume and has_ok_record(self.out_dir, self.cell):
                    return dict(read_record(record_path(self.out_dir, self.cell)))
                return run_cell_isolated(self.cell, self.out_dir, self.data_root, self.matrix,
                                         self.timeout_s, env=env,
                                         keep_checkpoints=self.keep_checkpoints,
                                         command=self.command)
        except OSError as exc:  # a claim or a payload file cannot be written: disk full
            raise RecordWriteError(
                f"cannot run {self.cell.label()} with records in {self.out_dir} "
                f"({exc.strerror or exc}); the run stopped with nothing half-written: free "
                "space, then run again with --resume") from None
