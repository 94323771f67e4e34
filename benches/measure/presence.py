"""Which other cells run on this machine at the same time (their timings share the CPUs).

Each cell process announces itself with a file named by its process id in one folder per user
(``$BENCHES_CELLS_DIR``, else ``<tmp>/benches-cells-<uid>``) and removes it when done; a file
whose process is gone (killed) is ignored. While a cell runs, a background thread counts the
others once a second; the record keeps the largest count (``other_cells``), so runners sharing
a machine, whatever their records folders, see each other.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

INTERVAL_S = 1.0


def folder() -> Path:
    base = os.environ.get("BENCHES_CELLS_DIR")
    return Path(base) if base else Path(tempfile.gettempdir()) / f"benches-cells-{os.getuid()}"


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (killed, not yet reaped) holds its pid but runs nothing
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][:1] != "Z"
    except (OSError, IndexError):
        return True


def others(where: Path | None = None) -> int:
    """Cell processes other than this one that are running now."""
    where = where or folder()
    me = os.getpid()
    try:
        names = os.listdir(where)
    except OSError:
        return 0
    return sum(1 for n in names if n.isdigit() and int(n) != me and process_alive(int(n)))


class Seen:
    """The largest number of other cells seen so far."""

    def __init__(self) -> None:
        self.peak = 0

    def sample(self, where: Path) -> None:
        self.peak = max(self.peak, others(where))


@contextlib.contextmanager
def announced() -> Iterator[Seen]:
    """Announce this cell process while the block runs, counting the others meanwhile."""
    where = folder()
    own = where / str(os.getpid())
    mine: Path | None = own  # None: not announced
    try:
        where.mkdir(parents=True, exist_ok=True)
        own.touch()
    except OSError:  # an unwritable temp folder must not fail the cell: it is just not seen
        mine = None
    seen = Seen()
    seen.sample(where)
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(INTERVAL_S):
            seen.sample(where)

    thread = threading.Thread(target=watch, name="benches-presence", daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        stop.set()
        thread.join()
        seen.sample(where)
        if mine is not None:
            mine.unlink(missing_ok=True)
