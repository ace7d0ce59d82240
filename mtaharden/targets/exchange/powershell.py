"""PowerShell values: the one place that quotes a policy value for ``harden.ps1``.

Every value is a verbatim single-quoted string (quotes doubled), a number, ``$true``/``$false``/``$null``,
a script variable, a concatenation of those or an ``@(...)`` list, so no value can run code.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..kit.escape import Unexpressible, fit


@dataclass(frozen=True)
class Variable:
    """A script variable (``$name``) used as a value, e.g. the server's FQDN known only at run time."""

    name: str


@dataclass(frozen=True)
class Concat:
    """Literal text and variables joined at run time: ``('220 ' + $fqdn + ' ESMTP')``."""

    parts: tuple[str | Variable, ...]


Value = str | int | bool | None | Variable | Concat | Sequence[str]
Settings = tuple[tuple[str, Value], ...]

_QUOTES = "'\u2018\u2019\u201a\u201b"  # PowerShell ends a verbatim string at any of these


def ps_value(value: Value) -> str:
    """A policy value as inert PowerShell: verbatim single-quoted strings (quotes doubled), lists, $true."""
    if value is None:
        return "$null"
    if isinstance(value, bool):
        return "$true" if value else "$false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Variable):
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", value.name):
            raise Unexpressible(f"not a PowerShell variable name: {value.name!r}")
        return f"${value.name}"
    if isinstance(value, Concat):
        return "(" + " + ".join(ps_value(part) for part in value.parts if part != "") + ")"
    if isinstance(value, str):
        fit(value, "a PowerShell string")
        return "'" + "".join(c + c if c in _QUOTES else c for c in value) + "'"
    return "@(" + ", ".join(ps_value(item) for item in value) + ")"
