"""Non-ASCII header rules in the real engines: random CJK text, encoded as mail carries it, meets the
generated patterns in PCRE2 (libpcre2-8, as Postfix compiles and runs them) and libc ERE (regcomp and
regexec with a Sendmail regex map's flags). Text holding a literal must match; text without its bytes
must not."""

from __future__ import annotations

import ctypes
import ctypes.util
import email.charset
import email.header

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from mtaharden.engines import header_engines, header_forms, pcre2
from mtaharden.engines.regcomp import REG_EXTENDED, REG_NOSUB
from mtaharden.policy.pattern import parse

pytestmark = pytest.mark.skipif(not pcre2.available(), reason="libpcre2-8 is not installed")

CHARSETS = header_forms.DEFAULT_CHARSETS
PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_LIBC = ctypes.CDLL(ctypes.util.find_library("c"))


def ere_search(ere: str, subject: bytes) -> bool:
    """regexec(3) as Sendmail's regex map runs it: REG_EXTENDED | REG_NOSUB, -f (no case folding)."""
    buffer = ctypes.create_string_buffer(256)
    assert _LIBC.regcomp(buffer, ere.encode("ascii"), REG_EXTENDED | REG_NOSUB) == 0, ere
    try:
        return bool(_LIBC.regexec(buffer, subject, 0, None, 0) == 0)
    finally:
        _LIBC.regfree(buffer)


def encodable(charset: str) -> st.SearchStrategy[str]:
    return st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5).filter(
        lambda c: header_forms._encode(c, charset) is not None)


def filler(charset: str) -> st.SearchStrategy[str]:
    return st.text(st.one_of(encodable(charset), st.sampled_from("abcXYZ 019,.!-")), max_size=12)


def encoded_word(text: str, charset: str, encoding: int) -> bytes:
    """One RFC 2047 encoded word from Python's email package (long enough lines: never split)."""
    chosen = email.charset.Charset(charset)
    chosen.header_encoding = encoding
    word = email.header.Header(text, chosen).encode(maxlinelen=10_000)
    assert len(email.header.decode_header(word)) == 1 and " " not in word, word
    return word.encode("ascii")


def header_values(text: str, charset: str) -> dict[str, bytes]:
    return {"raw": text.encode(charset), "B": encoded_word(text, charset, email.charset.BASE64),
            "Q": encoded_word(text, charset, email.charset.QP)}


def postfix_matches(rule: str, value: bytes) -> bool:
    forms = header_forms.forms(parse(rule), CHARSETS)
    return any(pcre2.search(header_engines.postfix_regex("Subject", form), b"Subject: " + value,
                            pcre2.POSTFIX_HEADER_OPTIONS) for form in forms)


def sendmail_matches(rule: str, value: bytes) -> bool:
    forms = header_forms.forms(parse(rule), CHARSETS)
    return any(ere_search(header_forms.ere(form), value) for form in forms if form.encoding != "raw")


@st.composite
def case(draw: st.DrawFn) -> tuple[str, str, list[str]]:
    charset = draw(st.sampled_from(CHARSETS))
    literals = draw(st.lists(st.text(encodable(charset), min_size=1, max_size=4), min_size=1, max_size=3,
                             unique=True))
    return charset, "(?:" + "|".join(literals) + ")", literals


@PROPERTY
@given(case(), st.data())
def test_text_with_a_literal_matches_in_every_form(drawn: tuple[str, str, list[str]], data: st.DataObject) -> None:
    charset, rule, literals = drawn
    text = data.draw(filler(charset)) + data.draw(st.sampled_from(literals)) + data.draw(filler(charset))
    for encoding, value in header_values(text, charset).items():
        assert postfix_matches(rule, value), (encoding, text, value)
        if encoding != "raw":
            assert sendmail_matches(rule, value), (encoding, text, value)


@PROPERTY
@given(case(), st.data())
def test_text_without_the_literals_bytes_does_not_match(drawn: tuple[str, str, list[str]],
                                                        data: st.DataObject) -> None:
    charset, rule, literals = drawn
    text = data.draw(filler(charset).filter(bool))
    data_bytes = text.encode(charset)
    # Legacy double-byte text may hold a literal's bytes across two other characters: that is a match.
    assume(not any(data_bytes.find(encoded) >= 0 for literal in literals for c in CHARSETS
                   if (encoded := header_forms._encode(literal, c)) is not None))
    for encoding, value in header_values(text, charset).items():
        assert not postfix_matches(rule, value), (encoding, text, value)
        if encoding != "raw":
            assert not sendmail_matches(rule, value), (encoding, text, value)


@pytest.mark.parametrize("alignment", [0, 1, 2])
@pytest.mark.parametrize("charset", ["utf-8", "gb18030"])
def test_each_base64_alignment_has_its_own_form(charset: str, alignment: int) -> None:
    """Only the form of the text's own alignment matches: the forms are not all one loose pattern."""
    value = encoded_word("x" * alignment + "发票", charset, email.charset.BASE64)
    forms = [f for f in header_forms.forms(parse("发票"), [charset]) if f.encoding == "B"]
    hits = [f.alignment for f in forms
            if pcre2.search(header_engines.postfix_regex("Subject", f), b"Subject: " + value,
                            pcre2.POSTFIX_HEADER_OPTIONS)]
    assert hits == [alignment]


@pytest.mark.parametrize("value", [
    b"=?gb2312?B?tPq/qreixrE=?=",  # the example: 代开发票 in GB2312
    b"=?UTF-8?Q?=e5=8f=91=e7=a5=a8?=",  # lower-case hex
    b"=?utf-8?q?=E5=8F=91=E7=A5=A8?=",
    b"=?utf-8?B?5a2m5pyv?=\r\n =?utf-8?B?5Y+R56Wo?=",  # folded, the text in the second word
    b"Re: \xb7\xa2\xc6\xb1",  # raw GB18030
])
def test_real_world_forms_match(value: bytes) -> None:
    assert postfix_matches("(?i)(发票|代开)", value)
    if not value.startswith(b"Re"):
        assert sendmail_matches("(?i)(发票|代开)", value)


def test_q_form_matches_underscore_for_a_space_and_ascii_case() -> None:
    value = encoded_word("免费 Ab 发票", "utf-8", email.charset.QP)
    assert b"_" in value
    assert postfix_matches("(?i)免费 ab", value) and sendmail_matches("(?i)免费 ab", value)
    assert not postfix_matches("免费 ab", value) and not sendmail_matches("免费 ab", value)
    b_value = encoded_word("免费 Ab 发票", "utf-8", email.charset.BASE64)
    assert postfix_matches("(?i)免费 ab", b_value) and not postfix_matches("免费 ab", b_value)


def test_a_split_literal_is_not_matched_as_coverage_says() -> None:
    value = encoded_word("发", "utf-8", email.charset.BASE64) + b" " + encoded_word("票", "utf-8",
                                                                                  email.charset.BASE64)
    assert not postfix_matches("发票", value)
    assert "split across two encoded words" in header_forms.limits(parse("发票"), CHARSETS, raw=True)


@pytest.mark.parametrize("value", [b"=?utf-8?Q?=E4=BB=A3=E5=BC=80,=E5=8F=91=E7=A5=A8?=",  # ',' left plain
                                   b"=?utf-8?Q?=E4=BB=A3=E5=BC=80=2C=E5=8F=91=E7=A5=A8?="])
def test_q_punctuation_plain_or_encoded(value: bytes) -> None:
    assert postfix_matches("代开,发票", value) and sendmail_matches("代开,发票", value)
    assert not postfix_matches("代开\\.发票", value) and not sendmail_matches("代开\\.发票", value)
