"""What every executor shares: a cell job, the progress display, the executor interface.

The runner decides *what* runs (``--resume``, unsupported cells, missing data sets); an executor
decides *where*: on this machine, on a Ray cluster or as a Slurm job array. Whichever runs it,
a cell runs in its own process (:func:`benches.runner.run_cell_isolated`) and writes the same
record.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from tqdm import tqdm

from ..cell import Cell
from ..errors import RecordWriteError
from ..records import has_ok_record, read_record, record_path

THREADS_ENV = "BENCHES_CELL_THREADS"
"""torch threads for a cell that does not fix its own (set by executors that share a host)."""
DEFAULT_TIMEOUT_S = 1800.0
"""Seconds a cell may run when neither its matrix nor ``--timeout`` says otherwise."""
MEMORY_ENV = "BENCHES_CELL_MEMORY_LIMIT"
"""Bytes a cell process may map beyond what it holds when the cell starts (``--memory-limit``)."""


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
        """Run the cell in its own process (``env`` added to it); its record."""
        from ..claims import claim, elsewhere
        from ..runner import run_cell_isolated

        if self.memory_limit_gb is not None:
            env = {**(env or {}), MEMORY_ENV: str(int(self.memory_limit_gb * 2**30))}
        try:
            with claim(self.out_dir, self.cell.key(), self.timeout_s + 60) as held:
                if held is not None:
                    return elsewhere(self.cell.key(), held)
                if self.resume and has_ok_record(self.out_dir, self.cell):
                    return read_record(record_path(self.out_dir, self.cell))
                return run_cell_isolated(self.cell, self.out_dir, self.data_root, self.matrix,
                                         self.timeout_s, env=env,
                                         keep_checkpoints=self.keep_checkpoints,
                                         command=self.command)
        except OSError as exc:  # a claim or a payload file cannot be written: disk full
            raise RecordWriteError(
                f"cannot run {self.cell.label()} with records in {self.out_dir} "
                f"({exc.strerror or exc}); the run stopped with nothing half-written: free "
                "space, then run again with --resume") from None


class Progress:
    """A tqdm bar of cells done, with the running and queued counts, and one line per result."""

    def __init__(self, total: int, line: Callable[[Cell, dict[str, Any]], str] | None = None,
                 ) -> None:
        self.bar = tqdm(total=total, desc="cells", unit="cell", position=0, disable=None)
        self.running, self.queued = 0, total
        self.line = line
        self._lock = threading.Lock()
        self._show()

    def _show(self) -> None:
        self.bar.set_postfix_str(f"running {self.running}, queued {self.queued}")

    def started(self, count: int = 1) -> None:
        with self._lock:
            self.running += count
            self.queued -= count
            self._show()

    def finished(self, job: CellJob, record: dict) -> None:
        with self._lock:
            self.running -= 1
            self.bar.update(1)
            self._show()
            if self.line is not None:
                tqdm.write(self.line(job.cell, record))

    def close(self) -> None:
        self.bar.close()


class Executor(ABC):
    """Runs cell jobs and returns their records (in any order)."""

    name: ClassVar[str]

    @abstractmethod
    def run(self, jobs: list[CellJob], progress: Progress) -> list[dict]:
        """Run every job; each runs in its own process and its record is written."""

    def describe(self, jobs: list[CellJob]) -> str:
        """What ``--dry-run`` says about how the jobs would be run."""
        return f"executor {self.name}"
