"""A small SMTP client on asyncio streams, written for relay probing.

Why our own client and not smtplib: a relay probe must put odd address forms on the wire byte for
byte (source routes, quoted local parts, unbracketed paths, a space after the colon), must never
talk before the whole banner has arrived, pipelines only what RFC 2920 allows a server that offers
PIPELINING (the RSET, MAIL and RCPT of cases: :meth:`SmtpSession.transactions_of`), and must turn any reply it cannot
parse (over-long, garbage, invalid UTF-8, control characters) into :class:`ProbeError` instead of
crashing or echoing terminal escapes to the operator. Every wait is bounded by a timeout: connecting and the
TLS handshake by ``asyncio.timeout``, each command by the session's one :class:`~.deadline.Deadline`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import ipaddress
import re
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from .deadline import Deadline

MAX_LINE = 4096
MAX_LINES = 100
DEFAULT_EHLO = "mtaharden-probe.invalid"
QUIT_TIMEOUT = 2.0

TlsState = Literal["none", "starttls", "smtps"]

_REPLY_LINE = re.compile(r"([2-5][0-9][0-9])([ -]|$)(.*)", re.DOTALL)
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")  # C0 but tab, DEL, C1 (0x9b is an 8-bit CSI)
_HOSTNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]*")


class ProbeError(Exception):
    """A probe step failed: timeout, reset, refused session or a reply that is not SMTP."""


class ServerClosing(ProbeError):
    """The server answered 421: it closes the session, and a new connection may go on."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        super().__init__(f"server closed the session: {reply}")


@dataclass(frozen=True)
class Reply:
    """One SMTP reply: its code and the text of each line (code and separator removed)."""

    code: int
    lines: tuple[str, ...]

    @property
    def positive(self) -> bool:
        return 200 <= self.code < 300

    @property
    def transient(self) -> bool:
        return 400 <= self.code < 500

    @property
    def permanent(self) -> bool:
        return 500 <= self.code < 600

    def __str__(self) -> str:
        return f"{self.code} {' / '.join(line for line in self.lines if line)}".rstrip()


@dataclass(frozen=True)
class SessionOptions:
    """How to talk to one endpoint. ``tls_verify`` is off by default: a probe wants the relay answer
    even from a server with a self-signed certificate."""

    ehlo: str = DEFAULT_EHLO
    timeout: float = 30.0
    banner_timeout: float = 30.0
    smtps: bool = False
    starttls: bool = True
    tls_verify: bool = False
    source_address: str | None = None


def _parse_line(raw: bytes) -> tuple[int, bool, str]:
    try:
        text = raw.removesuffix(b"\n").removesuffix(b"\r").decode("utf-8")
    except UnicodeDecodeError:
        raise ProbeError(f"reply is not valid UTF-8: {raw[:60]!r}") from None
    match = _REPLY_LINE.fullmatch(text)
    if not match or _CONTROL.search(text):
        raise ProbeError(f"reply is not SMTP: {text[:60]!r}")
    return int(match.group(1)), match.group(2) != "-", match.group(3)


async def read_reply(reader: asyncio.StreamReader) -> Reply:
    """Read one complete (possibly multi-line) reply; bounded to MAX_LINES lines of MAX_LINE bytes."""
    code: int | None = None
    lines: list[str] = []
    for _ in range(MAX_LINES):
        try:
            raw = await reader.readuntil(b"\n")
        except asyncio.IncompleteReadError:
            raise ProbeError("the server closed the connection") from None
        except (asyncio.LimitOverrunError, ValueError):
            raise ProbeError(f"reply line longer than {MAX_LINE} bytes") from None
        line_code, last, text = _parse_line(raw)
        if code is not None and line_code != code:
            raise ProbeError(f"reply changes its code mid-way ({code} then {line_code})")
        code = line_code
        lines.append(text)
        if last:
            return Reply(code, tuple(lines))
    raise ProbeError(f"reply longer than {MAX_LINES} lines")


