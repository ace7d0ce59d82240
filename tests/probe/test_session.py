"""The SMTP client: reply parsing bounds, banners, greeting, TLS and the source address."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from hypothesis import given, settings
from hypothesis import strategies as st

from mtaharden.probe import HostStatus, ProbeError, SessionOptions, SmtpSession, Verdict
from mtaharden.probe.session import MAX_LINE
from tests.probe.fakes import FAST, Conn, FakeSmtp, ServerLoop, parse_reply, run_probe


def test_multi_line_reply_is_read_whole() -> None:
    reply = parse_reply(b"250-mx.example.test\r\n250-PIPELINING\r\n250 SIZE 100\r\n")
    assert reply.code == 250 and reply.lines == ("mx.example.test", "PIPELINING", "SIZE 100")


@pytest.mark.parametrize("data", [
    b"hello there\r\n",                                  # not SMTP
    b"250 ok \xff\xfe\r\n",                              # invalid UTF-8
    b"250 " + b"x" * (MAX_LINE + 10) + b"\r\n",          # over-long line
    b"".join(b"250-line\r\n" for _ in range(150)),       # too many lines
    b"250-first\r\n550 second\r\n",                      # code changes mid-reply
    b"250 with escape \x1b[31m red\r\n",                 # control characters (terminal escapes)
    b"250-unfinished\r\n",                               # closed mid-reply
    b"150 not an SMTP code\r\n",
])
def test_bad_replies_raise_probe_error(data: bytes) -> None:
    with pytest.raises(ProbeError):
        parse_reply(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_reply_parser_raises_nothing_but_probe_error(data: bytes) -> None:
    with contextlib.suppress(ProbeError):
        parse_reply(data)


class SlowBanner(FakeSmtp):
    """postscreen-like: a multi-line banner, sent in pieces with pauses."""

    async def greet(self, writer: asyncio.StreamWriter) -> bool:
        for piece in (b"220-mx.example.test ESMTP\r\n220-", b"please wait\r\n", b"220 mx.example.test ESMTP\r\n"):
            writer.write(piece)
            await writer.drain()
            await asyncio.sleep(0.2)
        return True


class Silent(FakeSmtp):
    async def greet(self, writer: asyncio.StreamWriter) -> bool:
        await asyncio.sleep(30)
        return False


class Tarpit(FakeSmtp):
    """Sends the banner one byte every 0.1 s, forever (each read stays within any per-read timeout)."""

    async def greet(self, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"220-")
        while True:
            writer.write(b"x")
            await writer.drain()
            await asyncio.sleep(0.1)


def test_slow_multi_line_banner_is_awaited_before_talking(serve: Callable[[FakeSmtp], FakeSmtp]) -> None:
    server = serve(SlowBanner())
    result = run_probe(server, cases=())
    assert result.error is None
    assert result.banner is not None and len(result.banner.lines) == 3
    assert result.server_name == "mx.example.test"
    assert server.commands[0].startswith("EHLO ")


def test_server_that_never_answers_is_an_error(serve: Callable[[FakeSmtp], FakeSmtp]) -> None:
    result = run_probe(serve(Silent()), SessionOptions(banner_timeout=0.5))
    assert result.status is HostStatus.ERROR
    assert "banner" in (result.error or "")
    assert {case.verdict for case in result.cases} == {Verdict.ERROR}


def test_tarpit_is_bounded_by_the_deadline(serve: Callable[[FakeSmtp], FakeSmtp]) -> None:
    result = run_probe(serve(Tarpit()), SessionOptions(banner_timeout=30, timeout=30), deadline=1.0)
    assert result.status is HostStatus.ERROR
    assert "deadline" in (result.error or "")
    assert result.duration < 3


@pytest.mark.parametrize("banner", [b"\xff\xfe garbage\r\n", b"220 " + b"A" * 9000 + b"\r\n", b"SSH-2.0-OpenSSH\r\n"])
def test_garbage_banner_is_an_error(serve: Callable[[FakeSmtp], FakeSmtp], banner: bytes) -> None:
    result = run_probe(serve(FakeSmtp(banner=banner)))
    assert result.status is HostStatus.ERROR


def test_refusing_banner_is_an_error(serve: Callable[[FakeSmtp], FakeSmtp]) -> None:
    result = run_probe(serve(FakeSmtp(banner=b"554 5.7.1 go away\r\n")))
    assert result.status is HostStatus.ERROR and "554" in (result.error or "")


class NoEhlo(FakeSmtp):
    async def respond(self, conn: Conn, line: str) -> bytes | None:
        if line.upper().startswith("EHLO"):
            return b"502 5.5.2 EHLO not implemented\r\n"
        return await super().respond(conn, line)


def test_helo_fallback_after_ehlo_5xx(serve: Callable[[FakeSmtp], FakeSmtp]) -> None:
    server = serve(NoEhlo())
    result = run_probe(server)
    assert result.status is HostStatus.CLOSED
    assert server.commands[:2] == ["EHLO mtaharden-probe.invalid", "HELO mtaharden-probe.invalid"]


def test_source_address_binds_the_client_side(serve: Callable[[FakeSmtp], FakeSmtp]) -> None:
    server = serve(FakeSmtp())
    result = run_probe(server, SessionOptions(timeout=2, banner_timeout=2, source_address="127.0.0.2"), cases=())
    assert result.source_address == "127.0.0.2"
    assert set(server.peers) == {"127.0.0.2"}


def test_command_with_crlf_is_refused(serve: Callable[[FakeSmtp], FakeSmtp]) -> None:
    server = serve(FakeSmtp())

    async def go() -> None:
        session = await SmtpSession.connect(server.host, server.port, FAST)
        try:
            with pytest.raises(ProbeError):
                await session.command("RCPT TO:<a@b>\r\nDATA")
        finally:
            await session.close()

    asyncio.run(go())
    assert not any("DATA" in command for command in server.commands)


# --- TLS, with a self-signed certificate and aiosmtpd as the server ---------------------------------

@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    try:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                        "/CN=mx.example.test", "-keyout", str(key), "-out", str(cert)],
                       check=True, capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        pytest.skip("openssl is needed to make a test certificate")
    return cert, key


class Sink:
    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          options: list[str]) -> str:
        if address.endswith("@example.test") or session.authenticated:
            envelope.rcpt_tos.append(address)
            return "250 2.1.5 Ok"
        return "554 5.7.1 Relay access denied"


def _authenticate(server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: object) -> AuthResult:
    ok = isinstance(data, LoginPassword) and data.login == b"alice" and data.password == b"s3cret"
    return AuthResult(success=ok, handled=False)


class AiosmtpdServer:
    """aiosmtpd on 127.0.0.1 in the server loop, started with the given SMTP keyword arguments."""

    def __init__(self, loop: ServerLoop, handler: Sink | None = None, **kwargs: object) -> None:
        self.loop, self.handler, self.kwargs = loop, handler or Sink(), kwargs
        self.server: asyncio.Server | None = None
        self.port = 0

    async def _start(self) -> None:
        running = asyncio.get_running_loop()
        self.server = await running.create_server(
            lambda: SMTP(self.handler, hostname="mx.example.test", loop=running, **self.kwargs),  # type: ignore[arg-type]
            "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        assert self.server is not None
        self.server.close()

    def __enter__(self) -> AiosmtpdServer:
        self.loop.run(self._start())
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.run(self._stop())


def _server_context(tls_files: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*tls_files)
    return context


def test_starttls_when_offered(server_loop: ServerLoop, tls_files: tuple[Path, Path]) -> None:
    with AiosmtpdServer(server_loop, tls_context=_server_context(tls_files), require_starttls=True) as server:
        async def go() -> tuple[str, dict[str, str] | None, dict[str, str]]:
            session = await SmtpSession.connect("127.0.0.1", server.port, FAST)
            await session.close()
            return session.tls, session.plain_extensions, session.extensions

        tls, plain, after = asyncio.run(go())
    assert tls == "starttls"
    assert plain is not None and "STARTTLS" in plain
    assert "STARTTLS" not in after


class SilentRcpt(Sink):
    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          options: list[str]) -> str:
        await asyncio.sleep(3600)
        return "250 2.1.5 Ok"


def test_a_command_over_starttls_times_out_within_its_timeout(server_loop: ServerLoop,
                                                               tls_files: tuple[Path, Path]) -> None:
    """Issue 25: the session's deadline aborts the TLS transport STARTTLS put in place, not the plain one."""
    with AiosmtpdServer(server_loop, SilentRcpt(), tls_context=_server_context(tls_files)) as server:
        async def go() -> tuple[str, float]:
            session = await SmtpSession.connect("127.0.0.1", server.port, SessionOptions(timeout=0.3, banner_timeout=2))
            loop = asyncio.get_running_loop()
            started = loop.time()
            try:
                with pytest.raises(ProbeError, match=r"^no reply to RCPT within 0\.3 s$"):
                    await session.transaction("MAIL FROM:<a@example.test>", "RCPT TO:<b@relaytest.invalid>")
                return session.tls, loop.time() - started
            finally:
                session.abort()

        tls, elapsed = asyncio.run(go())
    assert tls == "starttls"
    assert 0.29 <= elapsed < 1.5


