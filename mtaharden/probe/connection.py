"""The current session to one endpoint, replaced when needed.

Why: a relay matrix makes the server say "no" many times. Postfix sleeps 1 s per reply after 10
errors (``smtpd_soft_error_limit``) and hangs up after 20; Sendmail throttles bad recipients. So the
probe starts a fresh session before the error count of the current one reaches ``reconnect_every``
(default 8), and after the server closed or broke the current one (421, reset, timeout, garbage).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Concatenate, ParamSpec, TypeVar

from .endpoint import Endpoint
from .session import ProbeError, Reply, SessionOptions, SmtpSession

P = ParamSpec("P")
T = TypeVar("T")

DEFAULT_RECONNECT_EVERY = 8


class Connection:
    def __init__(self, endpoint: Endpoint, options: SessionOptions,
                 reconnect_every: int = DEFAULT_RECONNECT_EVERY) -> None:
        self.endpoint = endpoint
        self.options = options
        self.reconnect_every = reconnect_every
        self.connects = 0
        self.last_quit: Reply | None = None  # the last QUIT reply heard (checked for leaks)
        self._current: SmtpSession | None = None

    async def session(self) -> SmtpSession:
        """The current session, or a new one if it is broken or has collected enough errors."""
        return self.live() or await self.fresh()

    def live(self) -> SmtpSession | None:
        """The current session if it may take more commands now, else None (never connects)."""
        current = self._current
        if current is not None and not current.broken and current.errors < self.reconnect_every:
            return current
        return None

    async def fresh(self) -> SmtpSession:
        """Close the current session (politely) and open a new one."""
        await self.drop()
        self.connects += 1
        self._current = await SmtpSession.connect(self.endpoint.host, self.endpoint.port, self.options)
        return self._current

    async def run(self, step: Callable[Concatenate[SmtpSession, P], Awaitable[T]],
                  *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``step`` on the current session; if the session fails (421, reset, timeout, garbage),
        run it once more on a new session. A second failure is raised."""
        try:
            return await step(await self.session(), *args, **kwargs)
        except ProbeError:
            return await step(await self.fresh(), *args, **kwargs)

    async def drop(self) -> None:
        if self._current is not None:
            current, self._current = self._current, None
            await current.close()
            self.last_quit = current.quit_reply or self.last_quit

    def abort(self) -> None:
        """Close at once without a QUIT: used when the host's deadline has passed."""
        if self._current is not None:
            self._current.abort()
            self._current = None

    async def __aenter__(self) -> Connection:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if kind is None:
            await self.drop()
        else:
            self.abort()
