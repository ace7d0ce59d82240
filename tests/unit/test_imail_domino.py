"""IMail and Domino checklists: the policy's values land in the product's own fields, in click order, and
the gaps are declared (a permit has no field, a defer becomes a refusal)."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from mtaharden.policy import load_policy, load_policy_text
from mtaharden.render import render_plan
from mtaharden.targets.base import registered
from mtaharden.targets.domino import host
from tests.conftest import EXAMPLE_POLICY, REPO


def guide(target: str, data: dict[str, Any] | None = None) -> str:
    chosen = registered()[target]
    policy = load_policy(EXAMPLE_POLICY) if data is None else load_policy_text(json.dumps(data), "policy.yml")
    (text,) = [f.content for f in render_plan(chosen.plan(policy), chosen) if f.path == "GUIDE.md"]
    return text


def test_imail_guide_walks_security_kill_file_dnsbl_advanced_in_order() -> None:
    text = guide("imail")
    places = [text.index(p) for p in ("SMTP Security", "Kill file", "DNS Black Lists", "SMTP Advanced",
                                      "Test from outside")]
    assert places == sorted(places)
    assert "**Relay mail for**: `Addresses listed`" in text
    assert "`127.0.0.0/8`, `::1/128`, `202.112.57.0/24`" in text
    assert "**entries**: `@spam.example`" in text
    assert "**Maximum recipients per message**: `200`" in text and "`mx1.example.edu.cn ESMTP`" in text
    assert "mtaharden probe mx1.example.edu.cn --policy policy.yml --mta imail" in text


def test_imail_relays_for_nobody_without_trusted_networks_and_declares_a_permit() -> None:
    text = guide("imail", {"networks": {"trusted": []},
                           "access": {"senders": [{"match": "ok@example.org", "action": "permit"},
                                                  {"match": "user@", "action": "reject"},
                                                  {"match": "bad@example.net", "action": "defer"}]}})
    assert "**Relay mail for**: `Nobody`" in text
    assert "**entries**: `bad@example.net`" in text and "ok@example.org" not in text.split("## 2.")[1][:200]
    assert "`access.senders[0]` (unsupported)" in text and "`access.senders[1]` (unsupported)" in text
    assert "`access.senders[2]` (approximated)" in text


def test_domino_guide_fills_the_inbound_controls() -> None:
    text = guide("domino")
    assert ("**Allow messages only from the following Internet hosts to be sent to external Internet domains**: "
            "`[127.*.*.*]`, `[::1]`, `[202.112.57.*]`") in text
    assert "**Deny connections from the following SMTP internet host names/IP addresses**: `[192.0.2.*]`" in text
    assert "**Deny messages from the following Internet addresses/domains**: `spam.example`" in text
    assert "**DNS Blacklist sites**: `zen.spamhaus.org`, `bl.spamcop.net`" in text
    assert "`Log and reject message`" in text and "**VRFY command**: `Disabled`" in text
    assert "mtaharden probe mx1.example.edu.cn --policy policy.yml --mta domino" in text


@pytest.mark.parametrize(("network", "written"), [
    ("192.0.2.7/32", "[192.0.2.7]"), ("10.0.0.0/8", "[10.*.*.*]"), ("172.16.0.0/12", "[172.16.0.0/12]"),
    ("2001:db8::/32", "[2001:db8::/32]"), ("::1/128", "[::1]"),
])
def test_domino_host_forms(network: str, written: str) -> None:
    assert host(network) == written


def test_domino_declares_a_permitted_client_and_a_deferring_dnsbl() -> None:
    chosen = registered()["domino"]
    data = {"access": {"clients": [{"match": "192.0.2.0/24", "action": "permit"}]},
            "dnsbl": [{"zone": "bl.example.net", "action": "defer"}]}
    statuses = {c.element: (c.status, c.detail) for c in
                chosen.plan(load_policy_text(json.dumps(data), "policy.yml")).coverage}
    assert statuses["access.clients[0]"][0] == "unsupported"
    assert statuses["dnsbl"][0] == "approximated" and "no temporary refusal" in statuses["dnsbl"][1]


@pytest.mark.parametrize("target", ["messaging_server", "imail", "domino"])
def test_an_unwaived_gap_stops_the_render(tmp_path: Any, target: str) -> None:
    policy = tmp_path / "policy.yml"
    policy.write_text("header_checks:\n  - {header: Subject, pattern: spam, action: reject}\n")
    result = subprocess.run([sys.executable, "-m", "mtaharden", "render", str(policy), "--target", target,
                             "--out", str(tmp_path / "out")], cwd=REPO, capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 2 and "header_checks" in result.stderr
    assert not (tmp_path / "out" / target).exists()


def test_list_files_land_whole_or_are_declared(tmp_path: Any) -> None:
    """A list file's entries all reach the product's list; one user@ entry makes the whole item a gap."""
    (tmp_path / "clients.txt").write_text("198.51.100.7\n203.0.113.0/24\n")
    (tmp_path / "senders.txt").write_text("@spam.example\nbad@example.net\n")
    (tmp_path / "mixed.txt").write_text("@other.example\nuser@\n")
    (tmp_path / "policy.yml").write_text(
        "access:\n  clients:\n    - {file: clients.txt, action: reject}\n"
        "  senders:\n    - {file: senders.txt, action: reject}\n    - {file: mixed.txt, action: reject}\n")
    policy = load_policy(tmp_path / "policy.yml")
    domino = registered()["domino"].plan(policy)
    text = render_plan(domino, registered()["domino"])[0].content
    assert "`[198.51.100.7]`, `[203.0.113.*]`" in text and "`spam.example`, `bad@example.net`" in text
    assert "other.example" not in text.split("What Domino does differently")[0]
    assert {c.element: c.status for c in domino.coverage}["access.senders[1]"] == "unsupported"
    imail = registered()["imail"].plan(policy)
    assert "`@spam.example`, `bad@example.net`" in render_plan(imail, registered()["imail"])[0].content
    assert {c.element: c.status for c in imail.coverage}["access.senders[1]"] == "unsupported"
