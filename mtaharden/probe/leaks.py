"""Software and version leaks in what the server says: banner, EHLO, HELP, error replies and QUIT.

Why each reply: a hidden banner is worth little when HELP answers ``214 This is sendmail version 8.17``.
What is not a version: enhanced status codes (``5.7.1`` opening a line, qmail's ``(#5.7.1)``), addresses
(``a@b.example``, ``[192.0.2.1]``, ``192.0.2.1``, IPv6), the server's own host name and the probe's EHLO
name; those are cut out first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from mtaharden.policy.types import SOFTWARE_NAMES

from .session import Reply
from .verdict import CheckResult, CheckStatus

_NOT_VERSIONS = re.compile(
    r"^[245]\.\d{1,3}\.\d{1,3}\b"             # enhanced status codes (they open a reply line)
    r"|\(#[245]\.\d{1,3}\.\d{1,3}\)"            # qmail's "(#5.7.1)"
    r"|\S+@\S+"                                # mail addresses
    r"|\[[0-9a-f.:ipv]*\]"                     # address literals
    r"|\b\d{1,3}(?:\.\d{1,3}){3}\b"            # IPv4 addresses
    r"|\b[0-9a-f]*:[0-9a-f:.]*:[0-9a-f.]*\b",  # IPv6 addresses (and times, which hold no dot)
    re.IGNORECASE | re.MULTILINE)
_VERSION = re.compile(r"\d+\.\d+")


def software_shown(reply: Reply, names: Iterable[str] = ()) -> str | None:
    """The software name or version-like number ``reply`` shows, if any; ``names`` (host names) are no leak."""
    text = "\n".join(reply.lines).lower()
    for name in sorted(filter(None, names), key=len, reverse=True):
        text = text.replace(name.lower(), " ")
    text = _NOT_VERSIONS.sub(" ", text)
    for software in SOFTWARE_NAMES:
        if software in text:
            return software
    version = _VERSION.search(text)
    return version.group(0) if version else None


def leak_check(replies: Iterable[tuple[str, Reply]], names: Iterable[str]) -> CheckResult:
    """One finding that quotes every reply (by where it was seen) that shows software or a version."""
    allowed = tuple(names)
    found: dict[str, str] = {}
    for where, reply in replies:
        shown = software_shown(reply, allowed)
        if shown and str(reply) not in found.values():
            found.setdefault(f"{where} shows {shown!r}", str(reply))
    description = "no reply names the software or a version (banner, EHLO, HELP, errors, QUIT)"
    if not found:
        return CheckResult("leaks", description, CheckStatus.OK, "none found")
    return CheckResult("leaks", description, CheckStatus.DEVIATION,
                       "; ".join(f"{where}: {text!r}" for where, text in found.items()))
