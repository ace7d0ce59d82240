"""Non-ASCII header text as the byte patterns raw-header engines need: raw and RFC 2047 forms per charset.

A policy pattern with non-ASCII text means "the decoded header text contains it", but Postfix's
header_checks and Sendmail's regex maps match the raw header and decode nothing. Mail carries such
text as raw 8-bit bytes (UTF-8 or a legacy charset) or as RFC 2047 encoded words: ``B`` (base64, the
text at any of three byte offsets in a 3-byte group) or ``Q`` (``=XX`` hex in either case, ``_`` for a
space). So the pattern's literal text is compiled into one :class:`Form` per charset, encoding and
alignment, each a small byte-level tree both engines' writers lay out. Only literal text and
alternatives of it can be compiled this way: a class, ``.``, a repeat or an anchor next to non-ASCII
text has no fixed bytes inside base64, so such a pattern is refused (:class:`NotLiteral`).
"""

from __future__ import annotations

import codecs
import functools
import itertools
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

from ..policy.pattern import Alternation, Char, Group, Pattern

# Charsets a policy may list, by Python codec name: the ASCII-compatible multibyte and 8-bit sets mail
# uses for CJK text. Stateful encodings (ISO-2022-JP) and UTF-16/32 are left out: their bytes for a
# text depend on what precedes it.
CHARSETS = ("utf-8", "gb18030", "gbk", "gb2312", "big5", "big5hkscs", "shift_jis", "euc_jp", "euc_kr")
DEFAULT_CHARSETS = ("utf-8", "gb18030", "big5")  # GB18030's bytes are GBK's and GB2312's for their characters
MAX_LITERALS = 64  # alternatives after multiplying out groups
MAX_CASE_VARIANTS = 16  # base64 of ASCII letters under (?i): every spelling is its own run of characters
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
# Bytes an encoder may leave as themselves in a Q word of unstructured text (Subject): printable ASCII but
# = ? _ and space (RFC 2047 4.2), less the few no Sendmail map line can carry (" $ \\ and m4's quotes) or
# ERE brackets cannot hold (^); such a byte is then matched as =XX only.
Q_PLAIN = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#%&()*+,-./:;<>@[]{|}~")
HEX = "0123456789ABCDEF"

Encoding = Literal["raw", "B", "Q"]


class NotLiteral(ValueError):
    """Non-ASCII text in a pattern that is not literal text or alternatives of literal text."""


# --- the byte-level tree ----------------------------------------------------------------------

ByteSet = frozenset[int]  # one byte out of a set


@dataclass(frozen=True)
class Choice:
    """One of several byte sequences."""

    options: tuple[Sequence[Unit], ...]


Unit = ByteSet | Choice


@dataclass(frozen=True)
class Form:
    """The byte pattern of a rule's literals in one charset and encoding (``alignment``: B only)."""

    charsets: tuple[str, ...]  # several when their bytes agree (GB18030 and GBK for GBK text)
    encoding: Encoding
    alignment: int | None
    body: Choice  # one option per literal
    literals: tuple[str, ...]

    @property
    def label(self) -> str:
        """What a reviewer reads in the comment above the generated line."""
        charsets = "/".join(charset_label(c) for c in self.charsets)
        how = {"raw": "raw 8-bit", "B": f"RFC 2047 B, text at byte {self.alignment} of a base64 group",
               "Q": "RFC 2047 Q (=XX either case, _ for space)"}[self.encoding]
        return f"{charsets} {how}: {'|'.join(self.literals)}"


def charset_label(name: str) -> str:
    return {"utf-8": "UTF-8", "gb18030": "GB18030", "gbk": "GBK", "gb2312": "GB2312", "big5": "Big5",
            "big5hkscs": "Big5-HKSCS", "shift_jis": "Shift_JIS", "euc_jp": "EUC-JP", "euc_kr": "EUC-KR"}[name]


