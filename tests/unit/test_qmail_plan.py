"""The qmail target's decisions, read from its Plan, and the CIDR → tcprules conversion.

The conversion is property-tested against :mod:`ipaddress` with a small model of tcpserver's rule
lookup, written from tcprules(1)/tcpserver(1): exact address, then shorter and shorter prefixes
ending in a dot, then the empty key; ``lo-hi`` expands one octet; the first line of a key wins.
tests/realmta/test_qmail.py checks this model against the real tcprules and tcprulescheck.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shlex
import socket
import string
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mtaharden.policy import Policy, load_policy, load_policy_text
from mtaharden.policy.model import ClientRule
from mtaharden.render import RenderError, render_plan
from mtaharden.targets.base import Plan, PlannedFile
from mtaharden.targets.kit.escape import Unexpressible
from mtaharden.targets.kit.facts import Fact
from mtaharden.targets.qmail import QmailTarget, RunScript, control_line, control_lines
from mtaharden.targets.qmail.capabilities import CAPABILITIES
from mtaharden.targets.qmail.control import ControlList, ControlValue
from mtaharden.targets.qmail.service import LISTEN_WAIT, SERVING_SHELL
from mtaharden.targets.qmail.tcprules import network_addresses, tcprules_value
from tests.conftest import EXAMPLE_POLICY

WAIVE = "targets: {qmail: {allow_unsupported: [smtp]}}\n"

Env = dict[str, str]
Table = dict[str, tuple[str, Env]]


def policy(text: str = "") -> Policy:
    return load_policy_text(text, "policy.yml")


def plan(text: str = "") -> Plan:
    return QmailTarget().plan(policy(text))


def files(result: Plan) -> dict[str, PlannedFile]:
    return {f.path: f for f in result.files}


def items(result: Plan, name: str) -> list[str]:
    context = files(result)[f"control/{name}"].context
    assert isinstance(context, ControlList)
    return list(context.items)


def value(result: Plan, name: str) -> str:
    context = files(result)[f"control/{name}"].context
    assert isinstance(context, ControlValue)
    return context.value


def run_script(result: Plan) -> RunScript:
    script = files(result)["service/qmail-smtpd/run"].context
    assert isinstance(script, RunScript)
    return script


def coverage(result: Plan) -> dict[str, tuple[str, str]]:
    return {c.element: (c.status, c.detail) for c in result.coverage}


def rendered(result: Plan, path: str) -> str:
    (text,) = [f.content for f in render_plan(result, QmailTarget()) if f.path == path]
    return text


# --- a model of tcpserver's rule lookup -------------------------------------------------------


def parse_rules(text: str) -> Table:
    """tcprules: comments, ``address:allow|deny[,VAR=XvalueX]...``, one range per line, first key wins."""
    table: Table = {}
    for line in text.splitlines():
        line = line.rstrip(" \t")
        if not line or line.startswith("#"):
            continue
        address, _, rest = line.partition(":")
        verb = "deny" if rest.startswith("deny") else "allow"
        assert rest.startswith(verb), line
        rest, env = rest[len(verb):], {}
        while rest:
            assert rest[0] == ",", line
            equals = rest.index("=")
            delimiter = rest[equals + 1]
            end = rest.index(delimiter, equals + 2)
            env[rest[1:equals]] = rest[equals + 2:end]
            rest = rest[end + 1:]
        for key in expand(address):
            table.setdefault(key, (verb, env))
    return table


def expand(address: str) -> list[str]:
    if "-" not in address:
        return [address]
    dash = address.index("-")
    left = address.rfind(".", 0, dash) + 1
    right = address.find(".", dash)
    right = len(address) if right < 0 else right
    low, high = int(address[left:dash]), min(int(address[dash + 1:right]), 255)
    return [f"{address[:left]}{n}{address[right:]}" for n in range(low, high + 1)]


def lookup(table: Table, ip: str) -> tuple[str, Env] | None:
    """What tcpserver follows for a client: None when no rule applies (it then allows)."""
    if ip in table:
        return table[ip]
    for length in range(len(ip) - 1, 0, -1):
        if ip[length - 1] == "." and ip[:length] in table:
            return table[ip[:length]]
    return table.get("")


# --- CIDR → tcprules, property-tested ---------------------------------------------------------

networks = st.builds(lambda address, prefix: ipaddress.IPv4Network((address, prefix), strict=False),
                     st.integers(0, 2**32 - 1), st.integers(0, 32))


def neighbours(network: ipaddress.IPv4Network) -> list[ipaddress.IPv4Address]:
    """The network's edges and the addresses just outside them."""
    low, high = int(network.network_address), int(network.broadcast_address)
    return [ipaddress.IPv4Address(n) for n in (low - 1, low, high, high + 1) if 0 <= n < 2**32]


