"""Declared divergences: with --policy and --mta, a check failing only where the target's coverage says it
cannot enforce is ``declared`` (no finding, still shown); everything else stays a finding.

The fake answers HELP as the real notqmail does (its answer is compiled in); qmail's coverage declares
``smtp.banner[HELP]`` approximated, Sendmail's declares ``smtp.banner`` enforced.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from mtaharden.policy import load_policy_text
from mtaharden.probe.cli import probe
from mtaharden.probe.declared import Declarations, declare
from mtaharden.probe.verdict import CheckResult, CheckStatus
from tests.probe.fakes import FakeSmtp

Serve = Callable[[FakeSmtp], FakeSmtp]
POLICY = "version: 1\nhostname: mx.example.test\ndomains: {local: [example.test]}\nnetworks: {trusted: [10.0.0.0/8]}\n"
NOTQMAIL_HELP = b"214 notqmail home page: https://notqmail.org\r\n"


class QmailHelp(FakeSmtp):
    """Closed, hides its software everywhere but in HELP (notqmail's compiled-in answer)."""

    async def respond(self, conn, line):  # type: ignore[no-untyped-def]
        return NOTQMAIL_HELP if line.upper() == "HELP" else await super().respond(conn, line)


def run(tmp_path: Path, server: FakeSmtp, *args: str) -> tuple[int, dict[str, dict[str, str]], dict[str, object]]:
    """(exit code, checks by id, the host) of a JSON probe with the policy."""
    policy = tmp_path / "policy.yml"
    policy.write_text(POLICY)
    result = CliRunner().invoke(probe, ["--format", "json", "--policy", str(policy), *args, server.target])
    host = json.loads(result.stdout)["hosts"][0]  # the vantage warning goes to stderr
    return result.exit_code, {check["id"]: check for check in host["checks"]}, host


def test_qmail_help_answer_is_declared_and_the_host_closed(serve: Serve, tmp_path: Path) -> None:
    junit = tmp_path / "probe.xml"
    code, checks, host = run(tmp_path, serve(QmailHelp()), "--mta", "qmail", "--junit", str(junit))
    assert host["status"] == "closed" and code == 0, checks
    help_check = checks["leaks:HELP"]
    assert help_check["status"] == "declared" and help_check["element"] == "smtp.banner[HELP]"
    assert "notqmail home page" in help_check["detail"]  # the reply, quoted
    assert help_check["declared"].startswith("qmail coverage of smtp.banner[HELP]: approximated: ")
    assert {c["status"] for i, c in checks.items() if i != "leaks:HELP"} == {"ok"}, checks
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "0"
    (case,) = [case for case in suite.iter("testcase") if case.get("name", "").startswith("check leaks:HELP")]
    assert case.get("declared") == "true" and "notqmail home page" in (case.findtext("system-out") or "")


def test_without_mta_the_same_help_answer_is_a_finding(serve: Serve, tmp_path: Path) -> None:
    code, checks, host = run(tmp_path, serve(QmailHelp()))
    assert host["status"] == "deviates" and code == 1
    assert checks["leaks:HELP"]["status"] == "deviation" and checks["leaks:HELP"]["declared"] == ""


def test_sendmail_declares_nothing_so_its_help_leak_stays_a_finding(serve: Serve, tmp_path: Path) -> None:
    code, checks, host = run(tmp_path, serve(QmailHelp()), "--mta", "sendmail")
    assert checks["leaks:HELP"]["status"] == "deviation"
    # the fake listens on loopback, and Sendmail relays for the host itself: that vantage decides the status
    assert host["status"] == "inconclusive" and code == 3, host


def test_probing_sendmail_from_the_host_itself_is_inconclusive(serve: Serve, tmp_path: Path) -> None:
    """Sendmail's coverage declares networks.trusted[host] (class w relays): from loopback or the server's
    own address nothing speaks for strangers, so the run is inconclusive with the fix; Postfix and qmail
    declare no such trust, so the same vantage gives them a verdict."""
    code, _, host = run(tmp_path, serve(FakeSmtp()), "--mta", "sendmail")
    assert host["status"] == "inconclusive" and code == 3, host
    warnings = host["warnings"]
    assert isinstance(warnings, list)
    (warning,) = [w for w in warnings if "host itself" in w]
    assert "sendmail coverage of networks.trusted[host]" in warning and "fix: probe from outside" in warning
    for mta in ("postfix", "qmail"):
        code, _, host = run(tmp_path, serve(FakeSmtp()), "--mta", mta)
        assert host["status"] == "closed" and code == 0, (mta, host)


def test_a_banner_leak_on_qmail_is_still_a_finding(serve: Serve, tmp_path: Path) -> None:
    server = QmailHelp(banner=b"220 mx.example.test ESMTP notqmail 1.09\r\n")
    code, checks, host = run(tmp_path, serve(server), "--mta", "qmail")
    assert host["status"] == "deviates" and code == 1
    assert checks["leaks:banner"]["status"] == "deviation" and checks["banner"]["status"] == "deviation"
    assert checks["leaks:HELP"]["status"] == "declared"


def test_the_most_specific_row_decides() -> None:
    declarations = Declarations.for_target("qmail", load_policy_text(POLICY))
    assert declarations.row_for("smtp.banner[HELP]").status == "approximated"  # type: ignore[union-attr]
    assert declarations.row_for("smtp.banner[banner]").element == "smtp.banner"  # type: ignore[union-attr]
    assert declarations.row_for("smtp.banner[QUIT]").status == "enforced"  # type: ignore[union-attr]
    assert declarations.row_for("no.such[x]") is None


@pytest.mark.parametrize("status", [CheckStatus.OK, CheckStatus.ERROR, CheckStatus.INCONCLUSIVE])
def test_only_deviations_are_declared(status: CheckStatus) -> None:
    check = CheckResult("leaks:HELP", "", status, "x", "smtp.banner[HELP]")
    declarations = Declarations.for_target("qmail", load_policy_text(POLICY))
    assert declare([check], declarations) == [check]
    assert declare([CheckResult("x", "", CheckStatus.DEVIATION, "x")], declarations)[0].status is CheckStatus.DEVIATION
