"""Sendmail as Debian installs it: the plan's own check step, the replies, and who reaches postmaster@.

Each finding of issue 14 on stock Sendmail is proved here on Debian's ``sendmail`` package, deployed
from the default render exactly as the role deploys it (``tests/lab/sendmail.py``), and each proof can
fail: the check step is shown to fail on a relay hole, and the client-reject rule to matter. Issue 17's
Sendmail divergences too: IPv6 clients (one [::] socket for both families), and the HELO name given
before STARTTLS.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mtaharden.policy import load_policy
from mtaharden.targets.base import Plan, Step
from mtaharden.targets.sendmail import SendmailTarget
from mtaharden.targets.sendmail.relay_check import relay_scenarios
from mtaharden.targets.sendmail.rulesets import CLIENT_RULESET
from tests.lab.host import LabHost
from tests.lab.kind import install_plan, run_steps
from tests.lab.network import BLOCKED, DNSBL_ZONE, PREFIX6, REJECTED, REPO, TRUSTED, UNTRUSTED, LabNet
from tests.lab.policy import CERT, KEY, LOCAL_RECIPIENT, MESSAGES, prepare_auth, render
from tests.lab.roots import need_lab
from tests.lab.sendmail import SendmailKind
from tests.lab.smtp import Session, body, talk

EXAMPLE = REPO / "examples" / "policy.yml"
EXAMPLE_HOST = "mx1.example.edu.cn"  # the example policy's hostname
KIND = SendmailKind()


@pytest.fixture(scope="module")
def net() -> Iterator[LabNet]:
    need_lab("dnsmasq", "rbldnsd")
    with LabNet() as lab_net:
        yield lab_net


def check_step(plan: Plan) -> Step:
    """The relay self-check (address test mode over relay-check.bt), among the plan's check steps."""
    (step,) = [s for s in plan.steps if s.phase == "check" and "relay-check.bt" in " ".join(s.argv)]
    return step


def run_check(host: LabHost, plan: Plan) -> subprocess.CompletedProcess[str]:
    return host.run(list(check_step(plan).argv), check=False)


def _render_example(work: Path) -> Plan:
    """The bundled example rendered with the defaults by the CLI, as a user renders it; its plan."""
    subprocess.run([sys.executable, "-m", "mtaharden", "render", str(EXAMPLE), "--target", "sendmail", "--out",
                    str(work / "out")], check=True, capture_output=True, text=True, timeout=120, cwd=REPO)
    return SendmailTarget().plan(load_policy(EXAMPLE))


def test_example_policy_deploys_on_stock_debian_and_its_check_catches_a_relay_hole(
        net: LabNet, tmp_path: Path) -> None:
    plan = _render_example(tmp_path)
    with net.host(KIND, fqdn=EXAMPLE_HOST) as host:
        install_plan(host, tmp_path / "out" / "sendmail", plan)
        run_steps(host, plan)  # build (m4, makemap) and check (-bt), as the role runs them: must pass
        verdicts = host.path("/etc/mail/relay-check.expected").read_text().split()
        assert verdicts.count("accepted") >= 3 and verdicts.count("refused") >= 3

        # A relay hole the policy never asked for: every stranger of 198.51.100.0/24 may relay.
        access = host.path("/etc/mail/access")
        access.write_text(access.read_text() + "Connect:198.51.100\tRELAY\n")
        run_steps(host, plan, ("build",))
        failed = run_check(host, plan)
        assert failed.returncode != 0, failed.stdout
        assert re.search(r"^> accepted$", failed.stdout, re.MULTILINE), failed.stdout


def test_client_reject_rule_is_what_refuses_a_permitted_recipient(net: LabNet, tmp_path: Path) -> None:
    """Without mtaharden's Local_check_rcpt, Debian's cf lets a refused client reach postmaster@
    (delay_checks' FRIEND skips the Connect: lookup), and the check step says so."""
    policy = load_policy(EXAMPLE)
    plan = _render_example(tmp_path)
    (index,) = [i for i, s in enumerate(relay_scenarios(policy)) if s.name.startswith("refused client")]
    script = (tmp_path / "out" / "sendmail" / "relay-check.bt").read_text().splitlines()
    scenario = script[8 * index:8 * index + 8]  # the rendered script's lines for that scenario
    assert scenario[-1].startswith("check_rcpt <"), scenario
    with net.host(KIND, fqdn=EXAMPLE_HOST) as host:
        install_plan(host, tmp_path / "out" / "sendmail", plan)
        run_steps(host, plan)
        cf = host.path("/etc/mail/sendmail.cf")
        lines = cf.read_text().splitlines()
        start = lines.index(CLIENT_RULESET[0], lines.index(CLIENT_RULESET[0]) + 1)  # ours, after proto.m4's
        assert lines[start + 1:start + len(CLIENT_RULESET)] == list(CLIENT_RULESET[1:])
        cf.write_text("\n".join([*lines[:start + 1], *lines[start + len(CLIENT_RULESET):]]) + "\n")  # its lines
        assert run_check(host, plan).returncode != 0
        answer = host.run(["sendmail", "-C", "/etc/mail/sendmail.cf", "-bt"],
                          input_text="\n".join(scenario) + "\n").stdout
        assert re.search(r"^check_rcpt +returns: SPAMFRIEND$", answer, re.MULTILINE), answer


