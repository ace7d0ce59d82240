"""Software and version leaks in what the server says: banner, EHLO, HELP, error replies and QUIT.

Why each reply: a hidden banner is worth little when HELP answers ``214 This is sendmail version 8.17``.
What is not a version: enhanced status codes (``5.7.1`` opening a line, qmail's ``(#5.7.1)``), addresses
(``a@b.example``, ``[192.0.2.1]``, ``192.0.2.1``, IPv6), the server's own host name and the probe's EHLO
name; those are cut out first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from mtaharden.software_names import SOFTWARE_NAMES

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


LEAK_ELEMENT = "smtp.banner"
PLACES = ("banner", "EHLO", "HELP", "errors", "QUIT")
_PLACE_NAMES = {"banner": "the banner", "EHLO": "the EHLO reply", "HELP": "the HELP reply",
                "errors": "error replies", "QUIT": "the QUIT reply"}


def leak_checks(replies: Iterable[tuple[str, str, Reply]], names: Iterable[str]) -> list[CheckResult]:
    """One check per place (banner, EHLO, HELP, errors, QUIT), each quoting every reply seen there (by
    where it was seen) that shows software or a version.

    ``replies`` are ``(place, where, reply)``; a check per place names the element ``smtp.banner[place]``, so
    a target that declares only its HELP answer unhidden excuses HELP and nothing else."""
    allowed = tuple(names)
    found: dict[str, dict[str, str]] = {place: {} for place in PLACES}
    seen = dict.fromkeys(PLACES, 0)
    for place, where, reply in replies:
        seen[place] += 1
        shown = software_shown(reply, allowed)
        if shown and str(reply) not in found[place].values():
            found[place].setdefault(f"{where} shows {shown!r}", str(reply))
    checks = []
    for place in PLACES:
        description = f"{_PLACE_NAMES[place]} name(s) no software and no version"
        element = f"{LEAK_ELEMENT}[{place}]"
        if found[place]:
            detail = "; ".join(f"{where}: {text!r}" for where, text in found[place].items())
            checks.append(CheckResult(f"leaks:{place}", description, CheckStatus.DEVIATION, detail, element))
        else:
            detail = f"none found in {seen[place]} repl{'y' if seen[place] == 1 else 'ies'}"
            checks.append(CheckResult(f"leaks:{place}", description, CheckStatus.OK, detail, element))
    return checks
