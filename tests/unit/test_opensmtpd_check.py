"""Every OpenSMTPD render parses with the real ``smtpd -n`` (Debian 12's 6.8, unpacked: it conflicts with
Postfix), and hostile reply texts stay one string: smtpd accepts the file, and a reading of each quoted token
by OpenSMTPD's lexer rules gives back exactly the policy's text, so no value injects a rule."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, render_policy

ROOT = Path(os.environ.get("MTAHARDEN_OPENSMTPD_ROOT", "/var/cache/mtaharden/opensmtpd-root"))
SMTPD = ROOT / "usr/sbin/smtpd"

HOSTILE = [
    'x" filter evil phase connect match src <trusted> disconnect "421 bye',
    '" match from any for any action "relay',
    "# not a comment } { , <trusted> $macro include \"/etc/passwd\"",
    "ends with a quote \"",
    "'single' and \"double\" quotes, 100% %{rcpt}",
]


def opensmtpd() -> Path:
    """The real smtpd, or a skip (a failure in CI, where a missing smtpd must not pass unnoticed)."""
    if not SMTPD.is_file() or os.geteuid() != 0:
        problem = f"needs root and {SMTPD} (scripts/bootstrap.sh --test unpacks tests/packages/opensmtpd.unpack)"
        if os.environ.get("CI"):
            pytest.fail(problem)
        pytest.skip(problem)
    return SMTPD


@pytest.fixture(scope="module")
def smtpd() -> Path:
    return opensmtpd()


def smtpd_accepts(smtpd: Path, conf: Path) -> None:
    """``smtpd -n -f conf`` says the configuration is OK."""
    result = subprocess.run([str(smtpd), "-n", "-f", str(conf)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and "configuration OK" in result.stdout + result.stderr, result.stderr


def strings(line: str) -> list[str]:
    """The quoted tokens of a line as OpenSMTPD's lexer (parse.y, yylex) reads them: ``\\`` before the quote, a
    blank or a line end is dropped, any other backslash is kept; the string ends at the first bare quote."""
    found, position = [], 0
    while (start := line.find('"', position)) != -1:
        text, position = "", start + 1
        while line[position] != '"':
            char = line[position]
            if char == "\\" and line[position + 1] in '" \t':
                position += 1
                char = line[position]
            text += char
            position += 1
        found.append(text)
        position += 1
    return found


def _policy(**extra: Any) -> dict[str, Any]:
    return {"hostname": "mx.example.test", "domains": {"local": ["example.test"], "relay": [".relay.test"]},
            "tls": {"cert": "/etc/c.pem", "key": "/etc/k.pem"}, "auth": {"enabled": True},
            "targets": {"opensmtpd": {"allow_unsupported": ["tls", "auth", "dnsbl", "header_checks"]}}, **extra}


def test_the_example_policy_parses(smtpd: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    subprocess.run([sys.executable, "-m", "mtaharden", "render", "examples/policy.yml", "--target", "opensmtpd",
                    "--out", str(out)],
                   cwd=REPO, check=True, capture_output=True, timeout=120)
    smtpd_accepts(smtpd, out / "opensmtpd" / "smtpd.conf")


@pytest.mark.parametrize("role", ["mx", "mx+submission", "submission", "relay-only", "null-client"])
def test_every_role_parses(smtpd: Path, tmp_path: Path, role: str) -> None:
    data = _policy(role=role, access={"clients": [{"match": "192.0.2.0/24", "action": "defer"}],
                                           "helo": [{"match": "2001:db8::7", "action": "permit"}]})
    _, out = render_policy(data, tmp_path, "opensmtpd")
    smtpd_accepts(smtpd, out / "smtpd.conf")


def test_without_tls_and_auth_it_parses(smtpd: Path, tmp_path: Path) -> None:
    _, out = render_policy({"domains": {"local": ["example.test"]}}, tmp_path, "opensmtpd")
    smtpd_accepts(smtpd, out / "smtpd.conf")


def test_hostile_reply_texts_inject_nothing(smtpd: Path, tmp_path: Path) -> None:
    lists = ("clients", "helo", "senders", "recipients")
    matches = {"clients": "192.0.2.{}/32", "helo": "bad{}.example", "senders": "@spam{}.example",
               "recipients": "closed{}@example.test"}
    access = {name: [{"match": matches[name].format(n), "action": "reject", "message": text}
                     for n, text in enumerate(HOSTILE)] for name in lists}
    _, out = render_policy(_policy(access=access), tmp_path, "opensmtpd")
    conf = (out / "smtpd.conf").read_text()
    smtpd_accepts(smtpd, out / "smtpd.conf")
    replies = [strings(line)[-1] for line in conf.splitlines() if line.startswith("filter ") and " reject " in line]
    assert replies == [f"550 5.7.1 {text.strip()}" for _ in lists for text in HOSTILE]
    # one directive per line: every line starts with a directive the target writes, none with an injected one
    firsts = {line.split()[0] for line in conf.splitlines() if line and not line.startswith("#")}
    assert firsts == {"smtp", "table", "filter", "listen", "action", "match"}
    assert sum(line.startswith("match ") for line in conf.splitlines()) == 5


def test_a_reply_text_with_a_backslash_is_refused_at_exit_2(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yml"
    policy.write_text('access:\n  clients:\n    - {match: 192.0.2.1/32, action: reject, message: "a\\\\b"}\n')
    result = subprocess.run([sys.executable, "-m", "mtaharden", "render", str(policy), "--target", "opensmtpd",
                             "--out", str(tmp_path / "out")], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "opensmtpd: refusing to write a backslash" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out" / "opensmtpd").exists()