@dataclass(frozen=True)
class Deployed:
    net: LabNet
    host: LabHost
    version: str


@pytest.fixture(scope="module")
def deployed(net: LabNet, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    """The behaviour suite's policy on a stock Sendmail host, deployed as the role does."""
    _, plan, rendered = render(KIND, tmp_path_factory.mktemp("sendmail-stock"))
    with net.host(KIND) as host:
        prepare_auth(host, KIND)
        KIND.deploy(host, rendered, plan)
        banner = host.run(["sh", "-c", "sendmail -d0.1 -bt < /dev/null"], check=False).stdout
        version = re.search(r"^Version (\S+)", banner, re.MULTILINE)
        assert version, banner
        try:
            yield Deployed(net, host, version.group(1))
        finally:
            KIND.stop(host)


SOFTWARE = re.compile(r"sendmail|debian|proofpoint|version", re.IGNORECASE)


def test_no_reply_names_the_software_or_its_version(deployed: Deployed) -> None:
    commands: list[str | dict[str, str]] = ["HELP", "HELP mail", "HELP nosuchtopic", "EHLO client.test", "FOO",
                                            "VRFY root", "EXPN root", "ETRN example.test", "VERB", "NOOP",
                                            "MAIL FROM:<a@b", "RSET", "QUIT"]
    (conversation,) = talk(deployed.net, [Session(deployed.host.address, UNTRUSTED, commands)])
    replies = [conversation.banner, *conversation.replies]
    assert conversation.banner[1].split()[1:] == ["ESMTP"], conversation.banner
    assert conversation.replies[0][0] == 214, conversation.replies[0]
    for code, text in replies:
        assert deployed.version not in text and not SOFTWARE.search(text), (code, text)


def test_relayed_mail_carries_no_version(deployed: Deployed) -> None:
    message = "Subject: trace\nFrom: a@example.test\n\nhello"
    (conversation,) = talk(deployed.net, [Session(deployed.host.address, TRUSTED, [
        "EHLO trusted.client.test", "MAIL FROM:<a@example.test>", "RCPT TO:<someone@foreign.test>", "DATA",
        body(message), "QUIT"])])
    assert conversation.replies[4][0] == 250, conversation.replies
    lines = [line for m in _wait_for_sink(deployed) for line in m["data"].splitlines()]
    received = [line for line in lines if line.startswith("Received:")]
    assert received and all(deployed.version not in line and not SOFTWARE.search(line) for line in received), received


def _wait_for_sink(deployed: Deployed) -> list[dict[str, Any]]:
    for _ in range(150):  # 30 s
        messages = deployed.net.sink_messages()
        if messages:
            return messages
        time.sleep(0.2)
    raise AssertionError(f"nothing reached the sink:\n{KIND.log_text(deployed.host)}")


def test_explicit_client_reject_beats_a_recipient_permit(deployed: Deployed) -> None:
    def rcpt(source: str, recipient: str) -> tuple[int, str]:
        (conversation,) = talk(deployed.net, [Session(deployed.host.address, source, [
            "EHLO client.test", "MAIL FROM:<a@foreign.test>", f"RCPT TO:<{recipient}>", "QUIT"])])
        return conversation.replies[2]

    refused = rcpt(REJECTED, LOCAL_RECIPIENT)
    assert refused[0] == 550 and MESSAGES["client"] in refused[1], refused
    permitted = rcpt(UNTRUSTED, LOCAL_RECIPIENT)
    assert permitted[0] == 250, permitted
    assert rcpt(BLOCKED, LOCAL_RECIPIENT)[0] == 250  # permit exempts from the DNSBL ...
    listed = rcpt(BLOCKED, "someone@example.test")  # ... which refuses every other recipient
    assert listed[0] == 550 and "listed at" in listed[1], listed


def _v6(address: str) -> str:
    """A lab client's IPv6 address (same last number as its IPv4 one)."""
    return f"{PREFIX6}{address.rsplit('.', 1)[1]}"


SIX_MESSAGE = "Go away, six"
SIX_POLICY: dict[str, Any] = {
    "version": 1, "hostname": "mx.example.test", "domains": {"local": ["example.test"]},
    "networks": {"trusted": ["127.0.0.0/8", "::1/128", f"{_v6(TRUSTED)}/128"]},
    "access": {"clients": [{"match": f"{_v6(REJECTED)}/128", "action": "reject", "message": SIX_MESSAGE}],
               "helo": [{"match": "client.test", "action": "reject", "message": MESSAGES["helo"]}]},
    "dnsbl": [{"zone": DNSBL_ZONE, "match": ["127.0.0.2"]}],
    "smtp": {"require_helo": False},
    "tls": {"cert": CERT, "key": KEY},
}


@pytest.fixture(scope="module")
def dual(net: LabNet, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    """A policy with IPv6 rules and no listen_address, deployed on a stock host."""
    _, plan, rendered = render(KIND, tmp_path_factory.mktemp("sendmail-six"), dict(SIX_POLICY))
    with net.host(KIND) as host:
        prepare_auth(host, KIND)
        KIND.deploy(host, rendered, plan)
        try:
            yield Deployed(net, host, "")
        finally:
            KIND.stop(host)


def _listeners(host: LabHost, table: str) -> list[str]:
    """Local addresses (hex, as the kernel lists them) of the sockets listening on port 25."""
    rows = [line.split() for line in host.run(["cat", f"/proc/net/{table}"]).stdout.splitlines()[1:]]
    return [row[1].rpartition(":")[0] for row in rows if row[3] == "0A" and row[1].endswith(":0019")]


def _rcpts(deployed: Deployed, source: str, *recipients: str) -> list[tuple[int, str]]:
    address = deployed.host.address6 if ":" in source else deployed.host.address
    (conversation,) = talk(deployed.net, [Session(address, source, [
        "EHLO six.test", "MAIL FROM:<a@sender.test>", *(f"RCPT TO:<{r}>" for r in recipients), "QUIT"])])
    assert conversation.banner[0] == 220, conversation.banner
    return conversation.replies[2:2 + len(recipients)]


def test_one_socket_on_port_25_serves_both_families(dual: Deployed) -> None:
    """Family=inet6 on [::] and no IPv4 socket (Sendmail sets no IPV6_V6ONLY, so one could not bind beside it)."""
    assert _listeners(dual.host, "tcp6") == ["0" * 32], _listeners(dual.host, "tcp6")
    assert _listeners(dual.host, "tcp") == []


def test_ipv6_clients_meet_the_same_trust_and_client_rules(dual: Deployed) -> None:
    relayed = _rcpts(dual, _v6(TRUSTED), "x@foreign.test")
    assert relayed[0][0] == 250, relayed  # a trusted IPv6 network relays (access Connect:IPv6:… RELAY)
    refused = _rcpts(dual, _v6(REJECTED), LOCAL_RECIPIENT)
    assert refused[0][0] == 550 and SIX_MESSAGE in refused[0][1], refused
    stranger = _rcpts(dual, _v6(UNTRUSTED), "x@foreign.test", LOCAL_RECIPIENT)
    assert stranger[0][0] == 550 and "Relaying denied" in stranger[0][1], stranger
    assert stranger[1][0] == 250, stranger
    unlisted = _rcpts(dual, _v6(BLOCKED), LOCAL_RECIPIENT)  # not looked up in the IPv4 DNSBL
    assert unlisted[0][0] == 250, unlisted


def test_ipv4_clients_keep_their_ipv4_keys_through_the_ipv6_socket(dual: Deployed) -> None:
    """An IPv4-mapped client is written as plain IPv4: the DNSBL reverses it, IPv4 trust does not extend."""
    listed = _rcpts(dual, BLOCKED, LOCAL_RECIPIENT)
    assert listed[0][0] == 550 and BLOCKED in listed[0][1], listed
    untrusted = _rcpts(dual, TRUSTED, "x@foreign.test")  # trusted is the IPv6 twin only
    assert untrusted[0][0] == 550, untrusted


def test_a_helo_name_given_before_starttls_is_forgotten(dual: Deployed) -> None:
    """tests.lab.smtp says EHLO client.test before STARTTLS: only a new EHLO with that name meets its rule."""
    def after_tls(*greeting: str) -> tuple[int, str]:
        (conversation,) = talk(dual.net, [Session(dual.host.address, UNTRUSTED, [
            *greeting, "MAIL FROM:<a@sender.test>", f"RCPT TO:<{LOCAL_RECIPIENT}>", "QUIT"], starttls=True)])
        assert conversation.replies[1][0] == 220, conversation.replies  # STARTTLS
        return conversation.replies[-2]

    assert after_tls()[0] == 250
    assert after_tls("EHLO good.test")[0] == 250
    again = after_tls("EHLO client.test")
    assert again[0] == 550 and MESSAGES["helo"] in again[1], again


def test_require_helo_wants_a_new_ehlo_after_starttls_even_for_a_permitted_recipient(deployed: Deployed) -> None:
    """The behaviour policy requires HELO; Sendmail would count the EHLO before STARTTLS. postmaster@ is a
    recipient permit (Spam: FRIEND, which skips check_mail), so this proves the refusal sits in Local_check_rcpt."""
    def after_tls(*greeting: str) -> tuple[int, str]:
        (conversation,) = talk(deployed.net, [Session(deployed.host.address, UNTRUSTED, [
            *greeting, "MAIL FROM:<a@sender.test>", f"RCPT TO:<{LOCAL_RECIPIENT}>", "QUIT"], starttls=True)])
        return conversation.replies[-2]

    refused = after_tls()
    assert refused[0] == 503 and "HELO first" in refused[1], refused
    assert after_tls("EHLO client.test")[0] == 250
