"""``benches run``: expand a matrix into cells, run them with an executor (one isolated
process and one record per cell), then render the site."""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benches.cell import DEVICES, PRECISIONS
from benches.commands.common import Subparsers, expanded, ints
from benches.errors import UserError
from benches.records import CRASHED

if TYPE_CHECKING:
    from benches.cell import Cell
    from benches.plan.matrix import Matrix
    from benches.run.executors import Executor

needs_registry = True
"""This command loads the methods and datasets (and torch)."""


def add_parser(sub: Subparsers) -> None:
    """Add ``run`` and its flags."""
    run = sub.add_parser("run", help="run a matrix: one isolated process and record per cell",
                         description="Run a matrix of cells and render the site.")
    _add_selection(run)
    _add_running(run)
    _add_executor(run.add_argument_group("executors (defaults from the matrix's [executor] "
                                         "table)"))


def _add_selection(run: argparse.ArgumentParser) -> None:
    """Which cells: the matrix and what narrows or replaces its axes."""
    run.add_argument("--matrix", required=True,
                     help="packaged matrix name (see `list matrices`) or path to a .toml file")
    run.add_argument("--methods", nargs="+", help="only these of the matrix's methods "
                     "(a b or a,b; wildcards: 'sltt*'); names it lacks replace its methods")
    run.add_argument("--datasets", nargs="+", help="only these of the matrix's datasets; "
                     "names it lacks replace them")
    run.add_argument("--libraries", nargs="+", help="only these of the matrix's libraries; "
                     "names it lacks replace them")
    run.add_argument("--timesteps", nargs="+", help="replace the matrix's T values")
    run.add_argument("--seeds", nargs="+", help="replace the matrix's seeds")
    run.add_argument("--tracks", nargs="+", choices=("common", "paper"),
                     help="replace the matrix's recipe tracks")
    run.add_argument("--epochs", type=int, help="override the recipe's number of epochs")
    run.add_argument("--device", choices=DEVICES, help="run every cell on this device")
    run.add_argument("--threads", type=int, help="torch threads per cell (default: all cores)")
    run.add_argument("--precision", nargs="+", choices=PRECISIONS,
                     help="replace the matrix's precisions (bf16: autocast)")
    run.add_argument("--compile", nargs="+", choices=("false", "true"),
                     help="replace the matrix's compile axis (true: torch.compile the model)")
    run.add_argument("--gpus-per-cell", type=int,
                     help="train each cell as N torch.distributed ranks per node (CUDA: one GPU "
                     "each, NCCL; CPU: gloo processes); the recipe's batch is the global one")
    run.add_argument("--nodes", type=int, help="nodes per cell (several: --executor slurm, "
                     "srun); ranks = gpus-per-cell × nodes")


def _add_running(run: argparse.ArgumentParser) -> None:
    """Where records go and how cells run."""
    run.add_argument("--no-pin", action="store_true",
                     help="run CPU train cells with the machine's widest kernels instead of "
                     "pinned AVX2 numerics (accuracy then depends on the machine)")
    run.add_argument("--out", default="results", help="records folder (default: results)")
    run.add_argument("--site-out", default="site", help="site folder (default: site)")
    run.add_argument("--no-site", action="store_true", help="do not render the site afterwards")
    run.add_argument("--resume", action="store_true", help="skip cells that have an ok record")
    run.add_argument("--timeout", type=float, help="seconds per cell (default: the matrix's)")
    run.add_argument("--data-root", help="folder with the datasets' files "
                     "(default: $BENCHES_DATA_ROOT or ./data)")
    run.add_argument("--dry-run", action="store_true",
                     help="count the cells per dataset, estimate GPU-hours from the records "
                     "present, say how the executor would run them; run nothing")
    run.add_argument("--list", action="store_true", help="with --dry-run: list every cell too")
    run.add_argument("--strict", action="store_true",
                     help="stop with exit 2 if a data set is missing (default: skip its cells)")
    run.add_argument("--memory-limit", type=float, metavar="GB",
                     help="CPU memory a cell may allocate beyond what its process holds at "
                          "start (RLIMIT_AS); past it the cell is recorded oom")
    run.add_argument("--record-hostname", action="store_true",
                     help="keep the machine's host name in each record (off: records get "
                          "published)")
    run.add_argument("--keep-checkpoints", action="store_true",
                     help="keep a train cell's per-epoch checkpoint after its ok record")


