"""The one way an IP address or network is written into a generated file.

Validation refuses zone ids, IPv4-mapped forms and odd spellings, but a target must not rely on the
text a value arrived with: every address is rebuilt here from its number (which drops anything
``ipaddress`` kept beside it, such as a scope id) and the result is checked to hold only
``[0-9a-fA-F:./]``. A value that fails that check is a bug in mtaharden, never a user error, so it
raises :class:`NotCanonical` instead of reaching a file.
"""

from __future__ import annotations

import ipaddress
import re

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_SAFE = re.compile(r"[0-9a-fA-F:./]+")


class NotCanonical(AssertionError):
    """An address or network that would reach a file in a form other than the canonical one."""


def _checked(text: str) -> str:
    if not _SAFE.fullmatch(text):
        raise NotCanonical(f"refusing to write {text[:60]!r}: not a canonical address or network")
    return text


def _rebuilt(value: Address | str) -> Address:
    if isinstance(value, str):
        value = ipaddress.ip_address(_checked(value))
    if isinstance(value, ipaddress.IPv6Address) and value.scope_id is not None:
        raise NotCanonical("refusing to write an IPv6 address with a zone id")
    if isinstance(value, ipaddress.IPv4Address):
        return ipaddress.IPv4Address(int(value))
    return ipaddress.IPv6Address(int(value))


def address(value: Address | str) -> str:
    """``192.0.2.7`` or ``2001:db8::7`` (compressed, lower case)."""
    return _checked(str(_rebuilt(value)))


def network(value: Network) -> str:
    """``192.0.2.0/24``, ``2001:db8::/32``; a single host keeps its ``/32`` or ``/128``."""
    return _checked(f"{address(value.network_address)}/{int(value.prefixlen)}")


def client(value: Network) -> str:
    """A client key: the bare address for one host, else ``address/prefix``."""
    if value.prefixlen == value.max_prefixlen:
        return address(value.network_address)
    return network(value)
