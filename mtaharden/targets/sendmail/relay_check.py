"""The -bt relay check: ``check_rcpt`` decisions the compiled sendmail.cf must make, proved on the host.

Each scenario is asked of ``sendmail -bt`` (address test mode) by the plan's check step, and its verdict
compared with what the policy's reference evaluator requires, so a relay hole fails the deploy before
the swap.
"""

from __future__ import annotations

import ipaddress
import shlex
from dataclasses import dataclass

from ...policy import Policy, canonical
from ...policy.evaluate import evaluate
from ...policy.model import AddressRule, ClientRule
from ...policy.transaction import Transaction
from ..base import PlannedFile, Step
from .contexts import Items, RelayCheck, Table
from .sasl import uses_cyrus

# No verdict of the -bt check depends on DNS (its strangers' names resolve nowhere), so host names
# come from files and the DNSBL lookups (a dns map, which ignores the switch) give up fast: with the
# resolver unreachable the check took 3.5 minutes on Debian, 28 s so.
BT_SERVICES = (("hosts", "files"), ("aliases", "files"), ("passwd", "files"))
BT_RESOLVER = "-O Timeout.resolver.retrans=1s -O Timeout.resolver.retry=1"
# One verdict per check_rcpt answered in `sendmail -bt` output: an $#error is a refusal.
BT_VERDICTS = '/^(> )?check_rcpt +returns:/ { print (index($0, "$# error") ? "refused" : "accepted") }'


@dataclass(frozen=True)
class Scenario:
    """One ``check_rcpt`` decision to verify with ``sendmail -bt``: a client (optionally authenticated)
    that sent MAIL FROM:<> and then RCPT TO: the recipient."""

    name: str
    client: str
    recipient: str
    accepted: bool
    auth: str = ""  # the SASL mechanism the client authenticated with, if any

    @property
    def authen(self) -> str:
        """The {auth_authen} macro: a user name when the scenario authenticated, else empty."""
        return "relaycheck" if self.auth else ""


OUTSIDE_CANDIDATES = ("192.0.2.1", "198.51.100.1", "203.0.113.1", "100.64.0.1", "240.0.0.1")
FOREIGN = "someone@relaytest.invalid"
BT_HELO = "client.relaytest.invalid"  # an .invalid name no HELO rule of a real policy names
SCENARIO_USERS = ("postmaster", "relay-check")
SCENARIO_DOMAINS = 10  # per list: the first and the last ones (a long list is checked at both ends)


def _outside_address(policy: Policy) -> str | None:
    """A documentation address no trusted network or client rule covers: a plain stranger."""
    for candidate in map(ipaddress.ip_address, OUTSIDE_CANDIDATES):
        if not any(candidate in network for network in policy.networks.trusted) and not any(
                rule.covers(candidate) for rule in policy.access.clients):
            return canonical.address(candidate)
    return None


def relay_scenarios(policy: Policy) -> list[Scenario]:
    """Decisions the compiled .cf must make: trusted and authenticated clients relay, strangers reach
    only our domains, and an explicitly refused client is refused even for a permitted recipient.

    A trusted host that a client rule refuses is left out: the client rule wins there, by design."""
    refused = [rule for rule in policy.access.clients if rule.action != "permit"]
    scenarios: list[Scenario] = []
    for network in policy.networks.trusted:
        host = network.network_address + (1 if network.num_addresses > 1 else 0)
        if network.version == 4 and not any(rule.covers(host) for rule in refused):
            accepted = contract_accepts(policy, canonical.address(host), FOREIGN)
            if accepted is not None:
                scenarios.append(Scenario(f"trusted client {host}", canonical.address(host), FOREIGN, accepted))
    scenarios += _refused_client_scenarios(policy)
    outside = _outside_address(policy)
    if outside is None:
        return scenarios
    scenarios += [Scenario("stranger, foreign recipient", outside, FOREIGN, False),
                  Scenario("stranger, percent hack", outside, "someone%relaytest.invalid@[127.0.0.1]", False)]
    if uses_cyrus(policy):
        mechanism = policy.auth.mechanisms[0]
        scenarios.append(Scenario(f"stranger authenticated with {mechanism}", outside, FOREIGN, True, mechanism))
    for domains in (policy.domains.local, policy.domains.relay):
        names = [domain for domain in domains if not domain.startswith(".")]
        if len(names) > 2 * SCENARIO_DOMAINS:
            names = [*names[:SCENARIO_DOMAINS], *names[-SCENARIO_DOMAINS:]]
        for domain in names:  # a recipient no recipient rule matches (check_rcpt verifies no mailbox)
            found = ((f"{user}@{domain}", contract_accepts(policy, outside, f"{user}@{domain}"))
                     for user in SCENARIO_USERS)
            recipient, accepted = next(((r, a) for r, a in found if a is not None), ("", None))
            if accepted is not None:
                scenarios.append(Scenario(f"stranger to {domain}", outside, recipient, accepted))
    return scenarios


