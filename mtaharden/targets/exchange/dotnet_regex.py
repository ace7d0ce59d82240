"""The .NET regular expression dialect transport rules read, written from the policy pattern's syntax tree.

What .NET cannot say the portable way raises the kit's :class:`~mtaharden.targets.kit.escape.Unexpressible`.
"""

from __future__ import annotations

from ...policy.pattern import (
    CLASS_SPECIAL,
    POSIX_CLASSES,
    Alternation,
    Any,
    Atom,
    Char,
    Group,
    Member,
    PatternError,
    Posix,
    Range,
    Repeat,
    Shorthand,
    WordBoundary,
    literal,
    parse,
    quantifier,
)
from ..kit.escape import Unexpressible

# .NET's \d, \w and \s are Unicode classes and its . stops at a line break: the portable meanings
# (ASCII sets, . across the line breaks of a folded header) are spelled out.
DOTNET_SETS = {"d": "0-9", "w": "0-9A-Za-z_", "s": "\\t-\\r "}
DOTNET_SPECIAL = set("\\*+?|{}[]()^$.")  # space and # are special only under x, which is off


def dotnet_regex(text: str) -> str:
    """The policy pattern in .NET syntax, as transport rules read it, written from its syntax tree."""
    try:
        parsed = parse(text)
    except PatternError as exc:
        raise Unexpressible(str(exc)) from None
    return (("(?i)" if parsed.ignore_case else "") + ("^" if parsed.anchored_start else "")
            + _dotnet_alternation(parsed.body) + ("\\z" if parsed.anchored_end else ""))  # .NET's $ is PCRE2's


def _dotnet_alternation(node: Alternation) -> str:
    return "|".join("".join(_dotnet_item(item) for item in branch) for branch in node.branches)


def _dotnet_item(node: Atom | Repeat) -> str:
    if isinstance(node, Repeat):
        return _dotnet_item(node.node) + quantifier(node)
    if isinstance(node, Char):
        return _dotnet_text(node.char) if node.char > "\x7f" else literal(node.char, DOTNET_SPECIAL)
    if isinstance(node, Any):
        return "[\\s\\S]"
    if isinstance(node, Shorthand):
        return ("[^" if node.letter.isupper() else "[") + DOTNET_SETS[node.letter.lower()] + "]"
    if isinstance(node, WordBoundary):
        return "\\B" if node.negated else "\\b"
    if isinstance(node, Group):
        return "(?:" + _dotnet_alternation(node.body) + ")"
    return "[" + ("^" if node.negated else "") + "".join(_dotnet_member(m) for m in node.members) + "]"


def _dotnet_text(char: str) -> str:
    """Non-ASCII text as .NET \\uXXXX escapes (UTF-16 units): transport rules match the decoded header,
    and an ASCII script reads the same in Windows PowerShell 5.1 (ANSI without a BOM) and pwsh (UTF-8)."""
    data = char.encode("utf-16-be")
    return "".join(f"\\u{int.from_bytes(data[i:i + 2], 'big'):04X}" for i in range(0, len(data), 2))


def _dotnet_member(member: Member) -> str:
    if isinstance(member, Char):
        return literal(member.char, CLASS_SPECIAL)
    if isinstance(member, Range):
        return literal(member.low, CLASS_SPECIAL) + "-" + literal(member.high, CLASS_SPECIAL)
    if isinstance(member, Posix):
        return POSIX_CLASSES[member.name]
    if member.letter.isupper():
        raise Unexpressible(f"\\{member.letter} inside a class: .NET's own \\{member.letter} is a Unicode class and "
                           "the ASCII complement cannot be written inside brackets")
    return DOTNET_SETS[member.letter]
