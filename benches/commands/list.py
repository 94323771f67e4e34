"""``benches list``: what the suite knows (methods, datasets, architectures, libraries,
modes, executors, matrices), optionally only the names matching a wildcard pattern."""

from __future__ import annotations

import argparse
from typing import Any

from benches.commands.common import Subparsers

needs_registry = True
KINDS = ("methods", "datasets", "architectures", "libraries", "modes", "executors", "matrices")


def add_parser(sub: Subparsers) -> None:
    """Add ``list``."""
    lst = sub.add_parser("list", help="list methods, datasets, architectures, libraries, "
                         "modes, executors, matrices",
                         description="List what the suite knows.")
    lst.add_argument("kind", choices=KINDS)
    lst.add_argument("--data-root", help="where `list datasets` looks for files")

    lst.add_argument("pattern", nargs="?", help="only names matching this shell pattern "
                     "(e.g. 'sltt*')")


def run(args: argparse.Namespace) -> int:
    """Run ``list``: one table of the kind asked for."""
    from tabulate import tabulate

    headers, rows = ROWS[args.kind](args.pattern, args.data_root)
    print(tabulate(rows, headers))
    if args.kind == "libraries":
        _print_backend_notes(args.pattern)
    return 0


def _methods(pattern: str | None, _root: str | None) -> tuple[list[str], list[list[Any]]]:
    from methods import get_method, list_methods

    rows = []
    for name in list_methods(pattern):
        m = get_method(name)
        params = ", ".join(f"{k}={v[0]}" for k, v in m.parameters.items())
        rows.append([name, m.description, ",".join(m.libraries()), m.complexity.memory,
                     m.complexity.backward, m.complexity.optimizer_steps, params])
    return ["method", "description", "libraries", "act. memory", "backward", "opt. steps",
            "params"], rows


def _datasets(pattern: str | None, root: str | None) -> tuple[list[str], list[list[Any]]]:
    from datasets import get_dataset, list_datasets

    rows = []
    for name in list_datasets(pattern):
        d = get_dataset(name)
        ok, where = d.locate(root)
        rows.append([name, d.description, d.modality, d.time_semantics,
                     "×".join(map(str, d.in_shape)), d.num_classes, "yes" if ok else "no",
                     where])
    return ["dataset", "description", "modality", "T steps are", "shape", "classes",
            "present", "where"], rows


def _architectures(pattern: str | None, _root: str | None) -> tuple[list[str], list[list[Any]]]:
    from methods.architectures import get_architecture, list_architectures

    rows: list[list[Any]] = [[n, get_architecture(n).description, get_architecture(n).input_size]
                             for n in list_architectures(pattern)]
    return ["architecture", "description", "input"], rows


def _device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _libraries(pattern: str | None, _root: str | None) -> tuple[list[str], list[list[Any]]]:
    from methods.libraries import get_library, list_libraries

    device, rows = _device(), []
    for name in list_libraries(pattern):
        lib = get_library(name)
        ok, why = lib.available()
        status = lib.usable_backends(device) if ok else {}
        usable = [b for b, problem in status.items() if problem is None]
        rows.append([name, lib.version() or "–", "yes" if ok else f"no: {why}",
                     ",".join(usable) or "–", lib.description])
    return ["library", "version", "imports", f"backends that run ({device})", "description"], rows


def _print_backend_notes(pattern: str | None) -> None:
    from methods.libraries import get_library, list_libraries

    device, notes = _device(), []
    for name in list_libraries(pattern):
        lib = get_library(name)
        if lib.available()[0]:
            notes += [f"{name}/{b}: {problem}"
                      for b, problem in lib.usable_backends(device).items() if problem]
    if notes:
        print("\nbackends that do not run here:\n" + "\n".join(f"  {n}" for n in notes))


def _executors(pattern: str | None, _root: str | None) -> tuple[list[str], list[list[Any]]]:
    from benches.run.executors import get_executor, list_executors

    rows: list[list[Any]] = []
    for name in list_executors(pattern):
        cls = get_executor(name)
        rows.append([name, cls.description, cls.requires or "–", ", ".join(cls.options) or "–"])
    return ["executor", "description", "needs", "settings"], rows


def _modes(pattern: str | None, _root: str | None) -> tuple[list[str], list[list[Any]]]:
    from benches.worker.modes import get_mode, list_modes

    return ["mode", "description"], [[n, get_mode(n).description] for n in list_modes(pattern)]


def _matrices(pattern: str | None, _root: str | None) -> tuple[list[str], list[list[Any]]]:
    import fnmatch

    from benches.plan.matrix import load_matrix, packaged_matrices

    rows: list[list[Any]] = []
    for name in sorted(packaged_matrices()):
        if pattern is None or fnmatch.fnmatchcase(name, pattern):
            matrix = load_matrix(name)
            rows.append([name, len(matrix.cells), matrix.description])
    return ["matrix", "cells", "description"], rows


ROWS = {"methods": _methods, "datasets": _datasets, "architectures": _architectures,
        "libraries": _libraries, "modes": _modes, "executors": _executors, "matrices": _matrices}
"""Kind → its table's headers and rows (for a pattern and a data root)."""
