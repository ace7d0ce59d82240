"""qmail's line rules on top of the kit's fitness check: what qmail would misread in a control or script line.

qmail's control_readfile skips lines starting with ``#`` and strips trailing blanks, and a leading blank
makes a different name; so beyond the kit's one predicate for unfit text (:func:`~..kit.escape.unfit`) a
qmail line may neither start with ``#`` or a blank nor end in one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..kit.escape import Unexpressible, fit, unfit

_EDGES = re.compile(r"^[#\s]|\s$", re.MULTILINE)
_WHAT = "a qmail control or script line"
_EDGE_PROBLEM = f"refusing to write a line starting with '#' or a blank, or ending in a blank, into {_WHAT}"


def control_line(value: object) -> str:
    """One line of a qmail control or script file: qmail skips a leading ``#`` and strips trailing blanks."""
    text = fit(str(value), _WHAT)
    if _EDGES.search(text):
        raise Unexpressible(_EDGE_PROBLEM)
    return text


def control_lines(items: Sequence[str]) -> str:
    """:func:`control_line` for a whole list at once (a list file's worth), one item per line, in a few C scans."""
    text = "\n".join(items)
    if text.count("\n") != len(items) - 1 or unfit(text, breaks=True) or _EDGES.search(text):
        for item in items:
            control_line(item)  # names the problem of the first unfit item
        raise Unexpressible(f"refusing to write an empty line into {_WHAT}")  # only "" is fit alone, not amid
    return text
