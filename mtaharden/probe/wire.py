"""The probe's own option values as they go on the wire: the EHLO argument and the foreign domain.

Why not the policy's validators: these values are read by the probed SMTP server, not by a generated
file, so the grammar that judges them is RFC 5321's (``Domain``, each label a ``sub-domain`` within
RFC 1035's lengths), and the probe starts without loading the policy model (pydantic): see
tests/unit/test_startup.py. tests/probe/test_wire.py keeps them agreeing with the policy's
``host_name`` and ``domain_name`` on what both accept.
"""

from __future__ import annotations

import ipaddress
import re

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"  # RFC 5321 sub-domain, at most 63 octets (RFC 1035)
_DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
MAX_DOMAIN = 253
_IDNA_FIX = "use letters, digits, hyphens and dots only; write an internationalised name in its xn-- form"


class WireValueError(ValueError):
    """An option value the probe cannot put on the wire; ``fix`` says what to write instead."""

    def __init__(self, message: str, fix: str) -> None:
        super().__init__(message)
        self.fix = fix


def _shown(text: str) -> str:
    return repr(text) if len(text) <= 60 else repr(text[:60]) + "…"


def domain(text: str, *, what: str = "domain", min_labels: int = 2) -> str:
    """An RFC 5321 ``Domain`` in canonical form (lower case, no trailing dot) with at least ``min_labels``."""
    if not text.isascii():
        raise WireValueError(f"{what} {_shown(text)} contains a non-ASCII character", _IDNA_FIX)
    name = text.strip().lower().removesuffix(".")
    if not name or len(name) > MAX_DOMAIN or not _DOMAIN.fullmatch(name):
        raise WireValueError(f"{what} {_shown(text)} is not a domain name", _IDNA_FIX)
    labels = name.split(".")
    if labels[-1].isdigit():  # a server reads such a name as an address
        raise WireValueError(f"{what} {_shown(text)} ends in an all-digit label, so it reads as an address",
                             "write the full name, e.g. mail.example.org")
    if len(labels) < min_labels:
        raise WireValueError(f"{what} {_shown(text)} is not fully qualified",
                             "write the full name, e.g. mail.example.org")
    return name


def ehlo_argument(text: str) -> str:
    """What EHLO names the probe by: a host name (one label allowed) or an address literal, canonical."""
    if text.startswith("[") and text.endswith("]"):
        inner = text[1:-1]
        tagged = inner[:5].lower() == "ipv6:"  # ABNF strings ignore case
        try:
            address = ipaddress.ip_address(inner[5:] if tagged else inner)
        except ValueError:
            address = None
        if address is None or (address.version == 6) != tagged:
            raise WireValueError(f"{_shown(text)} is not an address literal", "write [192.0.2.1] or [IPv6:2001:db8::1]")
        return f"[IPv6:{address}]" if tagged else f"[{address}]"
    return domain(text, what="host name", min_labels=1)
