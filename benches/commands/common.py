"""What the command modules share: the one-line error parser and argument helpers."""

from __future__ import annotations

import argparse
from typing import Any, NoReturn, TypeAlias

from benches.errors import UserError
from benches.registry import Registry


def one_line(text: object) -> str:
    """``text`` on one line: characters that end a line (``str.splitlines``' set, e.g. a
    record separator typed into an argument) or control it are shown escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line and exit 2."""

    def error(self, message: str) -> NoReturn:  # one line, exit 2
        self.exit(2, f"{self.prog}: error: {one_line(message)} (see --help)\n")


Subparsers: TypeAlias = "argparse._SubParsersAction[_Parser]"
"""What each command module's ``add_parser`` adds its subcommand to."""


def names(values: list[str] | None) -> list[str] | None:
    """``a b`` or ``a,b`` as a list of names (``None`` when the flag was not given)."""
    if values is None:
        return None
    return [v for value in values for v in value.split(",") if v]


def expanded(values: list[str] | None, registry: Registry[Any]) -> list[str] | None:
    """:func:`names` with shell wildcards (``'sltt*'``) expanded over ``registry``'s names."""
    found = names(values)
    return None if found is None else registry.expand(found)


def ints(values: list[str] | None, what: str) -> list[int] | None:
    """:func:`names` as integers; a non-integer is a user error."""
    found = names(values)
    if found is None:
        return None
    try:
        return [int(v) for v in found]
    except ValueError:
        raise UserError(f"{what} must be integers, got {' '.join(found)}") from None
