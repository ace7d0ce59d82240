"""The test DNSBL (tests/dnsbl_server.py), started once per test session and stopped at its end."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

from tests.dnsbl_server import DnsblServer, dnsbl_server


@pytest.fixture(scope="session")
def dnsbl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DnsblServer]:
    if shutil.which("rbldnsd") is None:
        if os.environ.get("CI"):
            pytest.fail("CI must provide rbldnsd (scripts/bootstrap.sh --test)")
        pytest.skip("needs rbldnsd (Debian package rbldnsd)")
    with dnsbl_server(tmp_path_factory.mktemp("dnsbl") / "zones") as server:
        yield server
