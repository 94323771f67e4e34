"""Command line: ``python -m benches {run,list,show,site,compare}`` (also the ``benches`` script).

A user mistake prints one line on stderr and exits with status 2.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from benches.errors import RecordWriteError, UserError
from benches.report import compare

if TYPE_CHECKING:
    from benches.cell import Cell
    from benches.plan.matrix import Matrix
    from benches.run.executors import Executor

LIST_KINDS = ("methods", "datasets", "architectures", "libraries", "matrices")
EXECUTOR_NAMES = ("local", "ray", "slurm")
EXECUTOR_KEYS = ("executor", "jobs", "ray_address", "cpus_per_cell", "partition",
                 "gpus_per_cell", "time_limit_min", "max_concurrent", "account", "qos")


def one_line(text: object) -> str:
    """``text`` on one line: characters that end a line (``str.splitlines``' set, e.g. a
    record separator typed into an argument) or control it are shown escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2
        self.exit(2, f"{self.prog}: error: {one_line(message)} (see --help)\n")


def check_datasets_package() -> None:
    """The top-level package ``datasets`` must be this suite's, not Hugging Face's."""
    import datasets

    if not hasattr(datasets, "register_dataset"):
        where = getattr(datasets, "__file__", None) or list(getattr(datasets, "__path__", []))
        raise UserError(
            f"the 'datasets' package imported from {where} is not this suite's (Hugging Face "
            "'datasets' shadows it); install the suite in a dedicated virtual environment "
            "(python -m venv .venv && .venv/bin/pip install -e .)"
        )


def _names(values: list[str] | None) -> list[str] | None:
    if values is None:
        return None
    return [v for value in values for v in value.split(",") if v]


def _ints(values: list[str] | None, what: str) -> list[int] | None:
    names = _names(values)
    if names is None:
        return None
    try:
        return [int(v) for v in names]
    except ValueError:
        raise UserError(f"{what} must be integers, got {' '.join(names)}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="benches",
        description="Benchmark SNN training methods: run matrices, store records, render a "
        "leaderboard.",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="run a matrix: one isolated process and record per cell",
                         description="Run a matrix of cells and render the site.")
    run.add_argument("--matrix", required=True,
                     help="packaged matrix name (see `list matrices`) or path to a .toml file")
    run.add_argument("--methods", nargs="+", help="only these of the matrix's methods "
                     "(a b or a,b); names it lacks replace its methods")
    run.add_argument("--datasets", nargs="+", help="only these of the matrix's datasets; "
                     "names it lacks replace them")
    run.add_argument("--libraries", nargs="+", help="only these of the matrix's libraries; "
                     "names it lacks replace them")
    run.add_argument("--timesteps", nargs="+", help="replace the matrix's T values")
    run.add_argument("--seeds", nargs="+", help="replace the matrix's seeds")
    run.add_argument("--epochs", type=int, help="override the recipe's number of epochs")
    run.add_argument("--device", choices=("cpu", "cuda"), help="run every cell on this device")
    run.add_argument("--threads", type=int, help="torch threads per cell (default: all cores)")
    run.add_argument("--precision", nargs="+", choices=("fp32", "bf16"),
                     help="replace the matrix's precisions (bf16: autocast)")
    run.add_argument("--compile", nargs="+", choices=("false", "true"),
                     help="replace the matrix's compile axis (true: torch.compile the model)")
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
    ex = run.add_argument_group("executors (defaults from the matrix's [executor] table)")
    ex.add_argument("--executor", choices=sorted(EXECUTOR_NAMES),
                    help="where cells run: local (default), ray, slurm")
    ex.add_argument("--jobs", type=int, help="local: cells at once (each CUDA cell gets a GPU)")
    ex.add_argument("--ray-address", help="ray: 'auto' or HOST:PORT (default: start a local "
                    "cluster)")
    ex.add_argument("--cpus-per-cell", type=int, help="ray/slurm: CPUs per cell")
    ex.add_argument("--partition", help="slurm: partition")
    ex.add_argument("--gpus-per-cell", type=int, help="slurm: GPUs per CUDA cell (default 1)")
    ex.add_argument("--time-limit", type=int, dest="time_limit_min",
                    help="slurm: minutes per cell (default 1440)")
    ex.add_argument("--max-concurrent", type=int,
                    help="slurm: array concurrency cap (default 64)")
    ex.add_argument("--account", help="slurm: account")
    ex.add_argument("--qos", help="slurm: quality of service")

    lst = sub.add_parser("list", help="list methods, datasets, architectures, libraries, matrices",
                         description="List what the suite knows.")
    lst.add_argument("kind", choices=LIST_KINDS)
    lst.add_argument("--data-root", help="where `list datasets` looks for files")

    show = sub.add_parser("show", help="print leaderboard tables from the records",
                          description="Print the stored records as tables.")
    show.add_argument("--results", default="results", help="records folder (default: results)")
    show.add_argument("--dataset", help="only this dataset")
    show.add_argument("--recipe", nargs=2, metavar=("METHOD", "DATASET"),
                      help="print METHOD's published setup on DATASET, each value with its "
                           "source (the paper track's recipe; no records needed)")
    show.add_argument("--efficiency", action="store_true",
                      help="the efficiency sweep: time and activation memory vs T, fits, verdicts")
    show.add_argument("--alignment", action="store_true",
                      help="gradient alignment with BPTT vs T")
    show.add_argument("--format", dest="fmt", choices=("plain", "markdown", "csv"),
                      default="plain", help="plain: aligned text fitted to the terminal "
                      "(default); markdown: pipe tables; csv: every column, mean and std apart")
    show.add_argument("--width", help="plain: fit the tables to this many columns (default: "
                      "the terminal's, or $COLUMNS)")

    site = sub.add_parser("site", help="render the static leaderboard",
                          description="Render every record into a static site in OUT "
                                      "(open OUT/index.html; works offline from file://).")
    site.add_argument("--results", default="results", help="records folder (default: results)")
    site.add_argument("--out", default="site", help="site folder (default: site)")
    site.add_argument("--markdown", metavar="DIR",
                      help="also write a README-ready summary: DIR/summary.md (overview tables) "
                           "and the headline plots as SVG files")
    compare.add_parser(sub)
    return parser


