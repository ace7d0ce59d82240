"""whois (RFC 3912) as the fallback when RDAP has no abuse contact: one query per server over TCP,
bounded in time and size, following one ``refer:`` from IANA's server to the registry that holds the
record. Registries write the contact as ``abuse-mailbox:`` (RIPE, APNIC, AFRINIC), ``OrgAbuseEmail:``
(ARIN), ``% Abuse contact for … is 'x'`` (RIPE) or ``Registrar Abuse Contact Email:`` (domains)."""

from __future__ import annotations

import re
import socket
import time

from ..decode import clean
from . import Contact, LookupFailed, mailbox

IANA_WHOIS = ("whois.iana.org", 43)
MAX_ANSWER = 256 * 2**10
_ABUSE_LINE = re.compile(r"abuse", re.I)
_REFER = re.compile(r"^(?:refer|whois):\s*([A-Za-z0-9.-]+)\s*$", re.I | re.M)
_WORD = re.compile(r"[^\s'\"<>(),;]+@[^\s'\"<>(),;]+")


class Whois:
    def __init__(self, server: tuple[str, int] | None = None, timeout: float = 8.0) -> None:
        self.server = server or IANA_WHOIS
        self.timeout = timeout

    def lookup(self, query: str) -> tuple[list[Contact], str]:
        host, port = self.server
        text = self._ask(host, port, query)
        refer = _REFER.search(text)
        if refer is not None and refer.group(1).lower() != host.lower():
            host = refer.group(1).lower()
            text = self._ask(host, port, query)
        source = f"whois {clean(host)}:{port}"
        found, seen = [], set()
        for line in text.splitlines():
            if _ABUSE_LINE.search(line):
                for word in _WORD.findall(line):
                    if (address := mailbox(word.rstrip("."))) is not None and address not in seen:
                        seen.add(address)
                        found.append(Contact(address, query, source))
        return found, source

    def _ask(self, host: str, port: int, query: str) -> str:
        chunks, size = [], 0
        deadline = time.monotonic() + self.timeout  # for the whole answer: a server dripping bytes stops here
        try:
            with socket.create_connection((host, port), timeout=self.timeout) as connection:
                connection.sendall(query.encode("ascii") + b"\r\n")
                while size <= MAX_ANSWER and (left := deadline - time.monotonic()) > 0:
                    connection.settimeout(left)
                    if not (chunk := connection.recv(65536)):
                        break
                    chunks.append(chunk)
                    size += len(chunk)
        except OSError as exc:
            raise LookupFailed(f"whois {host}:{port}: {exc.strerror or exc.__class__.__name__}") from None
        return b"".join(chunks)[:MAX_ANSWER].decode("utf-8", "replace")
