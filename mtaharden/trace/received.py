"""One ``Received:`` field read into a hop: who handed the message over, who took it, when.

RFC 5321 §4.4 gives the clauses (``from``, ``by``, ``via``, ``with``, ``id``, ``for``, then ``;``
and the date) and puts what the receiver saw in a comment after the ``from`` name. Real MTAs fill
that comment in their own ways, so the clauses are split by one small tokenizer (comments nest,
quoted strings and address literals are kept whole) and the comments are read for the shapes each
MTA writes:

- Postfix, Sendmail, Gmail, Coremail: ``from HELO (RDNS [IP])``, ``(unknown [IP])``, Sendmail's
  ``(may be forged)`` and ``IDENT:user@``, Gmail's trailing dot;
- qmail: ``from RDNS (HELO helo) (IP)`` or ``(user@IP)``, and ``(qmail N invoked ...)`` lines with no clauses;
- Exim: ``from RDNS ([IP] helo=HELO)`` and ``from [IP] (helo=HELO)``, ``[IP]:port``;
- Exchange and Microsoft 365: ``from NAME (IP) by NAME (IP) with Microsoft SMTP Server``;
- webmail (Coremail, eYou): ``from user$domain ( [IP] )`` and ``from IP by HOST with HTTP``.

Nothing here resolves or trusts a name: the hop only says what its writer claimed.
"""

from __future__ import annotations

import email.utils
import ipaddress
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

_KEYWORDS = ("from", "by", "via", "with", "id", "for")
_IP_LITERAL = re.compile(r"\[(?:ipv6:)?([0-9a-f:.]+)\](?::\d+)?", re.I)
_BARE_IP = re.compile(r"^(?:[^@\s]*@)?\[?(?:ipv6:)?([0-9a-f:.]*[.:][0-9a-f:.]*)\]?(?::\d+)?$", re.I)
_HELO = re.compile(r"\bhelo[= ]\s*([^\s()\[\]]+)", re.I)
_NAME = re.compile(r"^[a-z0-9_$][a-z0-9_$.\-]*$", re.I)
_SOFTWARE = re.compile(r"\s*(exim|postfix|qmail|coremail|sendmail|microsoft)\b", re.I)
_ENVELOPE_FROM = re.compile(r"envelope-from\s+<([^<>\s]*)>", re.I)


@dataclass
class Hop:
    """What one Received field claims; fields its writer did not state are None."""

    raw: str
    line: int
    parsed: bool = True
    helo: str | None = None          # the name the sender gave in HELO/EHLO
    rdns: str | None = None          # the receiver's reverse lookup of the address ("unknown": none)
    ip: str | None = None            # the address the receiver saw, canonical
    by: str | None = None            # the receiving host's name
    by_ip: str | None = None
    software: str | None = None      # the receiver's comment after its name (Postfix, Exim 4.96, …)
    protocol: str | None = None      # the ``with`` clause (ESMTPS, SMTP, HTTP, LMTP, …)
    id: str | None = None
    recipient: str | None = None     # the ``for`` clause
    envelope_from: str | None = None
    date: datetime | None = None
    date_text: str | None = None
    remarks: list[str] = field(default_factory=list)  # "may be forged", "qmail invoked from network", …


def parse_received(value: str, line: int) -> Hop:
    """The hop a Received field ``value`` describes; an unreadable one keeps ``parsed`` False."""
    hop = Hop(raw=value, line=line)
    body, _, date_text = value.rpartition(";") if ";" in value else (value, "", "")
    hop.date_text = date_text.strip() or None
    if hop.date_text:
        hop.date = _date(hop.date_text)
    clauses = _clauses(body)
    if not clauses:
        hop.parsed = False
        return hop
    for keyword, words, comments in clauses:
        if keyword == "":
            hop.remarks.extend(_squash(comment) for comment in comments)
            hop.parsed = bool(comments) or not words
        elif keyword == "from":
            _read_from(hop, words, comments)
        elif keyword == "by":
            hop.by = _host(words[0]) if words else None
            hop.by_ip = next((ip for comment in comments if (ip := _ip_in(comment))), None)
            hop.software = next((_squash(comment) for comment in comments if not _ip_in(comment)), None)
        elif keyword == "with":
            hop.protocol = " ".join(words) or None
            hop.software = hop.software or next((_squash(c) for c in comments if _SOFTWARE.match(c)), None)
            hop.remarks.extend(_squash(comment) for comment in comments if _interesting(comment))
        elif keyword == "id":
            hop.id = words[0] if words else None
        elif keyword == "for":
            hop.recipient = words[0].strip("<>") if words else None
        for comment in comments:
            if (envelope := _ENVELOPE_FROM.search(comment)) is not None:
                hop.envelope_from = envelope.group(1)
    return hop


