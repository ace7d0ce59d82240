"""Bot screening: postscreen in front of smtpd on the MX port (POSTSCREEN_README's "basic" setup).

postscreen takes port 25 (master.cf's ``_screened`` services), holds the greeting back for the pregreet
test, scores the client over the weighted DNS lists (queried in parallel by dnsblog) and hands a client that
passes (or that an ``ignore`` action lets on) to the ``smtpd pass`` service, which applies main.cf's
restrictions as before: a client that passes postscreen still meets smtpd's own ``reject_rbl_client`` steps
of ``dnsbl``. The two stages mean different things (a score before the dialogue; a per-zone refusal with the
site's text at RCPT, after ``access.clients`` permits), so neither replaces the other; their queries for one
zone are answered by the resolver's cache.

postscreen's after-220 tests (pipelining, non-SMTP commands, bare newlines) stay off: they defer every first
contact. The submission listeners are never screened (they do not go through postscreen).
"""

from __future__ import annotations

from collections.abc import Sequence

from ...policy import Policy, canonical
from ...policy.hardening import ScreeningSite
from ..kit.coverage import Recorder
from ..kit.dnsbl import octets
from . import capabilities as facts
from .syntax import Value
from .tables import Table

# The policy's actions in postscreen's words: enforce answers 550 to every RCPT and logs the client; drop
# answers 521 and hangs up; ignore logs the result and lets the client on to smtpd.
ACTIONS = {"reject": "enforce", "drop": "drop", "log": "ignore"}
ACCESS_TABLE = "postscreen_access.cidr"


def lower(policy: Policy, record: Recorder) -> tuple[dict[str, Value], Table | None]:
    """main.cf's postscreen parameters and the allow-list table; nothing when screening is off."""
    screening = policy.screening
    if not screening.enabled:
        record.enforced("screening", facts.SCREENING_OFF)
        return {}, None
    record.enforced("screening", facts.SCREENING)
    pregreet, weighted = screening.pregreet, screening.dnsbl
    record.enforced("screening.pregreet", facts.PREGREET.format(
        wait=pregreet.wait, action=ACTIONS[pregreet.action]))
    written, exact = sites(weighted.sites)
    values: dict[str, Value] = {
        "postscreen_greet_wait": f"{pregreet.wait}s",
        "postscreen_greet_action": ACTIONS[pregreet.action],
        "postscreen_pipelining_enable": "no",
        "postscreen_non_smtp_command_enable": "no",
        "postscreen_bare_newline_enable": "no",
        "postscreen_dnsbl_sites": written,
        "postscreen_dnsbl_threshold": str(weighted.threshold),
        "postscreen_dnsbl_action": ACTIONS[weighted.action],
    }
    how = facts.SCREENING_DNSBL.format(count=len(weighted.sites), threshold=weighted.threshold,
                                       action=ACTIONS[weighted.action])
    if not weighted.sites:
        record.enforced("screening.dnsbl", facts.SCREENING_NO_DNSBL)
    elif exact:
        record.enforced("screening.dnsbl", how)
    else:
        record.approximated("screening.dnsbl", how + facts.SCREENING_DNSBL_SPLIT)
    table = Table(ACCESS_TABLE, "cidr", tuple((canonical.network(n), "permit") for n in screening.allow))
    access = ["permit_mynetworks", *([table.reference] if screening.allow else [])]
    values["postscreen_access_list"] = access
    record.enforced("screening.allow", facts.SCREENING_ALLOW.format(
        how="permit_mynetworks" + (f", {table.reference}" if screening.allow else "")))
    return values, table if screening.allow else None


def sites(entries: Sequence[ScreeningSite]) -> tuple[list[str], bool]:
    """``zone=filter*weight`` per site, and whether every site's weight counts once, as the policy means.

    postscreen adds a weight once per matching entry, so a site whose filters merge into one Postfix filter
    (they differ in one octet at most) gets one entry; another gets one entry per filter, and a listing that
    answers addresses of two of them counts twice."""
    written: list[str] = []
    exact = True
    for site in entries:
        if _mergeable(site.match):
            written.append(f"{site.zone}={merged_filter(site.match)}*{site.weight}")
        else:
            exact = False
            written += [f"{site.zone}={merged_filter([one])}*{site.weight}" for one in site.match]
    return written, exact


def _mergeable(filters: Sequence[str]) -> bool:
    """Whether the filters' union is their octet-wise product: true when they differ in one octet at most."""
    shapes = [octets(one) for one in filters]
    differing = [index for index in range(4) if len({shape[index] for shape in shapes}) > 1]
    return len(differing) <= 1


def merged_filter(filters: Sequence[str]) -> str:
    """The filters as one Postfix filter, canonical: each octet a value or ``[a..b;c]``, ascending."""
    per_octet: list[set[int]] = [set(), set(), set(), set()]
    for one in filters:
        for index, values in enumerate(octets(one)):
            per_octet[index].update(values)
    return ".".join(_octet(sorted(values)) for values in per_octet)


def _octet(values: list[int]) -> str:
    """One octet: ``2``, or ``[2..11;13]`` (each run of consecutive values as a range)."""
    if len(values) == 1:
        return str(values[0])
    parts: list[str] = []
    start = previous = values[0]
    for value in values[1:]:
        if value == previous + 1:
            previous = value
            continue
        parts.append(_run(start, previous))
        start = previous = value
    parts.append(_run(start, previous))
    return "[" + ";".join(parts) + "]"


def _run(start: int, end: int) -> str:
    return str(start) if start == end else f"{start}..{end}"
