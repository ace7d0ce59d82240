"""The portable header-pattern syntax: an allow-list grammar, its syntax tree, and Python's reading.

A policy's ``header_checks[].pattern`` is read by four engines: Python's ``re`` (validation, tests),
PCRE2 (Postfix), POSIX ERE through translation (Sendmail) and .NET through translation (Exchange).
Each accepts and *reads* a different language, so the policy accepts only a small grammar on which
they agree, and the targets translate from the tree :func:`parse` returns, never from the text.
Anything outside the grammar is refused with its position and a fix.

Matching is on the header value's text: ``\\d``, ``\\w``, ``\\s`` and the POSIX classes are their
ASCII sets, and ``.`` also matches the line break of a folded header (Postfix compiles with DOTALL).
Printable non-ASCII text (发票) is a literal :class:`Char` outside classes; its meaning is "the decoded
header text contains it", which the raw-header targets spell out per charset and RFC 2047 form
(engines/header_forms.py), so they accept it only as literal text or alternatives of literal text.
Only whether a pattern matches counts, so lazy quantifiers are allowed (they never change that).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

MAX_LENGTH = 500
MAX_REPEAT = 255  # _POSIX_RE_DUP_MAX: the largest count every ERE must take
MAX_SIZE = 1000  # elements after multiplying out repeat counts, so no engine meets a huge program

# The POSIX classes PCRE2 and ERE both know, as ASCII sets for the engines that have no [:name:].
POSIX_CLASSES = {
    "alnum": "0-9A-Za-z", "alpha": "A-Za-z", "blank": "\\t ", "cntrl": "\\x00-\\x1f\\x7f", "digit": "0-9",
    "graph": "!-~", "lower": "a-z", "print": " -~", "punct": "!-/:-@\\[-`{-~", "space": "\\t-\\r ",
    "upper": "A-Z", "xdigit": "0-9A-Fa-f",
}
SHORTHAND_SETS = {"d": "0-9", "w": "0-9A-Za-z_", "s": "\\t-\\r "}  # ASCII; \s includes VT in PCRE2 and re
CONTROL_ESCAPES = {"t": "\t", "n": "\n", "r": "\r"}
SPECIAL = set("\\.^$*+?{}[]()|")  # characters a literal must escape outside a class
CLASS_SPECIAL = set("\\]-^[.:=")  # ... and inside one (PCRE2 reads [.x.] and [:x:] as POSIX syntax)

_REFUSED_ESCAPES = {
    "A": ("\\A", "put ^ first instead (it anchors at the start of the value)"),
    "Z": ("\\Z (end of text for Python, end or before a final newline for PCRE2)", "end the pattern with $"),
    "z": ("\\z (Python does not know it)", "end the pattern with $"),
    "G": ("\\G", "leave it out"), "K": ("\\K (PCRE2 only)", "leave it out"),
    "Q": ("\\Q...\\E quoting (PCRE2 only)", "escape each special character with a backslash instead"),
    "E": ("\\E (PCRE2 only)", "escape each special character with a backslash instead"),
    "h": ("\\h (PCRE2 only)", "write [ \\t] for horizontal white space"),
    "H": ("\\H (PCRE2 only)", "write [^ \\t]"),
    "v": ("\\v (vertical tab for Python, any vertical white space for PCRE2)", "write \\x0b or [\\n\\r]"),
    "V": ("\\V (PCRE2 only)", "write [^\\n\\r]"), "R": ("\\R (PCRE2 only)", "write (?:\\r?\\n)"),
    "N": ("\\N (different meanings in Python and PCRE2)", "write [^\\n]"),
    "X": ("\\X (PCRE2 only)", "write ."), "C": ("\\C (PCRE2 only)", "write ."),
    "p": ("\\p{...} Unicode properties", "use an ASCII class such as [[:alpha:]]"),
    "P": ("\\P{...} Unicode properties", "use an ASCII class such as [^[:alpha:]]"),
    "u": ("\\u escapes (Python only; PCRE2 refuses them)", "write the character itself, e.g. 发票"),
    "U": ("\\U escapes (Python only; PCRE2 refuses them)", "write the character itself, e.g. 发票"),
    "x": ("\\x without exactly two hex digits", "write a byte as \\x41 (two hex digits, 00 to 7f)"),
    "o": ("\\o{...} (PCRE2 only)", "write the byte as \\x41"),
    "g": ("\\g back-references", "repeat the text instead"), "k": ("\\k back-references", "repeat the text instead"),
    "a": ("\\a", "write \\x07"), "e": ("\\e (PCRE2 only)", "write \\x1b"), "f": ("\\f", "write \\x0c"),
    "c": ("\\c control escapes (PCRE2 only)", "write the byte as \\x01"),
}
_GROUP_HINTS = (
    ("(?P<", "named groups (PCRE2 and .NET read (?P...) differently)", "use a plain group (...)"),
    ("(?P=", "named back-references", "repeat the text instead"),
    ("(?P>", "recursion", "write the pattern out"),
    ("(?<=", "look-behind", "match the text itself; ERE has no look-around"),
    ("(?<!", "negative look-behind", "match the text itself; ERE has no look-around"),
    ("(?<", "named groups", "use a plain group (...)"),
    ("(?=", "look-ahead", "match the text itself; ERE has no look-around"),
    ("(?!", "negative look-ahead", "write the cases you want to match"),
    ("(?#", "comments (?#...)", "put the comment in the policy file with #"),
    ("(?|", "branch-reset groups (PCRE2 only)", "use (?:...|...)"),
    ("(?>", "atomic groups", "use (?:...)"),
    ("(?(", "conditionals", "write the cases as alternatives a|b"),
    ("(?'", "named groups", "use a plain group (...)"),
)


class PatternError(ValueError):
    """A pattern outside the portable grammar; ``offset`` is the 0-based character it was found at."""

    def __init__(self, offset: int, message: str, hint: str) -> None:
        super().__init__(f"{message} at character {offset + 1}")
        self.offset, self.hint = offset, hint


# --- the tree ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Char:
    """One literal character: an ASCII byte (0x00-0x7f), or printable non-ASCII text (never in a class)."""

    char: str


@dataclass(frozen=True)
class Any:
    """``.``: any byte, line breaks included."""


@dataclass(frozen=True)
class Shorthand:
    """``\\d``, ``\\w``, ``\\s`` (ASCII); upper-case ``letter`` for the complement."""

    letter: str


@dataclass(frozen=True)
class Posix:
    """``[:name:]`` inside a class."""

    name: str


@dataclass(frozen=True)
class Range:
    """``lo-hi`` inside a class."""

    low: str
    high: str


Member = Char | Shorthand | Posix | Range


@dataclass(frozen=True)
class CharClass:
    negated: bool
    members: tuple[Member, ...]


@dataclass(frozen=True)
class WordBoundary:
    negated: bool


@dataclass(frozen=True)
class Group:
    """``(...)`` or ``(?:...)``: nothing captures anything that is used, so both are one node."""

    body: Alternation


@dataclass(frozen=True)
class Repeat:
    node: Atom
    low: int
    high: int | None  # None: no upper bound
    lazy: bool


Atom = Char | Any | Shorthand | CharClass | WordBoundary | Group


@dataclass(frozen=True)
class Alternation:
    branches: tuple[tuple[Atom | Repeat, ...], ...]


@dataclass(frozen=True)
class Pattern:
    """A parsed pattern: searched in the header value, anchored at its start (``^``) or end (``$``)."""

    ignore_case: bool
    anchored_start: bool
    anchored_end: bool
    body: Alternation


# --- the parser -------------------------------------------------------------------------------


@functools.lru_cache(maxsize=512)
def parse(text: str) -> Pattern:
    """The tree of ``text``, or :class:`PatternError` naming the first construct outside the grammar."""
    return _Parser(text).pattern()


class _Parser:
    def __init__(self, text: str) -> None:
        self.text, self.pos = text, 0

    def fail(self, message: str, hint: str, at: int | None = None) -> PatternError:
        return PatternError(self.pos if at is None else at, message, hint)

    def peek(self, ahead: int = 0) -> str:
        index = self.pos + ahead
        return self.text[index] if index < len(self.text) else ""

    def pattern(self) -> Pattern:
        text = self.text
        if not text:
            raise self.fail("the pattern is empty", "write the text to look for")
        if len(text) > MAX_LENGTH:
            raise self.fail(f"the pattern is longer than {MAX_LENGTH} characters", "split it into several checks")
        bad = next((i for i, c in enumerate(text) if not (" " <= c <= "~" or printable_text(c))), None)
        if bad is not None:
            raise self.fail(f"the pattern contains {_describe(text[bad])}, a control character, an invisible "
                            "character or a space other than U+0020",
                            "write it on one line in printable text; use \\x escapes (\\x09) for ASCII control "
                            "bytes", bad)
        ignore_case = text.startswith("(?i)")
        self.pos = 4 if ignore_case else 0
        start = self.peek() == "^"
        self.pos += start
        body = self.alternation(top=True)
        end = self.peek() == "$"  # sequence() stops only at a $ that ends the text
        if (start or end) and len(body.branches) > 1:
            raise self.fail("^ or $ next to a top-level | anchors only one alternative (PCRE2 and Python) but "
                            "would anchor all of them once translated", "group the alternatives: ^(?:a|b)", 0)
        if _nullable(body) and not (start and end):
            raise self.fail("the pattern also matches empty text, so it matches every value of the header",
                            "make one part required (a+ rather than a*), or anchor both ends: ^...$", 0)
        if _size(body) > MAX_SIZE:
            raise self.fail(f"the pattern expands to more than {MAX_SIZE} elements (repeat counts multiply)",
                            "use smaller repeat counts, or + and * instead of counts", 0)
        return Pattern(ignore_case, start, end, body)

    def alternation(self, top: bool = False) -> Alternation:
        branches = [self.sequence()]
        while self.peek() == "|":
            self.pos += 1
            branches.append(self.sequence())
        for branch in branches:
            if not branch:
                raise self.fail("an empty alternative matches every value", "remove the extra |, or make a part "
                                "optional with ?")
        if top and self.peek() == ")":
            raise self.fail("this ) closes no group", "escape it as \\) or remove it")
        return Alternation(tuple(branches))

    def sequence(self) -> tuple[Atom | Repeat, ...]:
        items: list[Atom | Repeat] = []
        while (char := self.peek()) and char not in "|)":
            if char == "$" and (self.pos == len(self.text) - 1):
                break
            start = self.pos
            atom = self.atom()
            items.append(self.quantified(atom, start))
        return tuple(items)

    def atom(self) -> Atom:
        char, start = self.peek(), self.pos
        self.pos += 1
        if char == "\\":
            return self.escape(in_class=False)
        if char == ".":
            return Any()
        if char == "[":
            return self.char_class()
        if char == "(":
            return self.group(start)
        if char in "*+?":
            raise self.fail(f"{char} repeats nothing", f"escape it as \\{char}", start)
        if char == "{":
            raise self.fail("a { that does not follow something to repeat (or is not a count such as {2,5})",
                            "escape it as \\{", start)
        if char in "}]":
            raise self.fail(f"a lone {char}", f"escape it as \\{char}", start)
        if char == "^":
            raise self.fail("^ anywhere but at the very start", "put ^ first (after (?i)), or escape it as \\^", start)
        if char == "$":
            raise self.fail("$ anywhere but at the very end", "end the pattern with $, or escape it as \\$", start)
        return Char(char)

    def escape(self, in_class: bool) -> Char | Shorthand | WordBoundary:
        start = self.pos - 1
        char = self.peek()
        self.pos += 1
        if not char:
            raise self.fail("the pattern ends in a lone backslash", "write \\\\ for a backslash", start)
        if not char.isalnum():
            return Char(char)
        if char in "dDwWsS":
            return Shorthand(char)
        if char in CONTROL_ESCAPES:
            return Char(CONTROL_ESCAPES[char])
        if char in "bB":
            if in_class:
                raise self.fail(f"\\{char} inside a class", "write \\x08 for a backspace, or leave it out", start)
            return WordBoundary(char == "B")
        if char == "x" and re.fullmatch(r"[0-9a-fA-F]{2}", self.text[self.pos:self.pos + 2]):
            value = int(self.text[self.pos:self.pos + 2], 16)
            if value > 0x7F:
                raise self.fail(f"\\x{value:02x} is not an ASCII byte", "header checks match text: write a non-ASCII "
                                "character itself (发票), and mtaharden matches its raw and RFC 2047 forms", start)
            self.pos += 2
            return Char(chr(value))
        if char.isdigit():
            raise self.fail(f"\\{char} (a back-reference or an octal escape, read differently by each engine)",
                            "write a byte as \\x41; repeat text instead of referring back to it", start)
        if char in _REFUSED_ESCAPES:
            what, hint = _REFUSED_ESCAPES[char]
            raise self.fail(f"the escape {what}", hint, start)
        raise self.fail(f"the escape \\{char}", f"write {char} without the backslash", start)

    def group(self, start: int) -> Group:
        if self.peek() == "?":
            if self.text.startswith("?:", self.pos):
                self.pos += 2
            else:
                rest = self.text[start:]
                for prefix, what, hint in _GROUP_HINTS:
                    if rest.startswith(prefix):
                        raise self.fail(f"{what}: not in the portable syntax", hint, start)
                raise self.fail("inline flags other than one (?i) at the very start", "start the pattern with (?i) "
                                "to ignore case everywhere; other flags are not portable", start)
        elif self.peek() == "*":
            raise self.fail("(*VERB) controls such as (*UTF8) are PCRE2 only", "leave them out", start)
        body = self.alternation()
        if self.peek() != ")":
            raise self.fail("does not compile: this ( is never closed", "add the closing )", start)
        self.pos += 1
        return Group(body)

    def quantified(self, atom: Atom, start: int) -> Atom | Repeat:
        bounds = self.quantifier()
        if bounds is None:
            return atom
        if isinstance(atom, WordBoundary):
            raise self.fail("a repeated \\b or \\B", "leave the repeat out", start)
        lazy = self.peek() == "?"
        self.pos += lazy
        if self.peek() == "+":
            raise self.fail("possessive quantifiers (a++, a*+) are PCRE2 only", "leave the second + out")
        if self.peek() in ("*", "+", "?") or self.quantifier_ahead():
            raise self.fail("a quantifier follows a quantifier (a** or a{2}{3})",
                            "put the repeated part in a group: (?:a{2}){3}")
        return Repeat(atom, *bounds, lazy)

    def quantifier_ahead(self) -> bool:
        return self.peek() == "{" and re.match(r"\{\d*,?\d*\}", self.text[self.pos:]) is not None

    def quantifier(self) -> tuple[int, int | None] | None:
        char = self.peek()
        if char and char in "*+?":
            self.pos += 1
            return {"*": (0, None), "+": (1, None), "?": (0, 1)}[char]
        if char != "{":
            return None
        match = re.match(r"\{(\d*)(,?)(\d*)\}", self.text[self.pos:])
        if match is None:
            raise self.fail("a { that is not a repeat count such as {2}, {2,} or {2,5}", "escape it as \\{")
        low, comma, high = match.groups()
        if match.group(0) == "{}":
            raise self.fail("braces {} that are not a repeat count", "escape them as \\{\\}")
        if not low:
            hint = f"write {{0,{high}}} instead of {{,{high}}}" if high else "write * (any number) or escape the braces"
            raise self.fail(f"{match.group(0)} is a repeat count for Python but literal text for PCRE2 (Postfix)",
                            hint)
        bounds = (int(low), int(high) if high else (None if comma else int(low)))
        if max(bounds[0], bounds[1] or 0) > MAX_REPEAT:
            raise self.fail(f"the repeat count {match.group(0)} is larger than {MAX_REPEAT}",
                            f"use counts up to {MAX_REPEAT}, or + and * for longer runs")
        if bounds[1] is not None and bounds[1] < bounds[0]:
            raise self.fail(f"the repeat count {match.group(0)} is backwards", "write the smaller number first")
        self.pos += match.end()
        return bounds

    def char_class(self) -> CharClass:
        start = self.pos - 1
        negated = self.peek() == "^"
        self.pos += negated
        first = self.pos
        members: list[Member] = []
        while (char := self.peek()) != "]":
            if not char:
                raise self.fail("does not compile: this [ is never closed", "add the closing ], or escape it as \\[",
                                start)
            members.append(self.member(first=not members, start=start))
        if not members:
            raise self.fail("an empty class [] or []...] (engines disagree on a ] first)",
                            "write \\] for a literal ] inside a class", start)
        if self.text[first] in ":.=" and self.pos - 1 > first and self.text[self.pos - 1] == self.text[first]:
            raise self.fail(f"{self.text[start:self.pos + 1]} is a set of characters for Python but POSIX syntax "
                            "PCRE2 refuses outside a class", f"write [{self.text[start:self.pos + 1]}] for the POSIX "
                            f"class, or escape the first {self.text[first]}", start)
        self.pos += 1
        return CharClass(negated, tuple(members))

    def member(self, first: bool, start: int) -> Member:
        at = self.pos
        if self.text[at:at + 2] in ("&&", "~~", "||", "--"):
            raise self.fail(f"{self.text[at:at + 2]} inside a class (Python reserves it for set operations)",
                            f"escape one of them: \\{self.text[at]}", at)
        item = self.class_atom()
        if self.peek() == "-" and self.peek(1) == "-":
            raise self.fail("-- inside a class (Python reserves it for set operations)", "escape one: \\-", self.pos)
        if self.peek() == "-" and self.peek(1) not in ("]", ""):
            self.pos += 1
            high = self.class_atom()
            if not isinstance(item, Char) or not isinstance(high, Char):
                raise self.fail("a range from or to a class (such as [\\w-z])", "escape the - as \\- for a literal "
                                "dash, or list the ranges: [a-z0-9]", at)
            if item.char > high.char:
                raise self.fail(f"the range {_show(item.char)}-{_show(high.char)} is backwards",
                                "write the smaller character first", at)
            if self.peek() == "-" and self.peek(1) != "]":
                raise self.fail("a - right after a range", "escape it as \\-", self.pos)
            return Range(item.char, high.char)
        if isinstance(item, Char) and item.char == "-" and not first and self.peek() not in ("]", "") \
                and self.text[at] == "-":
            raise self.fail("a - in the middle of a class", "escape it as \\- or put it last", at)
        return item

    def class_atom(self) -> Char | Shorthand | Posix:
        char, at = self.peek(), self.pos
        self.pos += 1
        if char > "\x7f":
            raise self.fail(f"the non-ASCII character {char} inside a class (its bytes differ per charset and "
                            "encoding)", f"write alternatives of text instead: (?:{char}|...)", at)
        if char == "\\":
            item = self.escape(in_class=True)
            assert not isinstance(item, WordBoundary)  # escape() refuses \b and \B inside a class
            return item
        if char == "[":
            match = re.match(r"\[:(\^?)([a-z]+):\]", self.text[at:])
            if match is None:
                raise self.fail("a [ inside a class that does not start [:name:]", "escape it as \\[", at)
            if match.group(1) or match.group(2) not in POSIX_CLASSES:
                raise self.fail(f"the class {match.group(0)} is unknown to PCRE2 or to ERE",
                                "use one of " + ", ".join(f"[:{n}:]" for n in POSIX_CLASSES), at)
            self.pos = at + match.end()
            return Posix(match.group(2))
        return Char(char)


def _nullable(node: Alternation | Atom | Repeat) -> bool:
    """Whether ``node`` can match without consuming a character (\\b counts: it matches almost anywhere)."""
    if isinstance(node, Alternation):
        return any(all(_nullable(item) for item in branch) for branch in node.branches)
    if isinstance(node, Group):
        return _nullable(node.body)
    if isinstance(node, Repeat):
        return node.low == 0 or _nullable(node.node)
    return isinstance(node, WordBoundary)


def _size(node: Alternation | Atom | Repeat) -> int:
    """Elements after multiplying out repeat counts (a+ counts as aa*)."""
    if isinstance(node, Alternation):
        return sum(sum(_size(item) for item in branch) for branch in node.branches)
    if isinstance(node, Group):
        return _size(node.body)
    if isinstance(node, Repeat):
        return _size(node.node) * max(1, node.high if node.high is not None else node.low + 1)
    return 1


def printable_text(char: str) -> bool:
    """Non-ASCII a pattern may hold: what Unicode calls a letter, mark, number, punctuation or symbol."""
    return char > "\x7f" and unicodedata.category(char)[0] in "LMNPS"


def has_text(pattern: Pattern) -> bool:
    """Whether the pattern holds non-ASCII text (then raw-header engines need its encoded forms)."""
    return not _ascii(pattern.body)


def _ascii(node: Alternation | Atom | Repeat) -> bool:
    if isinstance(node, Alternation):
        return all(_ascii(item) for branch in node.branches for item in branch)
    if isinstance(node, Group):
        return _ascii(node.body)
    if isinstance(node, Repeat):
        return _ascii(node.node)
    return not isinstance(node, Char) or node.char <= "\x7f"


def _describe(char: str) -> str:
    return repr(char) if char <= "\x7f" else f"U+{ord(char):04X} ({unicodedata.name(char, 'unnamed')})"


def _show(char: str) -> str:
    return char if " " <= char <= "~" else f"\\x{ord(char):02x}"


# --- the PCRE2 and Python readings ------------------------------------------------------------


def pcre_body(pattern: Pattern) -> str:
    """The pattern in PCRE2 syntax without its ``^`` (the caller anchors): ``(?i)`` first.

    ``$`` is written ``\\z``: the very end, as in ERE (PCRE2's ``$`` also matches before a final newline).
    """
    return ("(?i)" if pattern.ignore_case else "") + _alternation(pattern.body, posix=True) + \
        ("\\z" if pattern.anchored_end else "")


def python_regex(pattern: Pattern) -> re.Pattern[str]:
    """Python's reading, for predictions and tests: ASCII classes, ``.`` across line breaks."""
    text = ("^" if pattern.anchored_start else "") + _alternation(pattern.body, posix=False) + \
        ("\\Z" if pattern.anchored_end else "")  # Python's \Z is the very end
    flags = re.ASCII | re.DOTALL | (re.IGNORECASE if pattern.ignore_case else 0)
    return re.compile(text, flags)


def _alternation(node: Alternation, posix: bool) -> str:
    return "|".join("".join(_item(item, posix) for item in branch) for branch in node.branches)


def _item(node: Atom | Repeat, posix: bool) -> str:
    if isinstance(node, Repeat):
        return _item(node.node, posix) + quantifier(node)
    if isinstance(node, Char):
        return literal(node.char, SPECIAL)
    if isinstance(node, Any):
        return "."
    if isinstance(node, Shorthand):
        return "\\" + node.letter
    if isinstance(node, WordBoundary):
        return "\\B" if node.negated else "\\b"
    if isinstance(node, Group):
        return "(?:" + _alternation(node.body, posix) + ")"
    return "[" + ("^" if node.negated else "") + "".join(_member(m, posix) for m in node.members) + "]"


def _member(member: Member, posix: bool) -> str:
    if isinstance(member, Char):
        return literal(member.char, CLASS_SPECIAL)
    if isinstance(member, Range):
        return literal(member.low, CLASS_SPECIAL) + "-" + literal(member.high, CLASS_SPECIAL)
    if isinstance(member, Shorthand):
        return "\\" + member.letter
    return f"[:{member.name}:]" if posix else POSIX_CLASSES[member.name]


def literal(char: str, special: set[str]) -> str:
    """One byte as PCRE2, Python and .NET all read it: escaped if special, ``\\xHH`` if not printable.

    Non-ASCII text is written as itself (Python's reading; the targets write their own forms of it).
    """
    if char > "\x7f":
        return char
    if not " " <= char <= "~":
        return f"\\x{ord(char):02x}"
    return "\\" + char if char in special else char


def quantifier(node: Repeat) -> str:
    """``*``, ``+``, ``?`` or ``{n}``, ``{n,}``, ``{n,m}``, with ``?`` when lazy."""
    counts = {(0, None): "*", (1, None): "+", (0, 1): "?"}
    text = counts.get((node.low, node.high))
    if text is None:
        high = "" if node.high is None else str(node.high)
        text = f"{{{node.low}}}" if node.high == node.low else f"{{{node.low},{high}}}"
    return text + ("?" if node.lazy else "")