def test_sessions_share_one_tls_context(server_loop: ServerLoop, tls_files: tuple[Path, Path]) -> None:
    """Issue 25: the CA bundle is loaded once per run, not per STARTTLS; verification stays off."""
    with AiosmtpdServer(server_loop, tls_context=_server_context(tls_files)) as server:
        async def go() -> list[ssl.SSLContext]:
            contexts = []
            for _ in range(3):
                session = await SmtpSession.connect("127.0.0.1", server.port, FAST)
                contexts.append(session.writer.get_extra_info("sslcontext"))
                await session.close()
            return contexts

        first, *others = asyncio.run(go())
    assert isinstance(first, ssl.SSLContext) and all(other is first for other in others)
    assert first.verify_mode is ssl.CERT_NONE and not first.check_hostname


def test_tls_verify_refuses_a_self_signed_certificate(server_loop: ServerLoop, tls_files: tuple[Path, Path]) -> None:
    with AiosmtpdServer(server_loop, tls_context=_server_context(tls_files)) as server:
        async def go() -> None:
            await SmtpSession.connect("127.0.0.1", server.port,
                                      SessionOptions(timeout=2, banner_timeout=2, tls_verify=True))

        with pytest.raises(ProbeError, match="TLS handshake failed"):
            asyncio.run(go())


