"""Command line: ``python -m benches {run,list,show,site,compare}`` (also the ``benches`` script).

One module per command, asv-style: each has ``add_parser(subparsers)``, ``run(args) -> int``
and ``needs_registry`` (whether it loads the methods and datasets, and torch). A user mistake
prints one line on stderr and exits with status 2.

The top of the data path: may import every stage; the readers' commands (``show``, ``site``,
``compare``) import only ``report``, ``site`` and the kernel, so they need no torch.
"""

from __future__ import annotations

import argparse
import sys
from types import ModuleType

from benches.commands import compare, run, show, site
from benches.commands import list as list_  # the module of `benches list`
from benches.commands.common import _Parser, one_line
from benches.errors import RecordWriteError, UserError

COMMANDS: dict[str, ModuleType] = {"run": run, "list": list_, "show": show, "site": site,
                                   "compare": compare}
"""Command name → its module."""


def build_parser() -> argparse.ArgumentParser:
    """The parser of every command."""
    parser = _Parser(
        prog="benches",
        description="Benchmark SNN training methods: run matrices, store records, render a "
        "leaderboard.",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for module in COMMANDS.values():
        module.add_parser(sub)
    return parser


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


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        from benches.registry import UnknownNameError

        errors: tuple[type[Exception], ...] = (UserError, UnknownNameError)
        command = COMMANDS[args.command]
        if command.needs_registry:
            check_datasets_package()
            from datasets import DatasetUnavailable

            errors += (DatasetUnavailable,)
        try:
            return int(command.run(args))
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
