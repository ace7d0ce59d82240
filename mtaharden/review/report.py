"""Lay review results out for people (text, Markdown for a pull request or job summary) and for tools (JSON).

Only layout happens here; what changed and what is risky is decided in :mod:`.policy_diff`, the
relay stance in :mod:`.stance`, so every format says the same thing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..targets.base import Coverage
from .policy_diff import Change

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|])")


@dataclass(frozen=True)
class PolicyChange:
    """Two policies (as named on the command line), their relay stances and the changes between them."""

    old: str
    new: str
    old_stance: str
    new_stance: str
    changes: Sequence[Change]

    @property
    def risky_count(self) -> int:
        return sum(change.risky for change in self.changes)

    @property
    def risky(self) -> bool:
        return self.risky_count > 0

    @property
    def ordered(self) -> list[Change]:
        """Risky changes first (a reviewer reads those before anything else), otherwise in contract order."""
        return sorted(self.changes, key=lambda change: not change.risky)


def md(text: str) -> str:
    """Policy text as literal Markdown: no table breaks, links, emphasis or HTML from a message."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def explain_markdown(source: str, stance: str, coverage: Mapping[str, Sequence[Coverage]]) -> str:
    """The relay stance, then per target how each element is enforced."""
    lines = [f"## mtaharden explain: {md(source)}", "", f"**Relay stance:** this server {md(stance)}."]
    for target, items in coverage.items():
        lines += ["", f"### {target}", ""]
        gaps = [f"`{item.element}`" for item in items if item.status == "unsupported"]
        if gaps:
            lines += [f"**Not enforced by {target}:** {', '.join(gaps)}.", ""]
        lines += ["| element | status | how |", "|---|---|---|"]
        lines += [f"| `{item.element}` | {_status(item.status)} | {md(item.detail)} |" for item in items]
    return "\n".join(lines) + "\n"


def _status(status: str) -> str:
    return status if status == "enforced" else f"**{status}**"


def change_text(report: PolicyChange) -> str:
    lines = [f"{report.old} → {report.new}: " + (f"{_count(len(report.changes), 'change')}, {report.risky_count} risky"
                                                  if report.changes else "no change in meaning")]
    for change in report.ordered:
        why = f" ({change.risk})" if change.risk else ""
        lines.append(f"{'RISKY' if change.risky else '     '}  {change.element}: {change.what}{why}")
    lines += [f"{label}: this server {stance}." for label, stance in _stances(report)]
    return "\n".join(lines) + "\n"


def change_markdown(report: PolicyChange) -> str:
    lines = [f"## Policy change: {md(report.old)} → {md(report.new)}", ""]
    if report.changes:
        lines += [f"**{_count(report.risky_count, 'risky change')}** of {len(report.changes)}." if report.risky
                  else f"{_count(len(report.changes), 'change')}, none risky.", "",
                  "| | element | change | why it is risky |", "|---|---|---|---|"]
        lines += [f"| {'**risky**' if c.risky else ''} | `{c.element}` | {md(c.what)} | {md(c.risk or '')} |"
                  for c in report.ordered]
    else:
        lines.append("No change in meaning.")
    lines.append("")
    lines += [f"**{label.capitalize()}:** this server {md(stance)}.  " for label, stance in _stances(report)]
    return "\n".join(lines) + "\n"


def change_json(report: PolicyChange) -> str:
    data = {
        "old": report.old,
        "new": report.new,
        "risky": report.risky,
        "changes": [{"element": c.element, "change": c.what, "risky": c.risky, "risk": c.risk} for c in report.ordered],
        "relay_stance": {"old": report.old_stance, "new": report.new_stance},
    }
    return json.dumps(data, indent=2) + "\n"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _stances(report: PolicyChange) -> list[tuple[str, str]]:
    if report.old_stance == report.new_stance:
        return [("relay stance (unchanged)", report.new_stance)]
    return [("relay stance before", report.old_stance), ("relay stance after", report.new_stance)]
