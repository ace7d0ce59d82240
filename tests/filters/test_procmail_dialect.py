"""The procmail translation read by procmail itself: each policy pattern matches the same one-line values in
procmail as in the policy's own reading (Python's, tests/unit/test_pattern.py), and what procmail's dialect
cannot say is refused by name."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from mtaharden.policy.pattern import parse, python_regex
from mtaharden.targets.kit.escape import Unexpressible
from mtaharden.targets.procmail import egrep
from tests.filters.harness import TIMEOUT, delivered, need

# pattern -> values to try (each is matched by one and not by another)
CASES: dict[str, tuple[str, ...]] = {
    "a{2,3}b": ("ab", "aab", "aaab", "xaaaab"),
    "^x{2,}$": ("x", "xx", "xxxxx", "xxy"),
    "(ab|cd){2}": ("abcd", "abab", "abxcd"),
    "[\\]\\^$\\\\\\-]z": ("]z", "^z", "$z", "\\z", "-z", "az"),
    "[^\\]a-c]z": ("]z", "bz", "dz"),
    "\\d+\\.\\d": ("v1.2", "v1x2", "1."),
    "\\w\\W\\s\\S": ("a; b", "a;bb", "_! x"),
    "[[:upper:][:digit:]]{3}": ("AB1", "Ab1", "ZZZ"),
    "[[:punct:]]x": ("!x", "ax", "~x", "[x"),
    "^\\$HOME\\|\\(\\)\\*\\+\\?\\[": ("$HOME|()*+?[", "HOME|()*+?["),
    "(?i)^re: (fwd|aw):": ("RE: AW: hi", "re: fwd: x", "re: x"),
    "Mass ?Mailer$": ("Mass Mailer", "MassMailer", "Mass Mailer 2", "mass mailer"),
    "a/b<c>d": ("a/b<c>d", "abcd"),
    "x.y|q": ("x-y", "xy", "q", "a"),
    "(a|b)?c": ("c", "ac", "d"),
}


def procmail_matches(rcfile: Path, value: str, home: Path) -> bool:
    home.mkdir()
    (home / "Maildir").mkdir()
    mail = f"From: a@example.org\nSubject: {value}\n\nbody\n".encode()
    result = subprocess.run(["procmail", "-m", f"HOME={home}", f"DEFAULT={home}/Maildir/", str(rcfile)],
                            input=mail, capture_output=True, timeout=TIMEOUT, check=False)
    assert result.returncode == 0 and not result.stderr, result.stderr
    return "Hit" in delivered(home / "Maildir")


@pytest.mark.parametrize("text", sorted(CASES))
def test_procmail_reads_the_translation_as_the_policy_does(tmp_path: Path, text: str) -> None:
    need("procmail")
    pattern = parse(text)
    flags = " D" if egrep.case_sensitive(pattern) else ""
    rcfile = tmp_path / "rc"
    rcfile.write_text(f":0{flags}\n* {egrep.condition('Subject', pattern, egrep.ascii_body(pattern))}\n"
                      "$HOME/Maildir/.Hit/\n")
    expected = {value: bool(python_regex(pattern).search(value)) for value in CASES[text]}
    found = {value: procmail_matches(rcfile, value, tmp_path / str(index)) for index, value in enumerate(CASES[text])}
    assert found == expected
    assert True in expected.values() and False in expected.values()  # each case can fail both ways


@pytest.mark.parametrize(("text", "why"), [("\\bword", "word boundaries"), ("a\\tb", "control character"),
                                           ("[\\x01-\\x1f]", "in a class")])
def test_what_procmail_cannot_say_is_refused_by_name(text: str, why: str) -> None:
    with pytest.raises(Unexpressible, match=why):
        egrep.ascii_body(parse(text))


def test_no_condition_ends_in_a_backslash_or_says_a_procmail_escape() -> None:
    """A final backslash continues the line; \\< \\> \\/ mean something else in procmail."""
    body = egrep.ascii_body(parse("a\\\\"))
    assert not body.endswith("\\") and "[\\]" in body
    for text in ("a<b", "a>b", "a/b"):
        assert "\\" not in egrep.ascii_body(parse(text))
