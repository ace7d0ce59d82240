"""Hostile SMTP servers: the probe keeps to its deadline and a memory bound, calls each of them an
error, and the rest of a fleet run goes on.

tests/probe covers single hostile behaviours at the session level (garbage, a 9000-byte banner, a
tarpit, silence, resets). Here they come together in one fleet, with what was missing: endless reply
lines, a 10 MB reply line sent in pieces, replies before the command, plaintext waiting behind a 220
to STARTTLS, a hang-up right after the banner. The reply parser's property test on random bytes is in
tests/probe/test_session.py; the one here draws SMTP-shaped replies, which random bytes almost never are.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import tracemalloc
from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from mtaharden.probe import Endpoint, HostStatus, ProbeError, ProbeOptions, SessionOptions, Verdict
from mtaharden.probe.runner import probe_fleet
from mtaharden.probe.session import MAX_LINE, MAX_LINES
from tests.probe.fakes import Conn, FakeSmtp, parse_reply

Serve = Callable[[FakeSmtp], FakeSmtp]
CHUNK = b"A" * 65536
MEMORY_BOUND = 4 * 2**20  # what the probe may hold for a whole fleet; the 10 MB line alone is more


class EndlessLines(FakeSmtp):
    """A banner that never ends: continuation lines, forever."""

    async def greet(self, writer: asyncio.StreamWriter) -> bool:
        while True:
            writer.write(b"220-still greeting\r\n")
            await writer.drain()


class HugeLine(FakeSmtp):
    """A 10 MB banner line, sent in 64 KiB pieces (so the server itself holds little)."""

    async def greet(self, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"220 ")
        for _ in range(10 * 2**20 // len(CHUNK)):
            writer.write(CHUNK)
            await writer.drain()
        writer.write(b"\r\n")
        return True


class InvalidUtf8(FakeSmtp):
    def __init__(self) -> None:
        super().__init__(banner=b"220 mx.example.test \xc3\x28 ESMTP\r\n")


class AnswersAhead(FakeSmtp):
    """Sends a reply nobody asked for with its banner: every later reply would answer the wrong command."""

    def __init__(self) -> None:
        super().__init__(banner=b"220 mx.example.test ESMTP\r\n250 2.1.5 Ok\r\n")


class PlaintextAfterStarttls(FakeSmtp):
    """Answers STARTTLS with 220 and, before any TLS, a reply of its own (STARTTLS command injection)."""

    def __init__(self) -> None:
        super().__init__(ehlo=("mx.example.test", "STARTTLS"))

    async def respond(self, conn: Conn, line: str) -> bytes | None:
        if line.upper() == "STARTTLS":
            return b"220 2.0.0 Ready to start TLS\r\n250 2.1.5 Ok\r\n"
        return await super().respond(conn, line)


class NeverAnswers(FakeSmtp):
    async def greet(self, writer: asyncio.StreamWriter) -> bool:
        await asyncio.sleep(3600)
        return False


class DropsAfterBanner(FakeSmtp):
    async def respond(self, conn: Conn, line: str) -> bytes | None:
        return None


HOSTILE = {"endless lines": EndlessLines, "10 MB line": HugeLine, "invalid UTF-8": InvalidUtf8,
           "replies before the command": AnswersAhead, "plaintext after STARTTLS": PlaintextAfterStarttls,
           "never answers": NeverAnswers,
           "drops after the banner": DropsAfterBanner}


def test_a_fleet_of_hostile_servers_gives_errors_within_bounds(serve: Serve) -> None:
    hostile = {name: serve(kind()) for name, kind in HOSTILE.items()}
    closed = serve(FakeSmtp())
    endpoints = [Endpoint(s.host, s.port) for s in (*hostile.values(), closed)]
    options = ProbeOptions(session=SessionOptions(timeout=1.0, banner_timeout=1.0), deadline=5.0)
    tracemalloc.start()
    started = time.monotonic()
    try:
        results = asyncio.run(probe_fleet(endpoints, options, concurrency=len(endpoints)))
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    *bad, good = results
    for name, result in zip(hostile, bad, strict=True):
        assert result.status is HostStatus.ERROR, (name, result.error, [c.verdict for c in result.cases])
        assert {case.verdict for case in result.cases} <= {Verdict.ERROR, Verdict.NOT_TESTED}, name
    assert good.status is HostStatus.CLOSED
    assert elapsed < options.deadline + 2
    assert peak < MEMORY_BOUND, f"{peak / 2**20:.1f} MiB"


def test_a_reply_before_the_command_is_named(serve: Serve) -> None:
    server = serve(AnswersAhead())
    (result,) = asyncio.run(probe_fleet([Endpoint(server.host, server.port)], ProbeOptions(deadline=5.0)))
    assert result.error is not None and "before" in result.error
    assert server.commands == [], "nothing is sent to a server that talks out of turn"


# --- the reply parser, on SMTP-shaped input ---------------------------------------------------------

CODES = st.one_of(st.integers(200, 599).map(str), st.sampled_from(["000", "099", "600", "2", "25", "2500", "abc"]))
SEPARATORS = st.sampled_from([" ", "-", "", "\t", "  "])
TEXTS = st.one_of(st.text(max_size=30), st.binary(max_size=30).map(lambda b: b.decode("latin-1")),
                  st.sampled_from(["\x1b[31m", "\x9b31m", "\x85", "\x00", "\x7f", "ok", "é", "\r"]))
ENDINGS = st.sampled_from([b"\r\n", b"\n", b"\r", b""])


@st.composite
def replies(draw: st.DrawFn) -> bytes:
    """One or more reply lines: mostly well formed, with odd codes, separators, text and line ends."""
    lines = draw(st.lists(st.tuples(CODES, SEPARATORS, TEXTS, ENDINGS), min_size=1, max_size=8))
    data = b"".join(f"{code}{sep}{text}".encode("utf-8", "surrogateescape") + end for code, sep, text, end in lines)
    if draw(st.booleans()):
        data += draw(st.sampled_from([b"250 " + b"x" * (MAX_LINE + 1), b"250-x\r\n" * (MAX_LINES + 1)]))
    return data


@settings(max_examples=500, deadline=None)
@given(replies())
def test_the_reply_parser_returns_a_clean_reply_or_raises_probe_error(data: bytes) -> None:
    with contextlib.suppress(ProbeError):
        reply = parse_reply(data)
        assert 200 <= reply.code <= 599 and 1 <= len(reply.lines) <= MAX_LINES
        # Nothing a terminal acts on reaches the operator: no C0 or C1 control (bar tab), no DEL.
        assert not any(re.search(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]", line) for line in reply.lines), reply