def _waiting(reader: asyncio.StreamReader) -> bool:
    """Whether bytes are already waiting that no command asked for.

    Replies are matched to commands by order, so a server that answers ahead would get each reply
    taken as the answer to the next command (a closed server would look open), and plaintext waiting
    behind a 220 to STARTTLS would be read as if it came over TLS. asyncio has no public peek: this is
    CPython's StreamReader buffer, and tests/robustness fails should it ever go away.
    """
    return bool(getattr(reader, "_buffer", b""))


@functools.cache
def _tls_context(verify: bool) -> ssl.SSLContext:
    """One client context per setting for the whole run, shared by every session.

    Why: ``create_default_context`` loads the system CA bundle (about 30 ms), even with verification off;
    per session it cost a fleet with STARTTLS 8x its speed and 160 MiB. A context holds no per-connection
    state and is made to be shared; nothing changes it after this function returns."""
    context = ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _server_hostname(host: str, verify: bool) -> str:
    """The name for SNI and verification; empty (no SNI) for an IP address when nothing is verified."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return host
    return host if verify else ""


def _verb(line: str) -> str:
    """A command's name in error messages: its first word, without a ``:`` and what follows."""
    return line.split(" ", 1)[0].split(":", 1)[0].upper()


def _extensions(reply: Reply) -> dict[str, str]:
    """EHLO keywords (upper case) → parameters; ``AUTH=LOGIN`` (old style) counts as ``AUTH``."""
    found: dict[str, str] = {}
    for line in reply.lines[1:]:
        keyword, _, params = line.strip().replace("=", " ", 1).partition(" ")
        if keyword:
            found.setdefault(keyword.upper(), params.strip())
    return found


