"""Scriptable fake SMTP servers for the probe tests, run in a background event loop.

Why our own fakes: the behaviours that matter (accept-then-bounce, greylisting, 421 mid-session,
tarpits, garbage, resets, silence, Postfix's error sleep) are hard to get from a real MTA on demand.
Every server binds 127.0.0.1 (or another 127.x / ::1) on an ephemeral port and records each command.
"""

from __future__ import annotations

import asyncio
import smtplib
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

from mtaharden.probe import Endpoint, Expectations, HostResult, ProbeOptions, Reply, SessionOptions, probe_host
from mtaharden.probe.session import MAX_LINE, read_reply

T = TypeVar("T")
FAST = SessionOptions(timeout=2.0, banner_timeout=2.0)

LOCAL_DOMAIN = "example.test"
SERVER_NAME = "mx.example.test"


def closed_rcpt(path: str) -> str:
    """Postfix-like: accept the local domain only."""
    return "250 2.1.5 Ok" if path.lower().endswith(f"@{LOCAL_DOMAIN}>") else \
        f"554 5.7.1 {path}: Relay access denied"


def open_rcpt(path: str) -> str:
    return "250 2.1.5 Ok"


def strict_mail(path: str) -> str:
    """Refuse an unqualified sender, as Sendmail does by default."""
    return "553 5.5.4 Domain name required for sender address" if path == "<spamtest>" else "250 2.1.0 Ok"


@dataclass
class Conn:
    """What one client connection has done so far."""

    number: int
    errors: int = 0
    rcpts: int = 0
    commands: list[str] = field(default_factory=list)


class FakeSmtp:
    """A small SMTP server. Override :meth:`greet` or :meth:`respond` for odd behaviours."""

    def __init__(self, *, host: str = "127.0.0.1", banner: bytes = b"220 mx.example.test ESMTP\r\n",
                 ehlo: tuple[str, ...] = (SERVER_NAME, "PIPELINING", "SIZE 10240000", "8BITMIME"),
                 mail: Callable[[str], str] = strict_mail, rcpt: Callable[[str], str] = closed_rcpt,
                 vrfy: str = "502 5.5.1 VRFY command is disabled",
                 on_message: Callable[[bytes], Coroutine[Any, Any, None]] | None = None,
                 data: str = "354 End data with <CR><LF>.<CR><LF>",
                 end_of_data: Callable[[int], str] = lambda n: "250 2.0.0 Ok: queued as FAKE") -> None:
        self.host, self.banner, self.ehlo_lines = host, banner, ehlo
        self.mail, self.rcpt, self.vrfy, self.on_message = mail, rcpt, vrfy, on_message
        self.data, self.end_of_data = data, end_of_data  # the replies to DATA and to the n-th message's dot
        self.port = 0
        self.commands: list[str] = []
        self.peers: list[str] = []
        self.messages: list[bytes] = []
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    async def start(self) -> FakeSmtp:
        self._server = await asyncio.start_server(self._handle, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.wait_for(self._server.wait_closed(), 5)

    @property
    def target(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    async def greet(self, writer: asyncio.StreamWriter) -> bool:
        """Send the banner; return False to hang up instead of serving."""
        writer.write(self.banner)
        await writer.drain()
        return True

    async def respond(self, conn: Conn, line: str) -> bytes | None:
        """The reply to one command line; None hangs up."""
        verb = line.partition(" ")[0].upper()
        if verb in ("MAIL", "RCPT"):
            path = line.split(":", 1)[1].strip() if ":" in line else ""
            if verb == "RCPT":
                conn.rcpts += 1
            reply = self.mail(path) if verb == "MAIL" else self.rcpt(path)
        elif verb == "EHLO":
            return "".join(f"250{'-' if i < len(self.ehlo_lines) - 1 else ' '}{text}\r\n"
                           for i, text in enumerate(self.ehlo_lines)).encode()
        elif verb in ("HELO", "RSET", "NOOP"):
            reply = "250 2.0.0 Ok"
        elif verb in ("VRFY", "EXPN"):
            reply = self.vrfy
        elif verb == "QUIT":
            reply = "221 2.0.0 Bye"
        else:
            reply = "502 5.5.2 Error: command not recognized"
        if reply[0] in "45":
            conn.errors += 1
        return f"{reply}\r\n".encode()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        self.peers.append(writer.get_extra_info("peername")[0])
        conn = Conn(self.connections)
        try:
            if await self.greet(writer):
                await self._serve(conn, reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _serve(self, conn: Conn, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        reply: bytes | None
        while raw := await reader.readline():
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            self.commands.append(line)
            conn.commands.append(line)
            if line.upper() == "DATA" and not self.data.startswith("354"):
                reply = f"{self.data}\r\n".encode()
            elif line.upper() == "DATA":
                writer.write(f"{self.data}\r\n".encode())
                await writer.drain()
                message = await reader.readuntil(b"\r\n.\r\n")
                self.messages.append(message)
                if self.on_message:
                    task = asyncio.get_running_loop().create_task(self.on_message(message))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
                reply = f"{self.end_of_data(len(self.messages))}\r\n".encode()
            else:
                reply = await self.respond(conn, line)
            if reply is None:
                return
            writer.write(reply)
            await writer.drain()
            if line.upper() == "QUIT":
                return


def forward_to(host: str, port: int) -> Callable[[bytes], Coroutine[Any, Any, None]]:
    """An on_message hook that relays the message to ``host:port`` (a real relay, via smtplib)."""

    def send(message: bytes) -> None:
        with smtplib.SMTP(host, port, timeout=5) as client:
            client.sendmail("bounce@example.test", ["relaytest@relaytest.invalid"], message)

    async def forward(message: bytes) -> None:
        await asyncio.to_thread(send, message)

    return forward


class ServerLoop:
    """An event loop in a thread for fake servers, so the probe (and click) can own the main thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.servers: list[FakeSmtp] = []

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=15)

    def start(self, server: FakeSmtp) -> FakeSmtp:
        self.servers.append(self.run(server.start()))
        return server

    def stop_all(self) -> None:
        while self.servers:
            self.run(self.servers.pop().stop())

    def close(self) -> None:
        self.stop_all()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


def run_probe(server: FakeSmtp, session: SessionOptions = FAST, *, expectations: Expectations | None = None,
              **options: Any) -> HostResult:
    """Probe one fake server with short timeouts; ``options`` go to ProbeOptions (deadline 20 s unless given)."""
    probe_options = ProbeOptions(session=session, **{"deadline": 20.0, **options})
    return asyncio.run(probe_host(Endpoint(server.host, server.port), probe_options, expectations=expectations))


def parse_reply(data: bytes) -> Reply:
    """Run the probe's reply parser over ``data`` as if a server had sent it and closed."""
    async def go() -> Reply:
        reader = asyncio.StreamReader(limit=MAX_LINE)
        reader.feed_data(data)
        reader.feed_eof()
        return await read_reply(reader)

    return asyncio.run(go())
