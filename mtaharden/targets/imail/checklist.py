"""A click-through checklist as data: sections (where the administrator goes) of steps (a field, its values).

Why data: the targets without files (IMail, Domino) decide every value in Python; GUIDE.md.j2 only lays the
sections out, quoting each value as Markdown code.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..base import Coverage


@dataclass(frozen=True)
class Step:
    field: str  # the product's own field name
    values: tuple[str, ...]
    note: str = ""


@dataclass(frozen=True)
class Section:
    place: str  # the page, tab or document, in the product's terms
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class Checklist:
    product: str
    short: str
    console: str
    target: str
    host: str
    sections: tuple[Section, ...]
    gaps: tuple[Coverage, ...]