@dataclass
class SmtpSession:
    """One connected, greeted SMTP session. Create with :meth:`connect`."""

    host: str
    options: SessionOptions
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    banner: Reply
    tls: TlsState
    peer_ip: str
    local_ip: str
    deadline: Deadline
    greeting: Reply = Reply(250, ("",))
    extensions: dict[str, str] = field(default_factory=dict)
    plain_extensions: dict[str, str] | None = None
    tls_error: str | None = None
    errors: int = 0
    transactions: int = 0
    broken: bool = False
    quit_reply: Reply | None = None

    @classmethod
    async def connect(cls, host: str, port: int, options: SessionOptions) -> SmtpSession:
        """Connect, wait for the whole banner (never talk first), EHLO, and STARTTLS when offered."""
        context = _tls_context(options.tls_verify) if options.smtps else None
        local = (options.source_address, 0) if options.source_address else None
        try:
            async with asyncio.timeout(options.banner_timeout):
                reader, writer = await asyncio.open_connection(
                    host, port, ssl=context, local_addr=local, limit=MAX_LINE,
                    server_hostname=_server_hostname(host, options.tls_verify) if context else None,
                )
                try:
                    banner = await read_reply(reader)
                except BaseException:
                    writer.close()
                    raise
        except TimeoutError:
            raise ProbeError(f"no connection and complete banner within {options.banner_timeout:g} s") from None
        except OSError as exc:
            raise ProbeError(f"cannot connect: {exc.strerror or exc}") from None
        # the transport is looked up when the deadline passes: STARTTLS replaces it
        deadline = Deadline(asyncio.get_running_loop(), lambda: writer.transport.abort())
        session = cls(host, options, reader, writer, banner, "smtps" if context else "none",
                      writer.get_extra_info("peername")[0], writer.get_extra_info("sockname")[0], deadline)
        try:
            await session._open()
        except BaseException:
            session.abort()
            raise
        return session

    async def _open(self) -> None:
        if self.banner.code == 421:
            raise ServerClosing(self.banner)
        if self.banner.code != 220:
            raise ProbeError(f"the server refused the session: {self.banner}")
        await self._greet()
        if self.tls == "none":
            self.plain_extensions = dict(self.extensions)
            if self.options.starttls and "STARTTLS" in self.extensions:
                await self._starttls()

    async def _greet(self) -> None:
        reply = await self.command(f"EHLO {self.options.ehlo}")
        if reply.permanent:
            reply = await self.command(f"HELO {self.options.ehlo}")
            self.extensions = {}
        else:
            self.extensions = _extensions(reply)
        if not reply.positive:
            raise ProbeError(f"the server refused our greeting: {reply}")
        self.greeting = reply

    async def _starttls(self) -> None:
        reply = await self.command("STARTTLS")
        if reply.code != 220:
            self.tls_error = f"STARTTLS refused: {reply}"
            return
        self._expect_nothing_waiting("the TLS handshake")
        verify = self.options.tls_verify
        try:
            async with asyncio.timeout(self.options.timeout):
                await self.writer.start_tls(_tls_context(verify), server_hostname=_server_hostname(self.host, verify))
        except TimeoutError:
            raise ProbeError("TLS handshake timed out") from None
        except (OSError, ssl.SSLError) as exc:
            raise ProbeError(f"TLS handshake failed: {exc}") from None
        self.tls = "starttls"
        await self._greet()

    async def command(self, line: str, *, label: str | None = None) -> Reply:
        """Send one command line verbatim and read its whole reply. 421 raises :class:`ServerClosing`.

        ``label`` names the command in error messages instead of its first word (for AUTH secrets)."""
        verb = label or _verb(line)
        await self._send([line], verb)
        return await self._reply(verb)

    async def _send(self, lines: Sequence[str], verb: str) -> None:
        """Write ``lines`` in one segment (one line, or a pipelined group) within the timeout."""
        if any("\r" in line or "\n" in line for line in lines):
            raise ProbeError("refusing to send a command that contains CR or LF")
        self._expect_nothing_waiting(verb)
        self.deadline.start(self.options.timeout)
        try:
            self.writer.write(b"".join(line.encode("utf-8") + b"\r\n" for line in lines))
            await self.writer.drain()
        except OSError as exc:
            self.broken = True
            if self.deadline.expired:
                raise ProbeError(f"no reply to {verb} within {self.options.timeout:g} s") from None
            raise ProbeError(f"connection lost during {verb}: {exc.strerror or exc}") from None
        finally:
            self.deadline.stop()

    async def _reply(self, verb: str) -> Reply:
        """Read the reply to the next command sent, within the timeout; 421 raises :class:`ServerClosing`."""
        self.deadline.start(self.options.timeout)
        try:
            reply = await read_reply(self.reader)
        except (OSError, ProbeError) as exc:
            self.broken = True
            if self.deadline.expired:
                raise ProbeError(f"no reply to {verb} within {self.options.timeout:g} s") from None
            if isinstance(exc, ProbeError):
                raise
            raise ProbeError(f"connection lost during {verb}: {exc.strerror or exc}") from None
        finally:
            self.deadline.stop()
        if reply.code == 421:
            self.broken = True
            raise ServerClosing(reply)
        if reply.code >= 400:
            self.errors += 1
        return reply

    async def _exchange(self, data: bytes, seconds: float) -> Reply:
        """Send ``data``, read the whole reply within ``seconds``. Any failure breaks the session; one the
        deadline caused (it aborted the transport) is raised as ``TimeoutError``."""
        self.deadline.start(seconds)
        try:
            self.writer.write(data)
            await self.writer.drain()
            return await read_reply(self.reader)
        except (OSError, ProbeError):
            self.broken = True
            if self.deadline.expired:
                raise TimeoutError from None
            raise
        finally:
            self.deadline.stop()

    def _expect_nothing_waiting(self, what: str) -> None:
        if _waiting(self.reader):
            self.broken = True
            raise ProbeError(f"the server sent a reply before {what} was sent, so its replies cannot be matched "
                             "to the commands")

    async def transaction(self, mail_line: str, rcpt_line: str) -> tuple[Reply, Reply | None]:
        """RSET (if this session already had a transaction), then MAIL; RCPT judged only if MAIL was accepted.

        Pipelined when the server offers PIPELINING: see :meth:`transactions`."""
        if "PIPELINING" not in self.extensions:
            if self.transactions:
                self._reset_done(await self.command("RSET"))
            self.transactions += 1
            mail = await self.command(mail_line)
            return (mail, await self.command(rcpt_line)) if mail.positive else (mail, None)
        done: list[tuple[Reply, Reply | None]] = []
        failure = await self.transactions_of([(mail_line, rcpt_line)], done)
        if failure is not None:
            raise failure
        return done[0]

    async def transactions_of(self, pairs: Sequence[tuple[str, str]], done: list[tuple[Reply, Reply | None]]
                              ) -> ProbeError | None:
        """Each (MAIL, RCPT) pair as :meth:`transaction` does it, all in one write: the server must offer PIPELINING.

        Why: a round trip per case instead of three is what bounds a fleet probe (RFC 2920 lets RSET, MAIL and
        RCPT go in one group). Each reply is still read and judged in order, so the outcome is the one the
        lockstep exchange gets. After a refused MAIL the RCPT had no transaction to join (RFC 5321 3.3): its
        reply is read, counted as an error like any, and dropped. Each outcome is appended to ``done`` as it is
        read (so a deadline keeps it); returns the error that broke the session at the next pair, if one did.
        Fewer outcomes and no error: the server hung up after a refused MAIL (what followed reached no session)."""
        first_reset = self.transactions > 0
        lines: list[str] = []
        for index, (mail_line, rcpt_line) in enumerate(pairs):
            lines += ["RSET", mail_line, rcpt_line] if first_reset or index else [mail_line, rcpt_line]
        self.transactions += len(pairs)
        try:
            await self._send(lines, "MAIL")
            for index, (mail_line, rcpt_line) in enumerate(pairs):
                if first_reset or index:
                    self._reset_done(await self._reply("RSET"))
                mail = await self._reply(_verb(mail_line))
                if mail.positive:
                    done.append((mail, await self._reply(_verb(rcpt_line))))
                    continue
                done.append((mail, None))
                try:
                    await self._reply(_verb(rcpt_line))
                except ProbeError:
                    self.broken = True
                    return None
        except ProbeError as exc:
            return exc
        return None

    def _reset_done(self, reply: Reply) -> None:
        if not reply.positive:
            self.broken = True
            raise ProbeError(f"RSET refused: {reply}")

    async def send_message(self, message: bytes) -> Reply:
        """After a 354 to DATA: send the message (dot-stuffed) and the final dot; return the reply."""
        stuffed = b"\r\n".join(b"." + line if line.startswith(b".") else line for line in message.split(b"\r\n"))
        self._expect_nothing_waiting("the message")
        try:
            reply = await self._exchange(stuffed.removesuffix(b"\r\n") + b"\r\n.\r\n", self.options.timeout)
        except TimeoutError:
            raise ProbeError(f"no reply to the end of DATA within {self.options.timeout:g} s") from None
        except (OSError, ProbeError) as exc:
            raise ProbeError(f"message transfer failed: {exc}") from None
        if reply.code == 421:
            self.broken = True
            raise ServerClosing(reply)
        return reply

    async def authenticate(self, user: str, password: str) -> Reply:
        """AUTH PLAIN (or LOGIN when PLAIN is not offered). The password never enters an error message."""
        offered = self.extensions.get("AUTH", "").upper().split()
        if "PLAIN" in offered:
            token = base64.b64encode(f"\0{user}\0{password}".encode()).decode("ascii")
            return await self.command(f"AUTH PLAIN {token}", label="AUTH")
        if "LOGIN" in offered:
            reply = await self.command("AUTH LOGIN")
            for secret in (user, password):
                if reply.code != 334:
                    return reply
                reply = await self.command(base64.b64encode(secret.encode()).decode("ascii"), label="AUTH")
            return reply
        raise ProbeError("the server offers neither AUTH PLAIN nor AUTH LOGIN")

    def server_name(self) -> str | None:
        """The first word after 220 in the banner, else of the EHLO reply (what nmap calls SRVNAME)."""
        for reply in (self.banner, self.greeting):
            match = _HOSTNAME.match(reply.lines[0])
            if match:
                return match.group(0).rstrip(".")
        return None

    async def close(self) -> None:
        """Say QUIT (bounded, best effort) unless the session is already broken, then close."""
        if not self.broken:
            with contextlib.suppress(OSError, ProbeError):  # TimeoutError included
                self.quit_reply = await self._exchange(b"QUIT\r\n", QUIT_TIMEOUT)
            self.broken = True
        self.abort()

    def abort(self) -> None:
        """Close the transport at once, without waiting (used on deadlines and errors)."""
        self.broken = True
        self.deadline.close()
        self.writer.close()
