"""The portable header-pattern grammar: what it takes, what it refuses (where, and with which fix), and
how each target writes what it took."""

from __future__ import annotations

import pytest

from mtaharden.engines import pcre2
from mtaharden.policy import PolicyError, load_policy_text
from mtaharden.policy.model import HeaderCheck
from mtaharden.policy.pattern import MAX_REPEAT, Any, Char, CharClass, Posix, Range, Repeat, parse, pcre_body
from mtaharden.policy.types import PolicyValueError, header_regex
from mtaharden.targets.exchange import dotnet_regex
from mtaharden.targets.postfix.header_checks import _header_line, header_refusal
from mtaharden.targets.sendmail.regex import to_ere


def test_the_tree_of_a_pattern() -> None:
    parsed = parse("(?i)^a.[b-d[:digit:]]{2,3}?$")
    assert (parsed.ignore_case, parsed.anchored_start, parsed.anchored_end) == (True, True, True)
    (branch,) = parsed.body.branches
    assert branch == (Char("a"), Any(), Repeat(CharClass(False, (Range("b", "d"), Posix("digit"))), 2, 3, True))


@pytest.mark.parametrize(("written", "pcre", "ere", "dotnet"), [
    ("(?i)make money fast", "(?i)make money fast", "make money fast", "(?i)make money fast"),
    ("^Mass ?Mailer", "Mass ?Mailer", "^[[:space:]]*Mass ?Mailer", "^Mass ?Mailer"),
    ("a\\ b\\#\\&\\~\\-", "a b#&~-", "a b#&~-", "a b#&~-"),  # re.escape's spelling, canonical again
    ("\\.exe$", "\\.exe\\z", "\\.exe$", "\\.exe\\z"),  # $ is the very end in every engine
    ("[\\]a-c\\-]", "[\\]a-c\\-]", "[]a-c-]", "[\\]a-c\\-]"),  # ERE brackets have no escapes
    ("[:x]", "[\\:x]", "[:x]", "[\\:x]"),  # never [: ... :] text, which PCRE2 reads as POSIX syntax
    ("(ab|cd)+?", "(?:ab|cd)+?", "(ab|cd)+", "(?:ab|cd)+?"),  # laziness cannot change whether it matches
    ("\\d\\W[[:alpha:]]", "\\d\\W[[:alpha:]]", "[0-9][^A-Za-z0-9_][[:alpha:]]", "[0-9][^0-9A-Za-z_][A-Za-z]"),
    ("a.b", "a.b", "a.b", "a[\\s\\S]b"),  # Postfix compiles with DOTALL
    ("\\x41\\t", "A\\x09", None, "A\\x09"),  # a .cf line cannot hold a tab
])
def test_each_target_writes_the_tree_in_its_dialect(written: str, pcre: str, ere: str | None, dotnet: str) -> None:
    assert header_regex(written) == written  # the policy keeps the user's spelling; targets write the tree
    assert pcre_body(parse(written)) == pcre
    if ere is None:
        with pytest.raises(ValueError, match="control character"):
            to_ere(written)
    else:
        assert to_ere(written).pattern == ere
    assert dotnet_regex(written) == dotnet


def test_the_postfix_line_of_the_example_policy_is_unchanged() -> None:
    check = HeaderCheck(header="X-Mailer", pattern="^Mass ?Mailer", action="discard")
    assert _header_line(check) == ("/^(?i:X-Mailer):[ \\t]*(?:Mass ?Mailer)/i", "DISCARD")
    check = HeaderCheck(header="Subject", pattern="a/b$", action="reject")
    assert _header_line(check)[0] == "/^(?i:Subject):(?:.*?)(?:a\\/b\\z)/i"


@pytest.mark.skipif(not pcre2.available(), reason="libpcre2-8 is not installed")
def test_postfix_compiles_each_line_with_its_own_engine() -> None:
    for pattern in ("x", "(?i)^a", "[[:punct:]]{3}", "a{255}"):
        assert header_refusal(HeaderCheck(header="Subject", pattern=pattern, action="reject")) is None
    with pytest.raises(pcre2.CompileError, match="unknown POSIX class name"):
        pcre2.check("[[:foo:]]")


