"""A minimal SMTP client for the lab: exact commands, every reply recorded, spoken from the client namespace.

Why a batch: the client addresses live in the client namespace, so the client runs there as one
subprocess (``python -m tests.lab.smtp`` with sessions as JSON on stdin) for many sessions at once,
instead of paying an interpreter start per session.
"""

from __future__ import annotations

import json
import smtplib
import ssl
import sys
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.lab.network import LabNet

Reply = tuple[int, str]
# Pseudo reply codes: the server hung up; it did not offer STARTTLS; nothing listens (connection refused).
DISCONNECTED, NOT_OFFERED, NO_LISTENER = -1, -2, -3


@dataclass(frozen=True)
class Session:
    """One SMTP connection from ``source`` to ``host``: optional STARTTLS after a first EHLO (or, with
    ``implicit_tls``, TLS from the first byte, as on the smtps port), then ``commands``.
    A command that is a dict ``{"body": text}`` is a message sent after DATA's 354 (CRLF lines, lone dot);
    its characters are sent as the bytes U+0000-U+00FF stand for, so a test can send raw 8-bit headers."""

    host: str
    source: str
    commands: list[str | dict[str, str]]
    starttls: bool = False
    port: int = 25
    timeout: float = 30
    implicit_tls: bool = False


@dataclass
class Conversation:
    banner: Reply
    replies: list[Reply] = field(default_factory=list)

    @property
    def last(self) -> Reply:
        return self.replies[-1]


def body(text: str) -> dict[str, str]:
    return {"body": text}


def converse(session: Session) -> Conversation:
    """Speak one session; a dropped connection ends it with a ``DISCONNECTED`` reply."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    client = (smtplib.SMTP_SSL(timeout=session.timeout, source_address=(session.source, 0), context=context)
              if session.implicit_tls else smtplib.SMTP(timeout=session.timeout, source_address=(session.source, 0)))
    client._host = session.host  # type: ignore[attr-defined]  # smtplib takes the TLS server name from here
    try:
        try:
            code, text = client.connect(session.host, session.port)
        except ConnectionRefusedError as exc:  # no listener at that address and port
            return Conversation((NO_LISTENER, str(exc)))
        except (smtplib.SMTPServerDisconnected, ssl.SSLError, ConnectionResetError) as exc:
            return Conversation((DISCONNECTED, str(exc)))  # closed before a greeting (tcpserver deny)
        talk = Conversation((code, text.decode("utf-8", "replace")))
        try:
            if session.starttls:
                talk.replies.append(_decoded(client.ehlo("client.test")))
                try:
                    talk.replies.append(_decoded(client.starttls(context=context)))
                except smtplib.SMTPNotSupportedError:
                    talk.replies.append((NOT_OFFERED, "STARTTLS not offered"))
                    return talk
            for command in session.commands:
                if isinstance(command, dict):
                    client.send((command["body"].replace("\n", "\r\n") + "\r\n.\r\n").encode("latin-1"))
                    reply = client.getreply()
                else:
                    reply = client.docmd(command)
                talk.replies.append(_decoded(reply))
                if reply[0] == 421:
                    break
        except smtplib.SMTPServerDisconnected as exc:
            talk.replies.append((DISCONNECTED, str(exc)))
        return talk
    finally:
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            client.close()


def _decoded(reply: tuple[int, bytes]) -> Reply:
    return reply[0], reply[1].decode("utf-8", "replace")


def talk(net: LabNet, sessions: list[Session]) -> list[Conversation]:
    """Run ``sessions`` in order from the client namespace and return their conversations."""
    request = json.dumps([asdict(s) for s in sessions])
    budget = 30 + sum(s.timeout for s in sessions)
    result = net.client([sys.executable, "-m", "tests.lab.smtp"], input_text=request, timeout=budget)
    return [Conversation((c["banner"][0], c["banner"][1]), [(r[0], r[1]) for r in c["replies"]])
            for c in json.loads(result.stdout)]


def main() -> None:
    sessions: list[dict[str, Any]] = json.loads(sys.stdin.read())
    print(json.dumps([asdict(converse(Session(**s))) for s in sessions]))


if __name__ == "__main__":
    main()
