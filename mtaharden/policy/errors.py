"""Policy problems with a location and a fix, and the exception that carries them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with a policy, located as ``file:line:col`` (1-based) and a dotted path."""

    source: str
    line: int
    column: int
    path: str
    message: str
    hint: str

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        return f"{self.source}:{self.line}:{self.column}: {where}{self.message} (fix: {self.hint})"


class PolicyError(Exception):
    """The policy cannot be used; ``problems`` says every reason found, in file order."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems)
        super().__init__("\n".join(str(p) for p in self.problems))
