"""qmail's front end for real: tcprules compiles tcp.smtp, the rendered run script starts tcpserver
(and rblsmtpd), and a stand-in for qmail-smtpd reports what it was given.

qmail itself is not packaged in Debian 12; ucspi-tcp is, so everything in front of qmail-smtpd runs
for real. The stand-in speaks just enough SMTP and answers ``XENV`` with its uid, arguments and
environment. DNSBL tests run tcpserver, rbldnsd and the clients inside a network namespace.
"""

from __future__ import annotations

import ipaddress
import json
import random
import shutil
import smtplib
import string
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from mtaharden.targets.base import Plan
from tests.conftest import EXAMPLE_POLICY, REPO, need_real_mta, render_policy
from tests.realmta.harness import Netns, RbldnsdZones, RunService, daemon_dir, free_port, run
from tests.realmta.smtp_client import converse
from tests.unit.test_qmail_plan import lookup, parse_rules

pytestmark = pytest.mark.realmta
ZONE, SLOW_ZONE = "bl.example.test", "slow.example.test"
CHECKPASSWORD = "/usr/local/bin/checkpassword-test"
HOSTILE = "Go away: \"spam\", 'ham' & /eggs/ | 100% + ^ ! ~ see http://x.test/?a=b,c#d"

FAKE_SMTPD = r"""#!/bin/sh
# Stands in for qmail-smtpd: just enough SMTP, and XENV reports uid, arguments and environment.
printf '220 fake-qmail-smtpd ESMTP\r\n'
while IFS= read -r line; do
  case "$line" in
    [Qq][Uu][Ii][Tt]*) printf '221 bye\r\n'; exit 0 ;;
    [Xx][Ee][Nn][Vv]*)
      printf '250-UID=%s\r\n' "$(id -u)"
      printf '250-ARGS=%s\r\n' "$*"
      env | LC_ALL=C sort | sed 's/^/250-/; s/$/\r/'
      printf '250 end\r\n' ;;
    *) printf '250 ok\r\n' ;;
  esac
done
"""


@dataclass
class Installed:
    """A rendered qmail target laid out as on a server, below one private folder."""

    plan: Plan
    home: Path
    service: Path
    rules: Path
    port: int
    netns: str | None = None


def install(work: Path, data: dict[str, Any], port: int) -> Installed:
    """Render ``data`` for qmail, put the files where the plan says, compile tcp.smtp with its step."""
    home, rules = work / "qmail", work / "etc" / "tcp.smtp"
    options = {"home": str(home), "tcp_rules_file": str(rules), "service_dir": str(work / "service"),
               "listen": "127.0.0.1", "smtp_port": port, "smtpd_user": "nobody"}
    data = {**data, "targets": {"qmail": {**options, **data.get("targets", {}).get("qmail", {})}}}
    plan, out = render_policy(data, work / "render", target="qmail")
    shutil.copytree(out / "control", home / "control")
    (home / "bin").mkdir()
    (home / "bin" / "qmail-smtpd").write_text(FAKE_SMTPD)
    (home / "bin" / "qmail-smtpd").chmod(0o755)
    rules.parent.mkdir()
    shutil.copy(out / "tcp.smtp", rules)
    shutil.copytree(out / "service" / "qmail-smtpd", work / "service" / "qmail-smtpd")
    (compile_step,) = [step.argv for step in plan.steps if step.phase == "build" and step.argv[:2] == ("sh", "-c")]
    run(compile_step)
    return Installed(plan, home, work / "service" / "qmail-smtpd", rules, port)


def parse_env(text: str) -> dict[str, str]:
    pairs = (line.partition("=") for line in text.splitlines() if "=" in line)
    return {name: value for name, _, value in pairs}


# --- tcpserver + tcp.smtp on the host's loopback ----------------------------------------------

TRUSTED, OTHER, DENIED = "127.0.0.1", "127.0.0.2", "127.0.0.4"


@pytest.fixture(scope="module")
def plain() -> Iterator[Installed]:
    need_real_mta("tcpserver", "tcprules", "sh")
    with daemon_dir("qmail") as work:
        data = {
            "hostname": "mx.example.test",
            "domains": {"local": ["example.test"]},
            "networks": {"trusted": [f"{TRUSTED}/32"]},
            "auth": {"enabled": True, "require_tls": False},
            "access": {"clients": [{"match": f"{DENIED}/32", "action": "reject"}]},
            "targets": {"qmail": {"auth_patch": "qmail-smtpd-auth", "checkpassword": CHECKPASSWORD}},
        }
        installed = install(work, data, free_port())
        with RunService(installed.service, "127.0.0.1", installed.port):
            yield installed


def xenv(installed: Installed, source: str) -> dict[str, str]:
    result = converse("127.0.0.1", installed.port, source, ["XENV"])
    assert result.banner == (220, "fake-qmail-smtpd ESMTP")
    code, text = result.replies[0]
    assert code == 250
    return parse_env(text)


