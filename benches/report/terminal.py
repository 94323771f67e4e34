"""Tables for the terminal: tabulate with numbers right-aligned and text left, T groups apart,
fitted to a width by leaving out the least important columns and then wrapping text."""

from __future__ import annotations

import shutil
import textwrap
from dataclasses import dataclass

from tabulate import SEPARATING_LINE, tabulate

from benches.errors import UserError

MIN_WIDTH = 40
"""Narrowest ``--width``: method, T and Top-1 still fit."""
MIN_CELL = 6
"""Narrowest a text column is wrapped to."""


@dataclass
class Column:
    """One table column: its header, its preformatted cells and how it is laid out."""

    name: str  # short name, for the "left out" note
    title: str  # header
    cells: list[str]
    numeric: bool = False  # right-aligned
    drop_rank: int | None = None  # left out to fit a width, highest rank first; None: kept


def terminal_width(width: str | int | None = None) -> int:
    """``width`` (``--width``, validated) or the terminal's width (``$COLUMNS`` when set)."""
    if width is None:
        return max(shutil.get_terminal_size().columns, MIN_WIDTH)
    try:
        columns = int(width)
    except (TypeError, ValueError):
        columns = 0
    if columns < MIN_WIDTH:
        raise UserError(f"--width must be a whole number of at least {MIN_WIDTH} columns "
                        f"(got {width!r})")
    return columns


def widest(text: str) -> int:
    """Length of the longest line of ``text``."""
    return max((len(line) for line in text.splitlines()), default=0)


def render(columns: list[Column], fmt: str, breaks: tuple[int, ...] = (),
           maxcolwidths: list[int | None] | None = None) -> str:
    """``columns`` as a tabulate ``fmt`` table, with a rule (an empty row in a markdown
    ``pipe`` table) before each row index in ``breaks``; numbers right-aligned, text left."""
    n_rows = len(columns[0].cells) if columns else 0
    gap = [""] * len(columns) if fmt == "pipe" else SEPARATING_LINE
    rows: list = []
    for i in range(n_rows):
        if i in breaks and i > 0:
            rows.append(gap)
        cells = [c.cells[i] for c in columns]
        rows.append([cell.replace("|", "\\|") for cell in cells] if fmt == "pipe" else cells)
    return tabulate(rows, [c.title for c in columns], tablefmt=fmt, disable_numparse=True,
                    colalign=["right" if c.numeric else "left" for c in columns],
                    maxcolwidths=maxcolwidths, maxheadercolwidths=maxcolwidths)


def drop_to_fit(columns: list[Column], width: int, breaks: tuple[int, ...] = (),
                fmt: str = "simple") -> tuple[list[Column], list[str]]:
    """The columns kept after leaving out droppable ones (highest ``drop_rank`` first) until
    the table is at most ``width`` characters a line, and the names left out."""
    kept = list(columns)
    left_out: list[str] = []
    while widest(render(kept, fmt, breaks)) > width:
        droppable = [c for c in kept if c.drop_rank is not None]
        if not droppable:
            break
        victim = max(droppable, key=lambda c: c.drop_rank or 0)
        kept.remove(victim)
        left_out.append(victim.name)
    return kept, left_out


def fit(columns: list[Column], width: int, breaks: tuple[int, ...] = (),
        fmt: str = "simple") -> tuple[str, list[str]]:
    """Render ``columns`` in at most ``width`` characters a line: leave out droppable columns
    (highest ``drop_rank`` first), then wrap the widest text columns; returns the table and
    the names of the columns left out."""
    kept, left_out = drop_to_fit(columns, width, breaks, fmt)
    text = render(kept, fmt, breaks)
    sizes = [_size(c) for c in kept]
    whole_words = [min(n, max(MIN_CELL, _longest_word(c))) for n, c in zip(sizes, kept,
                                                                          strict=True)]
    for floors in (whole_words, [min(n, MIN_CELL) for n in sizes]):  # then break words
        while widest(text) > width:
            shrunk = _shrink(kept, sizes, floors, widest(text) - width)
            if shrunk == sizes:
                break
            sizes = shrunk
            limits: list[int | None] = [None if c.numeric else n
                                        for c, n in zip(kept, sizes, strict=True)]
            text = render(kept, fmt, breaks, limits)
    return text, left_out


def _size(column: Column) -> int:
    return max(len(line) for cell in (column.title, *column.cells) for line in cell.split("\n"))


def _longest_word(column: Column) -> int:
    return max((len(w) for cell in (column.title, *column.cells) for w in cell.split()),
               default=0)


def _shrink(columns: list[Column], sizes: list[int], floors: list[int], excess: int) -> list[int]:
    """Column widths ``excess`` characters narrower in all, taken from the widest text columns
    first (none below its floor)."""
    sizes = list(sizes)
    while excess > 0:
        free = [i for i, c in enumerate(columns) if not c.numeric and sizes[i] > floors[i]]
        if not free:
            break
        i = max(free, key=lambda j: sizes[j])
        runner_up = max((sizes[j] for j in free if j != i), default=0)
        target = max(floors[i], sizes[i] - excess, min(runner_up, sizes[i] - 1))
        excess -= sizes[i] - target
        sizes[i] = target
    return sizes


def wrap(text: str, width: int | None) -> str:
    """``text`` wrapped at spaces to ``width`` (unchanged for ``None``)."""
    if width is None or len(text) <= width:
        return text
    return "\n".join(textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False))
