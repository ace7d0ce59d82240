"""Leaks: software names and versions in any reply the probe sees, and what is not a version."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from mtaharden.probe import CheckStatus, Reply
from mtaharden.probe.leaks import PLACES, leak_checks, software_shown
from tests.probe.fakes import FakeSmtp, run_probe

Serve = Callable[[FakeSmtp], FakeSmtp]


@pytest.mark.parametrize(("lines", "shown"), [
    (("This is sendmail version 8.17.1.9",), "sendmail"),
    (("mx.example.test ESMTP Exim 4.96",), "exim"),
    (("mx.example.test ESMTP 2.3.4",), "2.3"),
    (("5.7.1 <relaytest@relaytest.invalid>: Relay access denied",), None),
    (("2.1.0 Ok",), None),
    (("sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)",), None),
    (("notqmail home page: https://notqmail.org",), "qmail"),
    (("5.1.1 <x@[192.0.2.25]>: from 192.0.2.20 and 2001:db8::25 refused",), None),
    (("mail2.3com.example ESMTP",), None),
])
def test_software_shown(lines: tuple[str, ...], shown: str | None) -> None:
    assert software_shown(Reply(550, lines), ["mail2.3com.example"]) == shown


def test_leak_checks_quote_where_and_what_per_place() -> None:
    help_reply = Reply(214, ("This is sendmail version 8.17",))
    checks = {check.id: check for check in leak_checks(
        [("banner", "banner", Reply(220, ("mx ESMTP",))), ("HELP", "HELP", help_reply)], ["mx"])}
    assert list(checks) == [f"leaks:{place}" for place in PLACES]
    assert checks["leaks:HELP"].status is CheckStatus.DEVIATION and checks["leaks:HELP"].element == "smtp.banner[HELP]"
    assert "HELP shows 'sendmail'" in checks["leaks:HELP"].detail
    assert "This is sendmail version 8.17" in checks["leaks:HELP"].detail
    assert {check.status for id_, check in checks.items() if id_ != "leaks:HELP"} == {CheckStatus.OK}


class HelpLeaks(FakeSmtp):
    async def respond(self, conn, line):  # type: ignore[no-untyped-def]
        if line.upper() == "HELP":
            return b"214-2.0.0 This is sendmail version 8.17.1.9\r\n214 2.0.0 End of HELP info\r\n"
        return await super().respond(conn, line)


def test_help_leak_is_a_finding_with_a_hidden_banner(serve: Serve) -> None:
    result = run_probe(serve(HelpLeaks()))
    leaks = {check.id: check for check in result.checks}["leaks:HELP"]
    assert leaks.status is CheckStatus.DEVIATION and "sendmail version 8.17.1.9" in leaks.detail
    assert result.status.value == "deviates"


def test_error_and_quit_replies_are_read(serve: Serve) -> None:
    result = run_probe(serve(FakeSmtp(rcpt=lambda path: "554 5.7.1 Postfix says no")))
    leaks = {check.id: check for check in result.checks}["leaks:errors"]
    assert leaks.status is CheckStatus.DEVIATION and "RCPT shows 'postfix'" in leaks.detail
