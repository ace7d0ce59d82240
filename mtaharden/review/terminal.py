"""Review reports for a person at a terminal or for a file, log or comment: never a truncated cell.

On a terminal ``explain`` draws a table that fits the window and folds a long cell onto more lines; anywhere
else (a pipe, a file, a CI log) it prints plain lines whose "how" column wraps at spaces only, so a name like
``ms-Exch-SMTP-Accept-Any-Recipient`` always arrives whole. Colour and emphasis mark what a reviewer must
read first (unsupported elements, RISKY changes): ``--color auto`` uses them on a terminal unless ``NO_COLOR``
is set (https://no-color.org), ``always`` and ``never`` decide regardless.
"""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Literal, TextIO

from ..targets.base import Coverage

if TYPE_CHECKING:
    from rich.console import Console

ColorChoice = Literal["auto", "always", "never"]
COLOR_CHOICES: tuple[ColorChoice, ...] = ("auto", "always", "never")
PLAIN_WIDTH = 100  # where plain text wraps the "how" column when COLUMNS does not say
STYLES = {"unsupported": "bold red", "approximated": "yellow", "risky": "bold red"}


def wants_color(choice: ColorChoice, stream: TextIO, environ: Mapping[str, str] = os.environ) -> bool:
    """``always``/``never`` as given; ``auto``: a terminal, and ``NO_COLOR`` unset or empty."""
    if choice != "auto":
        return choice == "always"
    return stream.isatty() and not environ.get("NO_COLOR")


def console(choice: ColorChoice, stream: TextIO | None = None) -> Console:
    """A Console for ``stream`` (stdout) that colours exactly when :func:`wants_color` says so."""
    from rich.console import Console

    stream = stream or sys.stdout
    color = wants_color(choice, stream)
    return Console(file=stream, force_terminal=color or None, no_color=not color, highlight=False, emoji=False,
                   soft_wrap=not stream.isatty())


def print_explain(out: Console, source: str, stance: str, coverage: Mapping[str, Sequence[Coverage]]) -> None:
    """The relay stance, then per target its gaps and the coverage: a table on a terminal, plain lines elsewhere."""
    from rich.text import Text

    out.print(f"relay stance: this server {stance}.", markup=False)
    for target, items in coverage.items():
        gaps = [item.element for item in items if item.status == "unsupported"]
        title = f"{target}: coverage of {source}"
        unenforced = f"not enforced by {target}: {', '.join(gaps)}" if gaps else ""
        if out.file.isatty():
            if unenforced:
                out.print(Text(unenforced, style=STYLES["unsupported"]))
            out.print(_table(title, items))
            continue
        lines = [("", ""), (title, "")]
        lines += [(line, STYLES["unsupported"]) for line in _wrap(unenforced, _plain_width(), "  ")]
        for line, style in lines + _plain_rows(items, _plain_width()):
            out.print(Text(line, style=style), overflow="ignore", crop=False)


def print_change(out: Console, text: str) -> None:
    """``diff-policy``'s text with every RISKY line emphasised."""
    from rich.text import Text

    for line in text.splitlines():
        out.print(Text(line, style=STYLES["risky"] if line.startswith("RISKY") else ""), overflow="ignore",
                  crop=False)


def _table(title: str, items: Sequence[Coverage]) -> object:
    from rich.table import Table

    table = Table(title=title, show_lines=False)
    for column in ("element", "status", "how"):
        table.add_column(column, overflow="fold")  # a long name folds onto the next line, never "…"
    for item in items:
        style = STYLES.get(item.status, "")
        table.add_row(item.element, item.status, item.detail, style=style or None)
    return table


def _plain_rows(items: Sequence[Coverage], width: int) -> list[tuple[str, str]]:
    """``element  status  how`` lines; "how" wraps at spaces only (a long word stays whole, over the width)."""
    header = ("element", "status", "how")
    first = max(len(header[0]), *(len(item.element) for item in items))
    second = max(len(header[1]), *(len(item.status) for item in items))
    indent = " " * (first + second + 4)
    wrap = max(width - len(indent), 30)
    rows = [(f"{header[0]:<{first}}  {header[1]:<{second}}  {header[2]}", "bold")]
    for item in items:
        lines = _wrap(item.detail, wrap) or [""]
        style = STYLES.get(item.status, "")
        rows.append((f"{item.element:<{first}}  {item.status:<{second}}  {lines[0]}", style))
        rows += [(indent + line, style) for line in lines[1:]]
    return rows


def _wrap(text: str, width: int, indent: str = "") -> list[str]:
    """Lines of at most ``width`` where spaces allow: a word longer than that stays whole."""
    return textwrap.wrap(text, width, subsequent_indent=indent, break_long_words=False, break_on_hyphens=False)


def _plain_width() -> int:
    columns = os.environ.get("COLUMNS", "")
    return int(columns) if columns.isdigit() and int(columns) >= 40 else PLAIN_WIDTH
