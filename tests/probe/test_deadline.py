"""The session's one reusable deadline (issue 25): each command is still bounded by ``timeout``, with one
loop timer per session instead of one ``asyncio.timeout`` per command."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from mtaharden.probe import ProbeError, SessionOptions, SmtpSession
from mtaharden.probe.deadline import Deadline
from tests.probe.fakes import Conn, FakeSmtp


class SlowNoop(FakeSmtp):
    """Answers NOOP after ``delay`` seconds (never, if None); everything else at once."""

    def __init__(self, delay: float | None) -> None:
        super().__init__()
        self.delay = delay

    async def respond(self, conn: Conn, line: str) -> bytes | None:
        if line.upper() == "NOOP":
            await asyncio.sleep(3600 if self.delay is None else self.delay)
        return await super().respond(conn, line)


def _session_run(server: FakeSmtp, options: SessionOptions, step: Callable[[SmtpSession], Any]) -> Any:
    async def go() -> Any:
        session = await SmtpSession.connect(server.host, server.port, options)
        try:
            return await step(session)
        finally:
            session.abort()

    return asyncio.run(go())


def test_an_unanswered_command_times_out_within_its_timeout(serve: Callable[[FakeSmtp], FakeSmtp]) -> None:
    server = serve(SlowNoop(None))

    async def step(session: SmtpSession) -> tuple[float, bool]:
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(ProbeError, match=r"^no reply to NOOP within 0\.3 s$"):
            await session.command("NOOP")
        return loop.time() - started, session.broken

    elapsed, broken = _session_run(server, SessionOptions(timeout=0.3, banner_timeout=2), step)
    assert 0.29 <= elapsed < 1.5
    assert broken


def test_commands_longer_together_than_the_timeout_each_get_their_own(serve: Callable[[FakeSmtp], FakeSmtp]) -> None:
    """Six replies 0.15 s apart under a 0.4 s timeout: the timer fires mid-way and re-arms for the wait then
    running, it does not end the session 0.4 s after its first command."""
    server = serve(SlowNoop(0.15))

    async def step(session: SmtpSession) -> list[int]:
        return [(await session.command("NOOP")).code for _ in range(6)]

    assert _session_run(server, SessionOptions(timeout=0.4, banner_timeout=2), step) == [250] * 6


def test_a_session_arms_one_timer_not_one_per_command(serve: Callable[[FakeSmtp], FakeSmtp]) -> None:
    server = serve(FakeSmtp())

    async def step(session: SmtpSession) -> int:
        loop = asyncio.get_running_loop()
        armed = 0
        call_at = loop.call_at

        def counting(when: float, callback: Any, *args: Any, **kwargs: Any) -> asyncio.TimerHandle:
            nonlocal armed
            armed += 1
            return call_at(when, callback, *args, **kwargs)

        loop.call_at = counting  # type: ignore[method-assign,assignment]
        try:
            for _ in range(20):
                assert (await session.command("RSET")).code == 250
        finally:
            loop.call_at = call_at  # type: ignore[method-assign]
        return armed

    assert _session_run(server, SessionOptions(timeout=5, banner_timeout=5), step) == 0  # armed at EHLO already


def test_a_shorter_wait_moves_the_timer_earlier_and_a_stopped_one_never_fires() -> None:
    async def go() -> tuple[list[float], bool, float]:
        loop = asyncio.get_running_loop()
        fired: list[float] = []
        deadline = Deadline(loop, lambda: fired.append(loop.time()))
        deadline.start(0.05)
        deadline.stop()
        await asyncio.sleep(0.1)
        assert not fired and not deadline.expired  # the wait ended in time
        deadline.start(30)
        deadline.stop()
        started = loop.time()
        deadline.start(0.1)  # e.g. QUIT's 2 s after a 30 s command timeout
        await asyncio.sleep(0.3)
        deadline.close()
        return fired, deadline.expired, started

    fired, expired, started = asyncio.run(go())
    assert expired and len(fired) == 1 and 0.09 <= fired[0] - started < 0.25
