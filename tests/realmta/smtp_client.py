"""A minimal SMTP client for behaviour tests: exact commands, every reply recorded.

Run as a script (``python -m tests.realmta.smtp_client JSON``) it does the same inside a network
namespace, printing the replies as JSON, so tests can talk to daemons that live in a netns.
"""

from __future__ import annotations

import json
import smtplib
import ssl
import sys
from collections.abc import Sequence
from dataclasses import dataclass

Reply = tuple[int, str]


@dataclass(frozen=True)
class Body:
    """A message sent after DATA's 354: lines joined with CRLF, then the lone dot."""

    text: str


@dataclass
class Conversation:
    banner: Reply
    replies: list[Reply]


def converse(host: str, port: int, source: str, commands: Sequence[str | Body], *, starttls: bool = False,
             timeout: float = 20) -> Conversation:
    """Connect from ``source``, EHLO, optionally STARTTLS (+EHLO), then send each raw command."""
    client = smtplib.SMTP(timeout=timeout, source_address=(source, 0))
    try:
        banner = client.connect(host, port)
        client._host = host  # type: ignore[attr-defined]  # smtplib takes the TLS server name from here
        replies: list[Reply] = []
        if starttls:
            client.ehlo("probe.client.test")
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            code, text = client.starttls(context=context)
            replies.append((code, text.decode("utf-8", "replace")))
        for command in commands:
            if isinstance(command, Body):
                client.send(command.text.replace("\n", "\r\n") + "\r\n.\r\n")
                code, text = client.getreply()
            else:
                code, text = client.docmd(command)
            replies.append((code, text.decode("utf-8", "replace")))
            if code == 421:
                break
        return Conversation((banner[0], banner[1].decode("utf-8", "replace")), replies)
    finally:
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            client.close()


def main() -> None:
    request = json.loads(sys.argv[1])
    commands = [Body(c["body"]) if isinstance(c, dict) else c for c in request.pop("commands")]
    result = converse(commands=commands, **request)
    print(json.dumps({"banner": result.banner, "replies": result.replies}))


if __name__ == "__main__":
    main()
