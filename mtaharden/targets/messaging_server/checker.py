"""Read a ``mappings`` file back as rules, the way the mapping file syntax reads it.

Why: the mappings carry policy strings (reply messages, domains, addresses). A rule is only what the
product will read if, parsed by the product's syntax, each entry still has the pattern, the fields and
the result the policy meant. This parser follows that syntax (a table name in column 1, indented
entries, ``!`` comment lines, pattern and template split at the first unquoted space or tab, ``$``
quoting ``$ * % space``, ``*``/``%`` wildcards, ``|`` between probe fields, ``$(net)`` IP matches, ``$Y``
and ``$N`` results) and refuses every other ``$`` sequence and every character the generator never writes,
so an injected flag, callout, substitution, wildcard, field or entry shows as a different rule or an error.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

FLAGS = ("$Y", "$N")  # the only template flags mtaharden writes
_TABLE = re.compile(r"[A-Z][A-Z0-9_]*")
_LITERAL = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,:;-_@+=/&'\"#^~{}()[]<>")
ANY, ONE = "*", "%"  # a field's wildcard tokens; literal text is any other string token


class MappingError(ValueError):
    """An entry that does not read as a rule mtaharden writes (the line number is 1-based)."""


@dataclass(frozen=True)
class Rule:
    """A parsed entry: its table, its probe fields (each a tuple of tokens), its result and reply text."""

    table: str
    fields: tuple[tuple[str, ...], ...]
    verdict: str  # "Y" or "N"
    reply: str | None  # the text after $N, unquoted


def parse(text: str) -> list[Rule]:
    """Every entry of ``text`` as a :class:`Rule`, in file order; raises :class:`MappingError`."""
    rules: list[Rule] = []
    table: str | None = None
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip() or line.startswith("!"):
            continue
        if not line[0].isspace():
            if not _TABLE.fullmatch(line):
                raise MappingError(f"line {number}: {line!r} is not a table name")
            table = line
            continue
        if table is None:
            raise MappingError(f"line {number}: an entry before any table name")
        rules.append(_entry(table, line.lstrip(" \t"), number))
    return rules


def _entry(table: str, body: str, number: int) -> Rule:
    sides = _split(body, number)
    if len(sides) != 2:
        raise MappingError(f"line {number}: {len(sides)} unquoted space-separated parts, not pattern and template")
    pattern, template = sides
    verdict, reply = _template(template, number)
    return Rule(table, _fields(pattern, number), verdict, reply)


def _split(body: str, number: int) -> list[str]:
    """The entry's parts at unquoted spaces and tabs (a ``$`` quotes the next character)."""
    parts, current, index = [], "", 0
    while index < len(body):
        char = body[index]
        if char == "$":
            if index + 1 == len(body):
                raise MappingError(f"line {number}: a '$' at the end of the entry")
            current += body[index:index + 2]
            index += 2
            continue
        if char in " \t":
            if current:
                parts.append(current)
            current = ""
        else:
            current += char
        index += 1
    return [*parts, current] if current else parts


def _fields(pattern: str, number: int) -> tuple[tuple[str, ...], ...]:
    fields: list[tuple[str, ...]] = []
    tokens: list[str] = []
    literal = ""
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "$":
            quoted = pattern[index + 1]
            if quoted in "$*% ":
                literal += quoted
                index += 2
                continue
            if quoted == "(":
                end = pattern.find(")", index)
                if end < 0:
                    raise MappingError(f"line {number}: an unclosed '$('")
                tokens, literal = _flush(tokens, literal)
                tokens.append("$(" + _network(pattern[index + 2:end], number) + ")")
                index = end + 1
                continue
            raise MappingError(f"line {number}: '${quoted}' in a pattern is not a sequence mtaharden writes")
        if char in (ANY, ONE, "|"):
            tokens, literal = _flush(tokens, literal)
            if char == "|":
                fields.append(tuple(tokens))
                tokens = []
            else:
                tokens.append(char)
        elif char in _LITERAL:
            literal += char
        else:
            raise MappingError(f"line {number}: {char!r} in a pattern")
        index += 1
    tokens, literal = _flush(tokens, literal)
    return (*fields, tuple(tokens))


def _flush(tokens: list[str], literal: str) -> tuple[list[str], str]:
    return ([*tokens, "=" + literal] if literal else tokens), ""


def _network(text: str, number: int) -> str:
    try:
        return str(ipaddress.ip_network(text))
    except ValueError as exc:
        raise MappingError(f"line {number}: '$({text})' is not an IP network") from exc


def _template(template: str, number: int) -> tuple[str, str | None]:
    flag, rest = template[:2], template[2:]
    if flag not in FLAGS:
        raise MappingError(f"line {number}: the template {template!r} does not start with $Y or $N")
    if flag == "$Y":
        if rest:
            raise MappingError(f"line {number}: text after $Y")
        return "Y", None
    reply, index = "", 0
    while index < len(rest):
        char = rest[index]
        if char == "$":
            quoted = rest[index + 1:index + 2]
            if quoted not in ("$", "*", "%", " "):
                raise MappingError(f"line {number}: '${quoted}' in a reply is not a sequence mtaharden writes")
            reply += quoted
            index += 2
            continue
        if char not in _LITERAL and char not in "*%":
            raise MappingError(f"line {number}: {char!r} in a reply")
        reply += char
        index += 1
    return "N", reply or None  # a bare $N: the product's own reply
