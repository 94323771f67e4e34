"""Per-epoch checkpoints of a train cell, so that a preempted cell continues where it stopped.

A train cell given a checkpoint folder (``checkpoint_dir(out_dir, cell)``, i.e.
``<out_dir>/.checkpoints/<cell key>/``, beside the records and ignored by them) saves its whole
training state there after every epoch, once that epoch's evaluation is done, and a rerun of the
same cell restores it and continues at the next epoch. The state is a dict of tensors and plain
Python data written with ``torch.save`` and read back with ``torch.load(weights_only=True)``:
no pickled objects, so a checkpoint cannot run code when it is loaded.

Only the latest epoch's file is kept (``epoch-NNNNN.pt``); a file is written to a temporary name
in the same folder, flushed, then renamed over (``os.replace``), so a process killed at any
moment leaves either the previous checkpoint or the new one, never a torn file (one process
writes a cell's folder at a time: the cell's own). The caller
removes the folder (:func:`remove`) once the cell's ``ok`` record is written.

:func:`rng_state` / :func:`set_rng_state` capture and restore every random number generator a
cell uses (torch CPU, CUDA when initialised, NumPy, Python's ``random``) as plain data.
"""

from __future__ import annotations

import os
import pickle
import random
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benches.atomic import write_atomically
from benches.cell import Cell

FOLDER = ".checkpoints"
"""Name of the folder, inside a results folder, that holds one checkpoint folder per cell."""
_FILE = re.compile(r"epoch-(\d+)\.pt")


def checkpoint_dir(out_dir: str | os.PathLike, cell: Cell) -> Path:
    """``<out_dir>/.checkpoints/<cell.key()>/`` (not created here)."""
    return Path(out_dir) / FOLDER / cell.key()


def _files(path_dir: Path) -> list[tuple[int, Path]]:
    """Checkpoint files in ``path_dir``, newest epoch first."""
    if not path_dir.is_dir():
        return []
    found = []
    for path in path_dir.iterdir():
        match = _FILE.fullmatch(path.name)
        if match:
            found.append((int(match.group(1)), path))
    return sorted(found, reverse=True)


def save(path_dir: str | os.PathLike, state: dict[str, Any]) -> Path:
    """Write ``state`` (which names the completed epoch as ``state["epoch"]``) atomically and
    delete older epochs' files; returns the file written."""
    folder = Path(path_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"epoch-{int(state['epoch']):05d}.pt"
    write_atomically(path, lambda fh: torch.save(state, fh), binary=True, prefix=".epoch-")
    for _, old in _files(folder):
        if old != path:
            old.unlink(missing_ok=True)
    for stale in folder.glob(".epoch-*.tmp"):  # left by a process killed while saving
        stale.unlink(missing_ok=True)
    return path


def load(path_dir: str | os.PathLike) -> dict[str, Any] | None:
    """The latest readable checkpoint in ``path_dir`` (tensors on the CPU), or ``None``."""
    for _, path in _files(Path(path_dir)):
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except (OSError, EOFError, RuntimeError, pickle.UnpicklingError):
            continue  # unreadable (e.g. a damaged disk): try an older one
    return None


def remove(path_dir: str | os.PathLike) -> None:
    """Delete the cell's checkpoint folder, and ``.checkpoints`` itself once it is empty."""
    folder = Path(path_dir)
    shutil.rmtree(folder, ignore_errors=True)
    parent = folder.parent
    if parent.name == FOLDER:
        try:
            parent.rmdir()
        except OSError:  # other cells' checkpoints are still there
            pass


def rng_state() -> dict[str, Any]:
    """Every generator's state as tensors and plain data (loadable with ``weights_only``)."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": [str(kind), [int(k) for k in keys], int(pos), int(has_gauss), float(cached)],
        "python": [int(version), [int(v) for v in internal], gauss_next],
        "cuda": [],
    }
    # only if this process already uses CUDA: asking would initialise it in a CPU cell
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = list(torch.cuda.get_rng_state_all())
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` captured."""
    torch.set_rng_state(state["torch"])
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))
    cuda = state.get("cuda") or []
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)


_SCALARS = (bool, int, float)


def module_extras(model: torch.nn.Module) -> dict[str, dict]:
    """Module state that ``state_dict`` leaves out but training carries from one batch to the
    next: non-persistent buffers and plain number attributes of every submodule (e.g. OSR's
    statistics of the last sequence, folded into its running statistics at the next one)."""
    extras = {}
    for name, module in model.named_modules():
        entry = {k: v for k, v in vars(module).items() if type(v) in _SCALARS}
        entry.update({k: module._buffers[k] for k in module._non_persistent_buffers_set
                      if module._buffers.get(k) is not None})
        if entry:
            extras[name] = entry
    return extras


def restore_module_extras(model: torch.nn.Module, extras: dict[str, dict]) -> None:
    for name, entry in extras.items():
        module = model.get_submodule(name)
        for key, value in entry.items():
            buffer = module._buffers.get(key)
            if buffer is not None:
                buffer.copy_(value)  # in place: the buffer keeps its address
            else:
                setattr(module, key, value)
