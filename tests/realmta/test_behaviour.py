"""One SMTP behaviour suite, run against every target whose real daemon runs here.

A difference between targets is allowed only where that target's COVERAGE.md says so.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Iterator

import pytest

from mtaharden.probe.cases import CASES
from tests.realmta.harness import SANDBOX_PARENT, Netns, Rbldnsd, daemon_dir
from tests.realmta.mta_lab import (
    BLOCKED,
    LOCAL_RECIPIENT,
    PASSWORD,
    REALM,
    RUNNING_TARGETS,
    TRUSTED,
    UNTRUSTED,
    USER,
    RunningMta,
    behaviour_policy,
    rcpt_in_netns,
    running_mta,
    with_auth,
)
from tests.realmta.smtp_client import Body, converse

pytestmark = pytest.mark.realmta


@pytest.fixture(scope="module", params=RUNNING_TARGETS)
def mta(request: pytest.FixtureRequest) -> Iterator[RunningMta]:
    with daemon_dir(request.param, parent=SANDBOX_PARENT) as base:
        policy = with_auth(behaviour_policy(), base)
        with running_mta(request.param, base, policy) as running:
            yield running


def rcpt(mta: RunningMta, source: str, recipient: str, sender: str = "probe@client.test",
         helo: str = "client.test") -> tuple[int, str]:
    talk = converse(mta.address, mta.port, source, [f"EHLO {helo}", f"MAIL FROM:<{sender}>", f"RCPT TO:<{recipient}>"])
    return talk.replies[-1]


def test_probe_finds_every_relay_form_refused_and_the_policy_kept(mta: RunningMta) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mtaharden", "probe", f"{mta.address}:{mta.port}", "--source-address", UNTRUSTED,
         "--policy", str(mta.policy_file), "--format", "json", "--timeout", "10"],
        capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    host = json.loads(result.stdout)["hosts"][0]
    verdicts = {case["id"]: case["verdict"] for case in host["cases"]}
    assert set(verdicts) == {case.id for case in CASES}
    assert set(verdicts.values()) <= {"refused", "not-tested"}, verdicts
    assert list(verdicts.values()).count("refused") >= 16, verdicts
    assert {check["status"] for check in host["checks"]} == {"ok"}, host["checks"]


def test_trusted_client_relays(mta: RunningMta) -> None:
    assert rcpt(mta, TRUSTED, "someone@foreign.test")[0] == 250


def test_untrusted_client_cannot_relay(mta: RunningMta) -> None:
    code, text = rcpt(mta, UNTRUSTED, "someone@foreign.test")
    assert 500 <= code < 600 and "elay" in text


def test_local_and_relay_domains_are_accepted(mta: RunningMta) -> None:
    assert rcpt(mta, UNTRUSTED, LOCAL_RECIPIENT)[0] == 250
    assert rcpt(mta, UNTRUSTED, "postmaster@relay.example.test")[0] == 250


def test_banner_hides_the_software(mta: RunningMta) -> None:
    code, text = converse(mta.address, mta.port, UNTRUSTED, ["NOOP"]).banner
    assert code == 220 and text == "mx.example.test ESMTP"


def test_vrfy_and_expn_reveal_nothing(mta: RunningMta) -> None:
    replies = converse(mta.address, mta.port, UNTRUSTED, ["EHLO client.test", "VRFY root", "EXPN root"]).replies
    vrfy, expn = replies[-2][0], replies[-1][0]
    assert vrfy == 252 or vrfy >= 500
    assert expn >= 500


def test_listed_client_is_rejected_with_the_policy_message(mta: RunningMta) -> None:
    code, text = rcpt(mta, BLOCKED, LOCAL_RECIPIENT)
    assert code >= 500 and "Go away, client" in text


def test_helo_sender_and_recipient_rules(mta: RunningMta) -> None:
    assert "Bad HELO" in rcpt(mta, UNTRUSTED, LOCAL_RECIPIENT, helo="bad.helo.test")[1]
    assert "Sender domain refused" in rcpt(mta, UNTRUSTED, LOCAL_RECIPIENT, sender="x@spam.example")[1]
    assert "Mailbox closed" in rcpt(mta, UNTRUSTED, "closed@example.test")[1]


@pytest.mark.parametrize(("subject", "code"), [("MAKE MONEY FAST today", 550), ("lunch at noon", 250)])
def test_header_check(mta: RunningMta, subject: str, code: int) -> None:
    message = Body(f"Subject: {subject}\nFrom: a@client.test\n\nbody")
    talk = converse(mta.address, mta.port, UNTRUSTED,
                    ["EHLO client.test", "MAIL FROM:<a@client.test>", f"RCPT TO:<{LOCAL_RECIPIENT}>", "DATA", message])
    assert talk.replies[-2][0] == 354
    assert talk.replies[-1][0] == code
    if code == 550:
        assert "No spam here" in talk.replies[-1][1]


def auth_plain(password: str = PASSWORD) -> str:
    return "AUTH PLAIN " + base64.b64encode(f"\0{USER}@{REALM}\0{password}".encode()).decode()


def test_auth_is_offered_only_after_starttls(mta: RunningMta) -> None:
    ehlo = converse(mta.address, mta.port, UNTRUSTED, ["EHLO client.test"]).replies[-1]
    assert ehlo[0] == 250 and "STARTTLS" in ehlo[1] and "AUTH" not in ehlo[1]
    refused = converse(mta.address, mta.port, UNTRUSTED, ["EHLO client.test", auth_plain()]).replies[-1]
    assert refused[0] >= 500


def test_authenticated_client_relays_and_a_wrong_password_does_not(mta: RunningMta) -> None:
    good = converse(mta.address, mta.port, UNTRUSTED, ["EHLO client.test", auth_plain(),
                                                       "MAIL FROM:<alice@example.test>", "RCPT TO:<x@foreign.test>"],
                    starttls=True).replies
    assert "AUTH" in good[-4][1] and good[-3][0] == 235 and good[-1][0] == 250, good
    bad = converse(mta.address, mta.port, UNTRUSTED, ["EHLO client.test", auth_plain("wrong"),
                                                      "MAIL FROM:<alice@example.test>", "RCPT TO:<x@foreign.test>"],
                   starttls=True).replies
    assert bad[-3][0] == 535 and bad[-1][0] >= 500, bad


ZONE, LISTED, UNLISTED = "bl.example.test", "127.0.0.2", "127.0.0.3"


@pytest.fixture(scope="module", params=RUNNING_TARGETS)
def dnsbl_mta(request: pytest.FixtureRequest) -> Iterator[RunningMta]:
    policy = behaviour_policy(dnsbl=[{"zone": ZONE, "message": "Blocked: {client} is listed at {zone}"}])
    with daemon_dir(f"{request.param}-rbl") as base, Netns(f"mtah{base.name[-6:]}") as netns, \
            Rbldnsd(base / "rbl", ZONE, [LISTED], "test listing", netns=netns.name), \
            running_mta(request.param, base, policy, netns=netns.name, port=2525) as running:
        yield running


def test_dnsbl_listed_client_is_rejected_with_the_policy_message(dnsbl_mta: RunningMta) -> None:
    code, text = rcpt_in_netns(dnsbl_mta, LISTED)
    assert code >= 500
    assert f"Blocked: {LISTED} is listed at {ZONE}" in text


def test_dnsbl_unlisted_and_trusted_clients_pass(dnsbl_mta: RunningMta) -> None:
    assert rcpt_in_netns(dnsbl_mta, UNLISTED)[0] == 250
    assert rcpt_in_netns(dnsbl_mta, TRUSTED)[0] == 250