@settings(max_examples=400, deadline=None)
@given(networks, st.lists(st.integers(0, 2**32 - 1), max_size=20))
def test_cidr_becomes_exactly_its_addresses(network: ipaddress.IPv4Network, others: list[int]) -> None:
    table = parse_rules(f"{network_addresses(network)}:deny\n")
    inside = int(network.network_address) + others[0] % network.num_addresses if others else None
    samples = [*neighbours(network), *map(ipaddress.IPv4Address, others)]
    if inside is not None:
        samples.append(ipaddress.IPv4Address(inside))
    for address in samples:
        matched = lookup(table, str(address)) is not None
        assert matched == (address in network), (network, address, network_addresses(network))


@pytest.mark.parametrize(("network", "expected"), [
    ("0.0.0.0/0", ""), ("10.0.0.0/8", "10."), ("10.0.0.0/9", "10.0-127."),
    ("192.168.1.0/24", "192.168.1."), ("10.1.16.0/20", "10.1.16-31."), ("192.0.2.128/25", "192.0.2.128-255"),
    ("192.0.2.7/32", "192.0.2.7"), ("128.0.0.0/1", "128-255."),
])
def test_cidr_examples(network: str, expected: str) -> None:
    assert network_addresses(ipaddress.IPv4Network(network)) == expected


client_rules = st.lists(
    st.tuples(networks, st.sampled_from(["reject", "defer", "permit"]), st.sampled_from([None, "go away", "-x"])),
    max_size=4, unique_by=lambda rule: rule[0])


def expected_outcome(data: Mapping[str, Any], loaded: Policy, ip: ipaddress.IPv4Address) -> tuple[str, str, bool]:
    """The policy's meaning for one client, first match wins: (what happens, relays?, DNSBL checked?)."""
    dnsbl = bool(data["dnsbl"])
    trusted = any(ip in n for n in loaded.networks.trusted if n.version == 4)
    for rule in loaded.access.clients:
        assert isinstance(rule, ClientRule)  # the drawn rules have no list files
        if ip in rule.match:
            if rule.action == "permit":
                return "accept", "relay" if trusted else "no relay", False
            return rule.action, "no relay", False
    return "accept", "relay" if trusted else "no relay", dnsbl and not trusted


def observed_outcome(found: tuple[str, Env] | None, dnsbl: bool) -> tuple[str, str, bool]:
    verb, env = found or ("allow", {})
    relay = "relay" if "RELAYCLIENT" in env else "no relay"
    text = env.get("RBLSMTPD")
    if verb == "deny" or (text and text.startswith("-")):
        return "reject", relay, False
    if text:
        return "defer", relay, False
    return "accept", relay, dnsbl and text is None


@settings(max_examples=150, deadline=None)
@given(client_rules, st.lists(networks, max_size=3, unique=True), st.booleans(),
       st.lists(st.integers(0, 2**32 - 1), max_size=10))
def test_tcp_smtp_equals_first_match_wins(rules: list[tuple[ipaddress.IPv4Network, str, str | None]],
                                          trusted: list[ipaddress.IPv4Network], dnsbl: bool,
                                          others: list[int]) -> None:
    data: dict[str, Any] = {
        "networks": {"trusted": [n.with_prefixlen for n in trusted], "allow_wide_trusted": True},
        "access": {"clients": [{"match": n.with_prefixlen, "action": a, **({"message": m} if m else {})}
                               for n, a, m in rules]},
        "dnsbl": [{"zone": "bl.example.test"}] if dnsbl else [],
    }
    loaded = policy(json.dumps(data))
    table = parse_rules(rendered(QmailTarget().plan(loaded), "tcp.smtp"))
    samples = [a for n in [*(r[0] for r in rules), *trusted] for a in neighbours(n)]
    samples += [ipaddress.IPv4Address(n) for n in others]
    for address in samples:
        assert observed_outcome(lookup(table, str(address)), dnsbl) == expected_outcome(data, loaded, address), \
            address


# --- control files ------------------------------------------------------------------------------


def test_rcpthosts_is_never_empty() -> None:
    result = plan()
    assert items(result, "rcpthosts") == ["localhost"]
    assert items(result, "morercpthosts") == []
    assert items(plan("hostname: mx.example.org\n"), "rcpthosts") == ["mx.example.org"]


