"""The relay-attack matrix, as data: every case names its trick and where it comes from.

Why data: the matrix is the probe's whole claim ("these tricks were tried"), so it must be easy to
read, review against its sources (see ``reference/relay-matrix.md``) and extend without touching the
code that runs it. Templates are sent verbatim after the placeholders are filled in:

- ``{foreign}`` the foreign domain (``--external-domain``; nmap used ``nmap.scanme.org``),
  ``{FOREIGN}`` the same in upper case;
- ``{ip}`` the server's address as dialled, ``{literal}`` it as an address literal (``[192.0.2.25]`` or
  ``[IPv6:2001:db8::25]``);
- ``{srv}`` the server's name from the banner (nmap's SRVNAME), ``{SRV}`` in upper case;
- ``{domain}`` the server's mail domain (the policy's first local domain, else the banner name's
  parent domain).

Where a form of the MAPS or abuse.net lists is the same trick as an nmap test (null sender,
sender in the recipient's domain), it is one case that names every source, not a duplicate.
dnsgoodies also sent a bare-IP *sender*; Postfix refuses that as bad syntax (501 5.1.7), which would leave
the recipient trick untested, so that case uses the bracketed sender of the nmap tests.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

DEFAULT_FOREIGN = "relaytest.invalid"


@dataclass(frozen=True)
class Placeholders:
    """The values a case template is filled with, for one endpoint."""

    foreign: str
    ip: str
    srv: str
    domain: str

    @property
    def literal(self) -> str:
        return address_literal(self.ip)

    def mapping(self) -> Mapping[str, str]:
        return self._mapping

    @functools.cached_property
    def _mapping(self) -> Mapping[str, str]:
        """Built once per endpoint, not once per case: parsing the address was 2.5% of a fleet run."""
        return MappingProxyType({"foreign": self.foreign, "FOREIGN": self.foreign.upper(), "ip": self.ip,
                                 "literal": self.literal, "srv": self.srv, "SRV": self.srv.upper(),
                                 "domain": self.domain})


def address_literal(ip: str) -> str:
    """An RFC 5321 address literal: ``[192.0.2.1]`` or ``[IPv6:2001:db8::1]``."""
    return f"[IPv6:{ip}]" if ipaddress.ip_address(ip).version == 6 else f"[{ip}]"


@dataclass(frozen=True)
class Case:
    """One relay attempt: MAIL FROM and RCPT TO templates, and the raw RCPT command prefix."""

    id: str
    description: str
    source: str
    mail_from: str
    rcpt_to: str
    rcpt_prefix: str = "RCPT TO:"

    @property
    def confirmable(self) -> bool:
        """Whether the recipient's final destination is the foreign domain (``--confirm`` sends DATA only then).

        The two cases at IP literals (192.0.2.1, 2001:db8::1) name no domain a transport map could
        route to the canary, so a message to them could only go to whatever answers at that address.
        """
        return "{foreign}" in self.rcpt_to.lower()

    def commands(self, values: Placeholders) -> tuple[str, str]:
        """The MAIL and RCPT command lines, exactly as they go on the wire."""
        mapping = values.mapping()
        return (f"MAIL FROM:{self.mail_from.format_map(mapping)}",
                f"{self.rcpt_prefix}{self.rcpt_to.format_map(mapping)}")


_IP_SENDER = "<antispam@{literal}>"


def _nmap(number: int, description: str, mail_from: str, rcpt_to: str, also: str = "") -> Case:
    return Case(f"nmap-{number:02d}", description, f"nmap #{number}{also}", mail_from, rcpt_to)


NMAP_CASES: tuple[Case, ...] = (
    _nmap(1, "null sender, plain foreign recipient", "<>", "<relaytest@{foreign}>",
          "; abuse.net #1; MAPS #5"),
    _nmap(2, "foreign sender in the recipient's domain, foreign recipient", "<antispam@{foreign}>",
          "<relaytest@{foreign}>", "; abuse.net #3; MAPS #1"),
    _nmap(3, "sender forged as the server's own host name", "<antispam@{srv}>", "<relaytest@{foreign}>"),
    _nmap(4, "sender forged as the server's address literal", _IP_SENDER, "<relaytest@{foreign}>"),
    _nmap(5, "percent hack via the server's address literal", _IP_SENDER, "<relaytest%{foreign}@{literal}>"),
    _nmap(6, "percent hack via the server's host name", _IP_SENDER, "<relaytest%{foreign}@{srv}>"),
    _nmap(7, "quoted local part that contains @", _IP_SENDER, '<"relaytest@{foreign}">'),
    _nmap(8, "quoted percent hack without a domain", _IP_SENDER, '<"relaytest%{foreign}">'),
    _nmap(9, "double @ with the server's address literal last", _IP_SENDER, "<relaytest@{foreign}@{literal}>"),
    _nmap(10, "quoted local part with @ at the server's address literal", _IP_SENDER,
          '<"relaytest@{foreign}"@{literal}>'),
    _nmap(11, "double @ with the server's host name last", _IP_SENDER, "<relaytest@{foreign}@{srv}>"),
    _nmap(12, "RFC 821 source route via the server's address literal", _IP_SENDER,
          "<@{literal}:relaytest@{foreign}>"),
    _nmap(13, "RFC 821 source route via the server's host name", _IP_SENDER, "<@{srv}:relaytest@{foreign}>"),
    _nmap(14, "UUCP bang path without a domain", _IP_SENDER, "<{foreign}!relaytest>"),
    _nmap(15, "UUCP bang path at the server's address literal", _IP_SENDER, "<{foreign}!relaytest@{literal}>"),
    _nmap(16, "UUCP bang path at the server's host name", _IP_SENDER, "<{foreign}!relaytest@{srv}>"),
)

EXTRA_CASES: tuple[Case, ...] = (
    Case("maps-unqualified", "unqualified sender (no domain)", "MAPS #4; abuse.net #2",
         "<spamtest>", "<relaytest@{foreign}>"),
    Case("maps-localhost", "sender at localhost", "MAPS #3", "<spamtest@localhost>", "<relaytest@{foreign}>"),
    Case("maps-server-domain", "sender forged in the server's own mail domain", "MAPS #6; abuse.net #4",
         "<spamtest@{domain}>", "<relaytest@{foreign}>"),
    Case("mailradar-trailing-at", "double @ with an empty last domain", "mailradar #18",
         _IP_SENDER, "<relaytest@{foreign}@>"),
    Case("dnsgoodies-bare-ip", "recipient at a bare dotted IP (no brackets) that is not the server's",
         "dnsgoodies", _IP_SENDER, "<relaytest@192.0.2.1>"),
    Case("route-multihop", "two-hop source route through the server's name and literal", "mtaharden own",
         _IP_SENDER, "<@{srv},@{literal}:relaytest@{foreign}>"),
    Case("percent-chain", "chain of percent hops ending at the server's literal", "mtaharden own",
         _IP_SENDER, "<relaytest%{foreign}%{srv}@{literal}>"),
    Case("bang-percent-foreign-first", "A!user%B@C with the foreign domain as the bang hop", "PMDF manual",
         _IP_SENDER, "<{foreign}!relaytest%{srv}@{literal}>"),
    Case("bang-percent-foreign-last", "A!user%B@C with the foreign domain as the percent hop", "PMDF manual",
         _IP_SENDER, "<{srv}!relaytest%{foreign}@{literal}>"),
    Case("uppercase-percent", "percent hack via the host name, all in upper case", "mtaharden own",
         "<ANTISPAM@{literal}>", "<RELAYTEST%{FOREIGN}@{SRV}>"),
    Case("syntax-unbracketed", "RCPT path without angle brackets", "mtaharden own",
         _IP_SENDER, "relaytest@{foreign}", "RCPT TO:"),
    Case("syntax-space", "space after the colon of RCPT TO:", "MAPS",
         _IP_SENDER, "<relaytest@{foreign}>", "RCPT TO: "),
    Case("ipv6-literal", "recipient at a foreign IPv6 address literal", "mtaharden own",
         _IP_SENDER, "<relaytest@[IPv6:2001:db8::1]>"),
)

CASES: tuple[Case, ...] = NMAP_CASES + EXTRA_CASES
