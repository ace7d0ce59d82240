"""One run: every address at every zone, looked up once each, then read into verdicts in a stable order."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import replace

from ..nameserver import Nameserver, system_nameservers
from .catalogue import Zone
from .interpret import Verdict, interpret, skipped
from .lookup import lookup
from .reverse import Address, query_name

FORBIDDEN = ipaddress.IPv4Address("127.0.0.1")  # RFC 5782 §5: the test address no list may hold
# Shared public resolvers: DNSBLs that count queries per resolver refuse them (Spamhaus answers 127.255.255.254).
PUBLIC_RESOLVERS = frozenset({
    "8.8.8.8", "8.8.4.4", "1.1.1.1", "1.0.0.1", "9.9.9.9", "149.112.112.112", "208.67.222.222", "208.67.220.220",
    "114.114.114.114", "114.114.115.115", "223.5.5.5", "223.6.6.6", "119.29.29.29", "180.76.76.76",
    "2001:4860:4860::8888", "2001:4860:4860::8844", "2606:4700:4700::1111", "2606:4700:4700::1001",
    "2620:fe::fe", "2400:3200::1", "2400:3200:baba::1"})


def resolver_notes(server: Nameserver) -> tuple[str, list[str]]:
    """How the report names the resolver, and a warning when it is a shared public one."""
    addresses = system_nameservers() if server.address is None else [server.address]
    described = str(server) if server.address is not None else f"the system resolver ({', '.join(addresses)})"
    public = [a for a in addresses if a in PUBLIC_RESOLVERS]
    notes = [f"warning: {', '.join(public)} is a public resolver: several lists (Spamhaus, Barracuda) refuse or "
             "mis-answer queries from it; use your own recursive resolver with --nameserver"] if public else []
    return described, notes


def check(addresses: Sequence[Address], zones: Sequence[Zone], server: Nameserver, concurrency: int,
          timeout: float) -> list[Verdict]:
    """The verdicts, address by address and zone by zone in the order given.

    Each zone is also asked for 127.0.0.1, which RFC 5782 §5 forbids a list to hold: a zone that lists it
    answers every query (lists that shut down have done so on purpose), so its "listed" means nothing and
    every result there is an error."""
    pairs = [(a, z) for a in addresses for z in zones]
    names = {(a, z.zone): query_name(a, z.zone) for a, z in pairs if a.version == 4 or z.ipv6}
    probes = {z.zone: query_name(FORBIDDEN, z.zone) for z in zones}
    replies = lookup([*names.values(), *probes.values()], server, concurrency, timeout)
    everything = {z.zone for z in zones if interpret(str(FORBIDDEN), z, replies[probes[z.zone]]).status == "listed"}
    verdicts = []
    for a, z in pairs:
        verdict = interpret(str(a), z, replies[names[a, z.zone]]) if (a, z.zone) in names else skipped(str(a), z)
        if z.zone in everything and verdict.status != "skipped":
            verdict = replace(verdict, status="error", hint="", why=(
                f"{z.zone} lists 127.0.0.1, which no list may hold (RFC 5782 §5): it answers every query as "
                "listed (a list that shut down, or a wildcard), so its answers mean nothing"))
        verdicts.append(verdict)
    return verdicts