def test_trusted_client_gets_relayclient(plain: Installed) -> None:
    env = xenv(plain, TRUSTED)
    assert env["RELAYCLIENT"] == ""
    assert env["TCPREMOTEIP"] == TRUSTED
    assert env["TCPLOCALHOST"] == "mx.example.test"


def test_other_client_gets_no_relayclient(plain: Installed) -> None:
    env = xenv(plain, OTHER)
    assert "RELAYCLIENT" not in env
    assert env["TCPREMOTEIP"] == OTHER


def test_rejected_client_is_dropped(plain: Installed) -> None:
    with pytest.raises((smtplib.SMTPServerDisconnected, ConnectionError)):
        converse("127.0.0.1", plain.port, DENIED, ["XENV"], timeout=5)


def test_smtpd_runs_unprivileged_with_the_auth_patch_arguments(plain: Installed) -> None:
    env = xenv(plain, OTHER)
    assert env["UID"] == run(["id", "-u", "nobody"]).stdout.strip()
    assert env["ARGS"] == f"mx.example.test {CHECKPASSWORD} /bin/true"


# --- the real tcprules agrees with the model the property tests use -----------------------------


def test_real_tcprules_matches_the_model(tmp_path: Path) -> None:
    need_real_mta("tcprules", "tcprulescheck")
    data: dict[str, Any] = {
        "networks": {"trusted": ["10.0.0.0/9", "10.64.0.0/10", "172.16.0.0/12", "192.0.2.0/25"]},
        "access": {"clients": [
            {"match": "10.5.0.0/17", "action": "reject"},
            {"match": "10.0.0.0/7", "action": "defer", "message": "-later"},
            {"match": "172.16.32.0/19", "action": "permit"},
            {"match": "192.0.2.64/26", "action": "reject", "message": HOSTILE},
            {"match": "198.51.100.7", "action": "reject", "message": string.punctuation.replace("~", "")},
        ]},
        "dnsbl": [{"zone": ZONE}],
    }
    _, out = render_policy(data, tmp_path / "r", target="qmail")
    cdb = tmp_path / "tcp.smtp.cdb"
    run(["tcprules", str(cdb), str(tmp_path / "tcp.smtp.tmp")], input_text=(out / "tcp.smtp").read_text())
    table = parse_rules((out / "tcp.smtp").read_text())
    chooser = random.Random(5)
    samples = {str(ipaddress.IPv4Address(chooser.randrange(2**32))) for _ in range(100)}
    for network in [*data["networks"]["trusted"], *(rule["match"] for rule in data["access"]["clients"])]:
        net = ipaddress.IPv4Network(network)
        for offset in (-1, 0, 1, net.num_addresses // 2, net.num_addresses - 1, net.num_addresses):
            samples.add(str(net.network_address + offset))
        samples.update(str(net.network_address + chooser.randrange(net.num_addresses)) for _ in range(10))
    for ip in sorted(samples):
        assert tcprulescheck(cdb, ip) == (lookup(table, ip) or ("allow", {})), ip


def tcprulescheck(cdb: Path, ip: str) -> tuple[str, dict[str, str]]:
    text = run(["env", f"TCPREMOTEIP={ip}", "tcprulescheck", str(cdb)]).stdout
    prefix = "set environment variable "
    env = dict(line[len(prefix):].split("=", 1) for line in text.splitlines() if line.startswith(prefix))
    return ("deny" if "deny connection" in text else "allow"), env


# --- rblsmtpd in the generated pipeline, with rbldnsd in a network namespace --------------------

PORT = 2527
REJECTED_WITH_TEXT, DEFERRED, PERMITTED, SLOW = "127.0.0.5", "127.0.0.6", "127.0.0.7", "127.0.0.8"
LISTED, UNLISTED = "127.0.0.2", "127.0.0.3"


@pytest.fixture(scope="module")
def dnsbl() -> Iterator[Installed]:
    need_real_mta("tcpserver", "tcprules", "rblsmtpd", "rbldnsd", "ip", "dig")
    with daemon_dir("qmail-dnsbl") as work, Netns(f"mtaq{work.name[-6:]}") as netns:
        data = {
            "hostname": "mx.example.test",
            "domains": {"local": ["example.test"]},
            "networks": {"trusted": [f"{TRUSTED}/32"]},
            "dnsbl": [{"zone": ZONE}, {"zone": SLOW_ZONE, "action": "defer"}],
            "access": {"clients": [
                {"match": f"{REJECTED_WITH_TEXT}/32", "action": "reject", "message": HOSTILE},
                {"match": f"{DEFERRED}/32", "action": "defer", "message": "Slow down, please"},
                {"match": f"{PERMITTED}/32", "action": "permit"},
            ]},
        }
        installed = install(work, data, PORT)
        installed.netns = netns.name
        zones = {ZONE: ([TRUSTED, LISTED, PERMITTED], "Listed: $ is a test spammer"),
                 SLOW_ZONE: ([SLOW], "Slow list: $")}
        with RbldnsdZones(work / "rbl", zones, netns=netns.name), \
                RunService(installed.service, "127.0.0.1", PORT, netns=netns.name):
            yield installed


def rcpt_in_netns(installed: Installed, source: str, *extra: str) -> list[tuple[int, str]]:
    request = {"host": "127.0.0.1", "port": installed.port, "source": source,
               "commands": ["EHLO client.test", "MAIL FROM:<a@client.test>", "RCPT TO:<user@example.test>", *extra]}
    result = run([sys.executable, "-m", "tests.realmta.smtp_client", json.dumps(request)],
                 netns=installed.netns, cwd=REPO)
    return [(int(code), str(text)) for code, text in json.loads(result.stdout)["replies"]]


def test_listed_client_gets_553_with_the_zone_text(dnsbl: Installed) -> None:
    assert rcpt_in_netns(dnsbl, LISTED)[-1] == (553, f"Listed: {LISTED} is a test spammer")


def test_defer_zone_gives_451(dnsbl: Installed) -> None:
    assert rcpt_in_netns(dnsbl, SLOW)[-1] == (451, f"Slow list: {SLOW}")


def test_unlisted_client_reaches_smtpd_and_is_checked(dnsbl: Installed) -> None:
    replies = rcpt_in_netns(dnsbl, UNLISTED, "XENV")
    assert replies[2] == (250, "ok")
    env = parse_env(replies[3][1])
    assert "RBLSMTPD" not in env and "RELAYCLIENT" not in env


def test_trusted_and_permitted_clients_skip_the_dnsbl(dnsbl: Installed) -> None:
    for source in (TRUSTED, PERMITTED):
        replies = rcpt_in_netns(dnsbl, source, "XENV")
        assert replies[2] == (250, "ok"), source
        env = parse_env(replies[3][1])
        assert env["RBLSMTPD"] == ""
        assert ("RELAYCLIENT" in env) == (source == TRUSTED)


def test_client_rules_answer_with_the_policy_message(dnsbl: Installed) -> None:
    assert rcpt_in_netns(dnsbl, REJECTED_WITH_TEXT)[-1] == (553, HOSTILE)
    assert rcpt_in_netns(dnsbl, DEFERRED)[-1] == (451, "Slow down, please")


def test_a_list_file_of_single_addresses_that_defers_runs_rblsmtpd() -> None:
    """A client rule whose list file holds only single IPv4 addresses answers with text (RBLSMTPD), so
    rblsmtpd must run even without a DNSBL; real tcpserver + rblsmtpd then give the listed client the
    policy's 451 and let every other client through to qmail-smtpd without a lookup."""
    need_real_mta("tcpserver", "tcprules", "rblsmtpd", "sh")
    listed, other = "127.0.0.9", "127.0.0.10"
    with daemon_dir("qmail-hosts") as work:
        (work / "render").mkdir()
        (work / "render" / "slow-hosts.txt").write_text(f"{listed}\n127.0.0.11\n")
        data = {"hostname": "mx.example.test", "domains": {"local": ["example.test"]},
                "access": {"clients": [{"file": "slow-hosts.txt", "action": "defer", "message": "Slow down, please"}]}}
        installed = install(work, data, free_port())
        commands = ["MAIL FROM:<a@client.test>", "RCPT TO:<user@example.test>"]
        with RunService(installed.service, "127.0.0.1", installed.port):
            assert converse("127.0.0.1", installed.port, listed, commands).replies[-1] == (451, "Slow down, please")
            assert xenv(installed, other)["RBLSMTPD"] == ""


# --- the run scripts as shell -------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["example", "auth+dnsbl"])
def test_run_scripts_pass_sh_n_and_shellcheck(tmp_path: Path, variant: str) -> None:
    need_real_mta("shellcheck", "sh")
    if variant == "example":
        data = YAML(typ="safe").load(EXAMPLE_POLICY.read_text())
    else:
        data = {"auth": {"enabled": True, "require_tls": False}, "dnsbl": [{"zone": ZONE}],
                "targets": {"qmail": {"auth_patch": "qmail-smtpd-auth", "home": "/opt/q+mail@x"}}}
    _, out = render_policy(data, tmp_path, target="qmail")
    scripts = [out / "service" / "qmail-smtpd" / "run", out / "service" / "qmail-smtpd" / "log" / "run"]
    for script in scripts:
        run(["sh", "-n", str(script)])
    run(["shellcheck", "--shell=sh", *map(str, scripts)])
