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
    """A cell with the method's recipe on ``track`` (``paper``: its published setup on
    ``dataset``) plus ``recipe`` overrides."""
    rec = get_method(method).recipe_for(track, dataset).updated(**recipe)
    return Cell(method, library, dataset, architecture, timesteps, seed, recipe=rec.to_dict(),
                params=params or {}, mode=mode)


def run_cli(*args: str, cwd: Path, env: dict | None = None, timeout: float = 600):
    """``python -m benches ARGS`` in ``cwd``; returns the CompletedProcess."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run([sys.executable, "-m", "benches", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout)



def plugin_package(root: Path, module: str, source: str, methods: dict[str, str]) -> dict:
    """An outside package in ``root`` (a module and a ``.dist-info`` with entry points) that
    adds ``methods`` (entry-point name → class name in ``module``) to ``benches.methods``;
    returns the environment that makes the CLI see it."""
    (root / f"{module}.py").write_text(source)
    info = root / f"{module}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module.replace('_', '-')}\n"
                                   "Version: 0.1\n")
    lines = "".join(f"{name} = {module}:{cls}\n" for name, cls in methods.items())
    (info / "entry_points.txt").write_text(f"[benches.methods]\n{lines}")
    return {"PYTHONPATH": f"{root}{os.pathsep}{REPO}"}


INTERPRETER_TRITON = (3, 8)
"""Triton's CPU interpreter runs the fused LIF kernels from this version on (3.6's cannot loop
over a runtime bound; the compiled kernels run on 3.6 and are checked on a GPU)."""


def need_triton_interpreter() -> None:
    """Skip unless Triton is installed with an interpreter that runs the fused kernels."""
    import pytest

    triton = pytest.importorskip("triton", reason="triton is not installed")
    version = tuple(int(p) for p in triton.__version__.split(".")[:2] if p.isdigit())
    if version < INTERPRETER_TRITON:
        pytest.skip(f"Triton {triton.__version__}'s interpreter cannot run the kernels (needs "
                    f"{'.'.join(map(str, INTERPRETER_TRITON))}+; they are checked on a GPU)")


BUILTIN_METHODS = ("bptt", "bptt_reset", "ottt_a", "ottt_o", "sltt", "sltt_k", "os", "rate_s",
                   "rate_m", "ndot_a", "ndot_o", "fptt", "bptt_ckpt")
"""The suite's own methods: tests parametrise over these, so a plug-in installed beside the
suite (README's route) is not held to the built-ins' claims."""


def library_lacking(name: str, capability: str, why: str) -> type:
    """A library class that has every neuron capability but ``capability`` (lacking it for
    ``why``); it builds no neurons."""
    from methods.libraries import Library
    from methods.libraries.capabilities import ALL

    def neuron(self, cfg):
        raise NotImplementedError

    return type(name.title(), (Library,), {
        "name": name, "description": f"test library without {capability}",
        "capabilities": ALL - {capability}, "lacks": {capability: why}, "neuron": neuron})
