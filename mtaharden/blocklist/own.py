"""The host's own addresses as a policy names them: where its MTAs listen, and the servers it declares.

The policy has no host-wide address; the targets' options do (Postfix ``inet_interfaces``, Sendmail
``listen_address``, qmail ``listen``, Exchange ``server_addresses``/``relay_bindings``). Only addresses a list
could hold count: loopback, unspecified ("all"), link-local and multicast ones are left out, and said so.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from dataclasses import dataclass

from ..nameserver import Nameserver
from ..policy.model import Policy
from .catalogue import Zone, policy_zone
from .errors import BadInput, CouldNotCheck
from .lookup import host_addresses

# (target, option): each holds one address or a list of them (or the words "all", "loopback-only")
_OPTIONS = (("postfix", "inet_interfaces"), ("sendmail", "listen_address"), ("qmail", "listen"),
            ("exchange", "server_addresses"), ("exchange", "relay_bindings"))


@dataclass(frozen=True)
class Found:
    """An address the policy names, where it does, and why it is left out (empty: it is checked)."""

    address: str
    where: str
    left_out: str = ""


def _values(policy: Policy, target: str, option: str) -> list[str]:
    value = getattr(getattr(policy.targets, target), option)
    return [] if value is None else [str(v) for v in (value if isinstance(value, list) else [value])]


def _left_out(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    for flag, words in (("is_unspecified", "all addresses"), ("is_loopback", "loopback"),
                        ("is_link_local", "link-local"), ("is_multicast", "multicast")):
        if getattr(address, flag):
            return f"{words}: no list holds it"
    return ""


def policy_addresses(policy: Policy) -> Iterator[Found]:
    """The addresses the policy's target options name, each once, in option order."""
    seen: set[str] = set()
    for target, option in _OPTIONS:
        if not policy.states(f"targets.{target}.{option}"):
            continue
        for value in _values(policy, target, option):
            try:
                address = ipaddress.ip_address(value)
            except ValueError:  # "all" / "loopback-only": no address of its own
                continue
            text = str(address)
            if text not in seen:
                seen.add(text)
                yield Found(text, f"targets.{target}.{option}", _left_out(address))


@dataclass(frozen=True)
class PolicyTargets:
    """What ``--policy`` adds: addresses to check, how they were found (for the report), and dnsbl zones."""

    addresses: list[str]
    sources: list[str]
    zones: list[Zone]


def policy_targets(policy: Policy, nameserver: Nameserver, timeout: float) -> PolicyTargets:
    """The policy's own addresses, else its host name's A/AAAA records (the system's name when unset)."""
    zones = [policy_zone(i, entry.zone, entry.filters) for i, entry in enumerate(policy.dnsbl)]
    found = list(policy_addresses(policy))
    sources = [f"{f.where}: {f.address}" + (f" (left out: {f.left_out})" if f.left_out else "") for f in found]
    addresses = [f.address for f in found if not f.left_out]
    if addresses:
        return PolicyTargets(addresses, sources, zones)
    host = policy.hostname or socket.getfqdn()
    where = "the policy's hostname" if policy.hostname else "the system's host name (the policy sets no hostname)"
    for kind, reply in host_addresses(host, nameserver, timeout).items():
        if reply.outcome == "error":
            sources.append(f"{where} {host} {kind}: lookup failed: {reply.error}")
            continue
        usable = [a for a in reply.addresses if not _left_out(ipaddress.ip_address(a))]
        sources.append(f"{where} {host} {kind}: {', '.join(reply.addresses) or 'none'}"
                       + ("" if len(usable) == len(reply.addresses) else f" (checked: {', '.join(usable) or 'none'})"))
        addresses += usable
    if not addresses and any("lookup failed" in line for line in sources):
        raise CouldNotCheck(f"--policy: the addresses of {host} could not be looked up: " + "; ".join(sources))
    if not addresses:
        raise BadInput(f"--policy: {host}", "has no address a list could hold, and the policy names none",
                       "set targets.postfix.inet_interfaces (or another target's listen address), give ADDRESS "
                       "arguments, or give the host a public A/AAAA record")
    return PolicyTargets(addresses, sources, zones)
