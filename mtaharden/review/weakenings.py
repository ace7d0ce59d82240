"""Weakenings found by meaning: transactions the reference evaluator answers more leniently under the new policy.

The rule-by-rule comparison (:mod:`.policy_diff`) names what was edited; this module asks what the edit
*does*. It builds transactions from the values both policies name (each client network's first and last
address, every DNSBL return code their filters admit at the edges, HELO names, senders and recipients of
the rules, each local and relay domain and a subdomain of each ``.domain`` entry, a stranger and a foreign
domain; for the strangers also each SPF and DMARC failure and bare line ends), evaluates each under both
policies with :func:`~mtaharden.policy.evaluate.evaluate`, and reports
every decision that went from refusing to accepting, from reject to defer, or from forwarding a relay
domain's mail to delivering it here. Samples are bounded (list files give their first entries), so a
huge policy costs a bounded number of evaluations.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice, product
from types import MappingProxyType
from typing import TypeVar

from ..policy import Policy
from ..policy.evaluate import Decision, domain_matches, evaluate
from ..policy.model import AddressFile, AddressItem, ClientFile, HeloFile
from ..policy.transaction import DmarcPolicy, DmarcResult, SpfResult, Transaction, split_address
from ..policy.types import filter_octets

ENTRIES_PER_LIST_FILE = 8  # samples taken from each list file: its first entries
MAX_CLIENTS = 48  # client addresses sampled: strangers, then the networks an edit touched, then the rest
# A stranger is the first of these that no network of either policy names (documentation and reserved ranges).
STRANGERS = tuple(ipaddress.ip_address(a) for a in (
    "198.51.100.77", "203.0.113.77", "192.0.2.77", "233.252.0.77", "100.64.0.77", "198.18.0.77",
    "2001:db8:ffff::77", "2001:db8:eeee::77", "3fff:ffff::77", "100::77"))
FOREIGN = "user@foreign.example"
# What sender authentication and the line-end rule judge, tried on the strangers' mail.
# (spf, dmarc, dmarc_policy, bare_newlines)
JUDGED_FACTS: tuple[tuple[SpfResult, DmarcResult, DmarcPolicy, bool], ...] = (
    ("fail", "none", "none", False), ("softfail", "none", "none", False), ("none", "fail", "reject", False),
    ("none", "fail", "quarantine", False), ("none", "none", "none", True))
_STRENGTH = {"accept": 0, "defer": 1, "reject": 2}
T = TypeVar("T")
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class Weakening:
    """One kind of decision the new policy makes more leniently, with an example and how often it was seen."""

    element: str  # what decided under the old policy (what the change undid)
    stage: str
    before: Decision
    after: Decision
    example: Transaction
    seen: int

    @property
    def words(self) -> str:
        t = self.example
        who = f"{t.client}" + "".join(f" listed at {zone} ({answer})" for zone, answer in t.listed.items())
        who += f" on port {t.port}" + (" authenticated" if t.auth else "")
        who += (f" with SPF {t.spf}" if t.spf != "none" else "") + (
            f" with DMARC {t.dmarc} under p={t.dmarc_policy}" if t.dmarc != "none" else "") + (
            " with bare line ends" if t.bare_newlines else "")
        alike = f" ({self.seen} sample transactions alike)" if self.seen > 1 else ""
        return (f"{self.stage.upper()} {self.after.argument or '<>'} from {who}: {self.before.verdict} by "
                f"{self.before.element or 'default'} → {self.after.verdict} by {self.after.element or 'default'} "
                f"({self.after.note}){alike}")


def weakenings(old: Policy, new: Policy, explained: Callable[[Transaction], bool] = lambda t: False
               ) -> list[Weakening]:
    """Every way ``new`` decides more leniently than ``old``, one entry per (stage, old element, new element);
    transactions ``explained`` by a change reported otherwise are left out."""
    found: dict[tuple[str, str | None, str, str | None], Weakening] = {}
    for transaction in _transactions(old, new):
        if explained(transaction):
            continue
        for before, after in zip(_decisions(old, transaction), _decisions(new, transaction), strict=False):
            if before.stage != after.stage or not _weaker(before, after) or _now_ours(new, before):
                continue
            key = (before.stage, before.element, after.verdict, after.element)
            earlier = found.get(key)
            found[key] = (Weakening(before.element or "default", before.stage, before, after, transaction, 1)
                          if earlier is None else
                          Weakening(earlier.element, earlier.stage, earlier.before, earlier.after, earlier.example,
                                    earlier.seen + 1))
    return list(found.values())


def _decisions(policy: Policy, transaction: Transaction) -> list[Decision]:
    """The decisions that can weaken: MAIL, each RCPT and the end of DATA (connect and HELO are judged at
    RCPT here)."""
    return [d for d in evaluate(policy, transaction).decisions if d.stage in ("mail", "rcpt", "data")]


def _now_ours(new: Policy, before: Decision) -> bool:
    """A recipient refused only because its domain was not the site's, whose domain the new policy lists:
    the domain change itself (reported, and flagged when it adds a relay domain), not a weakening."""
    domain = split_address(before.argument)[1]
    return before.element == "domains" and (domain_matches(new.domains.local, domain)
                                            or domain_matches(new.domains.relay, domain))


def _weaker(before: Decision, after: Decision) -> bool:
    if _STRENGTH[after.verdict] < _STRENGTH[before.verdict]:
        return True
    return before.verdict == after.verdict == "accept" and (before.element, after.element) == (
        "domains.relay", "domains.local")  # a relay domain's mail is now delivered here: swallowed


def _transactions(old: Policy, new: Policy) -> Iterator[Transaction]:
    clients = _clients(old, new)
    listings = _listings(old, new)
    recipients = _recipients(old, new)
    contexts = _contexts(old, new)
    for client, listed, (port, auth, tls), recipient in product(clients, listings, contexts, recipients):
        yield Transaction(client, sender="user@client.example", recipients=(recipient,), listed=listed,
                          port=port, auth=auth, tls=tls)
    for helo, sender in [*((h, "user@client.example") for h in _helos(old, new)),
                         *(("client.example", s) for s in _senders(old, new))]:
        for client, recipient in product(clients[:1], recipients):
            yield Transaction(client, helo=helo, sender=sender, recipients=(recipient,))
    for (spf, dmarc, dmarc_policy, bare), client, recipient in product(JUDGED_FACTS, clients[:2], recipients):
        yield Transaction(client, sender="user@client.example", recipients=(recipient,), spf=spf, dmarc=dmarc,
                          dmarc_policy=dmarc_policy, bare_newlines=bare)  # clients[:2]: the strangers


def _unique(values: Iterable[T]) -> list[T]:
    return list(dict.fromkeys(values))


def _clients(old: Policy, new: Policy) -> list[Address]:
    """Strangers, then the edges of each network the policies name: first those only one of them names."""
    named = [_networks(old), _networks(new)]
    changed = [n for n in named[0] if n not in named[1]] + [n for n in named[1] if n not in named[0]]
    networks = _unique([*changed, *named[0], *named[1]])
    strangers = [next((a for a in STRANGERS if a.version == version and not any(a in n for n in networks)),
                      None) for version in (4, 6)]
    addresses: list[Address] = [a for a in strangers if a is not None]
    for network in networks:
        addresses += [network.network_address, network.broadcast_address]
    return _unique(addresses)[:MAX_CLIENTS]


def _networks(policy: Policy) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    networks = list(policy.networks.trusted)
    for item in policy.access.clients:
        if isinstance(item, ClientFile):
            networks += (ipaddress.ip_network(e) for e in islice(item.file.entries, ENTRIES_PER_LIST_FILE))
        else:
            networks.append(item.match)
    return networks


def _listings(*policies: Policy) -> list[MappingProxyType[str, str]]:
    """Not listed; then listed in one zone, with each filter's edge answers and an answer outside them."""
    listings: list[tuple[str, str] | None] = [None]
    for policy in policies:
        for entry in policy.dnsbl:
            answers = {answer for text in entry.filters for answer in _edge_answers(text)} | {"127.255.255.254"}
            listings += [(entry.zone, answer) for answer in sorted(answers)]
    return [MappingProxyType(dict([listing] if listing else [])) for listing in _unique(listings)]


