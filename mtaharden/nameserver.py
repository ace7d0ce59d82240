"""Where a command's DNS queries go: ``--nameserver ADDR[:PORT]``, or the system's resolvers.

One place for the option's reading and for a resolver without cache whose every query gives up in time, so
``blocklist`` and ``dns --check`` ask DNS alike (and tests point both at a server they start).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import dns.resolver


class NameserverError(ValueError):
    """``--nameserver`` is not ADDR[:PORT]; the message says what is wrong and the fix."""


@dataclass(frozen=True)
class Nameserver:
    """Where queries go: an address and port, or the system's resolvers (``address`` None)."""

    address: str | None = None
    port: int = 53

    def __str__(self) -> str:
        if self.address is None:
            return "the system resolver"
        return f"[{self.address}]:{self.port}" if ":" in self.address else f"{self.address}:{self.port}"


def parse_nameserver(text: str | None) -> Nameserver:
    """``ADDR[:PORT]`` (an IPv6 address with a port in brackets: ``[::1]:5353``); None: the system's."""
    if text is None:
        return Nameserver()
    where, host, port = f"--nameserver {text!r}", text, "53"
    if text.startswith("["):
        host, closed, rest = text[1:].partition("]")
        if not closed or (rest and not rest.startswith(":")):
            raise NameserverError(f"{where}: is not [ADDR]:PORT (fix: write an IPv6 address with a port as "
                                  "[::1]:5353)")
        port = rest[1:] if rest else port
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
    try:
        address = str(ipaddress.ip_address(host))
    except ValueError:
        raise NameserverError(f"{where}: is not an IP address (fix: write ADDR or ADDR:PORT, e.g. 127.0.0.1:5353 or "
                              "[::1]:5353; a name would need a resolver to find the resolver)") from None
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise NameserverError(f"{where}: port {port!r} is not 1-65535 (fix: write ADDR:PORT, e.g. 127.0.0.1:5353)")
    return Nameserver(address, int(port))


def resolver(nameserver: Nameserver, timeout: float) -> dns.resolver.Resolver:
    """A resolver without cache whose every query gives up after ``timeout`` seconds."""
    made = dns.resolver.Resolver(configure=nameserver.address is None)
    if nameserver.address is not None:
        made.nameservers = [nameserver.address]
        made.port = nameserver.port
    made.cache = None
    made.lifetime = made.timeout = timeout
    return made


def system_nameservers() -> list[str]:
    """The resolvers /etc/resolv.conf names (what "the system resolver" means here)."""
    try:
        return [str(n) for n in dns.resolver.Resolver().nameservers]
    except dns.resolver.NoResolverConfiguration:
        return []
