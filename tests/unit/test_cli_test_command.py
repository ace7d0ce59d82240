"""``mtaharden test``: one transaction on the command line, or a cases file for CI (exit 0 / 1 / 2)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

POLICY = """\
version: 1
hostname: mx1.example.org
domains: {local: [example.org], relay: [dept.example.org]}
networks: {trusted: [127.0.0.0/8, 192.0.2.0/24]}
dnsbl: [{zone: zen.example, match: ["127.0.0.[2..11]"]}]
access:
  clients: [{match: 198.51.100.0/24, action: reject, message: "go away"}]
  recipients: [{match: "postmaster@", action: permit}]
header_checks: [{header: Subject, pattern: "(?i)make money fast", action: reject}]
"""

CASES = """\
cases:
  - name: a stranger cannot relay
    client: 203.0.113.5
    from: a@stranger.example
    to: [x@elsewhere.example]
    expect: {rcpt: [reject by domains]}
  - name: postmaster stays reachable from a listed client
    client: 203.0.113.5
    listed: [zen.example=127.0.0.3]
    from: a@stranger.example
    to: [user@example.org, postmaster@example.org]
    expect: {rcpt: ["reject by dnsbl[0]", "accept by access.recipients[0]"]}
  - name: spam is refused at the end of DATA
    client: 203.0.113.5
    from: a@stranger.example
    to: [user@example.org]
    headers: ["Subject: MAKE MONEY FAST"]
    expect: {connect: accept, mail: accept, data: "reject by header_checks[0]"}
  - name: a size declared over the limit is refused at MAIL
    client: 203.0.113.5
    from: a@stranger.example
    to: [user@example.org]
    mail_size: 26214401
    expect: {mail: "reject by smtp.max_message_size"}
