"""The relay matrix against fake servers: verdicts, reconnects, bounded failures, and no DATA."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable

import pytest

from mtaharden.probe import CASES, Endpoint, HostResult, HostStatus, ProbeOptions, Verdict, exit_code, probe_fleet
from mtaharden.probe.cases import DEFAULT_FOREIGN
from tests.probe.fakes import Conn as FakeConn
from tests.probe.fakes import FakeSmtp, closed_rcpt, open_rcpt, run_probe

Serve = Callable[[FakeSmtp], FakeSmtp]


def verdicts(result: HostResult) -> dict[str, Verdict]:
    return {case.case.id: case.verdict for case in result.cases}


def test_closed_server(serve: Serve) -> None:
    server = serve(FakeSmtp())
    result = run_probe(server)
    assert result.status is HostStatus.CLOSED and exit_code([result]) == 0
    found = verdicts(result)
    assert len(found) == len(CASES)
    assert found.pop("maps-unqualified") is Verdict.NOT_TESTED
    assert set(found.values()) == {Verdict.REFUSED}
    assert result.server_name == "mx.example.test"


def test_open_relay_is_accepted_and_exit_1(serve: Serve) -> None:
    server = serve(FakeSmtp(rcpt=open_rcpt))
    result = run_probe(server)
    assert result.status is HostStatus.SUSPECT and exit_code([result]) == 1
    assert verdicts(result)["nmap-01"] is Verdict.ACCEPTED
    assert result.counts()["accepted"] == len(CASES) - 1


def test_no_data_without_confirm(serve: Serve) -> None:
    server = serve(FakeSmtp(rcpt=open_rcpt))
    run_probe(server)
    verbs = {command.split(" ")[0].split(":")[0].upper() for command in server.commands}
    assert verbs <= {"EHLO", "HELP", "MAIL", "RCPT", "RSET", "QUIT"}
    assert server.messages == []


def test_percent_hack_only_server(serve: Serve) -> None:
    def percent_hole(path: str) -> str:
        return "250 2.1.5 Ok" if "%" in path else closed_rcpt(path)

    result = run_probe(serve(FakeSmtp(rcpt=percent_hole)))
    accepted = {name for name, verdict in verdicts(result).items() if verdict is Verdict.ACCEPTED}
    assert accepted == {"nmap-05", "nmap-06", "nmap-08", "percent-chain", "bang-percent-foreign-first",
                        "bang-percent-foreign-last", "uppercase-percent"}
    assert result.status is HostStatus.SUSPECT


def test_greylisting_is_deferred_never_a_pass(serve: Serve) -> None:
    result = run_probe(serve(FakeSmtp(rcpt=lambda path: "450 4.2.0 Greylisted, try again later")))
    assert Verdict.DEFERRED in set(verdicts(result).values())
    assert Verdict.ACCEPTED not in set(verdicts(result).values())
    assert result.status is HostStatus.INCONCLUSIVE and exit_code([result]) == 3


def test_all_mail_refused_is_inconclusive(serve: Serve) -> None:
    result = run_probe(serve(FakeSmtp(mail=lambda path: "553 5.1.8 sender rejected")))
    assert set(verdicts(result).values()) == {Verdict.NOT_TESTED}
    assert result.status is HostStatus.INCONCLUSIVE


class Closes421(FakeSmtp):
    """Says 421 at the fifth RCPT of the first session and hangs up."""

    async def respond(self, conn: FakeConn, line: str) -> bytes | None:
        if line.upper().startswith("RCPT") and conn.number == 1 and conn.rcpts == 4:
            conn.rcpts += 1
            return b"421 4.7.0 mx.example.test Error: too many errors\r\n"
        return await super().respond(conn, line)


def test_421_mid_session_reconnects_and_continues(serve: Serve) -> None:
    server = serve(Closes421())
    result = run_probe(server)
    assert result.status is HostStatus.CLOSED
    assert verdicts(result)["nmap-05"] is Verdict.REFUSED
    assert server.connections >= 2


class PostfixErrorSleep(FakeSmtp):
    """Like Postfix: after 10 errors in a session, every reply waits 1 s; after 20, 421."""

    async def respond(self, conn: FakeConn, line: str) -> bytes | None:
        if conn.errors >= 20:
            return b"421 4.7.0 Error: too many errors\r\n"
        if conn.errors >= 10:
            await asyncio.sleep(1)
        return await super().respond(conn, line)


def test_proactive_reconnect_avoids_the_error_sleep(serve: Serve) -> None:
    server = serve(PostfixErrorSleep())
    started = time.monotonic()
    result = run_probe(server)
    assert result.status is HostStatus.CLOSED
    assert time.monotonic() - started < 1.0
    assert server.connections >= len(CASES) // 8


class ResetAtRcpt(FakeSmtp):
    def __init__(self, times: int) -> None:
        super().__init__()
        self.resets_left = times

    async def respond(self, conn: FakeConn, line: str) -> bytes | None:
        if line.upper().startswith("RCPT") and self.resets_left > 0:
            self.resets_left -= 1
            return None
        return await super().respond(conn, line)


def test_one_connection_reset_is_retried(serve: Serve) -> None:
    result = run_probe(serve(ResetAtRcpt(times=1)))
    assert result.status is HostStatus.CLOSED
    assert set(verdicts(result).values()) <= {Verdict.REFUSED, Verdict.NOT_TESTED}


def test_server_that_always_resets_is_given_up_quickly(serve: Serve) -> None:
    server = serve(ResetAtRcpt(times=10_000))
    result = run_probe(server)
    assert result.status is HostStatus.ERROR and exit_code([result]) == 2
    assert set(verdicts(result).values()) == {Verdict.ERROR}
    assert server.connections <= 8


class GarbageAtRcpt(FakeSmtp):
    def __init__(self, reply: bytes) -> None:
        super().__init__()
        self.reply = reply

    async def respond(self, conn: FakeConn, line: str) -> bytes | None:
        if line.upper().startswith("RCPT"):
            return self.reply
        return await super().respond(conn, line)


@pytest.mark.parametrize("reply", [b"250 ok\xff\r\n", b"250-" + b"x" * 5000 + b"\r\n", b"what?\r\n",
                                   b"354 go ahead\r\n"])
def test_garbage_replies_are_errors_never_acceptance(serve: Serve, reply: bytes) -> None:
    result = run_probe(serve(GarbageAtRcpt(reply)))
    assert result.status is HostStatus.ERROR
    assert Verdict.ACCEPTED not in set(verdicts(result).values())


class SlowReplies(FakeSmtp):
    async def respond(self, conn: FakeConn, line: str) -> bytes | None:
        await asyncio.sleep(0.3)
        return await super().respond(conn, line)


def test_deadline_keeps_partial_results(serve: Serve) -> None:
    result = run_probe(serve(SlowReplies()), deadline=2.0)
    assert result.status is HostStatus.ERROR and "deadline" in (result.error or "")
    found = list(verdicts(result).values())
    assert len(found) == len(CASES)
    assert found[0] is Verdict.REFUSED and found[-1] is Verdict.ERROR
    assert result.duration < 3


def test_ipv6_endpoint(serve: Serve) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        server = serve(FakeSmtp(host="::1"))
    except OSError:
        pytest.skip("cannot bind ::1")
    result = run_probe(server)
    assert result.status is HostStatus.CLOSED
    assert "MAIL FROM:<antispam@[IPv6:::1]>" in server.commands


def test_external_domain_is_used(serve: Serve) -> None:
    server = serve(FakeSmtp())
    run_probe(server, external_domain="relay-target.example")
    assert "RCPT TO:<relaytest@relay-target.example>" in server.commands
    assert not any(DEFAULT_FOREIGN in command for command in server.commands)


def _unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_fleet_one_bad_host_never_stops_the_rest(serve: Serve) -> None:
    closed, relay = serve(FakeSmtp()), serve(FakeSmtp(rcpt=open_rcpt))
    dead = Endpoint("127.0.0.1", _unused_port())
    options = ProbeOptions(deadline=10)
    results = asyncio.run(probe_fleet([dead, Endpoint("127.0.0.1", closed.port)], options, concurrency=2))
    assert [r.status for r in results] == [HostStatus.ERROR, HostStatus.CLOSED]
    assert exit_code(results) == 2
    results = asyncio.run(probe_fleet([dead, Endpoint("127.0.0.1", closed.port), Endpoint("127.0.0.1", relay.port)],
                                      options, concurrency=1))
    assert [r.status for r in results] == [HostStatus.ERROR, HostStatus.CLOSED, HostStatus.SUSPECT]
    assert exit_code(results) == 1


def test_probe_stream_yields_every_host_keeping_at_most_concurrency_in_flight() -> None:
    """Issue 25: a streamed fleet starts a host only when one finishes, so memory stays flat in hosts."""
    from mtaharden.probe import runner

    in_flight, peak = 0, 0
    real = runner.probe_host

    async def counted(endpoint: Endpoint, *args: object, **kwargs: object) -> HostResult:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        return HostResult(endpoint, error="not probed")

    endpoints = [Endpoint("127.0.0.1", port) for port in range(1, 11)]
    runner.probe_host = counted
    try:
        async def go() -> list[HostResult]:
            return [result async for result in runner.probe_stream(endpoints, concurrency=3)]

        results = asyncio.run(go())
    finally:
        runner.probe_host = real
    assert sorted(result.endpoint.port for result in results) == list(range(1, 11))
    assert peak == 3
