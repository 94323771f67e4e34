"""A child process that dies with its parent (the cell process with its coordinator, a rank
with its cell process)."""

from __future__ import annotations

import os
import signal
import sys


def die_with_parent() -> None:
    """Linux: this process gets SIGKILL when its parent dies, so a coordinator killed with
    SIGKILL leaves no cell running that another runner could duplicate (elsewhere a no-op).
    A forked cell's parent is the fork server, which outlives the coordinator by seconds:
    ``cell_process.watch_coordinator`` stops such a cell at once."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    parent = os.getppid()
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)
