"""Policy header patterns as procmail conditions, in procmail's own egrep dialect.

procmail(1)'s regexes are not POSIX ERE: no ``{n,m}`` (a brace is a literal), no ``[:class:]``, no
escapes such as ``\\t`` (``\\b`` is a ``b``), ``\\<``/``\\>`` match a non-word *character*, ``\\/`` splits
the match, ``.`` and classes never match a line break and ``$`` matches one. So the translation works on
the tree of :mod:`mtaharden.policy.pattern` and writes only what procmail reads as the policy means:
repeats multiplied out, classes spelled as ASCII sets, specials escaped with a backslash (never a letter,
``<``, ``>`` or ``/``), a literal backslash as ``[\\]`` so no line ends in one (a continuation there).
What procmail cannot say (word boundaries, control bytes) is :class:`Unexpressible`; tests/filters runs
procmail itself on the results.

A header spans folded lines, so an unanchored rule searches ``(.|$[ \\t])*`` after the colon (any
character, or a line break that a continuation line's white space follows) before the pattern.
"""

from __future__ import annotations

from collections.abc import Sequence

from ...engines import header_forms
from ...policy.pattern import (
    POSIX_CLASSES,
    Alternation,
    Any,
    Atom,
    Char,
    CharClass,
    Group,
    Member,
    Pattern,
    Posix,
    Range,
    Repeat,
    Shorthand,
    WordBoundary,
    has_text,
)
from ..kit.escape import Unexpressible

SPECIAL = frozenset("\\.^$*+?[]()|")
WHITE = " \t"
FOLDED_ANY = "(.|$[ \t])*"  # anything up to the text, across folded lines of the one header
FOLDED_SPACE = "([ \t]|$[ \t])*"
MAX_LINE = 2000  # procmail's LINEBUF is 2048 by default: a longer condition would be cut
_SETS = {"d": "0-9", "w": "0-9A-Za-z_", "s": " \t"}  # \s: a line break is a fold here, not text
# The policy's POSIX classes as procmail brackets: ASCII sets, control bytes left out (a line cannot hold them)
_CLASSES = {"alnum": "0-9A-Za-z", "alpha": "A-Za-z", "blank": " \t", "cntrl": "", "digit": "0-9",
            "graph": "!-~", "lower": "a-z", "print": " -~", "punct": "!-/:-@[-`{-~", "space": " \t",
            "upper": "A-Z", "xdigit": "0-9A-Fa-f"}
assert set(_CLASSES) == set(POSIX_CLASSES)


def case_sensitive(pattern: Pattern) -> bool:
    """Whether the recipe needs procmail's ``D`` flag: all but an ASCII pattern under (?i) (procmail's own
    case folding is ASCII); the encoded forms of non-ASCII text spell their cases themselves (base64 has both)."""
    return not pattern.ignore_case or has_text(pattern)


def condition(header: str, pattern: Pattern, body: str) -> str:
    """The condition's regex: the header's name (in both cases where the recipe is case-sensitive), then
    ``body`` at the value's start or anywhere in it."""
    name = "".join(_fold(c) for c in header) if case_sensitive(pattern) else header
    lead = FOLDED_SPACE if pattern.anchored_start else FOLDED_ANY
    text = f"^{name}:{lead}({body})"
    if len(text) > MAX_LINE:
        raise Unexpressible(f"the procmail condition would be {len(text)} characters, more than procmail's "
                            f"{MAX_LINE} (LINEBUF)")
    return text


def ascii_body(pattern: Pattern) -> str:
    """An ASCII pattern's body (``$`` kept: it ends the header's last line)."""
    return _alternation(pattern.body) + ("$" if pattern.anchored_end else "")


def form_body(form: header_forms.Form, ignore_case: bool) -> str:
    """One encoded form of non-ASCII text (header_forms): the encoded word's start, then the text's bytes.

    Raw forms are UTF-8 only: the rcfile is UTF-8 text, so GB18030 or Big5 bytes cannot be written in it."""
    prefix = {"raw": "", "B": "=\\?[^?]*\\?[Bb]\\?([A-Za-z0-9+/][A-Za-z0-9+/][A-Za-z0-9+/][A-Za-z0-9+/])*",
              "Q": "=\\?[^?]*\\?[Qq]\\?[^?]*"}[form.encoding]
    if form.encoding == "raw":
        return "|".join("(" + "".join(_fold(c) if ignore_case else _char(c) for c in text) + ")"
                        for text in form.literals)
    return prefix + _unit(form.body)


