"""Fixtures: a background loop for fake servers, each stopped when its test ends."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.probe.fakes import FakeSmtp, ServerLoop


@pytest.fixture(scope="session")
def server_loop() -> Iterator[ServerLoop]:
    loop = ServerLoop()
    yield loop
    loop.close()


@pytest.fixture
def serve(server_loop: ServerLoop) -> Iterator[Callable[[FakeSmtp], FakeSmtp]]:
    """``serve(FakeSmtp(...))`` starts a fake server; every one is stopped when the test ends."""
    yield server_loop.start
    server_loop.stop_all()
