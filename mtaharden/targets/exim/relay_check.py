"""The -bh relay check: RCPT decisions the installed exim4.conf must make, proved with Exim's own simulator.

``exim -bh ADDRESS`` runs an SMTP session on stdin as if from ADDRESS, through the real ACLs, without
delivering anything. The scenarios and their expected verdicts are the kit's
(:mod:`~mtaharden.targets.kit.relay_scenarios`); the authenticated one is left out (-bh cannot authenticate
without the live SASL backend), and so is every scenario under ``tls.inbound: encrypt`` (-bh cannot start
TLS, so MAIL is refused before any RCPT), and under a role without port 25. This module keeps only how Exim
runs them.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, replace

from ...policy import Policy
from ...policy.evaluate import domain_matches
from ..base import PlannedFile, Step
from ..kit.escape import fit
from ..kit.relay_scenarios import HELO, Scenario, contract_accepts, relay_scenarios

SCRIPT = "relay-check.sh"


@dataclass(frozen=True)
class RelayCheck:
    """relay-check.sh's context: every value already quoted for sh."""

    exim: str
    config: str
    helo: str
    sessions: tuple[tuple[str, str, str, str], ...]  # (name, client, recipient, expected) as sh words


def sessions(policy: Policy) -> list[Scenario]:
    """The scenarios -bh can run, one ``exim -bh`` session each. Exim verifies local recipients, so a
    scenario's made-up user at a local domain becomes ``root`` there (Debian's aliases and mail4root route
    it), asked of the evaluator again."""
    if (policy.tls is not None and policy.tls.inbound == "encrypt") or not policy.accepts_inbound:
        return []  # -bh cannot start TLS; without port 25 there is no relay decision to check
    found = []
    for s in relay_scenarios(policy, authenticated=False):
        user, _, domain = s.recipient.rpartition("@")
        if user not in ("", "postmaster") and domain_matches(policy.domains.local, domain):
            verdict = contract_accepts(policy, s.client, f"root@{domain}")
            if verdict is None:
                continue
            s = replace(s, recipient=f"root@{domain}", accepted=verdict)
        found.append(s)
    return found


def files(policy: Policy, exim: str, config: str) -> list[PlannedFile]:
    q = shlex.quote
    found = tuple((q(fit(s.name, "the relay check")), q(s.client), q(fit(s.recipient, "the relay check")),
                   "accepted" if s.accepted else "refused") for s in sessions(policy))
    if not found:
        return []
    return [PlannedFile(SCRIPT, "relay-check.sh.j2", RelayCheck(q(exim), q(config), q(HELO), found))]  # run by sh


def check_step(config_dir: str) -> Step:
    return Step(("sh", f"{config_dir}/{SCRIPT}"),
                "exim -bh: every relay decision of relay-check.sh as the policy requires", "check")
