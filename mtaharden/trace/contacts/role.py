"""RFC 2142 role mailboxes: every domain that sends mail should read ``abuse@`` (not checked, only named)."""

from __future__ import annotations

import re

from . import Contact

_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")  # an allow-list: the name reaches URLs, queries, reports

# Second-level labels under which ccTLD registries sell names (example.com.cn, example.ac.uk): a name's
# registered domain is then three labels long. Shipping the Public Suffix List would be exact; this covers
# the registries spam complaints mostly go to without a data file to keep current.
_SECOND_LEVEL = {"com", "net", "org", "edu", "gov", "ac", "co", "ne", "or", "go", "mil", "gen", "biz", "info"}


def registered_domain(name: str) -> str | None:
    """The registrable part of host ``name`` (mail.example.com.cn → example.com.cn), or None for an IP/bare name."""
    labels = name.lower().rstrip(".").split(".")
    if len(labels) < 2 or labels[-1].isdigit() or not all(_LABEL.fullmatch(label) for label in labels):
        return None
    keep = 3 if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _SECOND_LEVEL else 2
    return ".".join(labels[-keep:])


def role_contacts(domain: str) -> list[Contact]:
    return [Contact(f"abuse@{domain}", domain, "rfc2142 role mailbox (not verified)")]
