"""Fixtures of the robustness suites: the real tools each one needs, and the probe tests' fake servers."""

from __future__ import annotations

import pytest

from tests.conftest import need_real_mta
from tests.probe.conftest import serve, server_loop
from tests.realmta.harness import Sendmail

__all__ = ["m4_tools", "postfix_tools", "qmail_tools", "serve", "server_loop"]


@pytest.fixture(scope="module")
def postfix_tools() -> None:
    need_real_mta("postfix", "postconf", "postmap", "script")


@pytest.fixture(scope="module")
def m4_tools() -> None:
    need_real_mta("m4", str(Sendmail.binary), str(Sendmail.makemap))  # the unpacked Sendmail and sendmail-cf


@pytest.fixture(scope="module")
def qmail_tools() -> None:
    need_real_mta("tcprules", "tcprulescheck", "sh")
