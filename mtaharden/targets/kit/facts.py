# kit: ready
"""A target's capability table: per element, the cases a lowering step tells apart, each a status and a text.

Keeping the facts as one table (instead of texts spread over the steps) lets a test check that every fact is
reachable and every coverage row is one of them, and gives COVERAGE.md one order, the table's, whatever
order the steps decide in. Elements are written with ``[]`` for an index (``dnsbl[]`` stands for ``dnsbl[0]``,
``dnsbl[1]``, …); a detail is a ``str.format`` template the deciding step fills in with the fields it knows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from ..base import Coverage, Status
from .coverage import Recorder

_INDEX = re.compile(r"\[(\d+)\]$")


@dataclass(frozen=True)
class Fact:
    """One case of an element: its status and the detail template the deciding step fills in."""

    status: Status
    detail: str


def enforced(detail: str) -> Fact:
    return Fact("enforced", detail)


def approximated(detail: str) -> Fact:
    return Fact("approximated", detail)


def unsupported(detail: str) -> Fact:
    return Fact("unsupported", detail)


def row(element: str) -> str:
    """The table row of a recorded element: ``dnsbl[2]`` is the row ``dnsbl[]``."""
    return _INDEX.sub("[]", element)


class FactTable(Mapping[str, Mapping[str, Fact]]):
    """Element (``[]`` for an index) -> case -> fact, in COVERAGE.md's order; read as a plain mapping too.

    ``rows`` is a plain attribute so that a test can watch which cases the lowering reads."""

    def __init__(self, rows: Mapping[str, Mapping[str, Fact]]) -> None:
        self.rows = rows

    def __getitem__(self, element: str) -> Mapping[str, Fact]:
        return self.rows[element]

    def __iter__(self) -> Iterator[str]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def note(self, recorder: Recorder, element: str, case: str, /, **fields: object) -> None:
        """Record ``element`` as the table says for ``case``, its detail filled in with ``fields``.

        An unknown element or case is a KeyError: a bug in the target, never bad input."""
        fact = self.rows[row(element)][case]
        recorder.record(element, fact.status, fact.detail.format(**fields))

    def in_table_order(self, items: Iterable[Coverage]) -> tuple[Coverage, ...]:
        """Coverage in the table's order (an indexed element after its element, by index), not the steps'."""
        order = {element: position for position, element in enumerate(self.rows)}

        def position(item: Coverage) -> tuple[int, int]:
            index = _INDEX.search(item.element)
            return order[row(item.element)], int(index.group(1)) if index else -1
        return tuple(sorted(items, key=position))