def cmd_run(args: argparse.Namespace) -> int:
    from benches.plan.matrix import load_matrix, validate_timesteps
    from benches.run.runner import run_cells

    overrides = {
        "methods": _names(args.methods), "datasets": _names(args.datasets),
        "libraries": _names(args.libraries),
        "timesteps": _ints(args.timesteps, "--timesteps"), "seeds": _ints(args.seeds, "--seeds"),
        "device": args.device, "threads": args.threads, "recipe": {},
        "precision": args.precision,
        "compile": None if args.compile is None else [c == "true" for c in args.compile],
    }
    if overrides["timesteps"] is not None:
        validate_timesteps(overrides["timesteps"], "--timesteps")
    if args.epochs is not None:
        if args.epochs < 1:
            raise UserError(f"--epochs must be ≥ 1, got {args.epochs}")
        overrides["recipe"]["epochs"] = args.epochs
    if args.threads is not None and args.threads < 1:
        raise UserError(f"--threads must be ≥ 1, got {args.threads}")
    if args.memory_limit is not None and not 0 < args.memory_limit < float("inf"):
        raise UserError(f"--memory-limit must be a finite number of GB > 0, "
                        f"got {args.memory_limit:g}")
    if args.timeout is not None and not 0 < args.timeout < float("inf"):
        raise UserError(f"--timeout must be a finite number of seconds > 0, "
                        f"got {args.timeout:g}")
    matrix = load_matrix(args.matrix, overrides)
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
    from benches.run.executors import LocalExecutor

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
    failed = sum(summary.counts[s] for s in ("failed", "timeout", "oom"))
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


def make_executor(args: argparse.Namespace, table: dict[str, Any]) -> Executor:
    """The executor the flags (over the matrix's ``[executor]`` table) ask for."""
    from benches.run.executors import LocalExecutor, RayExecutor, SlurmExecutor

    unknown = sorted(set(table) - set(EXECUTOR_KEYS))
    if unknown:
        raise UserError(f"matrix [executor]: unknown key(s) {', '.join(unknown)} "
                        f"(allowed: {', '.join(EXECUTOR_KEYS)})")
    opts = {k: table.get(k) for k in EXECUTOR_KEYS}
    opts.update({k: v for k in EXECUTOR_KEYS if (v := getattr(args, k, None)) is not None})
    name = opts["executor"] or "local"
    if name not in EXECUTOR_NAMES:
        raise UserError(f"unknown executor {name!r} (known: {', '.join(EXECUTOR_NAMES)})")
    for key in ("jobs", "cpus_per_cell", "gpus_per_cell", "time_limit_min", "max_concurrent"):
        value = opts[key]
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)
                                  or value < (0 if key == "gpus_per_cell" else 1)):
            raise UserError(f"{key.replace('_', '-')} must be a positive integer, got {value!r}")
    if name == "local":
        return LocalExecutor(jobs=opts["jobs"] or 1)
    _require(name)
    if name == "ray":
        return RayExecutor(address=opts["ray_address"], cpus_per_cell=opts["cpus_per_cell"])
    given: dict[str, Any] = {k: opts[k] for k in ("partition", "gpus_per_cell", "cpus_per_cell",
                                  "time_limit_min", "max_concurrent", "account", "qos")
             if opts[k] is not None}
    return SlurmExecutor(**given)


def _require(executor: str) -> None:
    package = {"ray": "ray", "slurm": "submitit"}[executor]
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


