"""RDAP (RFC 9082/9083) abuse contacts, found through the IANA bootstrap registries (RFC 9224).

The bootstrap files say which registry serves an address block or a top-level domain; the answer's
entity tree (entities nest: ARIN puts the abuse role under the organisation) holds a vCard (jCard,
RFC 7095) whose ``email`` is the contact. Trees are walked to a bounded depth and size.
"""

from __future__ import annotations

import ipaddress
import threading
from typing import Any
from urllib.parse import quote

from ..decode import clean
from . import Contact, LookupFailed, mailbox
from .http import get_json

IANA_BOOTSTRAP = "https://data.iana.org/rdap/"
MAX_DEPTH, MAX_ENTITIES = 6, 200


class Rdap:
    """RDAP lookups; ``server`` overrides the bootstrap (every query goes to it)."""

    def __init__(self, bootstrap: str = IANA_BOOTSTRAP, server: str | None = None, timeout: float = 8.0) -> None:
        self.bootstrap = bootstrap if bootstrap.endswith("/") else bootstrap + "/"
        self.server = server
        self.timeout = timeout
        self._files: dict[str, Any] = {}
        self._lock = threading.Lock()  # lookups run in threads: each bootstrap file is fetched once

    def ip(self, address: str) -> tuple[list[Contact], str]:
        ip = ipaddress.ip_address(address)
        base = self.server or self._base(f"ipv{ip.version}.json", lambda key: ip in ipaddress.ip_network(key))
        return self._contacts(f"{_slash(base)}ip/{quote(str(ip))}", str(ip))

    def domain(self, name: str) -> tuple[list[Contact], str]:
        tld = name.rsplit(".", 1)[-1]
        base = self.server or self._base("dns.json", lambda key: key.lower() == tld)
        return self._contacts(f"{_slash(base)}domain/{quote(name)}", name)

    def _base(self, file: str, matches: Any) -> str:
        """The registry base URL for the longest matching bootstrap entry."""
        with self._lock:
            if file not in self._files:
                self._files[file] = get_json(self.bootstrap + file, self.timeout, "application/json")
        best: tuple[int, str] | None = None
        services = self._files[file].get("services", []) if isinstance(self._files[file], dict) else []
        for service in services[:10_000]:
            if not (isinstance(service, list) and len(service) == 2):
                continue
            keys, urls = service
            https = [url for url in urls if isinstance(url, str) and url.startswith("https://")]
            plain = [url for url in urls if isinstance(url, str) and url.startswith("http://")]
            chosen = (https or plain or [""])[0]
            for key in keys:
                try:
                    if not (chosen and isinstance(key, str) and matches(key)):
                        continue
                except ValueError:
                    continue
                weight = int(key.split("/")[1]) if "/" in key else len(key)  # the most specific block wins
                if best is None or weight > best[0]:
                    best = (weight, chosen)
        if best is None:
            raise LookupFailed(f"no RDAP service for it in {self.bootstrap}{file}")
        return best[1]

    def _contacts(self, url: str, about: str) -> tuple[list[Contact], str]:
        answer = get_json(url, self.timeout)
        if not isinstance(answer, dict):
            raise LookupFailed(f"{url}: not an RDAP object")
        found: list[Contact] = []
        seen: set[str] = set()
        for handle, email in _abuse_emails(answer):
            if email.lower() not in seen:
                seen.add(email.lower())
                found.append(Contact(email, about, f"rdap {url} ({f'entity {handle}, ' if handle else ''}role abuse)"))
        return found, url


def _abuse_emails(node: dict[str, Any]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    queue: list[tuple[dict[str, Any], int]] = [(node, 0)]
    visited = 0
    while queue and visited < MAX_ENTITIES:
        current, depth = queue.pop(0)
        visited += 1
        roles = current.get("roles")
        if isinstance(roles, list) and "abuse" in roles:
            handle = clean(str(current.get("handle", ""))[:80])
            out.extend((handle, email) for text in _vcard_emails(current) if (email := mailbox(text)))
        entities = current.get("entities")
        if depth < MAX_DEPTH and isinstance(entities, list):
            queue.extend((entity, depth + 1) for entity in entities if isinstance(entity, dict))
    return out


def _vcard_emails(entity: dict[str, Any]) -> list[str]:
    card = entity.get("vcardArray")
    if not (isinstance(card, list) and len(card) == 2 and isinstance(card[1], list)):
        return []
    return [prop[3] for prop in card[1][:500] if isinstance(prop, list) and len(prop) >= 4 and prop[0] == "email"
            and isinstance(prop[3], str)]


def _slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"
