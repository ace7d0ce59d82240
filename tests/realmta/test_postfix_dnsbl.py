"""Postfix-specific DNSBL detail: a literal $ in the reply survives Postfix's $-expansion (the shared
behaviour suite covers listed, unlisted and trusted clients for every target).

Postfix, rbldnsd and the SMTP client all run in the namespace, whose /etc/resolv.conf (mounted by
``ip netns exec``) points at rbldnsd. Nothing leaves the namespace's loopback.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator

import pytest

from tests.conftest import REPO, need_real_mta, render_policy
from tests.realmta.harness import Netns, Postfix, Rbldnsd, daemon_dir, run

pytestmark = pytest.mark.realmta
ZONE = "bl.example.test"
LISTED, UNLISTED, TRUSTED = "127.0.0.2", "127.0.0.3", "127.0.0.1"
PORT = 2525


@pytest.fixture(scope="module")
def netns_postfix() -> Iterator[Postfix]:
    need_real_mta("postfix", "rbldnsd", "ip", "dig", "script")
    with daemon_dir("dnsbl") as work, Netns(f"mtah{work.name[-6:]}") as netns:
        config_dir = work / "etc"
        policy = {
            "hostname": "mx.example.test",
            "domains": {"local": ["example.test"]},
            "networks": {"trusted": [f"{TRUSTED}/32"]},
            "dnsbl": [{"zone": ZONE, "message": "Blocked: {client} is listed at {zone}; see the $ price"}],
            "targets": {"postfix": {"config_dir": str(config_dir), "smtp_port": PORT, "chroot": False,
                                    "inet_interfaces": ["127.0.0.1"], "inet_protocols": "ipv4"}},
        }
        plan, rendered = render_policy(policy, work / "r")
        instance = Postfix.install(rendered, config_dir, PORT, [step.argv for step in plan.steps], netns=netns.name)
        with Rbldnsd(work / "rbl", ZONE, [LISTED], "test listing", netns=netns.name), instance.running():
            yield instance


def rcpt_in_netns(postfix: Postfix, source: str) -> tuple[int, str]:
    request = {"host": postfix.address, "port": postfix.port, "source": source,
               "commands": ["EHLO client.test", "MAIL FROM:<a@client.test>", "RCPT TO:<user@example.test>"]}
    result = run([sys.executable, "-m", "tests.realmta.smtp_client", json.dumps(request)], netns=postfix.netns,
                 cwd=REPO)
    code, text = json.loads(result.stdout)["replies"][-1]
    return int(code), str(text)


def test_listed_client_is_rejected_with_the_policy_message(netns_postfix: Postfix) -> None:
    code, text = rcpt_in_netns(netns_postfix, LISTED)
    assert code == 554
    assert text == f"5.7.1 Blocked: {LISTED} is listed at {ZONE}; see the $ price"
