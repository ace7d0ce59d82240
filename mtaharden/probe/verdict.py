"""Verdicts: what one case showed, what a host as a whole showed, and the exit code of a run.

Why these classes: relay testers go wrong by flattening replies into "open"/"closed". A 2xx at RCPT
is only *accepted* (many servers accept and bounce later, qmail by design); it becomes *relayed* only
when a proof shows it (the canary received the message, or the MTA's own queue holds it for the
foreign domain), and *not-relayed* when the queue proof shows it delivered locally or bounced. A 4xx
is *deferred*: never a pass and never a relay. A refused MAIL means the trick was *not tested* at all.
A host is ``open`` only with proof; ``suspect`` when something was accepted and not proven either way;
``closed`` only when something was refused (or proven not relayed) and nothing was left undecided.
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass, field
from enum import StrEnum

from .cases import Case
from .endpoint import Endpoint
from .session import Reply

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR, EXIT_INCONCLUSIVE = 0, 1, 2, 3

SUSPECT_ADVICE = ("accepted at RCPT but not proven relayed: many hosts (qmail, gateways) accept and then "
                  "deliver locally or bounce (fix: prove it with --proof queue --mta NAME on the host itself, or "
                  "--confirm with a canary the foreign domain is routed to)")


class Verdict(StrEnum):
    RELAYED = "relayed"
    NOT_RELAYED = "not-relayed"
    ACCEPTED = "accepted"
    REFUSED = "refused"
    DEFERRED = "deferred"
    NOT_TESTED = "not-tested"
    ERROR = "error"


class CheckStatus(StrEnum):
    OK = "ok"
    DEVIATION = "deviation"
    INCONCLUSIVE = "inconclusive"
    ERROR = "error"
    DECLARED = "declared"  # deviates only where the target's coverage says it cannot enforce: no finding


class HostStatus(StrEnum):
    OPEN = "open"
    SUSPECT = "suspect"
    DEVIATES = "deviates"
    INCONCLUSIVE = "inconclusive"
    ERROR = "error"
    CLOSED = "closed"
    OK = "ok"


def classify(mail: Reply, rcpt: Reply | None) -> Verdict:
    """The verdict of one MAIL/RCPT pair sent to a foreign destination (before any canary)."""
    if not mail.positive:
        return Verdict.DEFERRED if mail.transient else Verdict.NOT_TESTED
    if rcpt is None or 300 <= rcpt.code < 400:
        return Verdict.ERROR
    if rcpt.positive:
        return Verdict.ACCEPTED
    return Verdict.DEFERRED if rcpt.transient else Verdict.REFUSED


@dataclass(frozen=True)
class CaseResult:
    case: Case
    verdict: Verdict
    mail_command: str = ""
    rcpt_command: str = ""
    mail_reply: Reply | None = None
    rcpt_reply: Reply | None = None
    data_reply: Reply | None = None
    detail: str = ""


@dataclass(frozen=True)
class CheckResult:
    """One policy-conformance check (or a vantage check) and what the server showed.

    ``element`` is the policy element it tests, with the place in brackets where one element shows in
    several replies (``smtp.banner[HELP]``); ``declared`` is the target's coverage text when the check
    failed only where the target declares that element not enforced."""

    id: str
    description: str
    status: CheckStatus
    detail: str
    element: str = ""
    declared: str = ""


@dataclass
class HostResult:
    """Everything learnt about one endpoint; filled in as the probe goes, so a deadline keeps what was found."""

    endpoint: Endpoint
    address: str | None = None
    source_address: str | None = None
    server_name: str | None = None
    banner: Reply | None = None
    tls: str = "none"
    matrix_run: bool = False
    vantage_conflict: bool = False
    error: str | None = None
    cases: list[CaseResult] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    proof: str = "none"
    duration: float = 0.0

    @property
    def status(self) -> HostStatus:
        """A vantage inside the trusted networks first (relaying there is by design, so nothing found from
        it speaks for strangers), then proven relaying, unproven acceptance, policy deviations (leaks too),
        then what leaves the host undecided, then errors."""
        verdicts = {result.verdict for result in self.cases}
        checks = {check.status for check in self.checks}
        if self.vantage_conflict:
            return HostStatus.INCONCLUSIVE
        if Verdict.RELAYED in verdicts:
            return HostStatus.OPEN
        if Verdict.ACCEPTED in verdicts:
            return HostStatus.SUSPECT
        if CheckStatus.DEVIATION in checks:
            return HostStatus.DEVIATES
        untested = self.matrix_run and bool(verdicts) and verdicts <= {Verdict.NOT_TESTED}
        if Verdict.DEFERRED in verdicts or CheckStatus.INCONCLUSIVE in checks or untested:
            return HostStatus.INCONCLUSIVE
        if self.error or Verdict.ERROR in verdicts or CheckStatus.ERROR in checks:
            return HostStatus.ERROR
        return HostStatus.CLOSED if self.matrix_run else HostStatus.OK

    def findings(self) -> list[str]:
        """One line per case and check that stands against the host (what a failing run must show):
        relayed, accepted, deferred or failed cases; deviating, inconclusive or failed checks."""
        lines = [f"case {r.case.id} {r.verdict.value}: {r.case.description}; RCPT {r.rcpt_reply}"
                 + (f"; {r.detail}" if r.detail else "")
                 for r in self.cases if r.verdict in _CASE_FINDINGS]
        lines += [f"check {c.id} {c.status.value}: {c.description}" + (f": {c.detail}" if c.detail else "")
                  for c in self.checks if c.status in _CHECK_FINDINGS]
        return lines

    def counts(self) -> dict[str, int]:
        """How many cases got each verdict (every verdict present, zero or not)."""
        return {verdict.value: sum(r.verdict is verdict for r in self.cases) for verdict in Verdict}


_CASE_FINDINGS = frozenset({Verdict.RELAYED, Verdict.ACCEPTED, Verdict.DEFERRED, Verdict.ERROR})
_CHECK_FINDINGS = frozenset({CheckStatus.DEVIATION, CheckStatus.INCONCLUSIVE, CheckStatus.ERROR})


def exit_code(results: list[HostResult]) -> int:
    """1 if any host is open, suspect or deviates; else 3 if any is inconclusive; else 2 if any had errors;
    else 0.

    Findings outrank the rest: one unreachable host must not hide an open relay elsewhere in the fleet."""
    return exit_code_of({result.status for result in results})


def exit_code_of(statuses: Set[HostStatus]) -> int:
    """:func:`exit_code` from the hosts' statuses alone (a streamed fleet keeps no results)."""
    if statuses & {HostStatus.OPEN, HostStatus.SUSPECT, HostStatus.DEVIATES}:
        return EXIT_FINDINGS
    if HostStatus.INCONCLUSIVE in statuses:
        return EXIT_INCONCLUSIVE
    if HostStatus.ERROR in statuses:
        return EXIT_ERROR
    return EXIT_OK