def test_domains_and_wildcards() -> None:
    result = plan("hostname: mx.example.org\ndomains: {local: [example.org, .sub.example.org], "
                  "relay: [.dept.example.net]}\n")
    assert items(result, "rcpthosts") == ["mx.example.org", "example.org", ".sub.example.org", ".dept.example.net"]
    assert items(result, "locals") == ["mx.example.org", "localhost", "example.org"]
    assert coverage(result)["domains.local[1]"][0] == "unsupported"
    assert "domains.relay[0]" not in coverage(result)


def test_long_domain_lists_spill_into_morercpthosts() -> None:
    domains = [f"d{n}.example.org" for n in range(60)]
    result = plan(json.dumps({"hostname": "mx.example.org", "domains": {"relay": domains}}))
    assert items(result, "rcpthosts") == ["mx.example.org", *domains[:49]]
    assert items(result, "morercpthosts") == domains[49:]
    assert ("/var/qmail/bin/qmail-newmrh",) in [s.argv for s in result.steps]


def test_newmrh_runs_even_without_morercpthosts() -> None:
    assert ("/var/qmail/bin/qmail-newmrh",) in [s.argv for s in plan().steps]


def test_percenthack_is_always_written_empty() -> None:
    result = plan("domains: {local: [example.org]}\n")
    assert items(result, "percenthack") == []


@pytest.mark.parametrize(("banner", "greeting", "status", "how"), [
    ("{hostname} ESMTP", "mx.example.org", "enforced", "appends ' ESMTP' itself"),
    ("{hostname} mail service", "mx.example.org mail service", "approximated", "the greeting reads '<banner> ESMTP'"),
])
def test_greeting_drops_the_esmtp_qmail_adds(banner: str, greeting: str, status: str, how: str) -> None:
    result = plan(f'hostname: mx.example.org\nsmtp: {{banner: "{banner}"}}\n')
    assert value(result, "smtpgreeting") == greeting
    assert value(result, "me") == "mx.example.org"
    assert coverage(result)["smtp.banner"][0] == status
    assert how in coverage(result)["smtp.banner"][1]


@pytest.mark.parametrize("policy", ["", "hostname: mx.example.org\n", "smtp: {banner: \"{hostname} mail\"}\n"])
def test_help_is_never_enforced_because_it_names_the_software(policy: str) -> None:
    """qmail-smtpd's HELP answer is compiled in (seen on notqmail: '214 notqmail home page: …'): a row of its
    own, so a probe with --mta qmail excuses HELP and nothing else."""
    status, detail = coverage(plan(policy))["smtp.banner[HELP]"]
    assert status == "approximated"
    assert "HELP is answered otherwise" in detail and "notqmail home page" in detail
    assert "smtp.banner[HELP]" in coverage(plan(policy))["smtp.banner"][1]


def test_relaying_coverage_names_the_accept_then_bounce_forms_and_the_backscatter() -> None:
    found = coverage(plan("domains: {local: [example.org]}\n"))
    status, detail = found["networks.trusted"]
    assert status == "enforced"
    assert "nothing is sent on to a foreign domain" in detail and "250 at RCPT" in detail
    for form in ("user%foreign@local", "foreign!user@local", '"user@foreign"@local', "user@foreign@local",
                 "[own IP]"):
        assert form in detail, form
    status, detail = found["domains.local"]
    assert status == "approximated"
    assert "differs when the sender is forged" in detail and "backscatter" in detail


def test_without_hostname_me_and_greeting_stay_as_installed() -> None:
    paths = files(plan())
    assert "control/me" not in paths and "control/smtpgreeting" not in paths
    assert coverage(plan())["hostname"][0] == "approximated"


def test_databytes() -> None:
    assert value(plan("smtp: {max_message_size: 10MB}\n"), "databytes") == "10000000"


def test_the_size_limit_is_approximated_with_both_conditions_it_differs_under() -> None:
    """The differential suite found both: databytes counts LF line ends, and qmail-smtpd ignores SIZE=."""
    status, detail = coverage(plan())["smtp.max_message_size"]
    assert status == "approximated"
    assert "over the limit by at most its number of lines: accepted" in detail and "LF line ends" in detail
    assert "SIZE= over the limit: accepted" in detail and "refused only at end of DATA" in detail


def test_value_files_have_no_comment_header() -> None:
    paths = files(plan("hostname: mx.example.org\n"))
    for name in ("me", "smtpgreeting", "databytes"):
        assert paths[f"control/{name}"].comment == "none", name


SENDERS = """\
access:
  senders:
    - {match: "friend@spam.example", action: permit}
    - {match: "@spam.example", action: reject}
    - {match: "junk.example", action: reject}
    - {match: "bob@bad.example", action: reject}
    - {match: "abuse@", action: reject}
    - {match: "@slow.example", action: defer}
"""