"""


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mtaharden", "test", *args], capture_output=True, text=True,
                          timeout=60, check=False)


def files(tmp_path: Path, cases: str = CASES) -> tuple[str, str]:
    (tmp_path / "policy.yml").write_text(POLICY)
    (tmp_path / "cases.yml").write_text(cases)
    return str(tmp_path / "policy.yml"), str(tmp_path / "cases.yml")


def test_one_transaction_prints_each_stage_and_the_deciding_element(tmp_path: Path) -> None:
    policy, _ = files(tmp_path)
    result = run(policy, "--client", "198.51.100.9", "--helo", "mail.example.net", "--from", "a@example.net",
                 "--to", "postmaster@example.org", "--to", "x@elsewhere.example")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["connect", "helo", "mail", "rcpt", "rcpt"]
    assert lines[3].split()[1:5] == ["postmaster@example.org", "reject", "5xx", "access.clients[0]"]
    assert lines[4].split()[1:5] == ["x@elsewhere.example", "reject", "5xx", "domains"]


def test_json_output(tmp_path: Path) -> None:
    policy, _ = files(tmp_path)
    result = run(policy, "--client", "192.0.2.7", "--from", "a@example.org", "--to", "x@elsewhere.example",
                 "--header", "Subject: make money fast", "--format", "json")
    assert result.returncode == 0, result.stderr
    decisions = json.loads(result.stdout)["decisions"]
    assert [(d["stage"], d["class"], d["element"]) for d in decisions] == [
        ("connect", "2xx", None), ("helo", "2xx", None), ("mail", "2xx", None), ("rcpt", "2xx", "networks.trusted"),
        ("data", "5xx", "header_checks[0]")]


def test_cases_that_match_exit_0(tmp_path: Path) -> None:
    policy, cases = files(tmp_path)
    result = run(policy, "--cases", cases)
    assert (result.returncode, result.stdout.strip()) == (0, "4 of 4 cases match"), result.stderr


def test_a_case_that_differs_exits_1_with_a_diff(tmp_path: Path) -> None:
    changed = CASES.replace("[reject by domains]", "[accept by domains.relay]")
    policy, cases = files(tmp_path, changed)
    result = run(policy, "--cases", cases)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f"{cases}:2:5: case 'a stranger cannot relay'",
        "-  rcpt x@elsewhere.example: accept by domains.relay",
        "+  rcpt x@elsewhere.example: reject by domains",
        "3 of 4 cases match, 1 differ"]


def test_a_bad_cases_file_exits_2_and_locates_each_problem(tmp_path: Path) -> None:
    bad = CASES.replace("client: 203.0.113.5\n    from", "client: 203.0.113.500\n    from", 1).replace(
        "expect: {rcpt: [reject by domains]}", "expcet: {rcpt: [reject by domains]}").replace(
        "data: \"reject by header_checks[0]\"", "data: maybe")
    policy, cases = files(tmp_path, bad)
    result = run(policy, "--cases", cases)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.splitlines() == [
        f"{cases}:2:5: cases.0.expect: Field required (fix: see 'mtaharden test' in README.md)",
        f"{cases}:3:13: cases.0.client: address '203.0.113.500' is not an IP address "
        "(fix: write an address such as 192.0.2.7 or 2001:db8::7)",
        f"{cases}:6:5: cases.0.expcet: unknown key 'expcet' (fix: did you mean 'expect'?)",
        f"{cases}:18:51: cases.2.expect.data: 'maybe' is not an expected outcome "
        "(fix: write accept, reject or defer, optionally 'by ELEMENT', e.g. 'reject by domains')"]


def test_bad_yaml_and_a_bad_option_exit_2(tmp_path: Path) -> None:
    policy, cases = files(tmp_path, "cases: [{name: x, client: 192.0.2.1, expect: {rcpt: [reject by x[0]]}}]\n")
    result = run(policy, "--cases", cases)
    assert result.returncode == 2 and result.stderr.startswith(f"{cases}:1:"), result.stderr
    result = run(policy, "--client", "192.0.2.1", "--listed", "zen.example=10.0.0.300")
    assert (result.returncode, result.stderr.strip()) == (2, "--listed:1:1: DNSBL answer '10.0.0.300' is not an IP "
                                                             "address (fix: write an address such as 192.0.2.7 or "
                                                             "2001:db8::7)")
    assert run(policy).returncode == 2


def test_the_bundled_example_cases_match_the_example_policy() -> None:
    example = Path(__file__).resolve().parents[2] / "examples"
    result = run(str(example / "policy.yml"), "--cases", str(example / "policy-tests.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_mail_size_and_port_options(tmp_path: Path) -> None:
    """--mail-size is the SIZE= declared at MAIL (refused there over the limit); --port picks the service."""
    policy, _ = files(tmp_path)
    result = run(policy, "--client", "203.0.113.5", "--to", "user@example.org", "--mail-size", "26214401",
                 "--format", "json")
    assert result.returncode == 0, result.stderr
    stages = [(d["stage"], d["verdict"], d["element"]) for d in json.loads(result.stdout)["decisions"]]
    assert stages[-1] == ("mail", "reject", "smtp.max_message_size") and len(stages) == 3
    under = run(policy, "--client", "203.0.113.5", "--to", "user@example.org", "--mail-size", "26214400")
    assert under.stdout.splitlines()[-2].split()[:3] == ["rcpt", "user@example.org", "accept"], under.stdout
    closed = run(policy, "--client", "203.0.113.5", "--port", "587")
    assert closed.returncode == 0 and closed.stdout.split()[:5] == ["connect", "203.0.113.5", "reject", "5xx", "role"]
    bad = run(policy, "--client", "203.0.113.5", "--mail-size", "-1")
    assert bad.returncode == 2 and "--mail-size" in bad.stderr


def test_sender_authentication_and_line_end_facts(tmp_path: Path) -> None:
    """--spf, --dmarc/--dmarc-policy and --bare-newlines (spf:, dmarc:, dmarc_policy:, bare_newlines: in a cases
    file) are the facts the policy's sender_auth and smtp.bare_newlines judge; a wrong value names its option."""
    policy, _ = files(tmp_path)
    strict = ["--set", "sender_auth={spf: {enabled: true, on_fail: reject}, dkim: {enabled: true}, "
                       "dmarc: {enabled: true, honour_reject: true}}", "--set", "smtp.bare_newlines=reject"]
    stranger = ["--client", "203.0.113.5", "--from", "a@stranger.example", "--to", "user@example.org"]
    spf = run(policy, *stranger, *strict, "--spf", "fail")
    assert spf.stdout.splitlines()[-1].split()[:5] == ["rcpt", "user@example.org", "reject", "5xx",
                                                       "sender_auth.spf"], spf.stdout + spf.stderr
    dmarc = run(policy, *stranger, *strict, "--dmarc", "fail", "--dmarc-policy", "reject")
    assert "reject  5xx  sender_auth.dmarc" in dmarc.stdout.splitlines()[-1], dmarc.stdout
    bare = run(policy, *stranger, *strict, "--bare-newlines")
    assert "reject  5xx  smtp.bare_newlines" in bare.stdout.splitlines()[-1], bare.stdout
    assert "accepted" in run(policy, *stranger, "--bare-newlines").stdout.splitlines()[-1]  # normalize, the default
    bad = run(policy, *stranger, "--spf", "maybe")
    assert bad.returncode == 2 and "--spf" in bad.stderr and "softfail" in bad.stderr
    cases = CASES + """\
  - name: with sender authentication off, its facts change nothing
    client: 203.0.113.5
    from: a@stranger.example
    to: [user@example.org]
    spf: fail
    dmarc: fail
    dmarc_policy: quarantine
    bare_newlines: true
    expect: {rcpt: [accept by domains.local], data: accept}
"""
    policy, cases_file = files(tmp_path, cases)
    checked = run(policy, "--cases", cases_file)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    policy, cases_file = files(tmp_path, cases.replace("spf: fail", "spf: failed"))
    wrong = run(policy, "--cases", cases_file)
    assert wrong.returncode == 2 and "cases.yml:" in wrong.stderr and "'softfail'" in wrong.stderr, wrong.stderr
