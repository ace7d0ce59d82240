"""The typed contexts of Sendmail's templates: each template gets exactly these fields as its variables."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..base import Block

if TYPE_CHECKING:  # relay_check lays its files out with these contexts
    from ..kit.relay_scenarios import Scenario


@dataclass(frozen=True)
class McFile:
    """sendmail.mc.j2: m4 statements, then raw cf lines for LOCAL_CONFIG and LOCAL_RULESETS."""

    statements: Sequence[str]
    local_config: Sequence[str]
    local_rulesets: Sequence[str]


@dataclass(frozen=True)
class Table:
    """table.j2 (and Sendmail.conf.j2): ``key value`` lines (each after its comment, if any), then blocks of
    keys sharing one value."""

    lines: Sequence[tuple[str, str]]
    blocks: Sequence[Block] = ()
    comments: Sequence[str] = ()


@dataclass(frozen=True)
class Items:
    """list.j2: one item per line (class files, the -bt check's expected verdicts)."""

    items: Sequence[str]


@dataclass(frozen=True)
class RelayCheck:
    """relay-check.bt.j2: the ``sendmail -bt`` input, one block of macros and a check_rcpt per scenario."""

    scenarios: Sequence[Scenario]
    helo: str
