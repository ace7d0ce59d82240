"""A raw-bytes SMTP client for the lab: line ends exactly as the test writes them, every reply recorded.

Why not :mod:`tests.lab.smtp`: smtplib turns every line end into CRLF, and SMTP smuggling is about the
line ends a client really sends (bare LF, bare CR). Like :mod:`tests.lab.smtp` it runs in the client
namespace as one subprocess (``python -m tests.lab.rawsmtp``, sessions as JSON on stdin) for many sessions.
"""

from __future__ import annotations

import json
import re
import socket
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.lab.network import LabNet

Reply = tuple[int, str]
DISCONNECTED, NO_LISTENER = -1, -3  # pseudo reply codes: the server hung up; nothing accepts connections
_FINAL = re.compile(rb"^(\d{3}) (.*)$", re.MULTILINE)  # the last line of a reply: code, space, text


@dataclass(frozen=True)
class RawSession:
    """One connection from ``source`` to ``host``: each chunk ``(data, replies, wait)`` is sent as the bytes
    U+0000-U+00FF stand for; after it the client reads replies until ``replies`` final lines arrived, the
    server hung up, or ``wait`` seconds (``timeout`` when 0) passed since the chunk was sent."""

    host: str
    source: str
    chunks: list[tuple[str, int, float]]
    port: int = 25
    timeout: float = 15


@dataclass
class RawConversation:
    banner: Reply
    replies: list[list[Reply]] = field(default_factory=list)  # the replies to each chunk, in order

    @property
    def flat(self) -> list[Reply]:
        return [reply for chunk in self.replies for reply in chunk]


def converse(session: RawSession) -> RawConversation:
    """Speak one session; a closed connection ends it with a ``DISCONNECTED`` reply."""
    try:
        connection = socket.create_connection((session.host, session.port), timeout=session.timeout,
                                              source_address=(session.source, 0))
    except OSError as exc:  # nothing listens (any more): the conversation is that
        return RawConversation((NO_LISTENER, str(exc)))
    with connection:
        pending = bytearray()
        banner = _read(connection, pending, 1, session.timeout)
        talk = RawConversation(banner[0] if banner else (DISCONNECTED, "no greeting"))
        for data, expected, wait in session.chunks:
            try:
                connection.sendall(data.encode("latin-1"))
            except OSError as exc:
                talk.replies.append([(DISCONNECTED, str(exc))])
                break
            replies = _read(connection, pending, expected, wait or session.timeout)
            talk.replies.append(replies)
            if replies and replies[-1][0] == DISCONNECTED:
                break
        return talk


def _read(connection: socket.socket, pending: bytearray, expected: int, timeout: float) -> list[Reply]:
    """Up to ``expected`` final reply lines, waiting at most ``timeout`` seconds in all."""
    replies: list[Reply] = []
    deadline = time.monotonic() + timeout
    while len(replies) < expected:
        while (end := pending.find(b"\r\n")) >= 0 and len(replies) < expected:
            line = bytes(pending[:end])
            del pending[:end + 2]
            match = _FINAL.match(line)
            if match:
                replies.append((int(match.group(1)), match.group(2).decode("utf-8", "replace")))
        if len(replies) >= expected:
            break
        left = deadline - time.monotonic()
        if left <= 0:
            break
        connection.settimeout(left)
        try:
            data = connection.recv(65536)
        except TimeoutError:
            break
        except OSError as exc:
            replies.append((DISCONNECTED, str(exc)))
            break
        if not data:
            replies.append((DISCONNECTED, "connection closed"))
            break
        pending += data
    return replies


def talk(net: LabNet, sessions: list[RawSession]) -> list[RawConversation]:
    """Run ``sessions`` in order from the client namespace and return their conversations."""
    budget = 30 + sum(s.timeout * (len(s.chunks) + 1) for s in sessions)
    result = net.client([sys.executable, "-m", "tests.lab.rawsmtp"],
                        input_text=json.dumps([asdict(s) for s in sessions]), timeout=budget)
    return [RawConversation((c["banner"][0], c["banner"][1]),
                            [[(r[0], r[1]) for r in chunk] for chunk in c["replies"]])
            for c in json.loads(result.stdout)]


def main() -> None:
    sessions: list[dict[str, Any]] = json.loads(sys.stdin.read())
    print(json.dumps([asdict(converse(RawSession(**{**s, "chunks": [tuple(c) for c in s["chunks"]]})))
                      for s in sessions]))


if __name__ == "__main__":
    main()
