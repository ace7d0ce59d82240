"""Header patterns Python's ``re`` takes but an engine a target runs refuses or reads differently.

Before the portable grammar, ``validate`` checked a pattern with Python's ``re`` only, and Postfix then
skipped what its PCRE2 could not compile (with a log warning nobody reads) or matched something else.
Each pattern here is first shown to be such a case, by the very engines (Python ``re``, the PCRE2
library with Postfix's options, glibc regcomp); then the real command must refuse it: exit 2, the
message at the pattern's own ``file:line:col`` with a fix, nothing written. Last, a real Postfix loads
every pattern the validator accepts from a sample set and matches exactly what Python predicts.
"""

from __future__ import annotations

import re
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest

from mtaharden.engines import pcre2
from mtaharden.engines.regcomp import REG_EXTENDED, REG_NOSUB, regcomp_error
from mtaharden.policy import PolicyError, load_policy_text
from mtaharden.policy.pattern import parse
from tests.conftest import render_policy
from tests.realmta.harness import run
from tests.unit.test_cli import command
from tests.unit.test_pattern_differential import predicted

pytestmark = pytest.mark.skipif(not pcre2.available(), reason="libpcre2-8 is not installed")


@dataclass(frozen=True)
class Case:
    """``pattern`` and the proof that an engine disagrees with Python about it.

    ``engine``: "pcre2" or "ere" refuses to compile it; "reads" means Python and PCRE2 (Postfix's
    options) answer differently on ``subject``; "line" means they do once the pattern sits in the
    Postfix line the old renderer wrote (``^`` taken as anchoring every alternative).
    """

    pattern: str
    engine: str
    subject: str = ""


CORPUS = (
    Case("a{,3}b", "reads", "aab"),  # a quantifier for Python, literal text for PCRE2 10.42
    Case("a{,}b", "reads", "aab"),
    Case("\\d{,2}x", "reads", "12x"),
    Case("[ab]{,2}c", "reads", "abc"),
    Case("end\\Z", "reads", "the end\n"),  # Python: very end; PCRE2: also before a final newline
    Case("(?i)END\\Z", "reads", "the end\n"),
    Case("\\v", "reads", "\n"),  # Python: the VT byte; PCRE2: any vertical white space
    Case("[[:^alpha:]]", "reads", "1"),  # Python: a set of [ : ^ a l p h, then ]; PCRE2: not a letter
    Case("[[:foo:]]", "pcre2"),
    Case("[[.a.]]", "pcre2"),
    Case("[[=a=]]", "pcre2"),
    Case("[:alpha:]", "pcre2"),
    Case("[[:alpha:]-z]", "pcre2"),
    Case("x{65536}", "pcre2"),
    Case("a{1000000}", "pcre2"),
    Case("(?:(?:a{100}){100}){100}", "pcre2"),  # "regular expression is too large"
    Case("\\u53d1", "pcre2"),
    Case("\\u0041", "pcre2"),
    Case("\\U0001F600", "pcre2"),
    Case("\\N{DIGIT ONE}", "pcre2"),
    Case("(?u)spam", "pcre2"),
    Case("(?a)spam", "pcre2"),
    Case("^spam|eggs", "line", "fresh eggs"),
    Case("^(?:x)|ham", "line", "green ham"),
    Case("x{40000}", "ere"),  # beyond glibc's RE_DUP_MAX
    Case("a{65535}", "ere"),
    Case("(?:a{200}){200}", "ere"),
    Case("(?P<word>spam)", "ere"),
    Case("(?=x)x", "ere"),
    Case("(?<=a)b", "ere"),
    Case("(?>ab)", "ere"),
    Case("(?#comment)spam", "ere"),
    Case("(?i:spam)eggs", "ere"),
    Case("(?s)a.b", "ere"),
    Case("\\b{wb}", "ere"),
)
# Refused although every engine here reads them alike: they match every value (an empty alternative,
# a pattern that may match nothing), .NET lacks them (possessive quantifiers), or they are not regular
# (back-references), or Python has already announced a change of meaning (set operations in a class).
ALSO_REFUSED = ("a|", "|a", "a||b", "()", "spam()", "x*", "(?:ab)?", "a{0}", "a++", "a*+", "a{2}+", "(a)\\1",
                "\\012", "\\0", "[a&&b]", "[a~~b]", "[a||b]", "[]a]", "^^a", "a$$", "[\\b]", "\\A spam", "")