def _add_executor(ex: argparse._ArgumentGroup) -> None:
    """Where cells run, and the executors' own settings."""
    ex.add_argument("--executor", help="where cells run: local (default) or another of "
                    "`benches list executors`")
    ex.add_argument("--jobs", type=int, help="local: cells at once (each CUDA cell gets a GPU)")
    ex.add_argument("--ray-address", help="ray: 'auto' or HOST:PORT (default: start a local "
                    "cluster)")
    ex.add_argument("--cpus-per-cell", type=int, help="ray/slurm: CPUs per cell")
    ex.add_argument("--partition", help="slurm: partition")
    ex.add_argument("--time-limit", type=int, dest="time_limit_min",
                    help="slurm: minutes per cell (default 1440)")
    ex.add_argument("--max-concurrent", type=int,
                    help="slurm: array concurrency cap (default 64)")
    ex.add_argument("--account", help="slurm: account")
    ex.add_argument("--qos", help="slurm: quality of service")


def run(args: argparse.Namespace) -> int:
    """Run ``run``: 0, or 1 when a cell failed, timed out or ran out of memory."""
    from benches.plan.matrix import load_matrix
    from benches.run.runner import run_cells

    found = overrides(args)
    matrix = load_matrix(args.matrix, found)
    spread = {k: matrix.executor[k] for k in SPREAD if k in matrix.executor and found[k] is None}
    if spread:  # the [executor] table's ranks apply to every grid, as the flags do
        matrix = load_matrix(args.matrix, {**found, **spread})
    if not matrix.cells:
        raise UserError(f"matrix {matrix.name} has no cells")
    executor = make_executor(args, matrix.executor)
    missing = missing_data(matrix.cells, args.data_root)
    if missing and args.strict:
        raise UserError("missing data set(s) (--strict): " + " | ".join(missing.values()))
    print(f"matrix {matrix.name}: {len(matrix.cells)} cells → {args.out}/", file=sys.stderr)
    if missing:
        skipped = sum(c.dataset in missing for c in matrix.cells)
        print(f"missing data sets — their {skipped} cells are recorded as skipped (--strict "
              "stops instead):\n" + "\n".join(f"  {m}" for m in missing.values()),
              file=sys.stderr)
    if args.dry_run:
        return dry_run(matrix, args, executor, missing)
    check_writable(args.out)
    from benches.run.executors import CellJob, LocalExecutor

    executor.check([CellJob(c, str(args.out)) for c in matrix.cells])  # refuse before any record

    summary = run_cells(
        matrix.cells, args.out, matrix=matrix.name, data_root=args.data_root,
        resume=args.resume, timeout_s=args.timeout or matrix.timeout_s,
        timeouts=None if args.timeout else matrix.timeouts, executor=executor,
        missing=missing, keep_checkpoints=args.keep_checkpoints,
        check_support=isinstance(executor, LocalExecutor), command=command_line(),
        memory_limit_gb=args.memory_limit,
    )
    print(f"done: {summary.line()}", file=sys.stderr)
    if not args.no_site:
        from benches.site import render_site

        path = render_site(args.out, args.site_out)
        print(f"site: {path}", file=sys.stderr)
    failed = sum(summary.counts[s] for s in CRASHED)
    return 1 if failed else 0


def check_writable(folder: str) -> None:
    """A records folder that cannot be created or written is a user error, found before any
    cell runs."""
    import tempfile

    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test."):
            pass
    except OSError as exc:
        raise UserError(f"records folder {folder} cannot be written ({exc.strerror or exc}); "
                        "pass --out DIR with a writable folder") from None


def command_line() -> str:
    """The command as typed, for the records (``python -m benches …``)."""
    prog = Path(sys.argv[0]).name
    head = ["python", "-m", "benches"] if prog in ("__main__.py", "benches") else [prog]
    return shlex.join([*head, *sys.argv[1:]])


def missing_data(cells: Iterable[Cell], data_root: str | None) -> dict[str, str]:
    """Data set → why its files are not usable (one line naming where it looked and how to
    provide them), for every data set of ``cells`` that is missing."""
    from datasets import DatasetUnavailable, get_dataset

    missing = {}
    for name in sorted({c.dataset for c in cells}):
        try:
            get_dataset(name).check(data_root)
        except DatasetUnavailable as exc:
            missing[name] = str(exc)
    return missing


SPREAD = ("gpus_per_cell", "nodes")
"""``[executor]`` keys that set the cells' ranks (as ``--gpus-per-cell`` and ``--nodes``)."""
POSITIVE_INT_OPTIONS = ("jobs", "cpus_per_cell", "time_limit_min", "max_concurrent")
"""Executor settings that must be whole numbers ≥ 1."""


