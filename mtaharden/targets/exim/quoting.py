"""Exim's config syntax for values: expanded strings, list items and regexes, over the kit's escaping.

Exim reads a config line, substitutes macros in it (its built-in macros are ``_HAVE_TLS`` and the like, so a
value's ``_HAVE_TLS`` would become ``y``), then expands most values (``$`` variables, ``${…}`` items, ``\\``
escapes). So an expanded value is an allow-list: letters, digits and plain punctuation stand as themselves,
every other character (``$ \\ { } _ "`` included) is written as the expansion escape ``\\xHH`` (per UTF-8 byte),
which the expansion turns back into that one character without reading it again. A list item or a plain
value (not expanded) takes the characters its kind needs and nothing else, and a regex goes between
``\\N`` … ``\\N`` (no expansion inside) with ``\\`` and ``_`` written as PCRE ``\\x5c`` and ``\\x5f``.
"""

from __future__ import annotations

import re

from ..kit.escape import Unexpressible, fit

_AS_IS = re.compile(r"[A-Za-z0-9 .,;:!?@%+=/()<>'*&~^|\[\]-]")
_LIST_ITEM = re.compile(r"[A-Za-z0-9.:/*\[\]-]+")
_PLAIN = re.compile(r"[A-Za-z0-9./_-]+")
_MACRO = re.compile(r"_[A-Z]")


def literal(text: str, what: str = "an Exim expanded string") -> str:
    """``text`` spelled so that Exim's expansion yields exactly it (no variable, item or macro inside)."""
    fit(text, what)
    return "".join(char if _AS_IS.fullmatch(char) else "".join(f"\\x{byte:02x}" for byte in char.encode())
                   for char in text)


def edges(value: str) -> str:
    """A whole value with a leading or trailing blank as ``\\x20`` (Exim trims an unquoted value's blanks)."""
    if value.startswith(" "):
        value = "\\x20" + value[1:]
    if value.endswith(" "):
        value = value[:-1] + "\\x20"
    return value


def list_item(text: str, what: str = "an Exim host or domain list") -> str:
    """A domain, address or network as an item of a ``<;`` list (letters, digits, ``. : / * [ ] -``)."""
    fit(text, what)
    if not _LIST_ITEM.fullmatch(text):
        raise Unexpressible(f"refusing to write {text!r} into {what}: only letters, digits and . : / * [ ] -")
    return text


def plain(text: str, what: str) -> str:
    """A value Exim does not expand (a socket path): letters, digits, ``. / _ -`` and no macro name."""
    fit(text, what)
    if not _PLAIN.fullmatch(text) or _MACRO.search(text):
        raise Unexpressible(f"refusing to write {text!r} into {what}: only letters, digits and . / _ - "
                            "(and no _ before a capital: Exim reads that as a macro)")
    return text


def regex(body: str) -> str:
    """A PCRE2 regex as an unexpanded ``\\N…\\N`` text: ``\\\\`` (an escaped backslash) becomes ``\\x5c`` so
    that no ``\\N`` can end the text early, ``_`` becomes ``\\x5f`` (no macro)."""
    fit(body, "an Exim regex")
    out, position = [], 0
    while position < len(body):
        char = body[position]
        if char == "\\":
            pair = body[position:position + 2]
            if pair in ("\\\\", "\\N") or len(pair) < 2:
                if pair != "\\\\":
                    raise Unexpressible(f"refusing to write the regex {body!r}: \\N or a trailing \\ in it")
                out.append("\\x5c")
            else:
                out.append("\\x5f" if pair == "\\_" else pair)
            position += 2
            continue
        out.append("\\x5f" if char == "_" else char)
        position += 1
    return "\\N" + "".join(out) + "\\N"
