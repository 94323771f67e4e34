"""``benches show``: the records as tables in the terminal (or Markdown, CSV), the
efficiency and alignment reports, or a method's published setup."""

from __future__ import annotations

import argparse

from benches.commands.common import Subparsers
from benches.errors import UserError

needs_registry = False


def add_parser(sub: Subparsers) -> None:
    """Add ``show``."""
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


def run(args: argparse.Namespace) -> int:
    """Run ``show``: print what was asked for."""
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
