"""One message's trace as plain data: the shape ``--format json`` prints (``SCHEMA``) and the text
summary and the reports are written from. Every string taken from the message is screened (decode.clean)."""

from __future__ import annotations

import email.utils
import re
from typing import Any

from .boundary import Trust, delays, find_boundary
from .contacts import Contact, Failure, mailbox
from .contacts.role import registered_domain
from .decode import clean, decode_words
from .received import Hop, parse_received
from .source import Message

SCHEMA = 1
MAX_HOPS = 100  # Received fields read from the top; spam pads with thousands to hide the real ones below
_RESULT = re.compile(r"\b(spf|dkim|dmarc|arc|iprev|auth)\s*=\s*([a-z]+)", re.I)


def analyse(message: Message, trust: Trust) -> dict[str, Any]:
    """The trace of ``message`` without contacts (``add_contacts`` fills them in)."""
    received = message.all("Received")
    hops = [parse_received(header.value, header.line) for header in received[:MAX_HOPS]]
    notes = list(message.notes)
    if len(received) > MAX_HOPS:
        notes.append(f"{len(received) - MAX_HOPS} Received fields below the first {MAX_HOPS} were not read")
    verdict = find_boundary(hops, trust)
    notes.extend(verdict.notes)
    sender = verdict.sender
    subject_text, charsets = decode_words(message.first("Subject") or "")
    return {
        "source": {"file": message.where, "line": message.line, "message": message.index},
        "subject": subject_text, "subject_charsets": charsets,
        "from": decode_words(message.first("From") or "")[0],
        "return_path": _address(message.first("Return-Path")),
        "message_id": clean(message.first("Message-ID") or "") or None,
        "date": clean(message.first("Date") or "") or None,
        "authentication_results": [_auth(header.value) for header in message.all("Authentication-Results")[:20]],
        "boundary": {"known": trust.known, "from": trust.sources, "trusted_hops": verdict.trusted,
                     "boundary_hop": verdict.boundary},
        "sender": None if sender is None else {"ip": sender.ip, "helo": _opt(sender.helo),
                                               "rdns": _opt(sender.rdns), "hop": verdict.boundary},
        "hops": [_hop(position, hop, delay, position <= verdict.trusted)
                 for position, (hop, delay) in enumerate(zip(hops, delays(hops), strict=True), 1)],
        "flags": [{"kind": flag.kind, "hop": flag.hop, "message": clean(flag.message)} for flag in verdict.flags],
        "notes": notes,
        "domains": _domains(message, sender),
        "contacts": [], "lookup_failures": [], "reports": [],
    }


def add_contacts(trace: dict[str, Any], contacts: list[Contact], failures: list[Failure]) -> None:
    trace["contacts"] = [{"address": c.address, "about": c.about, "source": clean(c.source)} for c in contacts]
    trace["lookup_failures"] = [{"about": f.about, "source": clean(f.source), "reason": clean(f.reason)}
                                for f in failures]


def _hop(position: int, hop: Hop, delay: float | None, trusted: bool) -> dict[str, Any]:
    return {
        "hop": position, "line": hop.line, "trusted": trusted, "parsed": hop.parsed,
        "from": {"helo": _opt(hop.helo), "rdns": _opt(hop.rdns), "ip": hop.ip},
        "by": _opt(hop.by), "software": _opt(hop.software), "with": _opt(hop.protocol), "id": _opt(hop.id),
        "for": _opt(hop.recipient), "envelope_from": _opt(hop.envelope_from),
        "time": hop.date.isoformat() if hop.date else None, "delay_seconds": delay,
        "remarks": [clean(remark) for remark in hop.remarks[:10]],
        "raw": clean(hop.raw),
    }


def _auth(value: str) -> dict[str, Any]:
    results = {method.lower(): result.lower() for method, result in _RESULT.findall(value[:4096])}
    return {"raw": clean(value), "results": results}


def _domains(message: Message, sender: Hop | None) -> list[str]:
    """The domains a complaint concerns: the sender's reverse name, the From: and Return-Path domains."""
    names = []
    if sender is not None and sender.rdns not in (None, "unknown"):
        names.append(sender.rdns)
    for field in ("From", "Return-Path", "Reply-To"):
        address = _address(message.first(field))
        if address:
            names.append(address.rpartition("@")[2])
    return list(dict.fromkeys(domain for name in names if name and (domain := registered_domain(name))))


def _address(value: str | None) -> str | None:
    if not value:
        return None
    return mailbox(email.utils.parseaddr(value[:1024])[1])


def _opt(text: str | None) -> str | None:
    return clean(text) if text else None
