"""The one fitness predicate: an allow-list that refuses every character that breaks or hides a line."""

from __future__ import annotations

import unicodedata

import pytest

from mtaharden.render import RenderError
from mtaharden.targets.kit.escape import Unexpressible, fit, unfit

LINE_BREAKERS = ["\n", "\r", "\r\n", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]


@pytest.mark.parametrize("text", ["", "plain text", "mx.example.org", "~!@#$%^&*()_+`-={}[]|\\:;\"'<>?,./ ",
                                  "café", "Grüße", "日本語", "😀 ✓", "x\u0301"])
def test_printable_text_is_fit(text: str) -> None:
    assert unfit(text) is None and unfit(text, breaks=True) is None
    assert fit(text, "a test file") == text


@pytest.mark.parametrize("char", [chr(code) for code in (*range(0x20), 0x7F)])
def test_every_ascii_control_character_is_unfit(char: str) -> None:
    why = unfit(f"a{char}b")
    assert why is not None and why.startswith(f"a control character U+{ord(char):04X}")


@pytest.mark.parametrize("text", LINE_BREAKERS)
def test_every_line_break_python_splitlines_knows_is_unfit_on_one_line(text: str) -> None:
    assert len(f"a{text}b".splitlines()) == 2
    assert unfit(f"a{text}b") is not None


@pytest.mark.parametrize("text", [t for t in LINE_BREAKERS if t != "\n"])
def test_breaks_allow_line_feed_only(text: str) -> None:
    assert unfit("one\ntwo\n", breaks=True) is None
    assert unfit(f"one\ntwo{text}three", breaks=True) is not None


@pytest.mark.parametrize("char", ["\x80", "\x85", "\x9f",  # C1 controls
                                  "\u00a0", "\u3000",  # spaces a reader may not split at (Zs)
                                  "\u200b", "\u200d", "\ufeff", "\u202e", "\u2066",  # zero-width and bidi (Cf)
                                  "\ue000", "\U000f0000",  # private use
                                  "\ud800", "\udfff",  # lone surrogates (surrogateescape'd bytes)
                                  "\u0378", "\U000e0001"])  # unassigned, a tag character
def test_non_ascii_outside_the_allow_list_is_unfit(char: str) -> None:
    assert unicodedata.category(char)[0] not in "LMNPS"
    assert unfit(f"café{char}", breaks=True, tabs=True) is not None


def test_tabs_only_when_allowed() -> None:
    assert unfit("key\tvalue") == "a control character U+0009 (tab)"
    assert unfit("key\tvalue", tabs=True) is None
    assert unfit("key\tvalue\nkey2\tvalue", tabs=True) is not None
    assert unfit("key\tvalue\nkey2\tvalue", tabs=True, breaks=True) is None


def test_the_reason_names_the_first_offending_character_in_user_terms() -> None:
    assert unfit("a\u2028b\x00") == "the character U+2028 (LINE SEPARATOR)"
    assert unfit("é\u2029b\x00") == "the character U+2029 (PARAGRAPH SEPARATOR)"
    assert unfit("é\x00\u2029") == "a control character U+0000 (NUL)"
    assert unfit("x\x85") == "a control character U+0085"
    assert unfit("\ud800") == "the character U+D800 (lone surrogate)"


def test_fit_raises_unexpressible_naming_the_place_and_not_the_text() -> None:
    secret = "hunter2\nsecret"
    with pytest.raises(Unexpressible) as caught:
        fit(secret, "a PowerShell string")
    assert str(caught.value) == "refusing to write a control character U+000A (line feed) into a PowerShell string"
    assert "hunter2" not in str(caught.value)


def test_unexpressible_is_what_the_cli_and_validators_catch() -> None:
    """The CLI reports RenderError as bad input; pydantic turns a ValueError into a located policy error."""
    assert issubclass(Unexpressible, RenderError) and issubclass(Unexpressible, ValueError)


def test_a_large_table_is_judged_whole() -> None:
    keys = "\n".join(f"host{i}.example.org\tOK" for i in range(100_000))
    assert unfit(keys, breaks=True, tabs=True) is None
    assert unfit(keys + "\u2028", breaks=True, tabs=True) == "the character U+2028 (LINE SEPARATOR)"
    assert unfit("ü" + keys + "\x1b", breaks=True, tabs=True) == "a control character U+001B (escape)"


@pytest.mark.parametrize("breaks", [False, True])
@pytest.mark.parametrize("tabs", [False, True])
def test_the_ascii_fast_path_and_the_unicode_path_agree_on_every_ascii_character(breaks: bool, tabs: bool) -> None:
    for code in range(0x80):
        char = chr(code)
        fast, general = unfit(f"a{char}", breaks=breaks, tabs=tabs), unfit(f"é{char}", breaks=breaks, tabs=tabs)
        assert fast == general, (code, fast, general)
        assert (fast is None) is (" " <= char <= "~" or (breaks and char == "\n") or (tabs and char == "\t"))