def test_badmailfrom_from_sender_rejects() -> None:
    result = plan(SENDERS)
    assert items(result, "badmailfrom") == ["@spam.example", "@junk.example", "bob@bad.example"]
    found = coverage(result)
    assert found["access.senders[0]"][0] == "approximated"   # the later @spam.example entry refuses it too
    assert found["access.senders[1]"][0] == "approximated"
    assert found["access.senders[2]"][0] == "enforced"
    assert found["access.senders[4]"][0] == "unsupported"    # user@ has no badmailfrom form
    assert found["access.senders[5]"][0] == "unsupported"    # no temporary sender rule


def test_badrcptto_only_with_the_patch() -> None:
    rules = "access: {recipients: [{match: 'old@example.org', action: reject}]}\n"
    assert "control/badrcptto" not in files(plan(rules))
    assert coverage(plan(rules))["access.recipients[0]"][0] == "unsupported"
    patched = plan(rules + "targets: {qmail: {badrcptto_patch: true}}\n")
    assert items(patched, "badrcptto") == ["old@example.org"]
    assert coverage(patched)["access.recipients[0]"][0] == "enforced"


# --- tcp.smtp -------------------------------------------------------------------------------------


def rules_text(text: str) -> Table:
    return parse_rules(rendered(plan(text), "tcp.smtp"))


def test_default_policy_relays_for_loopback_only() -> None:
    table = rules_text("")
    assert table == {"127.": ("allow", {"RELAYCLIENT": ""}), "": ("allow", {})}


def test_client_rules_and_trusted_networks() -> None:
    table = rules_text("""\
networks: {trusted: [127.0.0.1, 10.0.0.0/8]}
access:
  clients:
    - {match: 10.9.0.0/16, action: reject}
    - {match: 10.8.0.0/16, action: reject, message: 'Go away: "now", please'}
    - {match: 10.7.0.0/16, action: defer, message: "-slow down"}
    - {match: 10.6.0.0/16, action: permit}
    - {match: 192.0.2.0/25, action: permit}
""")
    assert lookup(table, "10.9.1.1") == ("deny", {})
    assert lookup(table, "10.8.1.1") == ("allow", {"RBLSMTPD": '-Go away: "now", please'})
    assert lookup(table, "10.7.1.1") == ("allow", {"RBLSMTPD": " -slow down"})
    assert lookup(table, "10.6.1.1") == ("allow", {"RELAYCLIENT": "", "RBLSMTPD": ""})
    assert lookup(table, "10.5.1.1") == ("allow", {"RELAYCLIENT": "", "RBLSMTPD": ""})
    assert lookup(table, "192.0.2.1") == ("allow", {"RBLSMTPD": ""})
    assert lookup(table, "127.0.0.1") == ("allow", {"RELAYCLIENT": "", "RBLSMTPD": ""})
    # rblsmtpd runs (for the texts) but there is no DNSBL: everyone else skips it too.
    assert lookup(table, "127.0.0.2") == ("allow", {"RBLSMTPD": ""})


def test_a_client_rule_beats_a_trusted_network() -> None:
    table = rules_text("networks: {trusted: [127.0.0.0/8]}\naccess: {clients: [{match: 127.0.0.4, action: reject}]}\n")
    assert lookup(table, "127.0.0.4") == ("deny", {})
    assert lookup(table, "127.0.0.5") == ("allow", {"RELAYCLIENT": ""})


def test_ipv6_entries_are_reported_not_written() -> None:
    result = plan('networks: {trusted: [127.0.0.0/8, "::1/128"]}\n'
                  'access: {clients: [{match: "2001:db8::/32", action: reject}]}\n')
    lines = [line for line in rendered(result, "tcp.smtp").splitlines() if not line.startswith("#")]
    assert lines == ["127.:allow,RELAYCLIENT=\"\"", ":allow"]
    found = coverage(result)
    assert found["networks.trusted[1]"][0] == "approximated"
    assert found["access.clients[0]"][0] == "approximated"


def test_tcprules_value_picks_a_delimiter_the_value_lacks() -> None:
    assert tcprules_value("plain, text: ok") == '"plain, text: ok"'
    assert tcprules_value('say "hi"') == "'say \"hi\"'"
    assert tcprules_value("a\"b'c") == "/a\"b'c/"
    everything = string.punctuation.replace("~", "") + " text"
    assert tcprules_value(everything) == f"~{everything}~"
    with pytest.raises(Unexpressible, match="control character"):
        tcprules_value("two\nlines")
    with pytest.raises(Unexpressible, match="no delimiter"):
        tcprules_value(string.punctuation)


# --- run scripts and steps --------------------------------------------------------------------------