# Python refuses these too (kept so the grammar's own message is checked for them).
PYTHON_REFUSES = ("\\h", "\\K", "\\Qa.b\\E", "(?|a|b)", "[\\w-z]", "a**", "a{3}{2}", "\\z", "(*UTF8)spam",
                  "\\x{41}", "\\p{L}", "a(?i)b", "\\R", "\\X", "\\e", "\\ca", "\\o{101}", "(?'n'a)", "\\g1")


def python_compiles(pattern: str) -> bool:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # FutureWarning: "possible nested set"
        try:
            re.compile(pattern)
        except re.error:
            return False
    return True


def pcre2_refuses(pattern: str) -> bool:
    try:
        pcre2.check(pattern, pcre2.POSTFIX_HEADER_OPTIONS)
    except pcre2.CompileError:
        return True
    return False


def test_the_corpus_is_large_enough() -> None:
    pcre2_cases = [c for c in CORPUS if c.engine in ("pcre2", "reads", "line")]
    assert len(pcre2_cases) >= 20
    assert len({c.pattern for c in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize("case", CORPUS, ids=[c.pattern for c in CORPUS])
def test_python_takes_it_and_an_engine_disagrees(case: Case) -> None:
    assert python_compiles(case.pattern)
    if case.engine == "pcre2":
        assert pcre2_refuses(case.pattern)
    elif case.engine == "ere":
        assert regcomp_error(case.pattern, REG_EXTENDED | REG_NOSUB) is not None
    elif case.engine == "reads":
        python = re.search(case.pattern, case.subject) is not None
        assert pcre2.search(case.pattern, case.subject.encode(), pcre2.POSTFIX_HEADER_OPTIONS) is not python
    else:  # the line the old renderer wrote for a pattern starting with ^
        python = re.search(case.pattern, case.subject) is not None
        old_line = pcre2.postfix_header_regex("Subject", case.pattern[1:], anchored=True)
        assert pcre2.search(old_line, f"Subject: {case.subject}".encode(), pcre2.POSTFIX_HEADER_OPTIONS) is not python


def yaml_single_quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


POLICY = "header_checks:\n  - header: Subject\n    action: reject\n    pattern: {pattern}\n"
REFUSED = [c.pattern for c in CORPUS] + list(ALSO_REFUSED) + list(PYTHON_REFUSES)


@pytest.mark.parametrize("pattern", REFUSED)
def test_the_validator_refuses_it_at_its_place(pattern: str) -> None:
    with pytest.raises(PolicyError) as refused:
        load_policy_text(POLICY.format(pattern=yaml_single_quoted(pattern)), "policy.yml")
    (problem,) = refused.value.problems
    assert (problem.line, problem.column, problem.path) == (4, 14, "header_checks.0.pattern"), str(problem)
    assert problem.hint


def test_the_command_exits_2_with_every_pattern_located_and_writes_nothing(tmp_path: Path) -> None:
    """One policy holds every refused pattern: the real command names each at its own line, with a fix."""
    policy = tmp_path / "policy.yml"
    entries = "".join(f"  - header: Subject\n    action: reject\n    pattern: {yaml_single_quoted(p)}\n"
                      for p in REFUSED)
    policy.write_text("header_checks:\n" + entries)
    for args in (["validate", str(policy)], ["render", str(policy), "--out", str(tmp_path / "out")]):
        result = subprocess.run([*command(), *args], capture_output=True, text=True, timeout=120, check=False)
        assert result.returncode == 2, result.stdout + result.stderr
        assert result.stdout == ""
        lines = result.stderr.splitlines()
        assert len(lines) == len(REFUSED), result.stderr
        for index, line in enumerate(lines):
            where = rf"{re.escape(str(policy))}:{4 + 3 * index}:14: header_checks\.{index}\.pattern: "
            assert re.fullmatch(where + r".+ \(fix: .+\)", line), (REFUSED[index], line)
    assert not (tmp_path / "out").exists()


# --- a real Postfix reads every accepted pattern as Python predicts -----------------------------

SAMPLES = (
    "make money", "(?i)make money fast", "^Mass ?Mailer", "^(?:re|fwd?): ", "\\d{3,}", "(?i)v[i1]agra", "x$",
    "\\$\\d+(?:\\.\\d\\d)?", "[[:upper:]]{4,}", "(?i)[[:upper:]]{4,}", "^[^@]+@", "a.b", "\\bwin\\b", "\\Bing\\b",
    "[\\]\\[]", "[\\^a]", "[a-c\\-]x", "\\x41\\x2f", "/path/", "[/]", "a/b", "#hash", "a\\ b", "\\(\\)", "[.]{2}",
    "[:x]", "[=]", "(?:ab|cd)+?e", "(a|b){2}c", "^\\s*$", "^[[:space:]]+x", "\\S+@\\S+", "[^[:print:]]",
    "[[:punct:]]{3}", "[[:xdigit:]]{8}", "\\w+\\.exe$", "(?i)^subject: ", "'single'", "\"double\"", "`m4'",
    "$v", "a{0,2}b", "a{2}", "a{2,}", "[[:alpha:]_][[:alnum:]_]*", "^=\\?utf-8\\?b\\?", "(?i)=\\?[a-z0-9-]+\\?q\\?",
    *(c.pattern for c in CORPUS), *ALSO_REFUSED,
)
VALUES = ("make money fast", "MAKE MONEY FAST", "Mass Mailer 2", "  MassMailer", "Re: hello", "fwd: x", "12345",
          "costs $12.50", "ABCD shouting", "abcd quiet", "user@example.org", "aXb", "a/b c", "you win now",
          "testing", "[x]", "^a", "-x bx", "A/", "/path/to", "#hash", "a b", "()", "..", ":", "=", "abcde",
          "ababe", "abc", "   ", "\t x", "deadbeef", "run.exe", "subject: x", "'single'", "\"double\"", "`m4'",
          "$v", "bb", "aab", "_id9", "=?utf-8?b?SGk=?=", "=?ISO-8859-1?Q?caf=E9?=", "", "end\\Z", "eggs")


def test_postfix_matches_every_accepted_pattern_as_python_predicts(postfix_tools: None, tmp_path: Path) -> None:
    accepted = []
    for pattern in SAMPLES:
        try:
            load_policy_text(POLICY.format(pattern=yaml_single_quoted(pattern)), "policy.yml")
        except PolicyError:
            continue
        accepted.append(pattern)
    assert len(accepted) >= 45, accepted
    checks = [{"header": f"X-Check-{index}", "pattern": pattern, "action": "reject", "message": f"hit {index}"}
              for index, pattern in enumerate(accepted)]
    _, out = render_policy({"header_checks": checks}, tmp_path / "r", "postfix")
    keys = [f"X-Check-{index}: {value}" for index in range(len(accepted)) for value in VALUES]
    result = run(["postmap", "-c", str(out), "-q", "-", f"pcre:{out}/header_checks.pcre"], check=False,
                 input_text="".join(key + "\n" for key in keys))
    assert "warning" not in result.stderr and result.stderr == "", result.stderr
    replies = dict(line.rpartition("\t")[::2] for line in result.stdout.splitlines())  # a key may hold a tab
    assert all(reply == "REJECT hit " + key.split(":")[0].removeprefix("X-Check-") for key, reply in replies.items())
    found = set(replies)
    expected = {f"X-Check-{index}: {value}" for index, pattern in enumerate(accepted) for value in VALUES
                if predicted(parse(pattern), " " + value)}
    assert found - expected == set(), "Postfix matched where Python did not"
    assert expected - found == set(), "Python matched where Postfix did not"
    assert expected, "the sample values match nothing at all"