def canonical_charset(name: str) -> str | None:
    """The allow-listed codec name ``name`` stands for (``GB2312``, ``utf8``, ``Big5``), or None."""
    try:
        codec = codecs.lookup(name).name
    except LookupError:
        return None
    return codec if codec in CHARSETS else None


# --- literals ---------------------------------------------------------------------------------


def literals(pattern: Pattern) -> tuple[str, ...]:
    """The texts ``pattern`` stands for, or :class:`NotLiteral` saying what else it holds."""
    if pattern.anchored_start or pattern.anchored_end:
        raise NotLiteral("^ or $ next to non-ASCII text: inside an encoded word the text has no fixed position")
    texts = _alternatives(pattern.body)
    if len(texts) > MAX_LITERALS:
        raise NotLiteral(f"the pattern stands for {len(texts)} texts, more than {MAX_LITERALS}")
    return texts


_WHAT = {"Any": "a .", "Repeat": "a repeat (* + ? {n})", "CharClass": "a class [...]",
         "Shorthand": "a class \\d \\w or \\s", "WordBoundary": "\\b or \\B"}


def _alternatives(node: Alternation) -> tuple[str, ...]:
    texts: list[str] = []
    for branch in node.branches:
        parts: list[tuple[str, ...]] = []
        for item in branch:
            if isinstance(item, Char):
                parts.append((item.char,))
            elif isinstance(item, Group):
                parts.append(_alternatives(item.body))
            else:
                raise NotLiteral(f"{_WHAT.get(type(item).__name__, 'a construct')} in a pattern with non-ASCII text: "
                                 "only literal text and alternatives of it have fixed bytes inside RFC 2047 "
                                 "encoded words")
        if math.prod(len(part) for part in parts) > MAX_LITERALS:
            raise NotLiteral(f"the pattern stands for more than {MAX_LITERALS} texts")
        texts += ("".join(combo) for combo in itertools.product(*parts))
        if len(texts) > MAX_LITERALS:
            break
    return tuple(dict.fromkeys(texts))


# --- the forms --------------------------------------------------------------------------------


def forms(pattern: Pattern, charsets: Sequence[str]) -> tuple[Form, ...]:
    """Every form of the pattern's literals: per charset raw, B at offsets 0-2 and Q; equal ones merged.

    A literal a charset cannot encode (simplified 发 in Big5) has no form there: it never arrives so.
    """
    return _forms(pattern, tuple(charsets))


@functools.lru_cache(maxsize=1024)
def _forms(pattern: Pattern, charsets: tuple[str, ...]) -> tuple[Form, ...]:
    texts = literals(pattern)
    found: dict[tuple[Encoding, int | None, tuple[bytes, ...]], list[str]] = {}
    literal_sets: dict[tuple[Encoding, int | None, tuple[bytes, ...]], tuple[str, ...]] = {}
    for charset in charsets:
        encoded = [(text, data) for text in texts if (data := _encode(text, charset)) is not None]
        if not encoded or all(data.isascii() for _, data in encoded):
            continue
        key_bytes = tuple(data for _, data in encoded)
        shapes: tuple[tuple[Encoding, int | None], ...] = (("raw", None), ("B", 0), ("B", 1), ("B", 2), ("Q", None))
        for encoding, alignment in shapes:
            key = (encoding, alignment, key_bytes)
            found.setdefault(key, []).append(charset)
            literal_sets[key] = tuple(text for text, _ in encoded)
    result = []
    for (encoding, alignment, datas), names in found.items():
        body = Choice(tuple(seq for data in datas for seq in _sequences(data, encoding, alignment,
                                                                          pattern.ignore_case)))
        result.append(Form(tuple(names), encoding, alignment, body, literal_sets[(encoding, alignment, datas)]))
    return tuple(result)


def _encode(text: str, charset: str) -> bytes | None:
    try:
        return text.encode(charset)
    except UnicodeEncodeError:
        return None