@pytest.mark.parametrize(("pattern", "offset", "message", "hint"), [
    ("a{,3}b", 2, "literal text for PCRE2", "{0,3}"),
    ("x{65536}", 2, "larger than 255", "up to 255"),
    ("x{3,2}", 2, "backwards", "smaller number first"),
    ("\\u53d1", 1, "\\u escapes", "the character itself"),
    ("end\\Z", 4, "\\Z", "end the pattern with $"),
    ("[[:foo:]]", 2, "[:foo:] is unknown", "[:alpha:]"),
    ("[:alpha:]", 1, "POSIX syntax", "[[:alpha:]]"),
    ("[\\w-z]", 2, "range from or to a class", "\\-"),
    ("[z-a]", 2, "backwards", "smaller character first"),
    ("[a-c-e]", 5, "right after a range", "\\-"),
    ("[ab-]x[-c][a-]", None, None, None),  # a dash first or last is literal everywhere
    ("[a-b-]", None, None, None),
    ("a**", 3, "quantifier follows a quantifier", "(?:a{2}){3}"),
    ("a++", 3, "possessive", "second +"),
    ("a|", 3, "empty alternative", "?"),
    ("x*", 1, "matches empty text", "^...$"),
    ("^x*$", None, None, None),  # anchored at both ends, it matches only values made of x
    ("^a|b", 1, "anchors only one alternative", "^(?:a|b)"),
    ("a^b", 2, "^ anywhere but at the very start", "\\^"),
    ("a$b", 2, "$ anywhere but at the very end", "\\$"),
    ("(?i)a(?i)b", 6, "inline flags", "(?i)"),
    ("(?P<n>x)", 1, "named groups", "plain group"),
    ("(?=x)y", 1, "look-ahead", "match the text"),
    ("(a)\\1", 4, "back-reference", "repeat text"),
    ("\\x80", 1, "not an ASCII byte", "character itself"),
    ("\\x4", 1, "two hex digits", "\\x41"),
    ("(a", 1, "never closed", ")"),
    ("a)", 2, "closes no group", "\\)"),
    ("[a", 1, "never closed", "]"),
    ("{2}", 1, "does not follow something to repeat", "\\{"),
    ("a}", 2, "lone }", "\\}"),
    ("*a", 1, "repeats nothing", "\\*"),
    ("\\", 1, "lone backslash", "\\\\"),
    ("caf\u00e9", None, None, None),
    ("a\u200bb", 2, "U+200B (ZERO WIDTH SPACE)", "printable text"),
    ("x\u3000y", 2, "a space other than U+0020", "printable text"),
    ("[发票]", 2, "inside a class", "(?:发|...)"),
    ("tab\there", 4, "control character", "\\x09"),
    ("x" * 501, 1, "longer than 500", "split"),
    ("(?:(?:a{20}){20}){5}", 1, "expands to more than 1000", "smaller repeat counts"),
    (f"a{{{MAX_REPEAT}}}", None, None, None),
])
def test_refusals_name_the_place_and_the_fix(pattern: str, offset: int | None, message: str | None,
                                             hint: str | None) -> None:
    if offset is None:
        assert header_regex(pattern) == pattern
        return
    with pytest.raises(PolicyValueError) as refused:
        header_regex(pattern)
    assert f"at character {offset}" in str(refused.value)
    assert message is not None and message in str(refused.value)
    assert hint is not None and hint in refused.value.hint


def test_a_refusal_is_located_at_the_pattern_in_the_policy_file() -> None:
    text = "header_checks:\n  - {header: Subject, action: reject, pattern: 'a{,3}b'}\n"
    with pytest.raises(PolicyError) as refused:
        load_policy_text(text, "site.yml")
    assert str(refused.value).startswith("site.yml:2:48: header_checks.0.pattern: pattern 'a{,3}b': {,3} is a "
                                         "repeat count for Python but literal text for PCRE2 (Postfix) at character 2 "
                                         "(fix: write {0,3} instead of {,3})")
