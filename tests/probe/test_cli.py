"""`mtaharden probe` through click: exit codes, JSON schema shape, JUnit, usage errors, secrets."""

from __future__ import annotations

import json
import socket
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from mtaharden.probe import CASES
from mtaharden.probe.cli import probe
from mtaharden.probe.leaks import PLACES
from mtaharden.probe.report import SCHEMA_VERSION
from tests.probe.fakes import FakeSmtp, open_rcpt

Serve = Callable[[FakeSmtp], FakeSmtp]
FAST = ["--timeout", "2", "--deadline", "20"]


def run(*args: str) -> Result:
    return CliRunner().invoke(probe, [*FAST, *args], catch_exceptions=False)


def _unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_closed_host_exits_0_with_a_table(serve: Serve) -> None:
    server = serve(FakeSmtp())
    result = run(server.target)
    assert result.exit_code == 0, result.output
    assert "CLOSED" in result.output and "nmap-01" in result.output


def test_open_host_exits_1(serve: Serve) -> None:
    result = run(serve(FakeSmtp(rcpt=open_rcpt)).target)
    assert result.exit_code == 1
    assert "SUSPECT" in result.output and "not proven relayed" in result.output


def test_unreachable_host_exits_2_unless_another_has_findings(serve: Serve) -> None:
    dead = f"127.0.0.1:{_unused_port()}"
    assert run(dead).exit_code == 2
    assert run(dead, serve(FakeSmtp()).target).exit_code == 2
    assert run(dead, serve(FakeSmtp(rcpt=open_rcpt)).target).exit_code == 1


def test_json_schema_shape(serve: Serve) -> None:
    closed, relay = serve(FakeSmtp()), serve(FakeSmtp(rcpt=open_rcpt))
    result = run("--format", "json", closed.target, relay.target)
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert data["schema_version"] == SCHEMA_VERSION == 3
    assert data["exit_code"] == 1 and data["tool"]["name"] == "mtaharden"
    assert [host["status"] for host in data["hosts"]] == ["closed", "suspect"]
    host = data["hosts"][0]
    assert set(host) == {"target", "host", "port", "status", "address", "source_address", "server_name", "banner",
                         "proof", "tls", "duration_s", "error", "warnings", "counts", "cases", "checks",
                         "findings"}
    assert host["target"] == closed.target and host["port"] == closed.port
    assert host["banner"] == {"code": 220, "lines": ["mx.example.test ESMTP"]}
    assert set(host["counts"]) == {"relayed", "not-relayed", "accepted", "refused", "deferred", "not-tested", "error"}
    assert len(host["cases"]) == len(CASES)
    case = host["cases"][0]
    assert set(case) == {"id", "description", "source", "verdict", "mail", "rcpt", "data_reply", "detail"}
    assert case["mail"] == {"command": "MAIL FROM:<>", "reply": {"code": 250, "lines": ["2.1.0 Ok"]}}
    assert case["rcpt"]["reply"]["code"] == 554 and case["verdict"] == "refused"
    assert all(set(check) == {"id", "description", "status", "detail", "element", "declared"}
               for check in host["checks"])


def test_junit_file_parses(serve: Serve, tmp_path: Path) -> None:
    closed, relay = serve(FakeSmtp()), serve(FakeSmtp(rcpt=open_rcpt))
    junit = tmp_path / "probe.xml"
    result = run("--junit", str(junit), closed.target, relay.target)
    assert result.exit_code == 1
    root = ET.parse(junit).getroot()
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert [suite.get("name") for suite in suites] == [closed.target, relay.target]
    assert all(len(suite.findall("testcase")) == len(CASES) + len(PLACES) for suite in suites)  # + leak checks
    assert suites[0].get("failures") == "0" and suites[0].get("skipped") == "1"
    assert int(suites[1].get("failures", "0")) == len(CASES) - 1
    assert root.get("tests") == str(2 * (len(CASES) + len(PLACES)))


def test_hosts_file_and_policy(serve: Serve, tmp_path: Path) -> None:
    server = serve(FakeSmtp())
    hosts = tmp_path / "hosts.txt"
    hosts.write_text(f"# fleet\n{server.target}  # the fake\n\n")
    policy = tmp_path / "policy.yml"
    policy.write_text("version: 1\ndomains: {local: [example.test]}\nnetworks: {trusted: [10.0.0.0/8]}\n")
    result = run("-i", str(hosts), "--policy", str(policy), "--format", "json")
    data = json.loads(result.output)
    assert [check["id"] for check in data["hosts"][0]["checks"]] == [
        "banner", "banner-policy", "auth-after-tls", "local-domain:example.test", "vrfy", "expn",
        *[f"leaks:{place}" for place in PLACES]]
    assert result.exit_code == 0


def test_policy_trusting_the_probe_is_inconclusive(serve: Serve, tmp_path: Path) -> None:
    policy = tmp_path / "policy.yml"
    policy.write_text("version: 1\ndomains: {local: [example.test]}\n")  # default trusted: 127.0.0.0/8
    result = run("--policy", str(policy), serve(FakeSmtp()).target)
    assert result.exit_code == 3
    assert "WARNING" in result.output and "INCONCLUSIVE" in result.output


