"""The canary: an SMTP sink that proves a relay by receiving what the relay forwarded.

Why: a 2xx at RCPT is not proof. Many servers accept and then bounce or discard (qmail by design,
sink servers, anti-harvesting setups). In ``--confirm`` mode the probe sends each RCPT-accepted case
a message carrying a unique token; only a token that arrives here makes the case ``relayed``.
The operator routes the foreign test domain to this sink (MX, transport map or relayhost).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
from collections.abc import Collection
from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # aiosmtpd loads only when a canary starts (--confirm), not with every probe
    from aiosmtpd.smtp import SMTP, Envelope, Session

STOP_TIMEOUT = 2.0
_TOKEN = re.compile(rb"mtaharden-probe-[0-9a-f]{24}")


def new_token() -> str:
    return f"mtaharden-probe-{secrets.token_hex(12)}"


class _Handler:
    def __init__(self, canary: Canary) -> None:
        self._canary = canary

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        await self._canary.received({token.decode("ascii") for token in _TOKEN.findall(content)})
        return "250 2.0.0 received by the mtaharden canary"


class Canary:
    """Listen on ``host:port`` (in this event loop) and remember every token seen in a message."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._seen: set[str] = set()
        self._arrived = asyncio.Condition()
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        from aiosmtpd.smtp import SMTP

        loop = asyncio.get_running_loop()
        handler = _Handler(self)
        self._server = await loop.create_server(
            lambda: SMTP(handler, hostname="mtaharden-canary", loop=loop), self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            server, self._server = self._server, None
            server.close()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(STOP_TIMEOUT):
                    await server.wait_closed()

    async def received(self, tokens: set[str]) -> None:
        async with self._arrived:
            self._seen |= tokens
            self._arrived.notify_all()

    async def wait_for(self, tokens: Collection[str], timeout: float) -> set[str]:
        """Wait until every token has arrived or ``timeout`` seconds passed; return those that arrived."""
        wanted = set(tokens)
        try:
            async with asyncio.timeout(timeout), self._arrived:
                await self._arrived.wait_for(lambda: wanted <= self._seen)
        except TimeoutError:
            pass
        return wanted & self._seen

    async def __aenter__(self) -> Canary:
        await self.start()
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()
