"""Where and with what a record was measured: versions, device, CPU, threads, git state."""

from __future__ import annotations

import datetime as dt
import functools
import importlib.metadata
import os
import platform
import socket
import subprocess
from pathlib import Path
from typing import Any

import torch

from benches.cell import Cell
from benches.measure.numerics import numerics_block

REPO_ROOT = Path(__file__).resolve().parent.parent
TRACKED_DISTRIBUTIONS = ("torch", "torchvision", "numpy", "scikit-learn")
"""Recorded in every record, with the distribution of every registered library."""


def tracked_distributions() -> list[str]:
    from methods.libraries import get_library, list_libraries

    libraries = [get_library(name).distribution for name in list_libraries()]
    return list(dict.fromkeys([*TRACKED_DISTRIBUTIONS, *(d for d in libraries if d)]))


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


@functools.lru_cache(maxsize=1)
def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@functools.lru_cache(maxsize=1)
def git_state() -> dict:
    """Commit and dirty flag of the suite's checkout (``None`` when not run from git)."""
    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(
                ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return {"git_commit": None, "git_dirty": None}
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return {"git_commit": commit, "git_dirty": bool(dirty)}


def _cuda_driver() -> str | None:
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout else None


def environment(device: torch.device, hostname: bool = False) -> dict:
    """The environment block of a record; the machine's name only when ``hostname`` (records
    get published, and a host name can identify a person or a site)."""
    env = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": str(device),
        "device_name": cpu_model() if device.type == "cpu" else torch.cuda.get_device_name(device),
        "versions": {d: _version(d) for d in tracked_distributions()},
        "cuda": torch.version.cuda if device.type == "cuda" else None,
        "cudnn": torch.backends.cudnn.version() if device.type == "cuda" else None,
        "cuda_driver": _cuda_driver() if device.type == "cuda" else None,
        "timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        **git_state(),
    }
    if hostname:
        env["hostname"] = socket.gethostname()
    return env


def record_environment(cell: Cell, device: torch.device, hostname: bool = False,
                       ran: bool = False, not_pinned: str | None = None) -> dict[str, Any]:
    """A record's ``env`` block, the one place it is built: :func:`environment`, the cell's
    numerics (:func:`benches.measure.numerics.numerics_block`; ``not_pinned``: why a requested
    pin did not happen) and the library's block (name, version, backend, the variables that
    select it as this process saw them, the backend in use; for a cell that ran, how its neuron
    differs from the suite's)."""
    from methods import get_method
    from methods.libraries import get_library

    env: dict[str, Any] = environment(device, hostname=hostname)
    env["numerics"] = numerics_block(cell.numerics, cell.device, not_pinned)
    library = get_library(cell.library)
    lib_env: dict[str, Any] = {
        "name": cell.library, "version": library.version(), "backend": cell.backend,
        "env": {k: os.environ.get(k) for k in library.backend_env(cell.backend)},
    }
    env["library"] = lib_env
    try:
        lib_env["backend_in_use"] = library.backend_in_use(cell.backend, device)
    except Exception as exc:  # noqa: BLE001 - provenance must not lose the record
        lib_env["backend_in_use"] = f"unknown ({type(exc).__name__})"
    if ran:
        lib_env["semantics"] = library.semantics(get_method(cell.method).recipe_of(cell).lif())
    return env
