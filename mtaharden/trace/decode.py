"""Header text for display: RFC 2047 encoded words decoded, and every character a terminal, a JSON
reader or a report could act on (controls, ANSI escapes, bidi overrides, undecodable bytes) shown as
an escape instead. Chinese mail labels GBK text "gb2312" and Big5-HKSCS text "big5", so each is read
with the superset its senders really use."""

from __future__ import annotations

import email.header
import unicodedata

MAX_DISPLAY = 4096  # characters of one header shown or decoded
_SUPERSETS = {"gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "cp936": "gb18030",
              "big5": "big5hkscs", "x-big5": "big5hkscs", "cn-big5": "big5hkscs"}
_SHOWN = {"L", "M", "N", "P", "S"}


def clean(text: str) -> str:
    """``text`` with only letters, marks, numbers, punctuation, symbols and spaces kept as they are."""
    out = []
    for char in text[:MAX_DISPLAY]:
        category = unicodedata.category(char)
        if category == "Zs" or (category[0] in _SHOWN and category != "Co"):
            out.append(char)
        elif ord(char) <= 0xFF:
            out.append(f"\\x{ord(char):02x}")
        elif 0xDC80 <= ord(char) <= 0xDCFF:  # a byte that was not UTF-8
            out.append(f"\\x{ord(char) - 0xDC00:02x}")
        else:
            out.append(f"\\u{ord(char):04x}")
    if len(text) > MAX_DISPLAY:
        out.append(f"… ({len(text) - MAX_DISPLAY} more characters)")
    return "".join(out)


def decode_words(value: str) -> tuple[str, list[str]]:
    """The display form of a header ``value`` and the charsets its encoded words used (as labelled)."""
    value = value[:MAX_DISPLAY]
    try:
        parts = email.header.decode_header(value)
    except (ValueError, email.errors.HeaderParseError):  # a malformed word stays as written
        return clean(value), []
    charsets: list[str] = []
    text = []
    for chunk, charset in parts:
        if isinstance(chunk, str):
            text.append(chunk)
            continue
        label = (charset or "us-ascii").lower()
        if charset:
            charsets.append(label)
        codec = _SUPERSETS.get(label, label)
        try:
            text.append(chunk.decode(codec, "replace"))
        except LookupError:  # an unknown charset: show the bytes rather than guess
            text.append(chunk.decode("ascii", "surrogateescape"))
    return clean("".join(text)), charsets
