"""MkDocs hook: generate the parts of the docs that the code declares, so they cannot drift.

- ``cli.md``: ``<!-- cli-reference -->`` becomes the reference of every command, walked from
  the argparse parser (usage, description, each argument with its help, choices and default).
- ``records.md``: ``<!-- record-schema -->`` becomes the record schema: version, statuses and
  the metric schema of ``benches/schema.py`` (unit, better direction, description, display).

Wired in ``mkdocs.yml`` (``hooks:``). ``tests/harness/test_docs.py`` loads this file too and
takes the parser from :func:`build_parser`, so the import of the parser builder lives here only.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # mkdocs run without the package installed
    sys.path.insert(0, str(REPO))

CLI_MARK = "<!-- cli-reference -->"
SCHEMA_MARK = "<!-- record-schema -->"
WIDTH = "100"  # argparse wraps usage at $COLUMNS; fixed, so the page does not depend on a tty


def build_parser() -> argparse.ArgumentParser:
    """The suite's argparse parser. The one import of the CLI module in the docs."""
    from benches.commands import build_parser as builder

    return builder()


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """Every subcommand of ``parser``, by name, in declaration order."""
    out: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            out.update(action.choices)
    return out


def _cell(text: object) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _argument(action: argparse.Action) -> str:
    if action.option_strings:
        name = ", ".join(action.option_strings)
        if action.nargs != 0:
            metavar = action.metavar or action.dest.upper()
            if isinstance(metavar, tuple):
                metavar = " ".join(metavar)
            name += f" {metavar}" + (" …" if action.nargs in ("+", "*") else "")
    else:
        name = action.metavar or action.dest
    return f"`{name}`"


def _arguments_table(parser: argparse.ArgumentParser) -> list[str]:
    lines: list[str] = []
    for group in parser._action_groups:
        actions = [a for a in group._group_actions if not isinstance(a, argparse._HelpAction)]
        if not actions:
            continue
        lines += [f"**{_cell(group.title)}**", "",
                  "| argument | help | choices | default |", "|---|---|---|---|"]
        for a in actions:
            choices = ", ".join(f"`{c}`" for c in a.choices) if a.choices else ""
            default = ("" if a.default in (None, False, argparse.SUPPRESS)
                       else f"`{a.default}`")
            required = " (required)" if a.required and a.option_strings else ""
            lines.append(f"| {_argument(a)}{required} | {_cell(a.help or '')} | {choices} | "
                         f"{default} |")
        lines.append("")
    return lines


def cli_reference() -> str:
    """Markdown reference of the whole command line."""
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = WIDTH
    try:
        parser = build_parser()
        commands = subcommands(parser)
        helps = {a.dest: a.help for action in parser._actions
                 if isinstance(action, argparse._SubParsersAction)
                 for a in action._choices_actions}
        lines = ["## Reference", "",
                 "Generated from the argparse parser when the docs are built.", "",
                 "```", parser.format_usage().strip(), "```", "",
                 _cell(parser.description or ""), "",
                 "| command | does |", "|---|---|"]
        lines += [f"| [`{name}`](#{name}) | {_cell(helps.get(name) or '')} |"
                  for name in commands]
        lines.append("")
        for name, sub in commands.items():
            lines += [f"### `{parser.prog} {name}` {{#{name}}}", ""]
            if sub.description:
                lines += [_cell(sub.description), ""]
            lines += ["```", sub.format_usage().strip(), "```", ""]
            lines += _arguments_table(sub)
            text = ["```", *sub.format_help().strip().split("\n"), "```"]
            lines += [f'??? note "`{parser.prog} {name} --help`"', ""]
            lines += [f"    {line}".rstrip() for line in text] + [""]
        return "\n".join(lines)
    finally:
        if old is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = old


def record_schema() -> str:
    """Markdown of what a record holds, from ``benches.records`` and ``benches.schema``."""
    from benches import records, schema

    better = {"higher": "higher ↑", "lower": "lower ↓", None: "neither"}
    lines = ["## Schema reference", "",
             "Generated from `benches/records.py` and `benches/schema.py` when the docs are "
             "built.", "",
             f"- Schema version: `{records.SCHEMA_VERSION}`",
             "- Status: " + ", ".join(f"`{s}`" for s in records.STATUSES),
             "- Required keys: " + ", ".join(f"`{k}`" for k in records.REQUIRED_KEYS), "",
             "### Metrics", "",
             "Every column, axis and legend entry of `show` and of the site comes from this "
             "table. The stored value is multiplied by *scale* for display and shown with "
             "*digits* decimals.", "",
             "| key in `metrics` | title | unit | better | description | scale | digits |",
             "|---|---|---|---|---|---|---|"]
    for m in schema.METRICS.values():
        scale = "2⁻²⁰ (bytes → MiB)" if m.scale == schema.MIB else f"{m.scale:g}"
        lines.append(f"| `{m.key}` | {_cell(m.name)} | {_cell(m.unit) or '–'} | "
                     f"{better[m.better]} | {_cell(m.description)} | {scale} | {m.digits} |")
    lines += ["", "### Column groups", "", "| group | metrics |", "|---|---|"]
    for group in ("LEADERBOARD", "EFFICIENCY", "ALIGNMENT"):
        keys: tuple[str, ...] = getattr(schema, group)
        lines.append(f"| `{group}` | " + ", ".join(f"`{k}`" for k in keys) + " |")
    return "\n".join(lines) + "\n"


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """MkDocs event: fill the generated sections in."""
    if CLI_MARK in markdown:
        markdown = markdown.replace(CLI_MARK, cli_reference())
    if SCHEMA_MARK in markdown:
        markdown = markdown.replace(SCHEMA_MARK, record_schema())
    return markdown