def words(script: RunScript) -> list[list[str]]:
    """The exec chain as the shell would split it (variables left as written)."""
    return [shlex.split(" ".join(part)) for part in script.chain]


def test_run_script_chain_with_dnsbls() -> None:
    result = plan("dnsbl: [{zone: zen.spamhaus.org}, {zone: bl.spamcop.net, action: defer}]\n")
    chain = words(run_script(result))
    assert chain[0][:8] == ["tcpserver", "-v", "-R", "-H", "-l", "$LOCAL", "-x", "/etc/tcp.smtp.cdb"]
    assert chain[0][-2:] == ["0.0.0.0", "25"]
    assert chain[1:] == [["rblsmtpd", "-b", "-r", "zen.spamhaus.org"], ["rblsmtpd", "-B", "-r", "bl.spamcop.net"],
                         ["$QMAIL/bin/qmail-smtpd"]]


def test_run_script_without_rblsmtpd_when_nothing_needs_it() -> None:
    assert words(run_script(plan()))[1:] == [["$QMAIL/bin/qmail-smtpd"]]


def test_run_script_bare_rblsmtpd_for_rule_texts() -> None:
    chain = words(run_script(plan("access: {clients: [{match: 192.0.2.0/24, action: defer}]}\n")))
    assert chain[1:] == [["rblsmtpd"], ["$QMAIL/bin/qmail-smtpd"]]


def test_run_script_options_are_quoted() -> None:
    result = plan("targets: {qmail: {home: /opt/q+mail, tcp_rules_file: /etc/q@/tcp.smtp, concurrency: 7, "
                  "listen: 192.0.2.25, smtp_port: 2525, smtpd_user: mail}}\n")
    script = run_script(result)
    assert "QMAIL=/opt/q+mail" in script.setup
    assert "SMTPD_UID=$(id -u mail) || exit 111" in script.setup
    chain = words(script)[0]
    assert chain[chain.index("-c") + 1] == "7" and chain[chain.index("-x") + 1] == "/etc/q@/tcp.smtp.cdb"
    assert chain[-2:] == ["192.0.2.25", "2525"]


def test_auth_patch_arguments_only_when_auth_is_enabled() -> None:
    patched = "targets: {qmail: {auth_patch: qmail-smtpd-auth, checkpassword: /usr/bin/vchkpw}}\n"
    assert words(run_script(plan(patched)))[-1] == ["$QMAIL/bin/qmail-smtpd"]
    assert coverage(plan(patched))["auth"][0] == "approximated"
    enabled = plan("auth: {enabled: true, require_tls: false}\n" + patched)
    assert words(run_script(enabled))[-1] == ["$QMAIL/bin/qmail-smtpd", "$LOCAL", "/usr/bin/vchkpw", "/bin/true"]
    assert "auth.require_tls" not in coverage(enabled)
    assert coverage(plan("auth: {enabled: true, require_tls: false}\n"))["auth"][0] == "unsupported"


def test_steps() -> None:
    steps = [(s.phase, s.argv) for s in plan().steps]
    assert steps == [
        ("apply", ("install", "-d", "-o", "qmaill", "-m", "0750", "/var/log/qmail/smtpd")),
        ("build", ("sh", "-c", "tcprules /etc/tcp.smtp.cdb /etc/tcp.smtp.tmp < /etc/tcp.smtp")),
        ("check", ("sh", "-n", "/service/qmail-smtpd/run")),
        ("check", ("sh", "-n", "/service/qmail-smtpd/log/run")),
        ("apply", ("/var/qmail/bin/qmail-newmrh",)),
        ("apply", ("svc", "-t", "/service/qmail-send")),
        ("apply", ("sh", "-c", RESTART_SMTPD, "restart", "/service/qmail-smtpd", "25")),
    ]
    assert plan().apply == "restart"
    service = plan().service
    assert service is not None and service.start[-1] == ("sh", "-c", SERVING, "serving", "/service/qmail-smtpd", "25")


RESTART_SMTPD = SERVING_SHELL + ' old=$(pid "$1"); svc -t "$1" || exit 1; [ -z "$old" ] || serving "$1" "$old" "$2"'
SERVING = SERVING_SHELL + ' serving "$1" "" "$2"'


@pytest.fixture
def supervised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """svstat and svc stand-ins on PATH (supervise's status is a file here): svc -t makes a child that
    listens on a real TCP port the new service pid; the shell, awk and /proc are the real ones."""
    bin_dir, status = tmp_path / "bin", tmp_path / "status"
    bin_dir.mkdir()
    (bin_dir / "svstat").write_text(f'#!/bin/sh\necho "$1: $(cat {status})"\n')
    (bin_dir / "svc").write_text(f'#!/bin/sh\ncat {tmp_path / "next"} > {status}\n')
    for tool in ("svstat", "svc"):
        (bin_dir / tool).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")

    def up(pid: int, *, after_restart: int | None = None) -> None:
        status.write_text(f"up (pid {pid}) 3 seconds\n")
        (tmp_path / "next").write_text(f"up (pid {after_restart if after_restart else pid}) 0 seconds\n")

    yield up


