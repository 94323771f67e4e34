"""Claims: a runner takes a cell before running it, so that runners sharing one records folder
(two local processes, Ray or Slurm workers) never run the same cell at the same time.

A claim is an exclusive lock file ``RESULTS/.claims/KEY.lock`` (``O_CREAT | O_EXCL``) holding
the owner's host, process id and start time; it is removed when the cell's process is done.
A claim whose owner is gone is broken: on the same host when that process no longer exists,
elsewhere when it is older than the cell's timeout plus a minute.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

from benches.measure.presence import process_alive

FOLDER = ".claims"
ELSEWHERE = "claimed"
"""The status a runner reports (never records) for a cell another runner holds."""


def claim_path(out_dir: str | os.PathLike, key: str) -> Path:
    return Path(out_dir) / FOLDER / f"{key}.lock"


def owner(path: Path) -> dict | None:
    """Who holds the claim (``None`` when it cannot be read)."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def stale(path: Path, max_age_s: float) -> bool:
    """Whether the claim's owner is gone."""
    held = owner(path)
    try:
        age = time.time() - path.stat().st_mtime
    except OSError:
        return True  # released meanwhile
    if held is None:  # an owner killed while writing it
        return age > 60
    if held.get("host") == socket.gethostname():
        return not process_alive(int(held.get("pid", 0)))
    return age > max_age_s


@contextlib.contextmanager
def claim(out_dir: str | os.PathLike, key: str, max_age_s: float) -> Iterator[dict | None]:
    """Hold the claim on cell ``key`` while the block runs: yields ``None`` when this runner
    holds it, or the owner's details when another runner does (then the block must not run
    the cell)."""
    path = claim_path(out_dir, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            if stale(path, max_age_s):
                path.unlink(missing_ok=True)
                continue
            yield owner(path) or {"host": "?", "pid": "?"}
            return
        with os.fdopen(fd, "w") as fh:
            json.dump({"host": socket.gethostname(), "pid": os.getpid(),
                       "since": time.time()}, fh)
        try:
            yield None
        finally:
            path.unlink(missing_ok=True)
        return
    yield owner(path) or {"host": "?", "pid": "?"}


def sweep(out_dir: str | os.PathLike, max_age_s: float) -> int:
    """Remove the claims whose owner is gone (a runner killed before it released them);
    returns how many."""
    removed = 0
    for path in (Path(out_dir) / FOLDER).glob("*.lock"):
        if stale(path, max_age_s):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def elsewhere(cell_key: str, held: dict) -> dict:
    """What a runner reports for a cell another runner holds (not a record: never written)."""
    return {"key": cell_key, "status": ELSEWHERE, "metrics": {},
            "reason": f"running in another runner (pid {held.get('pid')} on "
                      f"{held.get('host')}); its record comes from there"}
