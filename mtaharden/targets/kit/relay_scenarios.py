# kit: ready
"""The relay self-check's scenarios: RCPT decisions a deployed config must make, with the evaluator's verdicts.

A target whose MTA can answer "would you take RCPT TO:<x> from client y?" without a real session (Sendmail's
``-bt``, Exim's ``-bh``) proves its compiled config with these before the swap, so a relay hole fails the
deploy. What to ask and what the answer must be is the contract's, not the MTA's: trusted and authenticated
clients relay, strangers reach only our domains, and an explicitly refused client is refused even for a
permitted recipient; each verdict comes from the reference evaluator (:mod:`mtaharden.policy.evaluate`), so
the check and ``mtaharden test`` cannot disagree. The target keeps only how it runs them.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from ...policy import Policy, canonical
from ...policy.evaluate import evaluate
from ...policy.model import AddressRule, ClientRule
from ...policy.transaction import Transaction

OUTSIDE_CANDIDATES = ("192.0.2.1", "198.51.100.1", "203.0.113.1", "100.64.0.1", "240.0.0.1")
FOREIGN = "someone@relaytest.invalid"
HELO = "client.relaytest.invalid"  # an .invalid name no HELO rule of a real policy names
SCENARIO_USERS = ("postmaster", "relay-check")
SCENARIO_DOMAINS = 10  # per list: the first and the last ones (a long list is checked at both ends)


@dataclass(frozen=True)
class Scenario:
    """One RCPT decision: a client (optionally authenticated) that sent HELO, MAIL FROM:<> and then RCPT TO:
    the recipient, and whether the policy accepts it."""

    name: str
    client: str
    recipient: str
    accepted: bool
    auth: str = ""  # the SASL mechanism the client authenticated with, if any

    @property
    def authen(self) -> str:
        """The user name an authenticated scenario logged in as, else empty (no password is ever needed:
        a simulator is told the session authenticated)."""
        return "relaycheck" if self.auth else ""


def relay_scenarios(policy: Policy, *, authenticated: bool) -> list[Scenario]:
    """Decisions every deployed config must make. ``authenticated``: the target's check can simulate an
    authenticated session (adds one with the policy's first mechanism).

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
    if authenticated:
        mechanism = policy.auth.mechanisms[0]
        scenarios.append(Scenario(f"stranger authenticated with {mechanism}", outside, FOREIGN, True, mechanism))
    for domains in (policy.domains.local, policy.domains.relay):
        names = [domain for domain in domains if not domain.startswith(".")]
        if len(names) > 2 * SCENARIO_DOMAINS:
            names = [*names[:SCENARIO_DOMAINS], *names[-SCENARIO_DOMAINS:]]
        for domain in names:  # a recipient no recipient rule matches (a relay check verifies no mailbox)
            found = ((f"{user}@{domain}", contract_accepts(policy, outside, f"{user}@{domain}"))
                     for user in SCENARIO_USERS)
            recipient, accepted = next(((r, a) for r, a in found if a is not None), ("", None))
            if accepted is not None:
                scenarios.append(Scenario(f"stranger to {domain}", outside, recipient, accepted))
    return scenarios


def contract_accepts(policy: Policy, client: str, recipient: str) -> bool | None:
    """What the reference evaluator requires at RCPT for this client, MAIL FROM:<> and :data:`HELO`; None
    when a recipient rule matches: that is an access question, not a relay one (and one the coverage may
    declare approximated), so the relay check leaves it out."""
    # the check asks the RCPT decision alone, the one every daemon of the host shares: past STARTTLS
    # (tls.inbound: encrypt is decided at MAIL), and as on port 25 even for a submission-only role
    if not policy.accepts_inbound:
        policy = policy.model_copy(update={"role": "mx+submission"})
    transaction = Transaction(ipaddress.ip_address(client), HELO, "", (recipient,), tls=True)
    decision = evaluate(policy, transaction).at("rcpt")[0]
    if any(element.startswith("access.recipients") for element in decision.matched):
        return None
    return decision.verdict == "accept"


def _outside_address(policy: Policy) -> str | None:
    """A documentation address no trusted network or client rule covers: a plain stranger."""
    for candidate in map(ipaddress.ip_address, OUTSIDE_CANDIDATES):
        if not any(candidate in network for network in policy.networks.trusted) and not any(
                rule.covers(candidate) for rule in policy.access.clients):
            return canonical.address(candidate)
    return None


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
