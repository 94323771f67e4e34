"""What every executor shares: the progress display and the executor interface.

The runner decides *what* runs (``--resume``, unsupported cells, missing data sets); an executor
decides *where*: on this machine, on a Ray cluster or as a Slurm job array. Whichever runs it,
a cell runs in its own process (:func:`benches.run.job.run_cell_isolated`) and writes the same
record.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar

from tqdm import tqdm

from benches.cell import Cell
from benches.errors import UserError
from benches.registry import Registry
from benches.run.job import CellJob


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
    """Runs cell jobs and returns their records (in any order).

    An executor is chosen by name (``--executor``, or ``executor`` in a matrix's ``[executor]``
    table) from :data:`EXECUTORS`; its settings come from the flags and that table, by the
    keys of :attr:`options`."""

    name: ClassVar[str]
    description: ClassVar[str] = ""
    requires: ClassVar[str | None] = None
    """The package it imports (installed by the suite's extra of the executor's name)."""
    options: ClassVar[dict[str, str]] = {}
    """Setting key (flag and ``[executor]`` table key) → constructor argument."""

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> Executor:
        """The executor with the settings given (``None``: not given, the default)."""
        return cls(**{arg: options[key] for key, arg in cls.options.items()
                      if options.get(key) is not None})

    @abstractmethod
    def run(self, jobs: list[CellJob], progress: Progress) -> list[dict]:
        """Run every job; each runs in its own process and its record is written."""

    def describe(self, jobs: list[CellJob]) -> str:
        """What ``--dry-run`` says about how the jobs would be run."""
        return f"executor {self.name}"

    def check(self, jobs: list[CellJob]) -> None:
        """Refuse, before anything runs, jobs this executor cannot run (:class:`UserError`, one
        line); ``describe`` and ``run`` call it. By default: cells spanning several nodes."""
        refuse_multi_node(self.name, jobs)


def refuse_multi_node(executor: str, jobs: list[CellJob]) -> None:
    """One line refusing the cells that span several nodes (only Slurm starts those)."""
    spread = [j.cell for j in jobs if j.cell.nodes > 1]
    if spread:
        raise UserError(f"--executor {executor} cannot run {len(spread)} cell(s) spanning "
                        f"several nodes (e.g. {spread[0].label()}, nodes = {spread[0].nodes}): "
                        "multi-node cells run under Slurm: --executor slurm --nodes M")


EXECUTORS: Registry[type[Executor]] = Registry(
    "executor", "benches.executors",
    builtins=("benches.run.executors.local", "benches.run.executors.ray_cluster",
              "benches.run.executors.slurm"),
)
"""Executors by name; an outside package adds one through the ``benches.executors``
entry-point group."""
register_executor = EXECUTORS.register
get_executor = EXECUTORS.get
list_executors = EXECUTORS.names
