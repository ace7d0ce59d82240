"""The ``mappings`` fragment: the policy's relay and access decisions as mapping-table entries.

Why one quoting function per side: a mapping entry is ``pattern template`` split at the first unquoted
space, and both sides give ``$`` sequences a meaning (``$(...)`` IP match, ``$|...|`` table substitution,
``$[...]`` callouts, flags). So a policy string is written only through :func:`pattern_text` (addresses and
domains) and :func:`reply_text` (reply messages): letters, digits and an allow-list of punctuation pass,
``$``, ``*``, ``%`` and space are ``$``-quoted, and every other character is refused. The only unquoted ``$``
sequences in the file are the ones written here (:data:`checker.FLAGS`), which :mod:`.checker` proves.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from ...policy import Policy, canonical
from ..kit.address_parts import parts
from ..kit.coverage import Recorder
from ..kit.escape import Unexpressible
from .capabilities import DEFER_AS_REJECT, IPV6_MATCH_UNVERIFIED, RELAY_REFUSED

# Printable ASCII a mapping side may carry literally (after quoting). Left out on purpose: "|" (the probe's
# field separator and a flag-argument separator), "!" (comments), "?" ("$?x?" random entries), "\" and "`".
_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                   ".,:;-_@+=/&'\"#^~{}()[]<>")
_QUOTED = frozenset("$*% ")


@dataclass(frozen=True)
class Entry:
    """One mapping entry: its table, its pattern and its template, each already written in mapping syntax."""

    table: str
    pattern: str
    template: str


def _quoted(text: str, what: str) -> str:
    out = []
    for char in text:
        if char in _QUOTED:
            out.append("$" + char)
        elif char in _PLAIN:
            out.append(char)
        else:
            raise Unexpressible(f"{what} {text!r}: Messaging Server mappings cannot carry {char!r} safely")
    return "".join(out)


def pattern_text(text: str) -> str:
    """A literal piece of a pattern (an address, a domain): wildcards and ``$`` lose their meaning."""
    return _quoted(text, "a mapping pattern")


def reply_text(text: str) -> str:
    """A reply message after ``$N``: ``$`` doubled, spaces quoted, so it can neither end nor extend the entry."""
    return _quoted(text, "a mapping reply")


def _ip_match(network: str) -> str:
    """``$(net/len)``: the mapping's own IP-range match (a single address as itself)."""
    parsed = ipaddress.ip_network(network)
    return str(parsed.network_address) if parsed.prefixlen == parsed.max_prefixlen else f"$({parsed})"


def internal_ip(policy: Policy) -> list[Entry]:
    """INTERNAL_IP: the trusted networks switch to tcp_intranet; everyone else stays on tcp_local."""
    entries = [Entry("INTERNAL_IP", _ip_match(canonical.network(n)), "$Y") for n in policy.networks.trusted]
    return [*entries, Entry("INTERNAL_IP", "*", "$N")]


def _address(pattern: str) -> str:
    """A policy sender/recipient pattern as a probe field: ``user@domain``, ``*@domain``, ``user@*``."""
    user, domain = parts(pattern)
    return f"{'*' if user is None else pattern_text(user)}@{'*' if domain is None else pattern_text(domain)}"


def relay(policy: Policy, rec: Recorder) -> list[Entry]:
    """ORIG_SEND_ACCESS: tcp_local to tcp_local (relaying) only to the relay domains; refused otherwise."""
    entries = []
    for domain in policy.domains.relay:
        probe = f"*@*{pattern_text(domain)}" if domain.startswith(".") else f"*@{pattern_text(domain)}"
        entries.append(Entry("ORIG_SEND_ACCESS", f"tcp_local|*|tcp_local|{probe}", "$Y"))
    if policy.domains.relay:
        rec.enforced("domains.relay", "ORIG_SEND_ACCESS lets tcp_local reach these domains before the refusal")
    if any(network.version == 6 for network in policy.networks.trusted):
        rec.approximated("networks.trusted", f"{RELAY_REFUSED}; {IPV6_MATCH_UNVERIFIED}")
    else:
        rec.enforced("networks.trusted", RELAY_REFUSED)
    return [*entries, Entry("ORIG_SEND_ACCESS", "tcp_local|*|tcp_local|*", "$N" + reply_text("Relaying not allowed"))]


def _verdict(action: str, message: str | None, default: str) -> str:
    return "$Y" if action == "permit" else "$N" + reply_text(message or default)


# MAIL_ACCESS's probe: TCP|server-ip|server-port|client-ip|client-port|app-info|submit-type|src-channel|
# from-address|dst-channel|to-address (11 fields); one table keeps the policy's order across the lists.
def _probe(client: str = "*", sender: str = "*", recipient: str = "*") -> str:
    return f"TCP|*|*|{client}|*|*|*|*|{sender}|*|{recipient}"


def access(policy: Policy, rec: Recorder) -> list[Entry]:
    """MAIL_ACCESS: client, recipient and sender rules in the policy's order; the first match decides."""
    return [*_clients(policy, rec), *_addresses(policy, rec, "recipients"), *_addresses(policy, rec, "senders")]


def _clients(policy: Policy, rec: Recorder) -> Iterator[Entry]:
    for index, item in enumerate(policy.access.clients):
        networks = _client_networks(item)
        _record(rec, f"access.clients[{index}]", item.action, any(":" in n for n in networks))
        for network in networks:
            yield Entry("MAIL_ACCESS", _probe(client=_ip_match(network)),
                        _verdict(item.action, item.message, "Client refused"))


def _client_networks(item: object) -> Sequence[str]:
    match = getattr(item, "match", None)
    if match is not None:
        return [canonical.network(match)]
    return [str(ipaddress.ip_network(e)) for e in item.file.entries]  # type: ignore[attr-defined]


def _addresses(policy: Policy, rec: Recorder, stage: str) -> Iterator[Entry]:
    for index, item in enumerate(getattr(policy.access, stage)):
        match = getattr(item, "match", None)
        patterns = [match] if match is not None else list(item.file.entries)
        _record(rec, f"access.{stage}[{index}]", item.action, ipv6=False)
        for pattern in patterns:
            field = _address(pattern)
            probe = _probe(recipient=field) if stage == "recipients" else _probe(sender=field)
            default = "Recipient refused" if stage == "recipients" else "Sender refused"
            yield Entry("MAIL_ACCESS", probe, _verdict(item.action, item.message, default))


def _record(rec: Recorder, element: str, action: str, ipv6: bool) -> None:
    if action == "defer":
        rec.approximated(element, DEFER_AS_REJECT)
    elif ipv6:
        rec.approximated(element, IPV6_MATCH_UNVERIFIED)
    else:
        rec.enforced(element, "a MAIL_ACCESS entry, in the policy's first-match order")