def test_smtps_implicit_tls(serve: Callable[[FakeSmtp], FakeSmtp], tls_files: tuple[Path, Path]) -> None:
    class Smtps(FakeSmtp):
        async def start(self) -> FakeSmtp:
            self._server = await asyncio.start_server(self._handle, self.host, 0, ssl=_server_context(tls_files))
            self.port = self._server.sockets[0].getsockname()[1]
            return self

    result = run_probe(serve(Smtps()), SessionOptions(timeout=2, banner_timeout=2, smtps=True))
    assert result.tls == "smtps"
    assert result.status is HostStatus.CLOSED


def test_auth_plain_over_starttls(server_loop: ServerLoop, tls_files: tuple[Path, Path]) -> None:
    with AiosmtpdServer(server_loop, tls_context=_server_context(tls_files), authenticator=_authenticate) as server:
        async def go(password: str) -> int:
            session = await SmtpSession.connect("127.0.0.1", server.port, FAST)
            try:
                return (await session.authenticate("alice", password)).code
            finally:
                await session.close()

        assert asyncio.run(go("s3cret")) == 235
        assert asyncio.run(go("wrong")) == 535


def test_auth_login_when_plain_is_not_offered(server_loop: ServerLoop, tls_files: tuple[Path, Path]) -> None:
    with AiosmtpdServer(server_loop, tls_context=_server_context(tls_files), authenticator=_authenticate,
                        auth_exclude_mechanism=["PLAIN"]) as server:
        async def go() -> tuple[str, int]:
            session = await SmtpSession.connect("127.0.0.1", server.port, FAST)
            try:
                return session.extensions["AUTH"], (await session.authenticate("alice", "s3cret")).code
            finally:
                await session.close()

        offered, code = asyncio.run(go())
    assert "PLAIN" not in offered.split() and code == 235


@pytest.mark.parametrize(("banner", "ehlo_first", "expected"), [
    (b"220-mx1.example.test ESMTP\r\n220 ready\r\n", "other.example.test", "mx1.example.test"),
    (b"220 \r\n", "relay.example.test Hello", "relay.example.test"),
    (b"220 \r\n", "*** Hello", "[127.0.0.1]"),
])
def test_server_name_falls_back_from_banner_to_ehlo_to_literal(
        serve: Callable[[FakeSmtp], FakeSmtp], banner: bytes, ehlo_first: str, expected: str) -> None:
    server = serve(FakeSmtp(banner=banner, ehlo=(ehlo_first, "PIPELINING")))
    run_probe(server)
    assert f"MAIL FROM:<antispam@{expected}>" in server.commands  # nmap test 3 uses SRV
