"""A client that talks before the greeting (a bot's pregreet), run in the lab's client namespace.

smtplib always waits for the 220, so the early talker is a raw socket: it sends EHLO at once, then reads
every reply in turn and goes on with MAIL and RCPT, recording each complete reply (``-1`` when the server
hung up). Usage: ``python -m tests.lab.early_talker SOURCE HOST [PORT]``; prints the replies as JSON.
"""

from __future__ import annotations

import json
import socket
import sys
from typing import BinaryIO

COMMANDS = ("EHLO early.client.test", "MAIL FROM:<bot@client.test>", "RCPT TO:<postmaster@example.test>", "QUIT")
TIMEOUT = 30.0
HUNG_UP = -1


def replies(source: str, host: str, port: int = 25) -> list[tuple[int, str]]:
    """Send EHLO before the greeting, then the rest one by one; the greeting and each reply, in order."""
    with socket.create_connection((host, port), timeout=TIMEOUT, source_address=(source, 0)) as conn:
        conn.sendall((COMMANDS[0] + "\r\n").encode())  # before a byte of the greeting is read
        reader = Replies(conn.makefile("rb"))
        seen = [reader.next(), reader.next()]  # the greeting, then EHLO's reply
        for command in COMMANDS[1:]:
            if seen[-1][0] == HUNG_UP:
                break
            try:
                conn.sendall((command + "\r\n").encode())
            except OSError:
                seen.append((HUNG_UP, "send failed"))
                break
            seen.append(reader.next())
        return seen


class Replies:
    """Complete replies (``250-…`` lines up to the ``250 …`` line) from a stream. postscreen's teaser ``220-``
    line may be followed by the reply to the early command, not by a ``220 `` line: a line with another code
    ends the greeting there and starts the next reply."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.pending: str | None = None

    def next(self) -> tuple[int, str]:
        """The next reply, or HUNG_UP and what came before the server hung up."""
        lines: list[str] = []
        while True:
            line, self.pending = (self.pending, None) if self.pending is not None else (self._line(), None)
            if line is None:
                return HUNG_UP, "\n".join(lines)
            if lines and line[:3] != lines[0][:3]:
                self.pending = line
                return int(lines[0][:3]), "\n".join(lines)
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                return int(line[:3]) if line[:3].isdigit() else HUNG_UP, "\n".join(lines)

    def _line(self) -> str | None:
        try:
            raw = self.stream.readline()
        except OSError:
            return None
        return raw.decode("utf-8", "replace").rstrip("\r\n") if raw else None


if __name__ == "__main__":
    arguments = sys.argv[1:]
    print(json.dumps(replies(arguments[0], arguments[1], *(int(p) for p in arguments[2:]))))
