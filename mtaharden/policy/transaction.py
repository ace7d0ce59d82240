"""An SMTP transaction as the reference evaluator sees it: what a client says and what is known of it.

The evaluator does no DNS and knows no mailboxes, so a transaction carries the DNSBL answers for
its client (``listed``: zone → the answer address) and the SPF and DMARC results as given facts.
Addresses are compared in their canonical (lower-case) form, as the policy's own patterns are.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

ClientAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
MX_PORT = 25  # the public service for other mail servers; the submission ports are the policy's
DEFAULT_ANSWER = "127.0.0.2"  # what a listing answers unless the transaction says otherwise
SpfResult = Literal["none", "neutral", "pass", "fail", "softfail", "temperror", "permerror"]  # RFC 7208 2.6
DmarcResult = Literal["none", "pass", "fail"]  # RFC 7489: none = the From: domain publishes no record
DmarcPolicy = Literal["none", "quarantine", "reject"]  # the record's p= (or sp= for a subdomain)


@dataclass(frozen=True)
class Transaction:
    """One SMTP session: connect, HELO/EHLO, MAIL, RCPT..., DATA.

    ``port``: the port the client connects to (25 is the MX service; the role decides which ports are
    open and what each takes). ``tls``: the client used STARTTLS (on the implicit-TLS submission port the
    session is encrypted anyway). ``helo`` None: the client sends MAIL without HELO. ``auth``: the user
    the client authenticated as (None: no AUTH). ``headers``: the message's header lines, ``Name: value``,
    their text decoded.
    ``size``: the message's size in bytes as the client sends it (header and body, CRLF line ends, before
    dot-stuffing). ``mail_size``: the ``SIZE=`` the client declares at MAIL (None: it declares none).
    ``listed``: DNSBL zone → the A record its lookup of the client answers.
    The sender authentication facts, which the evaluator takes as given (it does no DNS): ``spf``, the SPF
    result of the envelope sender's domain (of the HELO name for ``<>``); ``dmarc``, the From: domain's DMARC
    result, and ``dmarc_policy``, what its record asks for a failing message. ``bare_newlines``: a line of the
    message ends in a bare LF or CR instead of CRLF (the SMTP smuggling form).
    """

    client: ClientAddress
    helo: str | None = "client.example"
    sender: str = ""
    recipients: tuple[str, ...] = ()
    tls: bool = False
    auth: str | None = None
    headers: tuple[str, ...] = ()
    size: int = 0
    listed: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    mail_size: int | None = None
    port: int = MX_PORT
    spf: SpfResult = "none"
    dmarc: DmarcResult = "none"
    dmarc_policy: DmarcPolicy = "none"
    bare_newlines: bool = False


def split_address(address: str) -> tuple[str, str]:
    """(local part, domain) of an envelope address, lower-cased; the domain is '' when there is none."""
    local, at, domain = address.strip().lower().rpartition("@")
    return (local, domain.removesuffix(".")) if at else (domain, "")


def header_parts(line: str) -> tuple[str, str] | None:
    """(name, value) of a ``Name: value`` header line; None when the line has no colon or name."""
    name, colon, value = line.partition(":")
    return (name.strip(), value) if colon and name.strip() else None