def _listener(port: int) -> subprocess.Popen[bytes]:
    """A process other than this one that holds a socket listening on ``port``."""
    code = (f"import socket, time; s = socket.socket(); s.bind(('127.0.0.1', {port})); s.listen(); "
            "print(1, flush=True); time.sleep(30)")
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    assert child.stdout is not None and child.stdout.readline() == b"1\n"
    return child


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="Linux /proc")
def test_the_restart_step_returns_once_a_new_tcpserver_listens(supervised: Callable[..., None]) -> None:
    up = supervised
    port = _free_port()
    new = _listener(port)
    try:
        up(os.getpid(), after_restart=new.pid)  # the old pid is this test: it does not listen on the port
        done = subprocess.run(["sh", "-c", RESTART_SMTPD, "restart", "/service/qmail-smtpd", str(port)],
                              capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr
        listens = f'{SERVING_SHELL} listens "$1" "$2"'
        assert subprocess.run(["sh", "-c", listens, "l", str(new.pid), str(port)]).returncode == 0
        assert subprocess.run(["sh", "-c", listens, "l", str(os.getpid()), str(port)]).returncode == 1
    finally:
        new.kill()
        new.wait()


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="Linux /proc")
def test_the_restart_step_fails_when_the_old_tcpserver_stays(supervised: Callable[..., None]) -> None:
    """svc -t not yet acted on: the same pid, still listening, is not the new state; bounded, then a failure."""
    up = supervised
    port = _free_port()
    old = _listener(port)
    try:
        up(old.pid)
        quick = RESTART_SMTPD.replace(f'-le {LISTEN_WAIT * 10} ]', '-le 5 ]')
        assert quick != RESTART_SMTPD
        done = subprocess.run(["sh", "-c", quick, "restart", "/service/qmail-smtpd", str(port)],
                              capture_output=True, text=True, timeout=30)
        assert done.returncode == 1 and f"not listening on port {port}" in done.stderr, done
    finally:
        old.kill()
        old.wait()


def test_run_scripts_are_executable() -> None:
    paths = files(plan())
    for path in ("service/qmail-smtpd/run", "service/qmail-smtpd/log/run"):
        assert paths[path].mode == 0o755
        text = rendered(plan(), path)
        assert text.startswith("#!/bin/sh\n# Generated by mtaharden from ")


# --- roles and coverage ---------------------------------------------------------------------------


def test_null_client_has_no_service_and_no_local_delivery() -> None:
    result = plan("role: null-client\n")
    assert not any(path.startswith("service/") or path == "tcp.smtp" for path in files(result))
    assert items(result, "locals") == []
    assert items(result, "rcpthosts") == ["localhost"]
    assert ("svc", "-t", "/service/qmail-smtpd") not in [s.argv for s in result.steps]


def test_defaults_that_stock_qmail_cannot_enforce_are_unsupported() -> None:
    gaps = {c.element for c in plan().unwaived_gaps([])}
    assert gaps == {"smtp.require_helo", "smtp.strict_envelopes", "smtp.max_recipients", "smtp.bare_newlines"}
    assert plan(WAIVE).unwaived_gaps(["smtp"]) == []


def test_every_top_level_element_is_covered() -> None:
    found = coverage(plan(EXAMPLE_POLICY.read_text()))
    for element in ("role", "hostname", "domains.local", "domains.relay", "networks.trusted", "auth", "dnsbl[0]",
                    "access.clients", "access.helo", "access.senders[0]", "access.recipients[0]", "header_checks[0]",
                    "smtp.banner", "smtp.disable_vrfy", "smtp.disable_expn", "smtp.require_helo",
                    "smtp.strict_envelopes", "smtp.max_message_size", "smtp.max_recipients",
                    "smtp.max_connections_per_client", "tls"):
        assert element in found, element


def test_example_policy_waives_exactly_what_qmail_cannot_do() -> None:
    loaded = load_policy(EXAMPLE_POLICY)
    result = QmailTarget().plan(loaded)
    gaps = result.unwaived_gaps(loaded.targets.qmail.allow_unsupported)
    assert [gap.element for gap in gaps if not loaded.states(gap.element)] == ["smtp.bare_newlines"]  # a warning
    assert [gap for gap in gaps if loaded.states(gap.element)] == []
    unsupported = {c.element.split("[")[0].split(".")[0] for c in result.coverage if c.status == "unsupported"}
    waived = {w.split(".")[0] for w in loaded.targets.qmail.allow_unsupported}
    assert waived == unsupported


