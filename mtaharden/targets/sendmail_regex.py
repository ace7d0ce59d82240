"""Translate a policy header pattern (the PCRE/Python subset) into POSIX ERE for Sendmail regex maps.

Sendmail's ``regex`` maps use regcomp(3) extended syntax. Most everyday patterns translate exactly;
constructs ERE lacks (lazy quantifiers, lookaround, back-references, word boundaries) are refused
with a reason, which the Sendmail target reports as unsupported rather than approximating silently.
"""

from __future__ import annotations

from dataclasses import dataclass

SHORTHANDS = {
    "d": "[0-9]", "D": "[^0-9]", "w": "[A-Za-z0-9_]", "W": "[^A-Za-z0-9_]",
    "s": "[[:space:]]", "S": "[^[:space:]]",
}
CLASS_SHORTHANDS = {"d": "0-9", "w": "A-Za-z0-9_", "s": "[:space:]"}
ERE_SPECIAL = set(".[]()*+?{}|^$\\")
UNSUPPORTED_ESCAPES = {"b": "word boundaries (\\b)", "B": "\\B", "A": "\\A", "Z": "\\Z", "z": "\\z",
                       "G": "\\G", "K": "\\K"}


class Inexpressible(ValueError):
    """The pattern uses a construct POSIX ERE cannot express."""


@dataclass(frozen=True)
class EreMatcher:
    """An ERE and whether it must be matched case-insensitively."""

    pattern: str
    ignore_case: bool


def to_ere(pattern: str) -> EreMatcher:
    """Translate ``pattern``; raise :class:`Inexpressible` naming the construct ERE lacks."""
    ignore_case = pattern.startswith("(?i)")
    body = pattern[4:] if ignore_case else pattern
    out: list[str] = []
    index = 0
    if body.startswith("^"):
        # ^ anchors at the start of the header's value, which may begin with folding white space.
        out.append("^[[:space:]]*")
        index = 1
    while index < len(body):
        char = body[index]
        if char == "\\":
            out.append(_escape(body, index))
            index += 2
        elif char == "[":
            end = _class_end(body, index)
            out.append(_char_class(body[index + 1:end]))
            index = end + 1
        elif char == "(":
            index = _group_open(body, index, out)
        elif char in "*+?}" and index + 1 < len(body) and body[index + 1] in "?+":
            raise Inexpressible("lazy or possessive quantifiers (*?, +?, ??, *+)")
        else:
            out.append(char)
            index += 1
    ere = "".join(out)
    return EreMatcher(ere.lower() if ignore_case else ere, ignore_case)


def _escape(body: str, index: int) -> str:
    if index + 1 >= len(body):
        raise Inexpressible("a trailing backslash")
    escaped = body[index + 1]
    if escaped in SHORTHANDS:
        return SHORTHANDS[escaped]
    if escaped in UNSUPPORTED_ESCAPES:
        raise Inexpressible(UNSUPPORTED_ESCAPES[escaped])
    if escaped.isdigit():
        raise Inexpressible("back-references (\\1)")
    if escaped in "tnrfv":
        raise Inexpressible("control-character escapes (\\t, \\n)")
    if escaped.isalnum():
        raise Inexpressible(f"the escape \\{escaped}")
    return f"\\{escaped}" if escaped in ERE_SPECIAL else escaped


def _class_end(body: str, start: int) -> int:
    index = start + 1
    if index < len(body) and body[index] == "^":
        index += 1
    if index < len(body) and body[index] == "]":
        index += 1
    while index < len(body):
        if body[index] == "\\":
            index += 2
            continue
        if body[index] == "]":
            return index
        index += 1
    raise Inexpressible("an unterminated character class")


def _char_class(inner: str) -> str:
    negate = inner.startswith("^")
    members = inner[1:] if negate else inner
    out: list[str] = []
    close_bracket = dash = False
    index = 0
    while index < len(members):
        char = members[index]
        if char == "\\" and index + 1 < len(members):
            escaped = members[index + 1]
            if escaped in CLASS_SHORTHANDS:
                out.append(CLASS_SHORTHANDS[escaped])
            elif escaped == "]":
                close_bracket = True
            elif escaped == "-":
                dash = True
            elif escaped.isalnum():
                raise Inexpressible(f"the escape \\{escaped} inside a character class")
            else:
                out.append(escaped)
            index += 2
            continue
        out.append(char)
        index += 1
    # In ERE a literal ] must come first and a literal - last; backslash is literal inside brackets.
    return "[" + ("^" if negate else "") + ("]" if close_bracket else "") + "".join(out) + ("-" if dash else "") + "]"


def _group_open(body: str, index: int, out: list[str]) -> int:
    if not body.startswith("(?", index):
        out.append("(")
        return index + 1
    if body.startswith("(?:", index):
        out.append("(")
        return index + 3
    raise Inexpressible("lookaround, named groups or inline flags other than a leading (?i)")
