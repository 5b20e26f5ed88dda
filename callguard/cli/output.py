"""Consoles that never cut what they print.

Rich lays tables out for the terminal's width, and when the output is not a terminal
(a pipe, cron mail, some ssh sessions) it assumes 80 columns and folds or truncates
cells: rule ids became ``us-ut-hb45-2000:13-26a-106(1)(…``, dates ``2026-12-…``. An
officer's evidence must come out whole, so off a terminal every console here is wide
enough for any row (tables then size each column to its longest cell) and colourless,
and no line ends in spaces (a borderless table pads its last column to the column's width).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from typing import IO

from rich.console import Console
from rich.segment import Segment
from rich.table import Table
from rich.text import Text

__all__ = ["UNCUT_WIDTH", "console", "extensions_said", "is_terminal", "print_table"]

# Wider than any row callguard prints; columns are sized to their content, never padded
# to this width (tables are not expanded).
UNCUT_WIDTH = 100_000


# \Z too: a progress display's last line is written in a buffer of its own, its newline
# in the next (nothing here prints with end="", which this would join to what follows)
_LINE_END_SPACES = re.compile(r"[ \t]+(?=\n|\Z)")


class _UnpaddedConsole(Console):
    """A console whose lines never end in spaces: piped, a borderless table padded its
    last cell to the column's width, and every line of `check`, `packs show` or `tail`
    ended in spaces (cron mail, `cat -A`, a diff of two days' output)."""

    def _render_buffer(self, buffer: Iterable[Segment]) -> str:
        return _LINE_END_SPACES.sub("", super()._render_buffer(buffer))


def is_terminal(stream: IO[str]) -> bool:
    """True when ``stream`` is an interactive terminal."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def console(*, stderr: bool = False, file: IO[str] | None = None,
            terminal: bool | None = None) -> Console:
    """A console for stdout (or stderr, or ``file``) that is uncut off a terminal.

    ``terminal``: override the detection (a file being written is never a terminal).
    """
    stream = file if file is not None else (sys.stderr if stderr else sys.stdout)
    if terminal is None:
        terminal = is_terminal(stream)
    if terminal:
        return Console(file=file, stderr=stderr, highlight=False)
    return _UnpaddedConsole(file=file, stderr=stderr, width=UNCUT_WIDTH, highlight=False,
                            soft_wrap=False, no_color=True, emoji=False)


def print_table(out: Console, table: Table) -> None:
    """The table's title as a line of its own, then the table. As the table's title rich
    centres it over the table and pads it with spaces to the table's width: piped, dozens
    of spaces before it and after it in cron mail."""
    title = table.title
    if title:
        table.title = None
        out.print(Text(str(title), style="italic"), highlight=False)
    out.print(table)


def extensions_said(out: Console, count: int, done: str) -> None:
    """Say how many do-not-call numbers came with an extension (``dnc import``,
    ``internal-dnc import``): each is ``done`` ("listed", "recorded") as its line's number
    — the person asked the line not be called; the extension is a desk behind it."""
    if count:
        out.print(f"  {count:,} number(s) had an extension (x12, ;ext=12, ...): {done} as "
                  "the number without it", highlight=False)
