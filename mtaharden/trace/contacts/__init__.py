"""Whom to tell: abuse contacts of the sending address and of the domains involved, each with its source."""

from __future__ import annotations

import re
from dataclasses import dataclass

_MAILBOX = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?"
                      r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)+")


@dataclass(frozen=True)
class Contact:
    address: str      # a mailbox
    about: str        # the address or domain it is responsible for
    source: str       # how it was found: "rdap https://…/ip/…", "dns TXT …", "whois host:43", "rfc2142"


@dataclass(frozen=True)
class Failure:
    about: str
    source: str
    reason: str


class LookupFailed(Exception):
    """A lookup that gave no answer; the message says why in the user's terms."""


def mailbox(text: str) -> str | None:
    """``text`` as a plain mailbox (an allow-list: it reaches a report's To: line), or None."""
    text = text.strip().removeprefix("mailto:")
    return text.lower() if _MAILBOX.fullmatch(text) else None
