"""Where to probe: ``HOST[:PORT]``, with IPv6 addresses written ``[::1]:25`` (or bare ``::1``)."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

_HOST = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


@dataclass(frozen=True, order=True)
class Endpoint:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_endpoint(text: str, default_port: int | None) -> Endpoint:
    """Parse ``HOST[:PORT]``; raise ValueError with a user message (and a fix) when it is not one."""
    value = text.strip()
    port_text: str | None = None
    if value.startswith("["):
        host, bracket, rest = value[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ValueError(f"{text!r} is not HOST[:PORT] (fix: write IPv6 as [2001:db8::1]:25)")
        port_text = rest[1:] if rest else None
        _require_ipv6(host, text)
    elif value.count(":") > 1:
        host = value
        _require_ipv6(host, text)
    else:
        host, colon, port = value.partition(":")
        port_text = port if colon else None
        if not _HOST.fullmatch(host):
            raise ValueError(f"{text!r} does not start with a host name or address (fix: e.g. mx.example.org:25)")
    if port_text is None:
        if default_port is None:
            raise ValueError(f"{text!r} has no port (fix: write HOST:PORT)")
        return Endpoint(host, default_port)
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ValueError(f"{text!r} has no valid port (fix: a number from 1 to 65535)")
    return Endpoint(host, int(port_text))


def _require_ipv6(host: str, text: str) -> None:
    try:
        ipaddress.IPv6Address(host)
    except ValueError:
        raise ValueError(f"{text!r} is not a valid IPv6 address (fix: e.g. [2001:db8::1]:25)") from None