def _sequences(data: bytes, encoding: Encoding, alignment: int | None, ignore_case: bool) -> list[list[Unit]]:
    if encoding == "raw":
        return [[_byte_set(byte, ignore_case) for byte in data]]
    if encoding == "Q":
        return [[_q_unit(byte, ignore_case) for byte in data]]
    assert alignment is not None
    count = math.prod(len(_byte_set(byte, ignore_case)) for byte in data)
    if count > MAX_CASE_VARIANTS:
        raise NotLiteral(f"{count} case spellings of ASCII letters next to non-ASCII text under (?i), more "
                         f"than the {MAX_CASE_VARIANTS} base64 forms mtaharden writes")
    return [_base64(spelling, alignment) for spelling in _case_variants(data, ignore_case)]


def _byte_set(byte: int, ignore_case: bool) -> ByteSet:
    char = chr(byte)
    if ignore_case and char.isascii() and char.isalpha():
        return frozenset({ord(char.lower()), ord(char.upper())})
    return frozenset({byte})


def _case_variants(data: bytes, ignore_case: bool) -> Iterator[bytes]:
    options = [sorted(_byte_set(byte, ignore_case)) for byte in data]
    for combo in itertools.product(*options):
        yield bytes(combo)


def _q_unit(byte: int, ignore_case: bool) -> Unit:
    """One byte in Q: ``=XX`` (hex in either case), also ``_`` for a space and the byte itself if plain."""
    options: list[Sequence[Unit]] = []
    for value in sorted(_byte_set(byte, ignore_case)):
        high, low = HEX[value >> 4], HEX[value & 15]
        options.append([frozenset(b"="), _hex_digit(high), _hex_digit(low)])
        if value in Q_PLAIN:
            options.append([frozenset({value})])
    if byte == 0x20:
        options.append([frozenset(b"_")])
    return Choice(tuple(options))


def _hex_digit(digit: str) -> ByteSet:
    return frozenset({ord(digit), ord(digit.lower())})


def _base64(data: bytes, alignment: int) -> list[Unit]:
    """The base64 characters of ``data`` placed ``alignment`` bytes into a 3-byte group, from the group's start.

    A character whose six bits are partly unknown (bytes before or after the text) is the set of every
    character with the known bits; one with no known bit is any base64 character.
    """
    known_from, known_to = 8 * alignment, 8 * (alignment + len(data))
    value = int.from_bytes(data, "big")
    units: list[Unit] = []
    for start in range(0, known_to, 6):
        mask = bits = 0
        for bit in range(start, start + 6):
            mask <<= 1
            bits <<= 1
            if known_from <= bit < known_to:
                mask |= 1
                bits |= (value >> (known_to - 1 - bit)) & 1
        units.append(_b64_set(mask, bits))
    return units


@functools.cache
def _b64_set(mask: int, bits: int) -> ByteSet:
    """The base64 characters whose six bits agree with ``bits`` where ``mask`` is set."""
    return frozenset(ord(c) for index, c in enumerate(B64) if index & mask == bits)


def limits(pattern: Pattern, charsets: Sequence[str], raw: bool) -> str:
    """What the forms match and what not, for coverage: a raw-header engine decodes nothing."""
    texts = literals(pattern)
    names = ", ".join(charset_label(c) for c in charsets)
    missing = [f"{text} in {charset_label(c)}" for c in charsets for text in texts if _encode(text, c) is None]
    matched = ("raw 8-bit text and " if raw else "") + "RFC 2047 B (text at byte 0, 1 or 2 of a base64 group) " \
        "and Q (=XX in either case, _ for space) encoded words"
    unmatched = ["text split across two encoded words or across raw and encoded parts", "other charsets"]
    if not raw:
        unmatched.append("raw 8-bit text (not written into sendmail.cf: Sendmail reserves bytes 0x80-0xff there "
                         "for its own operators)")
    if missing:
        unmatched.append(f"{'; '.join(missing)} (not in that charset)")
    case = " (ASCII letters in either case)" if pattern.ignore_case else ""
    return (f"the text is matched as {matched} in {names}{case}; not matched: {', '.join(unmatched)}; also "
            "matched: its bytes across two other characters of double-byte text (GB18030, Big5)")


