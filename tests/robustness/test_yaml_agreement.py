"""One YAML: the fast reader (libyaml) and the located one (ruamel) never yield different policies.

The loader screens every character and directive before either reader runs (mtaharden/policy/
characters.py). Here: each character the readers (or a terminal) treat differently, in a comment, a
key, a plain and a quoted value, is refused at its line and column; directives are refused; and two
property tests feed random bytes and random YAML-ish text through the loader, asserting that the
readers agree whenever the fast one decides, or that the loader refuses.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mtaharden.policy import PolicyError, characters, fastyaml, load_policy, load_policy_text
from mtaharden.policy.load import _parse
from tests.unit.test_bad_policies import mtaharden_command

pytestmark = pytest.mark.timeout(120)

HEADER = "version: 1\nrole: mx\nhostname: mx.example.org\ndomains: {local: [example.org]}\n"
# Every class the readers or a screen treat differently: libyaml's extra line breaks, a lone CR,
# tabs, the BOM away from the start, NUL and other C0/C1 controls, DEL, bidi and zero-width
# format characters, separators that look like spaces, private use, noncharacters, lone surrogates.
HIDING = ["\u0085", "\u2028", "\u2029", "\r", "\t", "\ufeff", "\x00", "\x01", "\x1b", "\x7f", "\x80", "\x9b",
          "\u202e", "\u2066", "\u200b", "\u200d", "\u00ad", "\u00a0", "\u3000", "\ue000", "\ufffe", "\ud800"]
PLACES = {
    "comment": "# reviewed{c}networks: {{trusted: [0.0.0.0/0]}}\n",
    "key": "smtp{c}x: {{}}\n",
    "plain value": "banner: mx.example.org{c}ESMTP\n",
    "quoted value": "banner: \"mx.example.org{c}ESMTP\"\n",
}


def _name(character: str) -> str:
    return f"U+{ord(character):04X}"


@pytest.mark.parametrize("place", sorted(PLACES))
@pytest.mark.parametrize("character", HIDING, ids=_name)
def test_each_hiding_character_is_refused_where_it_is(character: str, place: str) -> None:
    line = PLACES[place].format(c=character)
    text = HEADER + line
    with pytest.raises(PolicyError) as caught:
        load_policy_text(text, "hidden.yml")
    first = caught.value.problems[0]
    column = line.index(character) + 1
    assert (first.source, first.line, first.column) == ("hidden.yml", 5, column), str(first)
    described = "carriage return" if character == "\r" else _name(character)
    assert described in first.message and first.hint, str(first)


@pytest.mark.parametrize("directive", ["%YAML 1.1", "%YAML 1.2", "%TAG ! tag:example.org,2000:", "%FOO bar"])
def test_directives_are_refused(directive: str) -> None:
    """``%YAML 1.1`` would bring back 1.1 scalars (``off`` false, ``1:30`` 90); no directive is ever needed."""
    with pytest.raises(PolicyError) as caught:
        load_policy_text(f"{directive}\n---\n{HEADER}smtp: {{disable_vrfy: off}}\n", "directive.yml")
    (problem,) = caught.value.problems
    assert (problem.line, problem.column) == (1, 1) and "directives" in problem.message


def test_a_directive_and_a_hidden_key_on_the_command_line_are_refused_with_nothing_written(tmp_path: Path) -> None:
    secret = "s3cr3t-in-a-comment"
    policy = tmp_path / "policy.yml"
    policy.write_text(f"{HEADER}# {secret}\u2028networks: {{trusted: [0.0.0.0/0]}}\n", encoding="utf-8")
    out = tmp_path / "out"
    result = subprocess.run([*mtaharden_command(), "render", str(policy), "--out", str(out)],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2 and not out.exists()
    assert result.stderr.startswith(f"{policy}:5:{len(secret) + 3}: character U+2028"), result.stderr
    assert secret not in result.stdout + result.stderr
    policy.write_text(f"%YAML 1.1\n---\n{HEADER}", encoding="utf-8")
    result = subprocess.run([*mtaharden_command(), "validate", str(policy)],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2 and result.stderr.startswith(f"{policy}:1:1: YAML directives"), result.stderr


def test_ordinary_text_in_any_script_and_a_leading_bom_are_accepted() -> None:
    policy = load_policy_text(f"\ufeff# Grüße, 日本語, Ελληνικά — “quotes” ✓ 😀\n{HEADER}"
                              "smtp: {banner: \"{hostname} ESMTP\"}  # “ok” ✓\n", "fine.yml")
    assert policy.hostname == "mx.example.org" and policy.smtp.banner == "{hostname} ESMTP"


def test_crlf_line_ends_are_accepted() -> None:
    assert load_policy_text(HEADER.replace("\n", "\r\n"), "crlf.yml").hostname == "mx.example.org"


# --- property: the two readers agree, or the loader refuses --------------------------------------


def plain(value: Any) -> Any:
    """ruamel's round-trip values as the plain values the fast reader builds."""
    if isinstance(value, dict):
        return {plain(key): plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    if type(value).__name__ == "ScalarBoolean" or isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return None if value is None else str(value)


def assert_agree_or_refused(text: str) -> None:
    if characters.problems(text.removeprefix(characters.BOM), "fuzz.yml"):
        with pytest.raises(PolicyError):
            load_policy_text(text, "fuzz.yml")
        return
    text = text.removeprefix(characters.BOM)
    try:
        fast = fastyaml.parse(text)
    except fastyaml.Undecided:
        return  # the fast reader did not decide: the located one alone reads the policy
    try:
        slow = _parse(text, "fuzz.yml")
    except PolicyError as exc:
        raise AssertionError(f"libyaml read {text!r} as {fast!r}, ruamel refused it: {exc}") from None
    assert plain(slow) == fast, text


YAMLISH = st.lists(st.one_of(
    st.sampled_from(["key: ", "- ", "# ", "  ", "\n", ": ", ", ", "[", "]", "{", "}", "'", '"', "---\n", "...\n",
                     "%YAML 1.1\n", "? ", "|\n  ", ">\n  ", "off", "on", "yes", "1:30", "0x1F", "0o17", "1_000",
                     "~", "null", ".inf", "-.5", "+1", "1e3", "2001-12-14", "<<", "=", "!!str ", "&a ", "*a", "\\",
                     "\\u2028", "a", "b1", "é"]),
    st.sampled_from([*HIDING, "\r\n"]),
    st.characters(codec="utf-8"),
), max_size=40).map("".join)


@settings(max_examples=400, deadline=None)
@given(YAMLISH)
@example("---\n...\n...\n")  # libyaml took the stray second document end marker, ruamel refuses it
def test_random_yamlish_text_reads_the_same_on_both_paths_or_is_refused(text: str) -> None:
    assert_agree_or_refused(text)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
@example(b">#")  # libyaml read a block header with a comment glued on as '', ruamel refuses it
@example(b"k: |2#\n   x\n")
def test_random_bytes_through_the_file_loader_agree_or_are_refused(data: bytes) -> None:
    """The whole file path: bytes on disk, strict UTF-8, the screen, both readers, the model."""
    descriptor, name = tempfile.mkstemp(suffix=".yml")
    try:
        os.write(descriptor, data)
        os.close(descriptor)
        try:
            load_policy(name)
        except PolicyError as exc:
            assert all(problem.source == name and problem.line >= 1 for problem in exc.problems)
    finally:
        os.unlink(name)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return  # the loader refused it above, located
    assert_agree_or_refused(text)
