"""One reusable deadline per session, instead of a fresh ``asyncio.timeout`` per command.

Why: a full matrix sends about 120 commands per host, and each ``asyncio.timeout`` built a Timeout, pushed a
timer onto the event loop's heap and cancelled it again (a cancelled timer stays in the heap until the loop
compacts it): 11-15% of a fleet run's CPU. A session keeps one timer here and moves it lazily: starting a wait
only records when it must end; when the timer fires it either finds the current wait still within its time
and re-arms for that wait's end, or calls ``on_expiry`` (the session aborts its transport, which ends the
pending read or drain with an error that the session reports as a timeout, since :attr:`expired` is set).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class Deadline:
    """The end of the current wait of one session; one loop timer, re-armed only when it fires early."""

    def __init__(self, loop: asyncio.AbstractEventLoop, on_expiry: Callable[[], None]) -> None:
        self._loop = loop
        self._on_expiry = on_expiry
        self._ends: float | None = None
        self._timer: asyncio.TimerHandle | None = None
        self.expired = False

    def start(self, seconds: float) -> None:
        """A wait of at most ``seconds`` begins now (it replaces a wait that was not stopped)."""
        ends = self._loop.time() + seconds
        self._ends = ends
        if self._timer is not None and self._timer.when() <= ends:
            return  # the armed timer fires first and re-arms then
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._loop.call_at(ends, self._fire)

    def stop(self) -> None:
        """The wait ended in time; the timer stays armed and finds nothing to do when it fires."""
        self._ends = None

    def close(self) -> None:
        """The session is over: drop the timer, so it keeps nothing alive."""
        self._ends = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _fire(self) -> None:
        self._timer = None
        if self._ends is None:
            return
        if self._loop.time() < self._ends:
            self._timer = self._loop.call_at(self._ends, self._fire)
            return
        self._ends = None
        self.expired = True
        self._on_expiry()