def executor_keys() -> tuple[str, ...]:
    """The keys an ``[executor]`` table may hold: ``executor`` and every executor's settings."""
    from benches.run.executors import get_executor, list_executors

    keys = {k for name in list_executors() for k in get_executor(name).options} | set(SPREAD)
    return ("executor", *sorted(keys))


def make_executor(args: argparse.Namespace, table: dict[str, Any]) -> Executor:
    """The executor the flags (over the matrix's ``[executor]`` table) ask for."""
    from benches.run.executors import get_executor

    keys = executor_keys()
    unknown = sorted(set(table) - set(keys))
    if unknown:
        raise UserError(f"matrix [executor]: unknown key(s) {', '.join(unknown)} "
                        f"(allowed: {', '.join(keys)})")
    opts = {k: table.get(k) for k in keys}
    opts.update({k: v for k in keys if (v := getattr(args, k, None)) is not None})
    cls = get_executor(opts["executor"] or "local")
    for key in POSITIVE_INT_OPTIONS:
        value = opts[key]
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)
                                  or value < 1):
            raise UserError(f"{key.replace('_', '-')} must be a positive integer, got {value!r}")
    if cls.requires:
        _require(cls.name, cls.requires)
    return cls.from_options(opts)


def _require(executor: str, package: str) -> None:
    try:
        __import__(package)
    except ImportError:
        raise UserError(f"--executor {executor} needs the '{package}' package: "
                        f"pip install -e \".[{executor}]\"") from None


def dry_run(matrix: Matrix, args: argparse.Namespace, executor: Executor,
            missing: dict[str, str]) -> int:
    from tabulate import tabulate

    from benches.plan.estimate import estimate, estimate_table
    from benches.records import load_records
    from benches.run.executors import CellJob

    records, _ = load_records(args.out) if Path(args.out).is_dir() else ([], [])
    est = estimate(matrix.cells, records)
    headers, rows = estimate_table(est)
    print(tabulate(rows, headers, colalign=("left",) + ("right",) * 5))
    if est.records_used:
        print(f"estimates from {est.records_used} ok record(s) in {args.out}/; "
              f"{est.unknown} cell(s) have no comparable record")
    else:
        print(f"no records in {args.out}/ to estimate from (run some cells first, or point "
              "--out at a results folder)")
    jobs = [CellJob(c, str(args.out), args.data_root, matrix.name, matrix.timeout_for(c))
            for c in matrix.cells if c.dataset not in missing]
    print(executor.describe(jobs))
    if args.list:
        for cell in matrix.cells:
            print(cell.label())
    return 0


def overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The matrix overrides the flags ask for, each checked (bad values are user errors)."""
    from benches.plan.matrix import validate_timesteps
    from datasets.base import DATASETS
    from methods.base import METHODS
    from methods.libraries.base import LIBRARIES

    found: dict[str, Any] = {
        "methods": expanded(args.methods, METHODS), "datasets": expanded(args.datasets, DATASETS),
        "libraries": expanded(args.libraries, LIBRARIES),
        "timesteps": ints(args.timesteps, "--timesteps"), "seeds": ints(args.seeds, "--seeds"),
        "device": args.device, "threads": args.threads, "recipe": {},
        "precision": args.precision,
        "compile": None if args.compile is None else [c == "true" for c in args.compile],
        "pin": False if args.no_pin else None,
        "gpus_per_cell": args.gpus_per_cell, "nodes": args.nodes, "tracks": args.tracks,
    }
    for key in ("gpus_per_cell", "nodes"):
        if found[key] is not None and found[key] < 1:
            raise UserError(f"--{key.replace('_', '-')} must be ≥ 1, got {found[key]}")
    if found["timesteps"] is not None:
        validate_timesteps(found["timesteps"], "--timesteps")
    if args.epochs is not None:
        if args.epochs < 1:
            raise UserError(f"--epochs must be ≥ 1, got {args.epochs}")
        found["recipe"]["epochs"] = args.epochs
    if args.threads is not None and args.threads < 1:
        raise UserError(f"--threads must be ≥ 1, got {args.threads}")
    if args.memory_limit is not None and not 0 < args.memory_limit < float("inf"):
        raise UserError(f"--memory-limit must be a finite number of GB > 0, "
                        f"got {args.memory_limit:g}")
    if args.timeout is not None and not 0 < args.timeout < float("inf"):
        raise UserError(f"--timeout must be a finite number of seconds > 0, "
                        f"got {args.timeout:g}")
    return found