def contract_accepts(policy: Policy, client: str, recipient: str) -> bool | None:
    """What the reference evaluator requires of check_rcpt for this client, MAIL FROM:<> and the -bt HELO;
    None when a recipient rule matches: that is an access question, not a relay one (and one the
    coverage may declare approximated), so the relay check leaves it out."""
    # -bt runs check_rcpt alone, the ruleset every daemon of the host shares: past STARTTLS (tls.inbound:
    # encrypt is decided at MAIL), and as on port 25 even for a submission-only role
    if not policy.accepts_inbound:
        policy = policy.model_copy(update={"role": "mx+submission"})
    transaction = Transaction(ipaddress.ip_address(client), BT_HELO, "", (recipient,), tls=True)
    decision = evaluate(policy, transaction).at("rcpt")[0]
    if any(element.startswith("access.recipients") for element in decision.matched):
        return None
    return decision.verdict == "accept"


def _refused_client_scenarios(policy: Policy) -> list[Scenario]:
    """The first refused IPv4 client rule's host against the first permitted recipient: refused."""
    clients = policy.access.clients
    hosts = [rule.match.network_address + (1 if rule.match.num_addresses > 1 else 0) for rule in clients
             if isinstance(rule, ClientRule) and rule.action != "permit" and rule.match.version == 4]
    host = next((h for h in hosts if next(r for r in clients if r.covers(h)).action != "permit"), None)
    recipient = next((_permitted_address(policy, r.match) for r in policy.access.recipients
                      if isinstance(r, AddressRule) and r.action == "permit"), None)
    if host is None or recipient is None:
        return []
    return [Scenario(f"refused client {host} to permitted {recipient}", canonical.address(host), recipient, False)]


def _permitted_address(policy: Policy, match: str) -> str | None:
    """An address a recipient rule's pattern matches (``user@`` at our first exact local domain)."""
    user, at, domain = match.rpartition("@") if "@" in match else ("postmaster", "@", match)
    domain = domain or next((d for d in policy.domains.local if not d.startswith(".")), policy.hostname or "")
    return f"{user or 'postmaster'}{at}{domain}" if domain else None


def files(policy: Policy) -> list[PlannedFile]:
    """The -bt input, the service switch it runs with and the expected verdicts, one per scenario."""
    scenarios = relay_scenarios(policy)
    return [PlannedFile("relay-check.bt", "relay-check.bt.j2", RelayCheck(scenarios, BT_HELO), comment="none"),
            PlannedFile("relay-check.switch", "table.j2", Table(BT_SERVICES)),
            PlannedFile("relay-check.expected", "list.j2",
                        Items(["accepted" if s.accepted else "refused" for s in scenarios]), comment="none")]


def check_step(policy: Policy) -> Step:
    """Address test mode: every check_rcpt decision of relay-check.bt as expected (any difference fails)."""
    options, q = policy.targets.sendmail, shlex.quote
    settings = options.settings_dir
    return Step(("sh", "-c", f"{q(options.sendmail)} -C {q(settings + '/sendmail.cf')} {BT_RESOLVER} "
                             f"-O ServiceSwitchFile={q(settings + '/relay-check.switch')} -bt "
                             f"< {q(settings + '/relay-check.bt')} | awk {q(BT_VERDICTS)} "
                             f"| diff {q(settings + '/relay-check.expected')} -"),
                "address test mode: every check_rcpt decision of relay-check.bt as expected", "check")
