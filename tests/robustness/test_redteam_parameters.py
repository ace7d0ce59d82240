"""Red team for targets.postfix.parameters: what the allow-list lets through Postfix reads silently, and
what it keeps out cannot be written at all.

* Every allowed parameter, rendered with a valid value (and with edge values), is what ``postconf -n``
  shows, with no warning, and ``postfix check`` stays silent.
* Relay openers, program and library locations, identities, environment and value tricks each make
  the real command line exit 2 at the parameter's line, write nothing and print no traceback.
* On a real Postfix the PROXY case is live: the header a client sends without it is an unknown
  command and relaying stays refused, while the same server with the parameter set by hand (what
  the old pass-through wrote) relays for a client that merely claims a trusted address.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mtaharden.policy.options.postfix.parameters import ALLOWED, Maps
from tests.conftest import REPO, render_policy
from tests.realmta.harness import Postfix, daemon_dir, run, settle
from tests.realmta.mta_lab import TRUSTED, UNTRUSTED, behaviour_policy, running_mta
from tests.robustness.readback import planned_parameters, shown_parameters

FOREIGN = "victim@foreign.example.net"
# Values at the edges of their kinds (the examples are the everyday ones).
EDGES = {
    "notify_classes": "bounce, 2bounce, data, delay, policy, protocol, resource, software",
    "smtpd_reject_footer": "\\c Ref $client_address:${client_port} at $localtime on $server_name, $$5 \\n line 2",
    "delay_warning_time": "0h", "in_flow_delay": "10s", "maximal_queue_lifetime": "1w",
    "smtp_tls_ciphers": "high", "smtp_tls_protocols": ">=TLSv1.3", "header_size_limit": "10240",
    "smtp_tls_loglevel": "4", "unknown_local_recipient_reject_code": "450", "syslog_facility": "local7",
    "smtpd_client_connection_rate_limit": "0", "bounce_queue_lifetime": "0s",
}


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mtaharden", *args], capture_output=True, text=True, timeout=60,
                          cwd=REPO, check=False)


def make_tables(values: dict[str, str], config_dir: Path) -> None:
    """Build the indexed file behind each table (aliases with postalias, the rest with postmap)."""
    for name, value in values.items():
        if not isinstance(ALLOWED[name].kind, Maps):
            continue
        alias = name.startswith("alias")
        for table in value.split(", "):
            Path(table.partition(":")[2]).write_text("postmaster: root\n" if alias else "example.net encrypt\n")
            run(["postalias" if alias else "postmap", "-c", str(config_dir), table])


@pytest.mark.parametrize("variant", ["examples", "edges"])
def test_every_allowed_parameter_renders_and_postfix_reads_it_silently(postfix_tools: None, variant: str) -> None:
    values = {name: parameter.example for name, parameter in ALLOWED.items()}
    if variant == "edges":
        values.update(EDGES)
    with daemon_dir("site-parameters") as work:
        kind = "hash" if variant == "examples" else "btree"
        tables = [name for name, parameter in ALLOWED.items() if isinstance(parameter.kind, Maps)]
        values = {**values, **{name: f"{kind}:{work}/{name}" for name in tables}}
        data = {"hostname": "mx.example.org", "targets": {"postfix": {
            "config_dir": str(work / "etc"), "inet_interfaces": ["loopback-only"], "parameters": values}}}
        plan, out = render_policy(data, work / "r")
        make_tables(values, out)
        shown = shown_parameters(out)
        assert shown == planned_parameters(plan, out)
        assert {name: shown[name] for name in values} == {name: " ".join(v.split()) for name, v in values.items()}
        # The sandbox keeps the aliases under test (it blanks alias_maps otherwise); postfix check is silent.
        Postfix.install(out, work / "etc", 25, [step.argv for step in plan.steps],
                        extra={name: values[name] for name in ("alias_maps", "alias_database")})


def test_every_allowed_parameter_is_one_this_postfix_knows(postfix_tools: None) -> None:
    shown = run(["postconf", "-d", *sorted(ALLOWED)])
    assert shown.stderr == ""
    assert [line.partition(" =")[0] for line in shown.stdout.splitlines()] == sorted(ALLOWED)


# (parameter, value as YAML, what the refusal says). Relay openers first, then locations, identities
# and environment, then allowed parameters with values that try to smuggle something in.
RED_TEAM = [
    ("smtpd_upstream_proxy_protocol", "haproxy", "decides who a client is"),
    ("smtpd_authorized_xclient_hosts", "0.0.0.0/0", "mtaharden writes it itself"),
    ("smtpd_authorized_xforward_hosts", "0.0.0.0/0", "mtaharden writes it itself"),
    ("mynetworks", "0.0.0.0/0", "mtaharden writes it itself"),
    ("mynetworks_style", "class", "mtaharden writes it itself"),
    ("smtpd_relay_restrictions", "permit", "mtaharden writes it itself"),
    ("smtpd_recipient_restrictions", "permit", "mtaharden writes it itself"),
    ("permit_mx_backup_networks", "0.0.0.0/0", "mtaharden writes it itself"),
    ("proxy_interfaces", "192.0.2.1", "decides who a client is"),
    ("virtual_alias_domains", "foreign.example.net", "accepted domains"),
    ("virtual_mailbox_domains", "foreign.example.net", "accepted domains"),
    ("local_recipient_maps", "''", "recipients"),
    ("relay_recipient_maps", "''", "relaying"),
    ("luser_relay", "spy@attacker.example.net", "relaying"),
    ("relayhost", "'[attacker.example.net]'", "relaying"),
    ("smtpd_client_event_limit_exceptions", "0.0.0.0/0", "trust"),
    ("smtpd_sasl_exceptions_networks", "0.0.0.0/0", "trust"),
    ("soft_bounce", "yes", "policy's own refusals"),
    ("smtpd_peername_lookup", "no", "decides who a client is"),
    ("debug_peer_list", "0.0.0.0/0", "decides who a client is"),
    ("daemon_directory", "/tmp/evil", "runs programs"),
    ("command_directory", "/tmp/evil", "runs programs"),
    ("shlib_directory", "/tmp/evil", "libraries"),
    ("meta_directory", "/tmp/evil", "runs programs"),
    ("sendmail_path", "/tmp/evil/sendmail", "runs programs"),
    ("queue_directory", "/tmp", "keeps its queue"),
    ("data_directory", "/etc", "keeps its queue or data"),
    ("maillog_file", "/etc/cron.d/postfix", "writes its log"),
    ("mail_owner", "root", "a user it runs as"),
    ("default_privs", "root", "a user it runs as"),
    ("import_environment", "LD_PRELOAD=/tmp/evil.so", "environment"),
    ("export_environment", "LD_PRELOAD=/tmp/evil.so", "environment"),
    ("mailbox_command", "/tmp/evil", "runs a program"),
    ("always_bcc", "spy@attacker.example.net", "copies"),
    ("smtpd_upstream_proxy_protocol", "''", "decides who a client is"),  # even the harmless-looking value
    ("smtpd_reject_footer", "'$mynetworks'", "uses $ other than"),
    ("smtpd_reject_footer", "'${client_address?$smtpd_relay_restrictions}'", "uses $ other than"),
    ("alias_maps", "'hash:/etc/aliases, static:spy@attacker.example.net'", "is not a table"),
    ("alias_maps", "'proxy:unix:passwd.byname'", "is not a table"),
    ("alias_maps", "'hash:${config_directory}/../../tmp/aliases'", "is not a table"),
    ("maximal_queue_lifetime", "'5d mynetworks=0.0.0.0/0'", "with its unit"),
    ("smtp_tls_ciphers", "'${smtpd_tls_ciphers}'", "is not one of"),
    ("notify_classes", "'bounce, $mynetworks'", "is not one of"),
    ("header_size_limit", "'102400 # mynetworks = 0.0.0.0/0'", "is not a whole number"),
    ("header_size_limit", '"102400\\nmynetworks = 0.0.0.0/0"', "control or non-ASCII"),
    ("smtp_skip_5xx_greeting", '"yes\\r"', "control or non-ASCII"),
    ("SMTPD_UPSTREAM_PROXY_PROTOCOL", "haproxy", "is not a parameter name"),
]


@pytest.mark.parametrize(("name", "value", "says"), RED_TEAM, ids=[f"{n}={v}" for n, v, _ in RED_TEAM])
def test_the_command_refuses_it_at_its_line_and_writes_nothing(tmp_path: Path, name: str, value: str,
                                                               says: str) -> None:
    policy = tmp_path / "policy.yml"
    policy.write_text(f"hostname: mx.example.org\ntargets:\n  postfix:\n    parameters:\n      {name}: {value}\n")
    result = cli("render", str(policy), "--out", str(tmp_path / "out"))
    assert result.returncode == 2, result.stdout + result.stderr
    first = result.stderr.splitlines()[0]
    assert first.startswith(f"{policy}:5:"), result.stderr
    assert "targets.postfix.parameters" in first and says in first and "(fix: " in first, first
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_command_line_override_is_refused_at_its_place(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yml"
    policy.write_text("hostname: mx.example.org\n")
    key = "targets.postfix.parameters.smtpd_upstream_proxy_protocol"
    result = cli("render", str(policy), "--out", str(tmp_path / "out"), "--set", f"{key}=haproxy")
    assert result.returncode == 2
    assert result.stderr.startswith(f"--set {key}:1:"), result.stderr
    assert "this parameter is not managed safely by mtaharden" in result.stderr
    assert not (tmp_path / "out").exists()


# --- live: the PROXY relay opener on a real Postfix -----------------------------------------


def proxied_rcpt(address: str, port: int, claimed: str, recipient: str, *, proxy_aware: bool) -> dict[str, str]:
    """From UNTRUSTED: a PROXY v1 header claiming ``claimed``, then EHLO, MAIL, RCPT, QUIT; replies by command.

    A server that speaks PROXY reads the header before its banner; one that does not answers it as a
    command after the banner."""
    with socket.create_connection((address, port), timeout=20, source_address=(UNTRUSTED, 0)) as sock:
        reader = sock.makefile("rb")
        sock.sendall(f"PROXY TCP4 {claimed} {address} 40000 {port}\r\n".encode())
        replies = {"banner": _reply(reader)}
        if not proxy_aware:
            replies["PROXY"] = _reply(reader)
        for command in ("EHLO client.test", "MAIL FROM:<someone@client.test>", f"RCPT TO:<{recipient}>", "QUIT"):
            sock.sendall(command.encode() + b"\r\n")
            replies[command.partition(" ")[0]] = _reply(reader)
        return replies


def _reply(reader: Any) -> str:
    """One SMTP reply, its lines joined (bounded: a reply is a few lines)."""
    lines = []
    for _ in range(50):
        line = reader.readline(1000).decode("ascii", "replace").rstrip("\r\n")
        lines.append(line)
        if len(line) < 4 or line[3] != "-":
            break
    return " | ".join(lines)


@pytest.fixture(scope="module")
def proxy_lab() -> Iterator[tuple[Path, Postfix]]:
    with daemon_dir("proxy") as base, running_mta("postfix", base, behaviour_policy()) as mta:
        assert isinstance(mta.server, Postfix)
        yield base, mta.server


@pytest.mark.realmta
def test_a_proxy_header_can_no_longer_make_a_client_trusted(proxy_lab: tuple[Path, Postfix]) -> None:
    base, server = proxy_lab
    data = json.loads((base / "r" / "policy.yml").read_text())
    data["targets"]["postfix"]["parameters"] = {"smtpd_upstream_proxy_protocol": "haproxy"}
    hostile = base / "hostile.yml"
    hostile.write_text(json.dumps(data, indent=1))
    refused = cli("render", str(hostile), "--target", "postfix", "--out", str(base / "hostile-out"))
    assert refused.returncode == 2 and "smtpd_upstream_proxy_protocol: this parameter is not managed" in refused.stderr
    assert not (base / "hostile-out").exists()

    # What mtaharden renders: the PROXY header is an unknown command, and the client stays untrusted.
    replies = proxied_rcpt(server.address, server.port, TRUSTED, FOREIGN, proxy_aware=False)
    assert replies["banner"].startswith("220 ") and replies["PROXY"].startswith("500 "), replies
    assert replies["RCPT"].startswith("554 ") and "Relay access denied" in replies["RCPT"], replies

    # The control: the same server with the parameter the old pass-through wrote relays for the claim.
    try:
        _restart_with(server, "smtpd_upstream_proxy_protocol=haproxy")
        replies = proxied_rcpt(server.address, server.port, TRUSTED, FOREIGN, proxy_aware=True)
        assert replies["RCPT"].startswith("250 "), replies  # then QUIT: nothing is sent, and transports discard
    finally:
        _restart_with(server, "smtpd_upstream_proxy_protocol=")
    assert proxied_rcpt(server.address, server.port, TRUSTED, FOREIGN, proxy_aware=False)["RCPT"].startswith("554 ")


def _restart_with(server: Postfix, setting: str) -> None:
    """Set one parameter by hand and restart the instance (a stop and start, so every smtpd reads it)."""
    server.stop()
    run(["postconf", "-c", str(server.config_dir), "-e", setting])
    settle(server.config_dir)
    server.start()
