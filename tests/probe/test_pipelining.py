"""Issue 25: cases share round trips when the server offers PIPELINING (RFC 2920), judged as in lockstep.

A strict fake checks RFC 2920's rule on its side: a command may arrive before the previous reply only when
PIPELINING was offered, and then only RSET, MAIL and RCPT (never EHLO, DATA, QUIT, HELP ...) may be followed
by more of the same group.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from mtaharden.probe import CASES, HostResult, Verdict
from tests.probe.fakes import SERVER_NAME, Conn, FakeSmtp, open_rcpt, run_probe, strict_mail

Serve = Callable[[FakeSmtp], FakeSmtp]
LOCKSTEP = (SERVER_NAME, "SIZE 10240000", "8BITMIME")
PIPELINED = (SERVER_NAME, "PIPELINING", "SIZE 10240000", "8BITMIME")
GROUPABLE = ("RSET", "MAIL", "RCPT")


class SyncChecking(FakeSmtp):
    """Records, per command, whether the next command had already arrived when it was read (sent ahead)."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.ahead: list[str] = []  # commands that had the next one already waiting behind them
        self.violations: list[str] = []

    async def _serve(self, conn: Conn, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        original = reader.readline

        async def readline() -> bytes:
            line = await original()
            verb = line.decode("utf-8", "replace").partition(" ")[0].strip().upper()
            if getattr(reader, "_buffer", b""):
                self.ahead.append(verb)
                if "PIPELINING" not in self.ehlo_lines or verb.split(":")[0] not in GROUPABLE:
                    self.violations.append(verb)
            return line

        reader.readline = readline  # type: ignore[method-assign]
        await super()._serve(conn, reader, writer)


def _replies(result: HostResult) -> list[tuple[str, Verdict, str | None, str | None]]:
    return [(case.case.id, case.verdict, str(case.mail_reply), str(case.rcpt_reply) if case.rcpt_reply else None)
            for case in result.cases]


@pytest.mark.parametrize("behaviour", [
    {}, {"rcpt": open_rcpt}, {"mail": lambda path: "553 5.1.8 sender rejected"},
    {"rcpt": lambda path: "450 4.2.0 Greylisted"}, {"mail": strict_mail, "rcpt": open_rcpt},
], ids=["closed", "open", "mail-refused", "greylisted", "strict-sender-open"])
def test_pipelined_cases_are_judged_as_in_lockstep(serve: Serve, behaviour: dict[str, object]) -> None:
    lockstep, pipelined = SyncChecking(ehlo=LOCKSTEP, **behaviour), SyncChecking(ehlo=PIPELINED, **behaviour)
    slow, fast = run_probe(serve(lockstep)), run_probe(serve(pipelined))
    assert _replies(fast) == _replies(slow)
    assert len(fast.cases) == len(CASES) and fast.status is slow.status
    assert lockstep.ahead == [] and lockstep.violations == []  # no PIPELINING offered: strictly one at a time
    assert pipelined.violations == []  # only RSET/MAIL/RCPT are ever followed by more of their group
    assert pipelined.ahead.count("MAIL") >= len(CASES) - pipelined.connections  # each case's MAIL went with its RCPT
    assert "RCPT" in pipelined.ahead  # and several cases shared a write (the next case's RSET waited behind)


def test_a_refused_mail_drops_its_pipelined_rcpt_reply(serve: Serve) -> None:
    """RFC 5321 3.3: without an accepted MAIL there is no transaction for the RCPT; its reply is read, not judged."""
    server = SyncChecking(ehlo=PIPELINED, mail=lambda path: "553 5.1.8 sender rejected")
    result = run_probe(serve(server))
    assert {case.verdict for case in result.cases} == {Verdict.NOT_TESTED}
    assert all(case.rcpt_reply is None for case in result.cases)
    assert sum(line.upper().startswith("RCPT") for line in server.commands) >= len(CASES)  # sent, read, dropped


class HangsUpAfterRefusedMail(FakeSmtp):
    """Refuses MAIL, then hangs up instead of answering the RCPT pipelined behind it."""

    async def respond(self, conn: Conn, line: str) -> bytes | None:
        if line.upper().startswith("RCPT"):
            return None
        return await super().respond(conn, line)


def test_a_server_that_hangs_up_after_a_refused_mail_is_still_judged(serve: Serve) -> None:
    server = serve(HangsUpAfterRefusedMail(mail=lambda path: "553 5.1.8 sender rejected"))
    result = run_probe(server)
    assert {case.verdict for case in result.cases} == {Verdict.NOT_TESTED}  # as in lockstep: MAIL decided
    assert server.connections >= len(CASES)  # each case after a hang-up starts on a fresh session


class DropsAfterErrors(FakeSmtp):
    """Hangs up (no 421) at the first command after five errors in a session, below the probe's reconnect."""

    async def respond(self, conn: Conn, line: str) -> bytes | None:
        if conn.errors >= 5:
            return None
        return await super().respond(conn, line)


@pytest.mark.parametrize("ehlo", [LOCKSTEP, PIPELINED], ids=["lockstep", "pipelined"])
def test_a_server_that_drops_the_session_after_n_errors_is_fully_probed(serve: Serve, ehlo: tuple[str, ...]) -> None:
    server = serve(DropsAfterErrors(ehlo=ehlo))
    result, patient = run_probe(server), run_probe(serve(FakeSmtp(ehlo=ehlo)))
    assert _replies(result) == _replies(patient)  # every case judged as on a server that never hangs up
    assert Verdict.REFUSED in {case.verdict for case in result.cases} and Verdict.ERROR not in {
        case.verdict for case in result.cases}
    assert len(result.cases) == len(CASES) and result.error is None
    assert server.connections >= len(CASES) // 5
