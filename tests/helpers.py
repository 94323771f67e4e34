"""Helpers shared by the tests: cells with a method's recipe, running the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from benches.cell import Cell
from methods import get_method

REPO = Path(__file__).resolve().parent.parent


def make_cell(method: str, library: str = "torch", timesteps: int = 4, dataset: str = "digits",
              architecture: str = "convnet_digits", seed: int = 0, track: str = "common",
              params: dict | None = None, mode: str = "train", **recipe) -> Cell:
    """A cell with the method's recipe on ``track`` plus ``recipe`` overrides."""
    rec = get_method(method).recipe_for(track).updated(**recipe)
    return Cell(method, library, dataset, architecture, timesteps, seed, recipe=rec.to_dict(),
                params=params or {}, mode=mode)


def run_cli(*args: str, cwd: Path, env: dict | None = None, timeout: float = 600):
    """``python -m benches ARGS`` in ``cwd``; returns the CompletedProcess."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run([sys.executable, "-m", "benches", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout)

