"""Zone-file text (RFC 1035 §5.1) for a record set: a comment saying why, then one record per line.

Values are printable ASCII only (an allow-list: a line break or control character would end the record
and start another); TXT text is split into quoted strings of at most 255 bytes with ``"`` and ``\\`` escaped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .records import Record, RecordError

TXT_STRING_MAX = 255  # RFC 1035 §3.3: a character-string is a length byte and that many bytes
_PRINTABLE = re.compile(r"[\x20-\x7e]*")


def zone_text(records: Iterable[Record], *, ttl: int, origin: str | None = None) -> str:
    """The records as zone-file lines; names relative to ``origin`` where they lie inside it."""
    lines = []
    if origin is not None:
        lines.append(f"$ORIGIN {origin}.")
    for record in records:
        lines.append(f"; {_fit(record.why)}")
        lines.append(f"{owner(record.name, origin)}\t{ttl}\tIN\t{record.type}\t{rdata(record)}")
    return "\n".join(lines) + "\n"


def owner(name: str, origin: str | None) -> str:
    """``name`` relative to ``origin`` (``@`` for the origin itself), else absolute with the final dot."""
    if origin is not None:
        if name == origin:
            return "@"
        if name.endswith("." + origin):
            return name[: -len(origin) - 1]
    return name + "."


def rdata(record: Record) -> str:
    """The record's data in presentation form."""
    text = _fit(record.value)
    if record.type != "TXT":
        return text
    return " ".join('"' + chunk.replace("\\", "\\\\").replace('"', '\\"') + '"' for chunk in txt_strings(text))


def txt_strings(text: str) -> list[str]:
    """``text`` cut into the ≤255-byte strings one TXT record holds (receivers join them without spaces)."""
    return [text[start:start + TXT_STRING_MAX] for start in range(0, len(text), TXT_STRING_MAX)] or [""]


def _fit(text: str) -> str:
    if not _PRINTABLE.fullmatch(text):
        bad = next(char for char in text if not _PRINTABLE.fullmatch(char))
        raise RecordError(f"a record would hold {bad!r}, which a zone file cannot carry as text")
    return text
