"""The PCRE→POSIX ERE translation matches what Python's re matches, checked against libc's regexec."""

from __future__ import annotations

import ctypes
import ctypes.util
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mtaharden.targets.kit.escape import Unexpressible
from mtaharden.targets.sendmail.regex import to_ere

LIBC = ctypes.CDLL(ctypes.util.find_library("c"))
REG_EXTENDED, REG_ICASE, REG_NOSUB = 1, 2, 8


def posix_search(pattern: str, text: str, ignore_case: bool) -> bool:
    buffer = ctypes.create_string_buffer(256)  # regex_t is 64 bytes on glibc; leave room
    flags = REG_EXTENDED | REG_NOSUB | (REG_ICASE if ignore_case else 0)
    assert LIBC.regcomp(buffer, pattern.encode(), flags) == 0, pattern
    try:
        return bool(LIBC.regexec(buffer, text.encode(), 0, None, 0) == 0)
    finally:
        LIBC.regfree(buffer)


ATOMS = st.sampled_from(["a", "b", "c", ".", "\\d", "\\s", "\\w", "[ab]", "[^a]", "\\.", "x", "1", " ", "[a-c]"])
QUANTIFIERS = st.sampled_from(["", "", "*", "+", "?", "{1,2}"])


@st.composite
def patterns(draw: st.DrawFn) -> str:
    # the first atom unrepeated: a pattern that can match empty text is refused (it matches every value)
    pieces = [draw(ATOMS)] + [draw(ATOMS) + draw(QUANTIFIERS) for _ in range(draw(st.integers(0, 3)))]
    body = "".join(pieces)
    if draw(st.booleans()):
        body = f"({body}|{draw(ATOMS)})"
    return ("(?i)" if draw(st.booleans()) else "") + body


@settings(max_examples=300, deadline=None)
@given(patterns(), st.text(alphabet="abcABC1 .x_\t", max_size=8))
def test_translation_agrees_with_python(pattern: str, text: str) -> None:
    ere = to_ere(pattern)
    # Without -f, Sendmail folds the key to lower case and compiles with REG_ICASE: do the same.
    subject = text.lower() if ere.ignore_case else text
    assert posix_search(ere.pattern, subject, ere.ignore_case) == bool(re.search(pattern, text)), (pattern, ere, text)


@pytest.mark.parametrize("pattern", ["(?=x)", "(a)\\1", "\\bword", "(?P<n>x)", "\\tx", "[\\W]"])
def test_constructs_without_an_ere_form_are_refused(pattern: str) -> None:
    with pytest.raises(Unexpressible):
        to_ere(pattern)


def test_anchor_allows_leading_folding_white_space() -> None:
    assert to_ere("^Mass ?Mailer").pattern == "^[[:space:]]*Mass ?Mailer"
