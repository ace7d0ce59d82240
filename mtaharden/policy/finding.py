"""A cross-field problem of a policy, named by the path of its value (the loader adds line and column).

Shared by the core rules (``rules.py``) and each target's own checks (``policy/options/<target>``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from . import canonical

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Finding:
    path: Path
    message: str
    hint: str
    where: tuple[str, int, int] | None = None  # (list file, line, column) when the value comes from one


def duplicates(path: Path, values: Sequence[object], suffix: str | None = None) -> Iterator[Finding]:
    """A finding for each value listed a second time (at its own index, then ``suffix``)."""
    seen: set[object] = set()
    for index, value in enumerate(values):
        if value in seen:
            where = (*path, index, suffix) if suffix else (*path, index)
            yield Finding(where, f"{show(value)} is listed twice", "remove the second entry")
        seen.add(value)


def show(value: object) -> str:
    """A value as the user writes it (networks canonical)."""
    if isinstance(value, ipaddress.IPv4Network | ipaddress.IPv6Network):
        return canonical.network(value)
    return str(value)
