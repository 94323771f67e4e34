"""``benches compare``: two results folders, cell by cell; exit 1 on a regression (a CI
gate)."""

from __future__ import annotations

import argparse
import math

from benches.commands.common import Subparsers
from benches.errors import UserError
from benches.report.compare import DEFAULT_GATES, RULES, Rules, _parse_gates, compare

needs_registry = False


def add_parser(sub: Subparsers) -> None:
    """Add the ``compare`` subcommand to an argparse subparsers object."""
    p = sub.add_parser(
        "compare", help="compare two results folders cell by cell; exit 1 on a regression",
        description="Compare the records of two results folders, matched by cell key: change in "
        "top-1, time per iteration and activation memory against noise thresholds taken from "
        "the records' own spread. Exit status 1 when a cell regressed past its threshold (a CI "
        "gate). Records of other cells, not ok, or of another schema version are listed, not "
        "compared.",
        epilog=RULES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("a", metavar="A", help="baseline results folder")
    p.add_argument("b", metavar="B", help="candidate results folder (compared against A)")
    p.add_argument("--fail-on", nargs="+", metavar="METRIC", default=list(DEFAULT_GATES),
                   help="metrics whose regression makes the exit status 1: accuracy, time, "
                   "memory, energy, synops, sparsity, flops, status (a cell ok in A but "
                   "failed/timeout/oom in B), or none (a b or a,b; default: accuracy time memory)")
    p.add_argument("--sigmas", type=float, default=3.0,
                   help="top-1 threshold in seed standard deviations (default: 3)")
    p.add_argument("--acc-floor", type=float, default=0.5,
                   help="smallest top-1 threshold, percentage points (default: 0.5)")
    p.add_argument("--iqrs", type=float, default=2.0,
                   help="time threshold in IQRs of the iteration time (default: 2)")
    p.add_argument("--time-floor", type=float, default=10.0,
                   help="smallest time threshold, percent of A's time (default: 10)")
    p.add_argument("--mem-tolerance", type=float, default=0.1,
                   help="activation-memory tolerance, percent of A's (default: 0.1)")
    p.add_argument("--changed-only", action="store_true",
                   help="list only the cells with a change past a threshold")


def run(args: argparse.Namespace) -> int:
    """Run ``compare``: print the report, return 0, or 1 when a cell regressed."""
    for name in ("sigmas", "acc_floor", "iqrs", "time_floor", "mem_tolerance"):
        value = getattr(args, name)
        if not math.isfinite(value) or value < 0:
            raise UserError(f"--{name.replace('_', '-')} must be ≥ 0, got {value}")
    rules = Rules(args.sigmas, args.acc_floor, args.iqrs, args.time_floor, args.mem_tolerance)
    text, status = compare(args.a, args.b, rules, _parse_gates(args.fail_on),
                           changed_only=args.changed_only)
    print(text)
    return status