def cmd_list(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    rows: list[list[Any]] = []  # one table, whichever kind
    if args.kind == "methods":
        from methods import get_method, list_methods

        for name in list_methods():
            m = get_method(name)
            params = ", ".join(f"{k}={v[0]}" for k, v in m.parameters.items())
            rows.append([name, m.description, ",".join(m.libraries()), m.complexity.memory,
                         m.complexity.backward, m.complexity.optimizer_steps, params])
        print(tabulate(rows, ["method", "description", "libraries", "act. memory", "backward",
                              "opt. steps", "params"]))
    elif args.kind == "datasets":
        from datasets import get_dataset, list_datasets

        for name in list_datasets():
            d = get_dataset(name)
            ok, where = d.locate(args.data_root)
            rows.append([name, d.description, d.modality, d.time_semantics,
                         "×".join(map(str, d.in_shape)), d.num_classes, "yes" if ok else "no",
                         where])
        print(tabulate(rows, ["dataset", "description", "modality", "T steps are", "shape",
                              "classes", "present", "where"]))
    elif args.kind == "architectures":
        from methods.architectures import get_architecture, list_architectures

        rows = [[n, get_architecture(n).description, get_architecture(n).input_size]
                for n in list_architectures()]
        print(tabulate(rows, ["architecture", "description", "input"]))
    elif args.kind == "libraries":
        import torch

        from methods.libraries import get_library, list_libraries

        device = "cuda" if torch.cuda.is_available() else "cpu"
        notes: list[str] = []
        for name in list_libraries():
            lib = get_library(name)
            ok, why = lib.available()
            status = lib.usable_backends(device) if ok else {}
            usable = [b for b, problem in status.items() if problem is None]
            notes += [f"{name}/{b}: {problem}" for b, problem in status.items() if problem]
            rows.append([name, lib.version() or "–", "yes" if ok else f"no: {why}",
                         ",".join(usable) or "–", lib.description])
        print(tabulate(rows, ["library", "version", "imports", f"backends that run ({device})",
                              "description"]))
        if notes:
            print("\nbackends that do not run here:\n" + "\n".join(f"  {n}" for n in notes))
    else:
        from benches.plan.matrix import load_matrix, packaged_matrices

        for name in sorted(packaged_matrices()):
            matrix = load_matrix(name)
            rows.append([name, len(matrix.cells), matrix.description])
        print(tabulate(rows, ["matrix", "cells", "description"]))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    if args.recipe:
        print(paper_recipe_text(*args.recipe))
        return 0
    if args.efficiency or args.alignment:
        from benches.report.scaling import show_report

        if args.fmt == "csv":
            raise UserError("--format csv is for the leaderboards; --efficiency and "
                            "--alignment print markdown tables")
        kinds = [k for k in ("efficiency", "alignment") if getattr(args, k)]
        text = "\n\n".join(show_report(args.results, kind) for kind in kinds)
    else:
        from benches.report.show import show

        text = show(args.results, args.dataset, args.fmt, args.width)
    print(text)
    return 0


def paper_recipe_text(method: str, dataset: str) -> str:
    """``show --recipe``: the resolved paper setup with its sources, or one line (exit 2)."""
    from benches.report.recipe_view import recipe_text
    from datasets import list_datasets
    from methods import get_method, list_methods
    from methods.paper_recipes import paper_setup, published_datasets

    if method not in list_methods():
        raise UserError(f"unknown method {method!r} (known: {', '.join(list_methods())})")
    if dataset not in list_datasets():
        raise UserError(f"unknown dataset {dataset!r} (known: {', '.join(list_datasets())})")
    setup = paper_setup(method, dataset)
    if setup is None:
        where = ", ".join(published_datasets(method)) or "none"
        raise UserError(f"{method} has no published setup on {dataset}: it runs on the common "
                        f"track only (its published setups: {where})")
    common = get_method(method).recipe_for("common").to_dict()
    return recipe_text(setup.to_dict(), common)


def cmd_site(args: argparse.Namespace) -> int:
    from benches.site import render_site

    if not Path(args.results).is_dir():
        raise UserError(f"records folder {args.results} does not exist; run a matrix first")
    path = render_site(args.results, args.out, markdown_dir=args.markdown)
    print(f"site: {path}", file=sys.stderr)
    if args.markdown:
        print(f"markdown summary: {Path(args.markdown) / 'summary.md'}", file=sys.stderr)
    return 0


COMMANDS = {"run": cmd_run, "list": cmd_list, "show": cmd_show, "site": cmd_site,
            "compare": compare.cmd_compare}
NEEDS_REGISTRY = ("run", "list")
"""Commands that load the methods and datasets (and torch); the others read records alone."""


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        from benches.registry import UnknownNameError

        errors: tuple[type[Exception], ...] = (UserError, UnknownNameError)
        if args.command in NEEDS_REGISTRY:
            check_datasets_package()
            from datasets import DatasetUnavailable

            errors += (DatasetUnavailable,)
        try:
            return COMMANDS[args.command](args)
        except errors as exc:
            print(f"benches: error: {one_line(exc)}", file=sys.stderr)
            return 2
    except UserError as exc:
        print(f"benches: error: {one_line(exc)}", file=sys.stderr)
        return 2
    except RecordWriteError as exc:  # disk full: not the user's input, but one line too
        print(f"benches: error: {one_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("benches: interrupted", file=sys.stderr)
        return 130
