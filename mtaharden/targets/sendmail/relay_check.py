"""The -bt relay check: ``check_rcpt`` decisions the compiled sendmail.cf must make, proved on the host.

Each of the kit's relay scenarios (:mod:`~mtaharden.targets.kit.relay_scenarios`: the decisions and the
evaluator's verdicts) is asked of ``sendmail -bt`` (address test mode) by the plan's check step and the
verdicts compared, so a relay hole fails the deploy before the swap. This module keeps only how Sendmail
runs them.
"""

from __future__ import annotations

import shlex

from ...policy import Policy
from ..base import PlannedFile, Step
from ..kit.relay_scenarios import HELO, Scenario
from ..kit.relay_scenarios import relay_scenarios as scenarios
from .contexts import Items, RelayCheck, Table
from .sasl import uses_cyrus

# No verdict of the -bt check depends on DNS (its strangers' names resolve nowhere), so host names
# come from files and the DNSBL lookups (a dns map, which ignores the switch) give up fast: with the
# resolver unreachable the check took 3.5 minutes on Debian, 28 s so.
BT_SERVICES = (("hosts", "files"), ("aliases", "files"), ("passwd", "files"))
BT_RESOLVER = "-O Timeout.resolver.retrans=1s -O Timeout.resolver.retry=1"
# One verdict per check_rcpt answered in `sendmail -bt` output: an $#error is a refusal.
BT_VERDICTS = '/^(> )?check_rcpt +returns:/ { print (index($0, "$# error") ? "refused" : "accepted") }'


def relay_scenarios(policy: Policy) -> list[Scenario]:
    """The kit's scenarios; the authenticated one where Sendmail authenticates through Cyrus (-bt is told the
    session authenticated through the {auth_type} and {auth_authen} macros)."""
    return scenarios(policy, authenticated=uses_cyrus(policy))


def files(policy: Policy) -> list[PlannedFile]:
    """The -bt input, the service switch it runs with and the expected verdicts, one per scenario."""
    found = relay_scenarios(policy)
    return [PlannedFile("relay-check.bt", "relay-check.bt.j2", RelayCheck(found, HELO), comment="none"),
            PlannedFile("relay-check.switch", "table.j2", Table(BT_SERVICES)),
            PlannedFile("relay-check.expected", "list.j2",
                        Items(["accepted" if s.accepted else "refused" for s in found]), comment="none")]


def check_step(policy: Policy) -> Step:
    """Address test mode: every check_rcpt decision of relay-check.bt as expected (any difference fails)."""
    options, q = policy.targets.sendmail, shlex.quote
    settings = options.settings_dir
    return Step(("sh", "-c", f"{q(options.sendmail)} -C {q(settings + '/sendmail.cf')} {BT_RESOLVER} "
                             f"-O ServiceSwitchFile={q(settings + '/relay-check.switch')} -bt "
                             f"< {q(settings + '/relay-check.bt')} | awk {q(BT_VERDICTS)} "
                             f"| diff {q(settings + '/relay-check.expected')} -"),
                "address test mode: every check_rcpt decision of relay-check.bt as expected", "check")