def _edge_answers(text: str) -> list[str]:
    octets = filter_octets(text)
    return [".".join(str(pick(values)) for values in octets) for pick in (min, max)]


def _contexts(*policies: Policy) -> list[tuple[int, str | None, bool]]:
    """(port, AUTH user, STARTTLS): the MX port as a stranger and authenticated, each submission port."""
    contexts: list[tuple[int, str | None, bool]] = [(25, None, False), (25, "user", True)]
    for policy in policies:
        for port in (policy.auth.submission.port, policy.auth.submission.smtps_port):
            if port is not None:
                contexts += [(port, None, True), (port, "user", True)]
    return _unique(contexts)


def _recipients(*policies: Policy) -> list[str]:
    recipients = [FOREIGN]
    for policy in policies:
        for domain in (*policy.domains.local, *policy.domains.relay):
            recipients.append("user@" + (f"sub{domain}" if domain.startswith(".") else domain))
        recipients += _addresses(policy.access.recipients)
    return _unique(recipients)


def _senders(*policies: Policy) -> list[str]:
    return _unique(address for policy in policies for address in _addresses(policy.access.senders))


def _addresses(items: Sequence[AddressItem]) -> Iterator[str]:
    """An address each pattern covers: ``user@domain`` as is, ``@domain``/``domain`` → user@, ``user@`` → @x."""
    for item in items:
        patterns = (islice(item.file.entries, ENTRIES_PER_LIST_FILE) if isinstance(item, AddressFile)
                    else (item.match,))
        for pattern in patterns:
            user, at, domain = pattern.rpartition("@")
            yield f"{user or 'user'}@{domain or 'client.example'}" if at else f"user@{pattern}"


def _helos(*policies: Policy) -> list[str]:
    names: list[str] = []
    for policy in policies:
        for item in policy.access.helo:
            names += (islice(item.file.entries, ENTRIES_PER_LIST_FILE) if isinstance(item, HeloFile)
                      else (item.match,))
    return _unique(names)