def _read_from(hop: Hop, words: list[str], comments: list[str]) -> None:
    name = words[0] if words else ""
    if (ip := _bare_ip(name)) is not None:   # Exim's "from [IP]", webmail's "from IP"
        hop.ip = ip
    else:
        hop.helo = _host(name)
    for comment in comments:
        text = _squash(comment)
        if "may be forged" in text.lower():
            hop.remarks.append("may be forged")
        ip = _ip_in(text)
        if ip is not None and hop.ip is None:
            hop.ip = ip
        if (helo := _HELO.search(text)) is not None:  # qmail "HELO x", Exim "helo=x": the name in front is rDNS
            if hop.helo is not None and hop.rdns is None:
                hop.rdns = hop.helo
            hop.helo = _host(helo.group(1))
        elif ip is not None and hop.rdns is None and "[" in text:  # Postfix/Sendmail "RDNS [IP]"
            before = _IP_LITERAL.split(text)[0].split("@")[-1].strip()  # Sendmail's IDENT:user@rdns
            hop.rdns = _host(before) if before and _NAME.match(before) else "unknown"


def _clauses(body: str) -> list[tuple[str, list[str], list[str]]]:
    """``body`` split into (keyword, words, comments); text before any keyword has keyword ""."""
    clauses: list[tuple[str, list[str], list[str]]] = [("", [], [])]
    for token, is_comment in _tokens(body):
        if is_comment:
            clauses[-1][2].append(token)
        elif token.lower() in _KEYWORDS and not (token.lower() == "with" and clauses[-1][0] == "with"):
            clauses.append((token.lower(), [], []))
        else:
            clauses[-1][1].append(token)
    if not clauses[0][1] and not clauses[0][2]:
        clauses.pop(0)
    return clauses


def _tokens(text: str) -> list[tuple[str, bool]]:
    """Words and comments (nesting counted, bounded by the text itself); quoted strings stay whole."""
    tokens: list[tuple[str, bool]] = []
    depth, start = 0, 0
    word: list[str] = []
    for position, char in enumerate(text):
        if depth:
            if char == "(":
                depth += 1
            elif char == ")":
                depth -= 1
                if depth == 0:
                    tokens.append((text[start:position], True))
            continue
        if char == "(":
            if word:
                tokens.append(("".join(word), False))
                word = []
            depth, start = 1, position + 1
        elif char.isspace():
            if word:
                tokens.append(("".join(word), False))
                word = []
        else:
            word.append(char)
    if depth:
        tokens.append((text[start:], True))
    if word:
        tokens.append(("".join(word), False))
    return tokens


def _ip_in(text: str) -> str | None:
    match = _IP_LITERAL.search(text)
    if match is not None:
        return _canonical_ip(match.group(1))
    for word in text.replace(",", " ").split():
        if (ip := _bare_ip(word)) is not None:
            return ip
    return None


def _bare_ip(word: str) -> str | None:
    match = _BARE_IP.match(word.strip())
    return _canonical_ip(match.group(1)) if match is not None else None


def _canonical_ip(text: str) -> str | None:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def _host(word: str) -> str:
    return word.strip("<>").rstrip(".").lower()


def _squash(comment: str) -> str:
    return " ".join(comment.split())


def _interesting(comment: str) -> bool:
    """A ``with`` comment worth showing: not TLS details, the software or the envelope sender."""
    return not (comment.lower().startswith(("version=", "tls", "using ")) or _SOFTWARE.match(comment)
                or _ENVELOPE_FROM.search(comment))


def _date(text: str) -> datetime | None:
    cleaned = re.sub(r"\([^()]*\)", "", text).strip()
    try:
        moment = email.utils.parsedate_to_datetime(cleaned)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    # "-0000" (qmail writes it) means "UTC, local zone unknown": the instant is still known
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