@pytest.mark.parametrize("bad", ["a\nb", "a\rb", "a\x00b", "a\x7fb", "a\u2028b", "a\u0085b", "a\u200bb",
                                 "#comment", " lead", "trail ", "trail\u00a0"])
def test_control_line_refuses_what_qmail_would_misread(bad: str) -> None:
    """The kit's predicate (control and invisible characters, Unicode line breaks), then qmail's own line rules
    (a leading '#' or blank, a trailing blank); the refusal names the problem, never the text."""
    assert control_line("example.org") == "example.org"
    assert control_line("mx.example.org 发票") == "mx.example.org 发票"  # printable non-ASCII text is fit
    with pytest.raises(Unexpressible) as refused:
        control_line(bad)
    assert bad not in str(refused.value)
    assert isinstance(refused.value, RenderError)


@pytest.mark.parametrize(("items", "problem"), [
    (["a.example", "b\nc.example"], "line feed"), (["a.example", "", "b.example"], "empty line"),
    (["a.example", "#b.example"], "'#'"), (["a.example", "b.example "], "blank"), (["a\u2029b"], "U+2029"),
])
def test_control_lines_checks_a_whole_list_and_names_the_first_problem(items: list[str], problem: str) -> None:
    assert control_lines(["a.example", "b.example"]) == "a.example\nb.example"
    with pytest.raises(Unexpressible, match=re.escape(problem)):
        control_lines(items)


def test_an_unfit_value_fails_the_render_with_a_render_error() -> None:
    """A value the policy types let through (here forged into the plan) stops rendering as RenderError,
    which the CLI reports as bad input, not as a crash."""
    result = plan("hostname: mx.example.org\n")
    forged = [replace(f, context=ControlValue("mx.example.org\u2028#evil")) if f.path == "control/me" else f
              for f in result.files]
    with pytest.raises(RenderError, match="U\\+2028"):
        render_plan(replace(result, files=tuple(forged)), QmailTarget())


def test_coverage_follows_the_capability_table_whatever_order_the_steps_decide_in() -> None:
    """Each element once, in the table's order (an indexed element right after its element, by index)."""
    result = plan(EXAMPLE_POLICY.read_text())
    elements = [c.element for c in result.coverage]
    assert len(elements) == len(set(elements))
    order = list(CAPABILITIES)
    positions = [order.index(re.sub(r"\[\d+\]$", "[]", e)) for e in elements]
    assert positions == sorted(positions)
    for item in result.coverage:  # each row is one of the table's facts, filled in
        facts = CAPABILITIES[re.sub(r"\[\d+\]$", "[]", item.element)].values()
        assert any(fact.status == item.status and _fills(fact.detail, item.detail) for fact in facts), item


def _fills(template: str, detail: str) -> bool:
    """Whether ``detail`` is ``template`` with its fields filled in."""
    literal = [re.escape(part) for part in re.split(r"\{[a-z_]+\}", template)]
    return re.fullmatch("(.+?)".join(literal), detail, re.DOTALL) is not None


def test_the_log_service_is_installed_before_the_service_it_logs() -> None:
    """svscan looks for log/ only when it first sees a service folder (daemontools svscan.c)."""
    dests = [f.dest for f in plan().files if f.dest and f.dest.startswith("/service/")]
    assert dests == ["/service/qmail-smtpd/log/run", "/service/qmail-smtpd/run"]


