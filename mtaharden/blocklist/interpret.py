"""One reply read as listed, not listed or error, and why; only answers a zone documents as listings count.

Lists answer in 127.0.0.0/8 (RFC 5782 §2.3). Anything else is not a list's answer (a resolver that rewrites
NXDOMAIN to a search page, or a name that is not a DNSBL). 127.255.255.x is the range lists use for errors
(Spamhaus: 127.255.255.254 "query through a public resolver", .255 "too many queries"), and 127.0.0.1 is never
a listing (RFC 5782 §5: lists must not list it) but is what several lists answer to a query they refuse.
Those refusals usually mean the resolver: public ones (8.8.8.8, 1.1.1.1, 114.114.114.114, …) are refused by
lists that count queries per resolver, so the report says so.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, replace
from typing import Literal

from ..targets.kit.dnsbl import octets
from .catalogue import Zone
from .lookup import Reply

Status = Literal["listed", "clean", "error", "skipped"]
LOOPBACK_NET = ipaddress.IPv4Network("127.0.0.0/8")
PUBLIC_RESOLVER_HINT = ("a public resolver may be the cause: lists such as Spamhaus refuse queries that reach "
                        "them through shared public resolvers; query through your own recursive resolver "
                        "(--nameserver ADDR)")


@dataclass(frozen=True)
class Verdict:
    """The result for one address at one zone. ``why``: the code's meaning, or what went wrong."""

    address: str
    zone: str
    query: str
    status: Status
    answers: tuple[str, ...] = ()
    why: str = ""
    reasons: tuple[str, ...] = ()  # the zone's TXT records
    hint: str = ""


def _matches(filters: tuple[str, ...], answer: ipaddress.IPv4Address) -> bool:
    values = tuple(int(part) for part in str(answer).split("."))
    return any(all(v in allowed for v, allowed in zip(values, octets(f), strict=True)) for f in filters)


def _error_answer(zone: Zone, text: str) -> tuple[str, bool] | None:
    """Why ``text`` is an error answer and whether a resolver may be the cause, or None if it is a code."""
    try:
        answer = ipaddress.IPv4Address(text)
    except ValueError:
        return f"answer {text!r} is not an IPv4 address", False
    if answer not in LOOPBACK_NET:
        return (f"answer {text} is outside 127.0.0.0/8, so it is not a DNSBL's answer (a resolver that rewrites "
                "unknown names, or a zone that is not a DNSBL)"), True
    if text in zone.errors:
        return f"{text}: {zone.errors[text]} (an error, not a listing)", True
    if text.startswith("127.255.255."):
        return f"{text} is in 127.255.255.0/24, which lists use for errors such as refused queries", True
    if text == "127.0.0.1":
        return "127.0.0.1 is never a listing (RFC 5782 §5); lists answer it to queries they refuse", True
    return None


def interpret(address: str, zone: Zone, reply: Reply) -> Verdict:
    """The verdict for one A reply: every answer must be a documented listing code for "listed"."""
    base = Verdict(address, zone.zone, reply.name, "clean", reply.addresses, reasons=reply.texts)
    if reply.outcome in ("nxdomain", "nodata"):
        return Verdict(address, zone.zone, reply.name, "clean", why="not listed")
    if reply.outcome == "error":
        return Verdict(address, zone.zone, reply.name, "error", why=reply.error)
    errors = [found for found in (_error_answer(zone, text) for text in reply.addresses) if found]
    if errors:
        resolver_may_be_cause = any(cause for _, cause in errors)
        return replace(base, status="error", why="; ".join(why for why, _ in errors),
                       hint=PUBLIC_RESOLVER_HINT if resolver_may_be_cause else "")
    listed = [text for text in reply.addresses if _matches(zone.listed, ipaddress.IPv4Address(text))]
    if not listed:
        return replace(base, status="error", why=f"{', '.join(reply.addresses)} is not a code {zone.zone} "
                       f"documents as a listing ({', '.join(zone.listed)})")
    unknown = "listed (a code the catalogue does not describe)" if zone.codes else "listed"
    meanings = [zone.codes.get(text, unknown) for text in listed]
    why = "; ".join(f"{text}: {meaning}" for text, meaning in zip(listed, meanings, strict=True))
    return replace(base, status="listed", why=why)


def skipped(address: str, zone: Zone) -> Verdict:
    """An IPv6 address at a zone that lists IPv4 only: not asked (its answer would mean nothing)."""
    return Verdict(address, zone.zone, "", "skipped", why=f"{zone.zone} lists IPv4 addresses only")
