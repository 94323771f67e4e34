"""``benches site``: render the records into the static leaderboard site."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from benches.commands.common import Subparsers
from benches.errors import UserError

needs_registry = False


def add_parser(sub: Subparsers) -> None:
    """Add ``site``."""
    site = sub.add_parser("site", help="render the static leaderboard",
                          description="Render every record into a static site in OUT "
                                      "(open OUT/index.html; works offline from file://).")
    site.add_argument("--results", default="results", help="records folder (default: results)")
    site.add_argument("--out", default="site", help="site folder (default: site)")
    site.add_argument("--markdown", metavar="DIR",
                      help="also write a README-ready summary: DIR/summary.md (overview tables) "
                           "and the headline plots as SVG files")


def run(args: argparse.Namespace) -> int:
    """Run ``site``: render, and say where."""
    from benches.site import render_site

    if not Path(args.results).is_dir():
        raise UserError(f"records folder {args.results} does not exist; run a matrix first")
    path = render_site(args.results, args.out, markdown_dir=args.markdown)
    print(f"site: {path}", file=sys.stderr)
    if args.markdown:
        print(f"markdown summary: {Path(args.markdown) / 'summary.md'}", file=sys.stderr)
    return 0
