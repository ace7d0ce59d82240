"""A policy header pattern as POSIX ERE for Sendmail regex maps, translated from its syntax tree.

Sendmail's ``regex`` maps compile with regcomp(3), ``REG_EXTENDED | REG_NOSUB``, plus ``REG_ICASE``
(and a lower-cased key) unless the map has ``-f``. The translation works on the tree of
:mod:`mtaharden.policy.pattern`, so it never re-reads pattern text. Only whether a map matches counts,
so lazy quantifiers lose their ``?`` without changing anything. What ERE cannot express (word
boundaries, control bytes a .cf line cannot hold, negated shorthands inside a class) raises the kit's
:class:`~mtaharden.targets.kit.escape.Unexpressible`, which the Sendmail target reports as unsupported;
the result is then compiled by this host's libc regcomp, the engine Sendmail runs, and refused if that fails.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...engines.regcomp import REG_EXTENDED, REG_ICASE, REG_NOSUB, regcomp_error
from ...policy.pattern import (
    Alternation,
    Any,
    Atom,
    Char,
    CharClass,
    Group,
    Member,
    PatternError,
    Posix,
    Range,
    Repeat,
    Shorthand,
    WordBoundary,
    parse,
    quantifier,
)
from ..kit.escape import Unexpressible, fit

SHORTHANDS = {"d": "[0-9]", "D": "[^0-9]", "w": "[A-Za-z0-9_]", "W": "[^A-Za-z0-9_]",
              "s": "[[:space:]]", "S": "[^[:space:]]"}
CLASS_SHORTHANDS = {"d": "0-9", "w": "A-Za-z0-9_", "s": "[:space:]"}
ERE_SPECIAL = set(".[]()*+?{}|^$\\")


@dataclass(frozen=True)
class EreMatcher:
    """An ERE and whether it must be matched case-insensitively (a map without ``-f``)."""

    pattern: str
    ignore_case: bool


def to_ere(text: str) -> EreMatcher:
    """Translate the policy pattern ``text``; raise :class:`Unexpressible` naming what ERE lacks."""
    try:
        pattern = parse(text)
    except PatternError as exc:
        raise Unexpressible(str(exc)) from None
    # ^ anchors at the start of the header's value, which may begin with folding white space.
    ere = ("^[[:space:]]*" if pattern.anchored_start else "") + _alternation(pattern.body) + \
        ("$" if pattern.anchored_end else "")
    flags = REG_EXTENDED | REG_NOSUB | (REG_ICASE if pattern.ignore_case else 0)
    error = regcomp_error(ere, flags)
    if error:
        raise Unexpressible(f"libc regcomp refuses the translation {ere!r}: {error}")
    return EreMatcher(ere, pattern.ignore_case)


def _alternation(node: Alternation) -> str:
    return "|".join("".join(_item(item) for item in branch) for branch in node.branches)


def _item(node: Atom | Repeat) -> str:
    if isinstance(node, Repeat):
        return _item(node.node) + quantifier(node).removesuffix("?" if node.lazy else "")
    if isinstance(node, Char):
        return _char(node.char, ERE_SPECIAL)
    if isinstance(node, Any):
        return "."
    if isinstance(node, Shorthand):
        return SHORTHANDS[node.letter]
    if isinstance(node, WordBoundary):
        raise Unexpressible("word boundaries (\\b, \\B)")
    if isinstance(node, Group):
        return "(" + _alternation(node.body) + ")"
    return _char_class(node)


def _char(char: str, special: set[str]) -> str:
    if not char.isascii():  # text outside ASCII reaches the .cf only as the RFC 2047 forms (header_forms)
        raise Unexpressible(f"the character U+{ord(char):04X} (a sendmail.cf regex map is ASCII)")
    fit(char, "a sendmail.cf line")
    return "\\" + char if char in special else char


def _char_class(node: CharClass) -> str:
    """ERE brackets have no escapes: a literal ] goes first, - last, ^ not first, [ before the -."""
    chars: set[str] = set()
    parts: list[str] = []
    for member in node.members:
        if isinstance(member, Char):
            chars.add(member.char)
        else:
            parts.append(_member(member))
    for char in sorted(chars - set("]^-[")):
        parts.append(_char(char, set()))
    if not parts and chars == {"^"} and not node.negated:
        return "\\^"  # [^] would open a negated class
    return ("[" + ("^" if node.negated else "") + ("]" if "]" in chars else "") + "".join(parts)
            + ("^" if "^" in chars else "") + ("[" if "[" in chars else "") + ("-" if "-" in chars else "") + "]")


def _member(member: Member) -> str:
    if isinstance(member, Range):
        if {member.low, member.high} & set("]^-["):
            raise Unexpressible("a class range from or to ] ^ - or [")
        return _char(member.low, set()) + "-" + _char(member.high, set())
    if isinstance(member, Shorthand):
        if member.letter not in CLASS_SHORTHANDS:
            raise Unexpressible(f"\\{member.letter} inside a character class")
        return CLASS_SHORTHANDS[member.letter]
    assert isinstance(member, Posix)
    return f"[:{member.name}:]"
