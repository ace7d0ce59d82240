"""Verdicts: what one case showed, what a host as a whole showed, and the exit code of a run.

Why these classes: relay testers go wrong by flattening replies into "open"/"closed". A 2xx at RCPT
is only *accepted* (many servers accept and bounce later); it becomes *relayed* only when the canary
receives the message. A 4xx is *deferred*: never a pass and never a relay. A refused MAIL means the
trick was *not tested* at all. A host is called closed only when something was actually refused and
nothing was left undecided.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from .cases import Case
from .endpoint import Endpoint
from .session import Reply

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


class Verdict(StrEnum):
    RELAYED = "relayed"
    ACCEPTED = "accepted"
    REFUSED = "refused"
    DEFERRED = "deferred"
    NOT_TESTED = "not-tested"
    ERROR = "error"


FINDINGS = frozenset({Verdict.RELAYED, Verdict.ACCEPTED})


class CheckStatus(StrEnum):
    OK = "ok"
    DEVIATION = "deviation"
    INCONCLUSIVE = "inconclusive"
    ERROR = "error"


class HostStatus(StrEnum):
    OPEN = "open"
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
    """One policy-conformance check (or a vantage check) and what the server showed."""

    id: str
    description: str
    status: CheckStatus
    detail: str


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
    duration: float = 0.0

    @property
    def status(self) -> HostStatus:
        """Findings first (open, then policy deviations), then what leaves the host undecided, then errors."""
        verdicts = {result.verdict for result in self.cases}
        checks = {check.status for check in self.checks}
        if verdicts & FINDINGS:
            return HostStatus.OPEN
        if CheckStatus.DEVIATION in checks:
            return HostStatus.DEVIATES
        untested = self.matrix_run and bool(verdicts) and verdicts <= {Verdict.NOT_TESTED}
        if self.vantage_conflict or Verdict.DEFERRED in verdicts or CheckStatus.INCONCLUSIVE in checks or untested:
            return HostStatus.INCONCLUSIVE
        if self.error or Verdict.ERROR in verdicts or CheckStatus.ERROR in checks:
            return HostStatus.ERROR
        return HostStatus.CLOSED if self.matrix_run else HostStatus.OK

    def counts(self) -> dict[str, int]:
        """How many cases got each verdict (every verdict present, zero or not)."""
        return {verdict.value: sum(r.verdict is verdict for r in self.cases) for verdict in Verdict}


def exit_code(results: list[HostResult]) -> int:
    """1 if any host is open, deviates or is inconclusive; else 2 if any host had errors; else 0.

    Findings outrank errors: one unreachable host must not hide an open relay elsewhere in the fleet."""
    statuses = {result.status for result in results}
    if statuses & {HostStatus.OPEN, HostStatus.DEVIATES, HostStatus.INCONCLUSIVE}:
        return EXIT_FINDINGS
    if HostStatus.ERROR in statuses:
        return EXIT_ERROR
    return EXIT_OK
