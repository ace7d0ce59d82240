"""One campus policy, two delivery filters: real procmail and Pigeonhole's sieve-test file the same messages
(ASCII and Chinese, raw and RFC 2047 encoded, folded) into the same Maildir folders, tagged alike."""

from __future__ import annotations

import base64
import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import EXAMPLE_POLICY, render_policy
from tests.filters.harness import need, procmail, sieve, sieve_home, sievec

TAG = b"X-Mtaharden-Filter: "
CHECKS = [
    {"header": "Subject", "pattern": "(?i)make money fast", "action": "reject"},
    {"header": "X-Mailer", "pattern": "^Mass ?Mailer", "action": "discard"},
    {"header": "Subject", "pattern": "代开|代開", "action": "discard"},
    {"header": "Subject", "pattern": "发票", "action": "hold"},
    {"header": "Subject", "pattern": "^\\[SPAM\\]", "action": "warn"},
]


def b_word(charset: str, text: str) -> str:
    return f"=?{charset}?B?{base64.b64encode(text.encode(charset)).decode()}?="


def q_word(charset: str, text: str) -> str:
    return f"=?{charset}?Q?" + "".join(f"={byte:02X}" if byte > 0x7E or byte in b"=?_ " else chr(byte)
                                         for byte in text.encode(charset)) + "?="


# name -> (header lines, the folder the campus policy files the message into, tagged)
MESSAGES: dict[str, tuple[str, str, bool]] = {
    "ascii-reject": ("Subject: Make MONEY fast today", "Quarantine", False),
    "folded-reject": ("Subject: Hello there, friend\n make money fast", "Quarantine", False),
    "mailer-discard": ("X-Mailer: Mass Mailer 3.1", "Quarantine", False),
    "mailer-other-case": ("X-Mailer: mass mailer", "INBOX", False),
    "raw-utf8-hold": ("Subject: 报销发票", "Junk", True),
    "gb2312-b-hold": (f"Subject: {b_word('gb2312', '发票')}", "Junk", True),
    "gb18030-b-offset-hold": (f"Subject: {b_word('gb18030', '请开发票')}", "Junk", True),
    "utf8-q-hold": (f"Subject: {q_word('utf-8', '请查收发票')}", "Junk", True),
    "big5-b-discard": (f"Subject: {b_word('big5', '代開')}", "Quarantine", False),
    "first-rule-wins": ("Subject: 代开发票", "Quarantine", False),
    "spam-warn": ("Subject: [SPAM] cheap", "Junk", True),
    "spam-not-first": ("Subject: cheap [SPAM]", "INBOX", False),
    "plain": ("Subject: lunch at noon", "INBOX", False),
}


def message(headers: str) -> bytes:
    return (f"From: a@example.org\nTo: b@example.edu.cn\n{headers}\nMessage-ID: <1@example.org>\n\nhello\n"
            ).encode()


def campus() -> dict[str, Any]:
    data: dict[str, Any] = copy.deepcopy(yaml.safe_load(EXAMPLE_POLICY.read_text()))
    data["header_checks"] = CHECKS
    data["targets"]["sieve"]["editheader"] = True
    return data


@pytest.fixture(scope="module")
def filters(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    need("procmail", "sieve-test", "sievec")
    work = tmp_path_factory.mktemp("filters")
    data = campus()
    _, procmail_out = render_policy(data, work / "p", "procmail")
    _, sieve_out = render_policy(data, work / "s", "sieve")
    return procmail_out / "procmailrc", sieve_out / "mtaharden.sieve", work


def where(folders: dict[str, list[bytes]]) -> tuple[str, bool]:
    (folder, (text,)), = folders.items()
    return folder, TAG in text.split(b"\n\n", 1)[0]


def test_the_rendered_script_compiles_with_sievec(filters: tuple[Path, Path, Path]) -> None:
    with sieve_home() as home:
        result = sievec(home, filters[1], "+editheader")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_procmail_and_sieve_file_the_message_alike(filters: tuple[Path, Path, Path], name: str) -> None:
    rcfile, script, work = filters
    headers, folder, tagged = MESSAGES[name]
    by_procmail = where(procmail(rcfile, message(headers), work / name))
    with sieve_home() as home:
        by_sieve = where(sieve(home, script, message(headers), name, extensions="+editheader"))
    assert by_procmail == (folder, tagged)
    assert by_sieve == (folder, tagged)


HOSTILE = 'x"}; discard; stop; #\\y'  # a Sieve string end, commands, a comment and a backslash


@pytest.mark.parametrize("subject", [HOSTILE, "x discard stop y"])
def test_a_pattern_with_quotes_and_commands_stays_one_string(tmp_path: Path, subject: str) -> None:
    """The pattern is the literal text, escaped for each file: only a subject holding it is filed."""
    need("procmail", "sieve-test", "sievec")
    data = campus()
    data["header_checks"] = [{"header": "Subject", "pattern": "".join(
        "\\" + c if c in "\\.^$*+?{}[]()|" else c for c in HOSTILE), "action": "reject"}]
    _, procmail_out = render_policy(data, tmp_path / "p", "procmail")
    _, sieve_out = render_policy(data, tmp_path / "s", "sieve")
    expected = ("Quarantine" if subject == HOSTILE else "INBOX", False)
    mail = message(f"Subject: {subject}")
    assert where(procmail(procmail_out / "procmailrc", mail, tmp_path / "home")) == expected
    with sieve_home() as home:
        assert sievec(home, sieve_out / "mtaharden.sieve").returncode == 0
        assert where(sieve(home, sieve_out / "mtaharden.sieve", mail, "m")) == expected
