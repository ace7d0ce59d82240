"""Addresses to check, and their DNSBL query names (RFC 5782 §2.1 for IPv4, §2.4 for IPv6).

IPv4 reverses the octets (192.0.2.30 → 30.2.0.192.zone); IPv6 reverses every nibble of the full address
(2001:db8::1 → 1.0.0.0 … 8.b.d.0.1.0.0.2.zone, 32 labels): a compressed or shortened form names a different
entry. Networks are expanded address by address, with a bound, since each address is a query per zone.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from .errors import BadInput

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
DEFAULT_MAX = 2**16  # a /16: 65,536 addresses (655,360 queries against ten zones)


def query_name(address: Address, zone: str) -> str:
    """The absolute name to look up for ``address`` in ``zone`` (trailing dot: no resolver search list)."""
    labels = str(address).split(".") if address.version == 4 else list(address.exploded.replace(":", ""))
    return f"{'.'.join(reversed(labels))}.{zone}."


def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    where, hint = f"address {text!r}", "write an IPv4 or IPv6 address or network, e.g. 192.0.2.25 or 192.0.2.0/24"
    if "%" in text:
        raise BadInput(where, "has a zone id (%…), which names an interface, not an address", "leave out % and after")
    try:
        return ipaddress.ip_network(text.strip(), strict=True)
    except ValueError as exc:
        if "host bits set" in str(exc):
            network = ipaddress.ip_network(text.strip(), strict=False)
            raise BadInput(where, "has host bits set", f"write the network as {network}") from None
        raise BadInput(where, "is not an IP address or network", hint) from None


def expand(arguments: Iterable[str], limit: int = DEFAULT_MAX) -> list[Address]:
    """Every address the arguments name, each once, in order; more than ``limit`` in all is refused."""
    found: dict[Address, None] = {}  # insertion-ordered set
    for text in arguments:
        network = _network(text)
        if len(found) + network.num_addresses > limit:
            raise BadInput(f"address {text!r}", f"makes more than {limit:,} addresses to check "
                           f"({network.num_addresses:,} in this network)",
                           "check a smaller network, or raise the bound with --max N")
        found.update(dict.fromkeys(network))
    return list(found)
