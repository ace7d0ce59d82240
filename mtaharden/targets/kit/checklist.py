"""A click-through checklist as data: sections (where the administrator goes) of steps (a field, its values).

Why data: the targets without files (IMail, Domino) decide every value in Python; GUIDE.md.j2 only lays the
sections out, quoting each value as Markdown code (:func:`md_code`, which every guide-writing target uses).
:class:`ChecklistTarget` is such a target's plan: its sections, then GUIDE.md and COVERAGE.md.
"""

from __future__ import annotations

import re
from abc import abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

from ...policy import Policy
from ..base import Coverage, Plan, PlannedFile, Target, coverage_file
from .coverage import Recorder
from .escape import fit


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


def md_code(value: object) -> str:
    """Inline Markdown code for a policy value, fenced with more backticks than it contains."""
    text = fit(str(value), "Markdown")
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    return f"{fence} {text} {fence}" if "`" in text else f"{fence}{text}{fence}"


class ChecklistTarget(Target):
    """A product set up by hand: its checklist sections decide every value; the plan is GUIDE.md and COVERAGE.md."""

    product: ClassVar[str]  # "Progress IMail Server 12.x"
    short: ClassVar[str]  # "IMail"
    console: ClassVar[str]  # where the administrator clicks: "IMail Administrator"

    @abstractmethod
    def sections(self, policy: Policy, rec: Recorder) -> Sequence[Section]:
        """The checklist in click order, recording each element's coverage as it decides it."""

    def plan(self, policy: Policy) -> Plan:
        rec = Recorder()
        sections = tuple(section for section in self.sections(policy, rec) if section.steps)
        coverage = rec.items()
        checklist = Checklist(self.product, self.short, self.console, self.name, policy.hostname or "mx.example.org",
                              sections, tuple(c for c in coverage if c.status != "enforced"))
        files = (PlannedFile("GUIDE.md", "checklist-GUIDE.md.j2", checklist, comment="markdown"),
                 coverage_file(self.name, coverage))
        return Plan(self.name, files, (), coverage)

    def filters(self) -> Mapping[str, Callable[..., str]]:
        return {"md": md_code}
