"""Read the messages to trace: ``.eml`` files, mboxes, pasted header blocks, or standard input.

Only header blocks matter to a trace, so a body is never parsed (a deeply nested MIME bomb costs
nothing); sizes and counts are bounded before anything is kept, and every header keeps the line it
started on so that an error can name ``file:line``.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field

from mtaharden.safe_read import UnsafeFile, read_regular, size_text

MAX_INPUT = 64 * 2**20          # one file or standard input
MAX_HEADER_BLOCK = 1 * 2**20    # one message's header block
MAX_HEADERS = 100_000           # header fields in one message (10,000 Received fields are read, then cut)
MAX_MESSAGES = 10_000           # messages in one mbox
_FIELD = re.compile(rb"^([\x21-\x39\x3b-\x7e]+)[ \t]*:")  # RFC 5322 ftext, tolerant of "Name :"
_MBOX_FROM = re.compile(rb"^From \S")


class InputError(Exception):
    """Unreadable input, located: ``file:line:col: message (fix: hint)``."""

    def __init__(self, where: str, line: int, message: str, hint: str) -> None:
        super().__init__(f"{where}:{line}:1: {message} (fix: {hint})")


@dataclass
class Header:
    name: str
    value: str   # unfolded; non-UTF-8 bytes kept as surrogate escapes until display
    line: int


@dataclass
class Message:
    """One message's header block and the raw bytes a report attaches."""

    where: str
    line: int                      # where the message starts in its file
    index: int                     # 1-based position in its file
    headers: list[Header]
    raw: bytes
    notes: list[str] = field(default_factory=list)

    def all(self, name: str) -> list[Header]:
        wanted = name.lower()
        return [header for header in self.headers if header.name.lower() == wanted]

    def first(self, name: str) -> str | None:
        found = self.all(name)
        return found[0].value if found else None


def read_input(name: str) -> bytes:
    """The bytes of ``name`` (``-`` is standard input), bounded, from a regular file only."""
    if name == "-":
        data = sys.stdin.buffer.read(MAX_INPUT + 1)
        if len(data) > MAX_INPUT:
            raise InputError("<stdin>", 1, f"is larger than {size_text(MAX_INPUT)}",
                             "trace the message from a file, or cut it to its header block")
        return data
    try:
        return read_regular(name, MAX_INPUT)
    except UnsafeFile as exc:
        raise InputError(name, 1, exc.reason, exc.hint) from None


def split_messages(where: str, data: bytes) -> tuple[list[Message], list[str]]:
    """The messages in ``data``: one, or each of an mbox (lines starting "From "), and notes on what was cut."""
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    starts = [0]
    if lines and _MBOX_FROM.match(lines[0]):
        starts = [number for number, line in enumerate(lines) if _MBOX_FROM.match(line)
                  and (number == 0 or lines[number - 1].strip() == b"")]
    notes = []
    if len(starts) > MAX_MESSAGES:
        notes.append(f"{where}: {len(starts) - MAX_MESSAGES} messages after the first {MAX_MESSAGES} not traced")
        starts = starts[:MAX_MESSAGES]
    ends = [*starts[1:], len(lines)]
    messages = []
    for index, (start, end) in enumerate(zip(starts, ends, strict=True), 1):
        body_from = start + 1 if start < len(lines) and _MBOX_FROM.match(lines[start]) else start
        messages.append(_message(where, index, lines, body_from, end))
    return messages, notes


def _message(where: str, index: int, lines: list[bytes], start: int, end: int) -> Message:
    headers: list[Header] = []
    notes: list[str] = []
    size = 0
    number = start
    while number < end:
        line = lines[number].rstrip(b"\r")
        if not line.strip():
            if headers:
                break
            number += 1  # blank lines before a pasted block
            continue
        size += len(line) + 1
        if size > MAX_HEADER_BLOCK:  # padding to push the real fields out of reach: read the top, say where it stopped
            notes.append(f"{where}:{number + 1}: the header block of message {index} is larger than "
                         f"{size_text(MAX_HEADER_BLOCK)}: the fields from this line on were not read")
            break
        if line[:1] in (b" ", b"\t"):
            if headers:
                headers[-1].value += " " + _text(line.strip())
        elif (match := _FIELD.match(line)) is not None:
            if len(headers) >= MAX_HEADERS:
                raise InputError(where, number + 1, f"message {index} has more than {MAX_HEADERS} header fields",
                                 "trace a message with a usual header block")
            headers.append(Header(match.group(1).decode("ascii"), _text(line[match.end():].strip()), number + 1))
        elif not headers:  # leading text of a pasted block ("Here are the headers:") is skipped
            pass
        else:
            break  # a line that is neither a field nor a continuation ends a pasted block
        number += 1
    if not headers:
        raise InputError(where, start + 1, f"message {index} has no mail header",
                         "give a .eml file, an mbox, or a pasted header block starting with its fields")
    raw = b"\n".join(lines[start:end]) + b"\n"
    return Message(where, start + 1, index, headers, raw, notes)


def _text(value: bytes) -> str:
    return value.decode("utf-8", "surrogateescape")