# --- the engines' syntax ----------------------------------------------------------------------

# An encoded word up to the text: =?charset?B? (any label: GB2312 mail carries GB18030's bytes), then
# whole base64 groups so the text's characters sit where the alignment says; or =?charset?Q? and text.
_ANY_B64 = frozenset(B64.encode())
_B_PREFIX = "=\\?[^?]*\\?[Bb]\\?(?:[A-Za-z0-9+/]{4})*"
_Q_PREFIX = "=\\?[^?]*\\?[Qq]\\?[^?]*"
_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789=_")


def pcre(form: Form) -> str:
    """The form as a case-sensitive PCRE2 pattern (no UTF mode: bytes), every byte outside _SAFE as \\xHH."""
    prefix = {"raw": "", "B": _B_PREFIX, "Q": _Q_PREFIX}[form.encoding]
    return prefix + _write(form.body, "(?:", _pcre_byte)


def ere(form: Form) -> str:
    """The form as a case-sensitive POSIX ERE; only the ASCII (B and Q) forms, a .cf line holds no 8-bit bytes."""
    if form.encoding == "raw":
        raise ValueError("raw 8-bit forms have no ERE spelling here")
    # Brackets, not backslashes, quote ? and +: a Sendmail rule string cannot carry a backslash.
    prefix = {"B": _B_PREFIX, "Q": _Q_PREFIX}[form.encoding].replace("(?:", "(").replace("\\?", "[?]")
    return prefix + _write(form.body, "(", _ere_byte)


def _write(unit: Unit, group: str, byte: Callable[[int], str]) -> str:
    if isinstance(unit, Choice):
        options = ["".join(_write(u, group, byte) for u in option) for option in unit.options]
        return options[0] if len(options) == 1 else group + "|".join(options) + ")"
    return _byte_set_text(unit, byte)


@functools.lru_cache(maxsize=4096)  # a few hundred distinct sets recur in every form
def _byte_set_text(unit: ByteSet, byte: Callable[[int], str]) -> str:
    if len(unit) == 1:
        return byte(next(iter(unit)))
    if unit == _ANY_B64:
        return "[A-Za-z0-9+/]"
    return "[" + "".join(_ranges(sorted(unit), byte)) + "]"


def _ranges(values: list[int], byte: Callable[[int], str]) -> Iterator[str]:
    """Runs of three or more consecutive letters or digits of one kind as ranges (a-f), the rest one by one."""
    index = 0
    while index < len(values):
        end = index
        while end + 1 < len(values) and values[end + 1] == values[end] + 1 and chr(values[index]).isalnum() \
                and _kind(values[end + 1]) == _kind(values[index]):
            end += 1
        if end - index >= 2:
            yield f"{chr(values[index])}-{chr(values[end])}"
        else:
            yield from (byte(value) if chr(value).isalnum() else chr(value) for value in values[index:end + 1])
        index = end + 1


def _kind(value: int) -> tuple[bool, bool, bool]:
    return chr(value).isupper(), chr(value).islower(), chr(value).isdigit()


def _pcre_byte(value: int) -> str:
    return chr(value) if value in _SAFE else f"\\x{value:02x}"


def _ere_byte(value: int) -> str:
    """Letters, digits, = and _ as themselves, other plain Q bytes in brackets (no backslash: see ere())."""
    if value in _SAFE:
        return chr(value)
    if value in Q_PLAIN:
        return f"[{chr(value)}]"
    raise ValueError(f"byte {value:#04x} has no ERE spelling here")
