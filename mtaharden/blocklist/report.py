"""The verdicts as a table or JSON, and the exit code: 1 listed, 3 could not check (and none listed), 0 clean.

Text from DNS (TXT reasons) is shown with control characters escaped: a zone's answer must not be able to
move the cursor, recolour the terminal or forge a line of the report.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from .catalogue import Zone
from .errors import EXIT_CLEAN, EXIT_LISTED, EXIT_UNCHECKED
from .interpret import Verdict

SCHEMA = 1  # the JSON document's shape; raised when a field changes meaning or goes away
ALL_ROWS = 100  # up to this many results the table shows clean ones too
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def shown(text: str) -> str:
    """``text`` with control and bidirectional-override characters written as \\xNN / \\uNNNN."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m[0]):02x}" if ord(m[0]) < 0x100 else f"\\u{ord(m[0]):04x}", text)


@dataclass(frozen=True)
class Run:
    """Everything one report needs: what was checked, where from, through which resolver, and the verdicts."""

    addresses: Sequence[str]
    sources: Sequence[str]  # how the addresses were chosen, one line each
    zones: Sequence[Zone]
    resolver: str
    verdicts: Sequence[Verdict]
    notes: Sequence[str] = ()

    @property
    def counts(self) -> Counter[str]:
        return Counter(v.status for v in self.verdicts)

    @property
    def exit_code(self) -> int:
        counts = self.counts
        return EXIT_LISTED if counts["listed"] else EXIT_UNCHECKED if counts["error"] else EXIT_CLEAN


def as_json(run: Run) -> str:
    """The JSON document (schema 1, documented in the README)."""
    zones = [{"zone": z.zone, "name": z.name, "source": z.source, "listed": list(z.listed), "ipv6": z.ipv6,
              "delist": z.delist, "terms": z.terms} for z in run.zones]
    results = [{"address": v.address, "zone": v.zone, "query": v.query, "status": v.status,
                "answers": list(v.answers), "why": v.why, "reasons": list(v.reasons), "hint": v.hint}
               for v in run.verdicts]
    counts = run.counts
    document = {"schema": SCHEMA, "resolver": run.resolver, "addresses": list(run.addresses),
                "sources": list(run.sources), "notes": list(run.notes), "zones": zones, "results": results,
                "summary": {s: counts[s] for s in ("listed", "clean", "error", "skipped")}, "exit": run.exit_code}
    return json.dumps(document, indent=2)  # ASCII: a TXT string's C1 or bidi controls stay escaped


def as_text(run: Run) -> str:
    """One line per result (clean ones only when there are few), TXT reasons indented below, then the
    delisting pages of the zones that list, notes, and a summary line."""
    rows = [v for v in run.verdicts if v.status != "clean" or len(run.verdicts) <= ALL_ROWS]
    lines = [shown(line) for line in (*run.sources, f"resolver: {run.resolver}", *run.notes)]
    width = (max((len(v.address) for v in rows), default=0), max((len(v.zone) for v in rows), default=0))
    for v in rows:
        lines.append(f"{v.address:<{width[0]}}  {v.zone:<{width[1]}}  {v.status:<7}  {shown(v.why)}")
        lines += [f"{'':<{width[0]}}  TXT: {shown(reason)}" for reason in v.reasons]
    hidden = len(run.verdicts) - len(rows)
    if hidden:
        lines.append(f"({hidden} clean results not shown; --format json lists every one)")
    listing = {v.zone for v in run.verdicts if v.status == "listed"}
    lines += [f"delisting at {zone.zone}: {zone.delist}" + (f" ({zone.terms})" if zone.terms else "")
              for zone in run.zones if zone.zone in listing and zone.delist]
    lines += [f"note: {hint}" for hint in sorted({v.hint for v in run.verdicts if v.hint})]
    counts = run.counts
    lines.append(f"{len(run.addresses)} address(es) x {len(run.zones)} zone(s): {counts['listed']} listed, "
                 f"{counts['error']} could not be checked, {counts['clean']} not listed, {counts['skipped']} skipped")
    return "".join(f"{line}\n" for line in lines)