TLS = "tls: {cert: /etc/ssl/mx.pem, key: /etc/ssl/mx.key}\n"
EVERY_CASE = [  # together, these policies reach every case of qmail's capability table
    "",
    "smtp: {bare_newlines: reject, bare_newlines_exempt_trusted: false}\n",
    "screening: {enabled: true}\noutbound: {tls: dane}\n",
    "outbound: {tls: encrypt}\n",
    "sender_auth: {spf: {enabled: true}, dkim: {enabled: true}, dmarc: {enabled: true}}\n"
    "dkim_signing: [{domain: example.org, selector: s1, key: /etc/dkimkeys/s1.private}]\n"
    "domains: {local: [example.org]}\n"
    "targets: {qmail: {allow_unsupported: [sender_auth, dkim_signing]}}\n",
    "hostname: mx.example.org\naccess: {recipients: [{match: q@nine.example, action: permit}]}\n",
    "role: null-client\ndnsbl: [{zone: bl.example.test}]\naccess: {clients: [{match: 192.0.2.0/24, action: reject}]}\n",
    "role: submission\nauth: {enabled: true}\n" + TLS,
    "role: mx+submission\nauth: {enabled: true}\n" + TLS,
    "hostname: mx.example.org\nsmtp: {banner: '{hostname} mail', disable_vrfy: false, disable_expn: false, "
    "require_helo: false, strict_envelopes: false}\n" + TLS,
    "smtp: {banner: '{hostname} mail'}\ndomains: {local: [.sub.example.org]}\n",
    "targets: {qmail: {auth_patch: qmail-smtpd-auth}}\n",
    "auth: {enabled: true}\ntargets: {qmail: {auth_patch: qmail-smtpd-auth}}\n" + TLS,
    """\
dnsbl: [{zone: bl.example.test}]
header_checks: [{header: Subject, pattern: spam}]
access:
  clients:
    - {match: "2001:db8::/32", action: reject}
    - {match: 192.0.2.0/24, action: defer}
    - {match: 198.51.100.0/24, action: reject}
    - {match: 203.0.113.0/24, action: permit}
  helo: [{match: bad.example, action: reject}]
  senders:
    - {match: a@one.example, action: permit}
    - {match: one.example, action: reject}
    - {match: b@two.example, action: defer}
    - {match: c@, action: reject}
    - {match: d@three.example, action: permit}
    - {match: e@seven.example, action: reject}
  recipients: [{match: x@four.example, action: reject}, {match: y@four.example, action: permit}]
""",
    """\
access:
  senders: [{match: a@one.example, action: permit}, {file: senders.txt, action: reject}]
  recipients:
    - {match: z@five.example, action: permit}
    - {match: y@five.example, action: defer}
    - {match: w@, action: reject}
    - {match: v@five.example, action: reject}
    - {match: "@five.example", action: reject}
    - {file: recipients.txt, action: reject}
targets: {qmail: {badrcptto_patch: true}}
""",
]


def test_every_fact_of_the_capability_table_is_reached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No dead data: each case some lowering step can decide, and these policies make each one decide it."""
    reached: set[tuple[str, str]] = set()

    class Watched(dict[str, Fact]):
        def __init__(self, element: str, facts: Mapping[str, Fact]) -> None:
            super().__init__(facts)
            self.element = element

        def __getitem__(self, case: str) -> Fact:
            reached.add((self.element, case))
            return super().__getitem__(case)

    monkeypatch.setattr(CAPABILITIES, "rows", {e: Watched(e, f) for e, f in CAPABILITIES.items()})
    (tmp_path / "senders.txt").write_text("e@six.example\nf@\nsix.example\n")
    (tmp_path / "recipients.txt").write_text("g@eight.example\nh@\n")
    for index, text in enumerate(EVERY_CASE):
        (tmp_path / f"p{index}.yml").write_text(text)
        QmailTarget().plan(load_policy(tmp_path / f"p{index}.yml"))
    assert {(e, c) for e, facts in CAPABILITIES.items() for c in facts} - reached == set()


@pytest.mark.parametrize(("action", "runs"), [("defer", True), ("reject", True), ("permit", False)])
def test_a_list_file_of_single_addresses_that_answers_with_text_runs_rblsmtpd(tmp_path: Path, action: str,
                                                                              runs: bool) -> None:
    """Its addresses get RBLSMTPD in tcp.smtp, which only rblsmtpd reads (tests/realmta/test_qmail.py runs it)."""
    (tmp_path / "hosts.txt").write_text("192.0.2.7\n192.0.2.9\n")
    (tmp_path / "policy.yml").write_text(f"access: {{clients: [{{file: hosts.txt, action: {action}, "
                                         "message: Not now}]}\n")
    result = QmailTarget().plan(load_policy(tmp_path / "policy.yml"))
    assert (["rblsmtpd"] in words(run_script(result))) == runs
    assert lookup(parse_rules(rendered(result, "tcp.smtp")), "192.0.2.8") == (("allow", {"RBLSMTPD": ""}) if runs
                                                                              else ("allow", {}))


@pytest.mark.parametrize(("action", "status"), [("reject", "enforced"), ("permit", "enforced")])
def test_an_empty_sender_list_file_is_not_a_form_badmailfrom_lacks(tmp_path: Path, action: str, status: str) -> None:
    """No entry is no entry of the form user@: nothing to refuse, so nothing unsupported stops the render."""
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "policy.yml").write_text(f"access: {{senders: [{{file: empty.txt, action: {action}}}]}}\n")
    result = QmailTarget().plan(load_policy(tmp_path / "policy.yml"))
    assert coverage(result)["access.senders[0]"][0] == status
    assert items(result, "badmailfrom") == []