def test_bad_policy_exits_2(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yml"
    policy.write_text("version: 1\ndomainz: {}\n")
    result = run("--policy", str(policy), "127.0.0.1:25")
    assert result.exit_code == 2
    assert "domainz" in result.output


def test_password_comes_from_a_file_and_is_never_shown(serve: Serve, tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("hunter2-secret\n")
    result = run("--format", "json", "--auth-user", "alice", "--auth-password-file", str(secret),
                 serve(FakeSmtp()).target)
    assert "hunter2" not in result.output
    checks = json.loads(result.output)["hosts"][0]["checks"]
    assert checks[0]["id"] == "auth-relay" and checks[0]["status"] == "error"  # the fake offers no AUTH


@pytest.mark.parametrize("args", [
    [],                                                  # no host
    ["mx.example.test:99999"],                           # bad port
    ["[not-v6]:25"],                                     # bad IPv6
    ["--confirm", "127.0.0.1:25"],                       # --confirm without --canary
    ["--canary", "127.0.0.1:2500", "127.0.0.1:25"],      # --canary without --confirm
    ["--auth-user", "alice", "127.0.0.1:25"],            # user without password file
    ["--external-domain", "bad domain", "127.0.0.1:25"],
    ["--source-address", "not-an-ip", "127.0.0.1:25"],
])
def test_usage_errors_exit_2(args: list[str]) -> None:
    assert run(*args).exit_code == 2


def test_confirm_with_canary(serve: Serve) -> None:
    server = serve(FakeSmtp(rcpt=open_rcpt))
    canary = f"127.0.0.1:{_unused_port()}"
    result = run("--format", "json", "--confirm", "--canary", canary, "--confirm-wait", "0.2", server.target)
    assert result.exit_code == 1
    cases = json.loads(result.output)["hosts"][0]["cases"]
    assert {case["verdict"] for case in cases} == {"accepted", "not-tested"}
    accepted = [case for case in cases if case["verdict"] == "accepted"]
    assert all(case["data_reply"]["code"] == 250 for case in accepted if "not proven" not in case["detail"])
    assert [case["data_reply"] for case in accepted if "not proven" in case["detail"]] == [None, None]


def test_confirm_refuses_a_foreign_domain_that_could_reach_a_real_third_party() -> None:
    from click.testing import CliRunner

    from mtaharden.probe.cli import probe

    result = CliRunner().invoke(probe, ["127.0.0.1:1", "--confirm", "--canary", "127.0.0.1:2",
                                        "--external-domain", "gmail.com"])
    assert result.exit_code == 2
    assert "reserved top-level domain" in result.output


def test_jsonl_streams_one_record_per_host_then_a_summary(serve: Serve) -> None:
    closed, relay = serve(FakeSmtp()), serve(FakeSmtp(rcpt=open_rcpt))
    document = json.loads(run("--format", "json", closed.target, relay.target).output)
    result = run("--format", "jsonl", closed.target, relay.target)
    assert result.exit_code == 1 == document["exit_code"]
    *hosts, summary = [json.loads(line) for line in result.output.splitlines()]
    assert {host["target"]: host["status"] for host in hosts} == {closed.target: "closed", relay.target: "suspect"}
    for host in hosts:  # each line is a document's host entry, tagged
        assert set(host) == {"record", "schema_version", *document["hosts"][0]}
        assert host["record"] == "host" and host["schema_version"] == SCHEMA_VERSION
    assert summary == {"record": "summary", "schema_version": SCHEMA_VERSION, "tool": document["tool"],
                       "exit_code": 1, "hosts": 2, "statuses": {"closed": 1, "suspect": 1}}


def test_a_long_fleet_gets_plain_lines_not_a_table(serve: Serve, monkeypatch: pytest.MonkeyPatch) -> None:
    closed, relay = serve(FakeSmtp()), serve(FakeSmtp(rcpt=open_rcpt))
    table = run(closed.target, relay.target).output
    assert table.splitlines()[0].strip() == "relay probe of 2 endpoints"  # the summary table's title
    monkeypatch.setattr("mtaharden.probe.report.TABLE_MAX_HOSTS", 1)
    result = run(closed.target, relay.target)
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0].startswith((f"{closed.target}  closed  ", f"{relay.target}  suspect  "))  # in finishing order
    assert any(line.startswith(f"{closed.target}  closed  ") and "refused" in line for line in lines)
    assert lines[-1] == "relay probe of 2 endpoints: 1 closed, 1 suspect"
    assert "SUSPECT" in result.output and "not proven relayed" in result.output  # details of the host not clean
    assert "CLOSED" not in result.output  # a clean host is its line only


def test_json_findings_name_each_case_and_check_that_stands_against_the_host(
        serve: Serve) -> None:
    """The verify role prints ``findings`` as they are: which verdicts count is decided here, not in YAML."""
    server = serve(FakeSmtp(rcpt=lambda path: "250 2.1.5 Ok"))
    result = CliRunner().invoke(probe, ["--format", "json", server.target])
    host = json.loads(result.stdout)["hosts"][0]
    accepted = [case["id"] for case in host["cases"] if case["verdict"] == "accepted"]
    assert accepted and host["status"] == "suspect"
    assert [f.split(" ")[1] for f in host["findings"] if f.startswith("case ")] == accepted
    closed = CliRunner().invoke(probe, ["--format", "json", serve(FakeSmtp()).target])
    assert json.loads(closed.stdout)["hosts"][0]["findings"] == []
