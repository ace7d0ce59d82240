"""Postfix-specific DNSBL detail: a literal $ in the reply survives Postfix's $-expansion (the shared
behaviour suite covers listed, unlisted and trusted clients for every target; Sendmail cannot carry
a $ in a reply and reports that in its coverage)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import need_real_mta
from tests.realmta.harness import Netns, Rbldnsd, daemon_dir
from tests.realmta.mta_lab import UNTRUSTED, RunningMta, behaviour_policy, rcpt_in_netns, running_mta

pytestmark = pytest.mark.realmta
ZONE = "bl.example.test"
MESSAGE = "Blocked: {client} is listed at {zone}; see the $ price"


@pytest.fixture(scope="module")
def mta() -> Iterator[RunningMta]:
    need_real_mta("rbldnsd", "ip", "dig")
    policy = behaviour_policy(dnsbl=[{"zone": ZONE, "message": MESSAGE}])
    with daemon_dir("dnsbl") as base, Netns(f"mtah{base.name[-6:]}") as netns, \
            Rbldnsd(base / "rbl", ZONE, [UNTRUSTED], "test listing", netns=netns.name), \
            running_mta("postfix", base, policy, netns=netns.name, port=2525) as running:
        yield running


def test_reply_text_keeps_a_literal_dollar(mta: RunningMta) -> None:
    code, text = rcpt_in_netns(mta, UNTRUSTED)
    assert code == 554
    assert text == f"5.7.1 Blocked: {UNTRUSTED} is listed at {ZONE}; see the $ price"