def _unit(unit: header_forms.Unit) -> str:
    if isinstance(unit, header_forms.Choice):
        options = ["".join(_unit(u) for u in option) for option in unit.options]
        return options[0] if len(options) == 1 else "(" + "|".join(options) + ")"
    return _set(sorted(chr(b) for b in unit), negated=False)


def _fold(char: str) -> str:
    """An ASCII letter in both cases for a case-sensitive recipe; any other character as itself."""
    return f"[{char.upper()}{char.lower()}]" if char.isascii() and char.isalpha() else _char(char)


def _alternation(node: Alternation) -> str:
    return "|".join("".join(_item(item) for item in branch) for branch in node.branches)


def _item(node: Atom | Repeat) -> str:
    if isinstance(node, Repeat):
        return _repeat(_item(node.node), node.low, node.high)
    if isinstance(node, Char):
        return _char(node.char)
    if isinstance(node, Any):
        return "."
    if isinstance(node, Shorthand):
        return _shorthand(node.letter)
    if isinstance(node, WordBoundary):
        raise Unexpressible("word boundaries (\\b, \\B): procmail's \\< and \\> match a character, not a position")
    if isinstance(node, Group):
        return "(" + _alternation(node.body) + ")"
    return _char_class(node)


def _repeat(unit: str, low: int, high: int | None) -> str:
    """``unit{low,high}`` multiplied out (procmail has no intervals; the policy bounds the size). Every
    translated atom is one procmail atom already (a character, ``\\.``, ``[...]``, ``(...)``)."""
    if (low, high) in ((0, None), (1, None), (0, 1)):
        return unit + {(0, None): "*", (1, None): "+", (0, 1): "?"}[(low, high)]
    text = unit * low
    if high is None:
        return text + unit + "*"
    optional = ""
    for _ in range(high - low):
        optional = f"({unit}{optional})?"
    return text + optional


def _char(char: str) -> str:
    if not char.isascii():
        return f"({char})"  # several bytes in UTF-8: grouped, so a repeat takes the whole character
    if char == "\\":
        return "[\\]"
    if not " " <= char <= "~":
        raise Unexpressible(f"the control character {char!r}: a procmail condition holds no escapes")
    return "\\" + char if char in SPECIAL else char


def _shorthand(letter: str) -> str:
    members = _ranges(_SETS[letter.lower()])
    return _set(members, negated=letter.isupper())


def _char_class(node: CharClass) -> str:
    members: list[str] = []
    for member in node.members:
        members += _member(member)
    if not members:
        raise Unexpressible("a class of control characters only: a procmail condition holds no escapes")
    return _set(members, node.negated)


def _member(member: Member) -> list[str]:
    if isinstance(member, Char):
        _check(member.char)
        return [member.char]
    if isinstance(member, Range):
        _check(member.low)
        _check(member.high)
        return [f"{member.low}-{member.high}"]
    if isinstance(member, Shorthand):
        if member.letter.isupper():
            raise Unexpressible(f"\\{member.letter} inside a class")
        return _ranges(_SETS[member.letter])
    assert isinstance(member, Posix)
    return _ranges(_CLASSES[member.name])


def _check(char: str) -> None:
    if not (char == "\t" or " " <= char <= "~"):
        raise Unexpressible(f"the character {char!r} in a class: a procmail condition holds no escapes")


def _ranges(spec: str) -> list[str]:
    """``0-9A-Za-z_`` as members: ``x-y`` ranges and single characters."""
    found, index = [], 0
    while index < len(spec):
        if index + 2 < len(spec) and spec[index + 1] == "-":
            found.append(spec[index:index + 3])
            index += 3
        else:
            found.append(spec[index])
            index += 1
    return found


def _set(members: Sequence[str], negated: bool) -> str:
    """A bracket expression: ``]`` first, ``^`` not first, ``-`` last; ranges whose ends are ] ^ - as those."""
    singles: set[str] = set()
    ranges: list[str] = []
    for member in members:
        if len(member) == 3:
            ends = {member[0], member[2]}
            if ends & set("]^-"):
                singles.update(chr(code) for code in range(ord(member[0]), ord(member[2]) + 1))
            else:
                ranges.append(member)
        else:
            singles.add(member)
    if not negated and not ranges and len(singles) == 1:
        return _char(next(iter(singles)))
    body = "".join(ranges) + "".join(sorted(singles - set("]^-")))
    return ("[" + ("^" if negated else "") + ("]" if "]" in singles else "") + body
            + ("^" if "^" in singles else "") + ("-" if "-" in singles else "") + "]")
