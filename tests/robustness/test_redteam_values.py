"""Red team, typed values: every hostile address, network, name or path is refused by the real command.

Each case is the injection suite's full policy (tests/robustness/hostile.py) with hostile values put in
(zone ids in every address field and in list files, IPv4-mapped and -compatible forms, odd spellings,
HELO key/action flips, trusted unions wider than one /8 in several shapes, dovecot socket traversal,
the host name as a relay domain, odd types). ``mtaharden validate`` and ``mtaharden render`` must both
exit 2 with the problem at its file:line:col, name the defect, and write nothing.

What is accepted instead is written in canonical form only: the formatter's output for accepted
spellings is pinned, and a real Postfix reads an accepted IPv6 policy's mynetworks back as exactly the
intended networks (``postconf -h mynetworks``, after ``postfix check``), with each HELO key answering
its own action (``postmap -q``).
"""

from __future__ import annotations

import copy
import ipaddress
import json
import re
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from mtaharden.policy import canonical, load_policy_text
from tests.conftest import render_policy
from tests.realmta.harness import SANDBOX_PARENT, Postfix, Sendmail, daemon_dir, free_port, run
from tests.robustness.hostile import BASE, FieldPath, as_file, with_value
from tests.robustness.readback import with_options
from tests.unit.test_cli import command

TRUSTED: FieldPath = ("networks", "trusted")
CLIENT: FieldPath = ("access", "clients", 0, "match")
HELO: FieldPath = ("access", "helo", 0, "match")
SENDMAIL_LISTEN: FieldPath = ("targets", "sendmail", "listen_address")
INTERFACES: FieldPath = ("targets", "postfix", "inet_interfaces")
BINDINGS: FieldPath = ("targets", "exchange", "relay_bindings")
QMAIL_LISTEN: FieldPath = ("targets", "qmail", "listen")
SOCKET: FieldPath = ("auth", "dovecot_socket")
WIDE = "networks.allow_wide_trusted"
ZONE, MAPPED, COMPATIBLE = "carries an IPv6 zone id", "IPv4-mapped", "IPv4-compatible"


@dataclass(frozen=True)
class Case:
    """Hostile ``edits`` of BASE; the problem is at the scalar ``at`` (or just after the text ``after``), or at
    ``line``:``col`` of list file ``in_file``; ``words`` are in its message."""

    edits: dict[FieldPath, Any]
    words: str
    at: str | None = None
    after: str | None = None
    files: dict[str, str] = field(default_factory=dict)
    in_file: tuple[str, int, int] | None = None


def list_item(kind: str, name: str) -> dict[str, Any]:
    return {"file": name} if kind == "domain" else {"file": name, "action": "reject"}


CASES: dict[str, Case] = {
    # zone ids, in every field that takes an address
    "trusted zone opens mynetworks": Case({TRUSTED: ["fe80::1%x] static:all [::1"]}, ZONE,
                                          at="fe80::1%x] static:all [::1"),
    "trusted zone, empty": Case({TRUSTED: ["fe80::1%"]}, ZONE, at="fe80::1%"),
    "trusted zone on a network": Case({TRUSTED: ["fe80::%eth0/64"]}, ZONE, at="fe80::%eth0/64"),
    "client zone": Case({CLIENT: "2001:db8::1%eth0"}, ZONE, at="2001:db8::1%eth0"),
    "helo zone flips key and action": Case({HELO: "fe80::1%x ok"}, ZONE, at="fe80::1%x ok"),
    "helo literal zone": Case({HELO: "[IPv6:fe80::1%x]"}, ZONE, at="[IPv6:fe80::1%x]"),
    "sendmail listen zone runs m4": Case({SENDMAIL_LISTEN: "fe80::1%esyscmd(touch PWNED)dnl"}, ZONE,
                                         at="fe80::1%esyscmd(touch PWNED)dnl"),
    "postfix interface zone": Case({INTERFACES: ["fe80::1%lo"]}, ZONE, at="fe80::1%lo"),
    "exchange binding zone": Case({BINDINGS: ["fe80::1%12"]}, ZONE, at="fe80::1%12"),
    "qmail listen zone": Case({QMAIL_LISTEN: "fe80::1%x"}, ZONE, at="fe80::1%x"),
    "client list file zone": Case({("access", "clients", 0): list_item("client", "clients.txt")}, ZONE,
                                  files={"clients.txt": "192.0.2.1\n   fe80::1%eth0\n"},
                                  in_file=("clients.txt", 2, 4)),
    "helo list file zone": Case({("access", "helo", 0): list_item("helo", "helo.txt")}, ZONE,
                                files={"helo.txt": "bad.example.net\n# note\nfe80::1%25\n"},
                                in_file=("helo.txt", 3, 1)),
    # IPv4 in IPv6 clothing
    "trusted mapped range": Case({TRUSTED: ["::ffff:0:0/96"]}, MAPPED, at="::ffff:0:0/96"),
    "trusted mapped host": Case({TRUSTED: ["::ffff:10.0.0.1"]}, MAPPED, at="::ffff:10.0.0.1"),
    "trusted compatible host": Case({TRUSTED: ["::192.0.2.1"]}, COMPATIBLE, at="::192.0.2.1"),
    "client mapped": Case({CLIENT: "::ffff:198.51.100.7"}, MAPPED, at="::ffff:198.51.100.7"),
    "client mapped in hex": Case({CLIENT: "::ffff:c633:6407"}, MAPPED, at="::ffff:c633:6407"),
    "helo mapped literal": Case({HELO: "[IPv6:::ffff:192.0.2.1]"}, MAPPED, at="[IPv6:::ffff:192.0.2.1]"),
    "sendmail listen mapped": Case({SENDMAIL_LISTEN: "::ffff:127.0.0.1"}, MAPPED, at="::ffff:127.0.0.1"),
    "postfix interface mapped": Case({INTERFACES: ["::ffff:192.0.2.25"]}, MAPPED, at="::ffff:192.0.2.25"),
    "exchange binding compatible": Case({BINDINGS: ["::192.0.2.25"]}, COMPATIBLE, at="::192.0.2.25"),
    "client list file mapped": Case({("access", "clients", 0): list_item("client", "clients.txt")}, MAPPED,
                                    files={"clients.txt": "::ffff:192.0.2.9\n"}, in_file=("clients.txt", 1, 1)),
    # odd spellings
    "trusted netmask": Case({TRUSTED: ["10.0.0.0/255.0.0.0"]}, "not a plain number", at="10.0.0.0/255.0.0.0"),
    "trusted hostmask": Case({TRUSTED: ["10.0.0.0/0.255.255.255"]}, "not a plain number", at="10.0.0.0/0.255.255.255"),
    "trusted prefix leading zero": Case({TRUSTED: ["10.0.0.0/08"]}, "not a plain number", at="10.0.0.0/08"),
    "trusted octal octet": Case({TRUSTED: ["010.0.0.1"]}, "not an IP address", at="010.0.0.1"),
    "trusted arabic digits": Case({TRUSTED: ["\u0661\u0660.0.0.0/8"]}, "not an IP address", at="\u0661\u0660.0.0.0/8"),
    "client prefix with sign": Case({CLIENT: "192.0.2.0/+24"}, "not a plain number", at="192.0.2.0/+24"),
    "exchange binding hex octet": Case({BINDINGS: ["0x7f.0.0.1"]}, "not an IP address", at="0x7f.0.0.1"),
    "qmail listen ipv6": Case({QMAIL_LISTEN: "::1"}, "not an IPv4 address", at="::1"),
    "dnsbl filter arabic digit": Case({("dnsbl", 0, "match"): ["127.0.0.\u0662"]}, "not a return-code filter",
                                      at="127.0.0.\u0662"),
    # HELO names that would carry an action into a map line
    "helo address then action": Case({HELO: "192.0.2.1 OK"}, "invalid label", at="192.0.2.1 OK"),
    "helo literal then action": Case({HELO: "[192.0.2.1] permit"}, "invalid label", at="[192.0.2.1] permit"),
    "helo list file key and action": Case({("access", "helo", 0): list_item("helo", "helo.txt")},
                                          "more than one entry", files={"helo.txt": "bad.example.net OK\n"},
                                          in_file=("helo.txt", 1, 1)),
    "helo kelvin sign": Case({HELO: "\u212aexample.org"}, "non-ASCII", at="\u212aexample.org"),
    # trusted networks wider than one /8 (or /32) together
    "256 times slash 8": Case({TRUSTED: [f"{octet}.0.0.0/8" for octet in range(256)]}, WIDE, at="1.0.0.0/8"),
    "slash 8 and a slash 24": Case({TRUSTED: ["10.0.0.0/8", "192.0.2.0/24"]}, WIDE, at="192.0.2.0/24"),
    "three slash 9": Case({TRUSTED: ["10.0.0.0/9", "10.128.0.0/9", "11.0.0.0/9"]}, WIDE, at="11.0.0.0/9"),
    "two halves of everything": Case({TRUSTED: ["0.0.0.0/1", "128.0.0.0/1"]}, WIDE, at="0.0.0.0/1"),
    "sixteen slash 12 and more": Case({TRUSTED: [f"{16 * i}.0.0.0/12" for i in range(16)] + ["198.51.100.0/24"]},
                                      WIDE, at="198.51.100.0/24"),
    "ipv6 slash 64 holds all mapped ipv4": Case({TRUSTED: ["::/64"]}, "IPv4 addresses", at="::/64"),
    "ipv6 two slash 33 and a slash 48": Case({TRUSTED: ["2001:db8::/33", "2001:db8:8000::/33", "2001:db9::/48"]},
                                             WIDE, at="2001:db9::/48"),
    "ipv6 everything": Case({TRUSTED: ["::1", "::/0"]}, WIDE, at="::/0"),
    # the dovecot socket stays below the queue
    "socket parent traversal": Case({SOCKET: "../.."}, "below the queue", at="../.."),
    "socket deep traversal": Case({SOCKET: "private/../../../run/dovecot/auth"}, "below the queue",
                                  at="private/../../../run/dovecot/auth"),
    "socket absolute": Case({SOCKET: "/run/dovecot/auth-client"}, "below the queue", at="/run/dovecot/auth-client"),
    "socket empty segment": Case({SOCKET: "private//auth"}, "below the queue", at="private//auth"),
    "path traversal": Case({("targets", "postfix", "config_dir"): "/etc/postfix/../../tmp"}, "plain absolute path",
                           at="/etc/postfix/../../tmp"),
    # the host name is the MTA itself
    "hostname as relay domain": Case({("hostname",): "MX.example.org", ("domains", "relay"): ["mx.example.org"]},
                                     "own host name", at="mx.example.org"),
    "hostname in a relay list file": Case({("domains", "relay"): [list_item("domain", "relay.txt")]},
                                          "own host name", files={"relay.txt": "dept.example.org\n mx.example.org\n"},
                                          in_file=("relay.txt", 2, 2)),
    # odd types, said in the user's terms
    "number for a network": Case({TRUSTED: [1.5]}, "network must be text, not a number with a decimal point",
                                 after='  "trusted": [\n   '),
    "boolean for an address": Case({SENDMAIL_LISTEN: True}, "must be text, not true/false",
                                   after='"listen_address": '),
    "list for a host name": Case({("hostname",): ["mx.example.org"]}, "domain must be text, not a list",
                                 after='"hostname": '),
    "list for a mapping": Case({("auth",): [1]}, "expected a mapping of keys to values here, not a list",
                               after='"auth": '),
}


def located(text: str, case: Case) -> tuple[int, int]:
    """Line and column (1-based) of where the case's problem must be reported in the policy text."""
    index = text.index(json.dumps(case.at)) if case.at is not None else text.index(str(case.after)) + len(
        str(case.after))
    return text.count("\n", 0, index) + 1, index - text.rfind("\n", 0, index)


def hostile_policy(case: Case, folder: Path) -> tuple[Path, str, int, int]:
    """The case written into ``folder``: the policy file, and the file, line and column of its problem."""
    data: dict[str, Any] = copy.deepcopy(BASE)
    for path, value in case.edits.items():
        data = with_value(path, value, data)
    text = as_file(data)
    policy = folder / "policy.yml"
    policy.write_text(text, encoding="utf-8")
    for name, content in case.files.items():
        (folder / name).write_text(content, encoding="utf-8")
    if case.in_file:
        name, line, column = case.in_file
        return policy, str(folder / name), line, column
    return policy, str(policy), *located(text, case)


def test_the_corpus_is_large_enough() -> None:
    assert len(CASES) >= 40


@pytest.mark.parametrize("name", sorted(CASES))
def test_validate_and_render_refuse_it_at_its_place_and_write_nothing(tmp_path: Path, name: str) -> None:
    case = CASES[name]
    policy, source, line, column = hostile_policy(case, tmp_path)
    out = tmp_path / "out"
    for args in (["validate", str(policy)], ["render", str(policy), "--out", str(out)]):
        result = subprocess.run([*command(), *args], capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode == 2, (args[0], result.stdout, result.stderr)
        first = result.stderr.splitlines()[0]
        assert first.startswith(f"{source}:{line}:{column}: "), (args[0], result.stderr)
        assert case.words in first and "(fix: " in first, first
        assert "Traceback" not in result.stderr
        assert not re.search(r"Commented|Scalar[A-Z]|instance of|NoneType", result.stderr), result.stderr
    assert not out.exists()
    assert not (tmp_path / "PWNED").exists() and not Path("PWNED").exists()


# --- what is accepted is written canonically ----------------------------------------------------

ACCEPTED = [
    (TRUSTED, ["2001:DB8::/32"], "2001:db8::/32"),
    (TRUSTED, ["2001:db8:0:0:0:0:0:25"], "2001:db8::25/128"),
    (TRUSTED, ["64:ff9b::192.0.2.0/120"], "64:ff9b::c000:200/120"),
    (TRUSTED, ["10.0.0.0/9", "10.128.0.0/9"], "10.128.0.0/9"),
    (TRUSTED, ["10.0.0.0/8", "127.0.0.0/8", "::1"], "::1/128"),
    (CLIENT, "2001:0DB8::0/48", "2001:db8::/48"),
    (SENDMAIL_LISTEN, "2001:DB8::0019", "2001:db8::19"),
    (INTERFACES, ["2001:DB8::19"], "2001:db8::19"),
    (BINDINGS, ["2001:0db8:0000::0019"], "2001:db8::19"),
    (HELO, "[IPv6:2001:DB8::1]", "2001:db8::1"),
]


def value_at(policy: Any, path: FieldPath) -> Any:
    node = policy
    for step in path:
        node = node[step] if isinstance(step, int) else getattr(node, step)
    return node[-1] if isinstance(node, list) else node


@pytest.mark.parametrize(("path", "written", "emitted"), ACCEPTED, ids=[str(case[1]) for case in ACCEPTED])
def test_accepted_spellings_reach_the_formatter_in_canonical_form(path: FieldPath, written: Any, emitted: str) -> None:
    policy = load_policy_text(as_file(with_value(path, written)), "policy.yml")
    value = value_at(policy, path)
    text = canonical.network(value) if isinstance(value, ipaddress.IPv4Network | ipaddress.IPv6Network) else (
        canonical.address(value) if ":" in str(value) or str(value)[0].isdigit() else value)
    assert text == emitted


def test_postfix_reads_an_accepted_ipv6_policy_as_exactly_the_intended_networks(postfix_tools: None) -> None:
    written = ["127.0.0.0/8", "::1", "2001:DB8::/33", "2001:0db8:ffff:0::/64", "64:ff9b::192.0.2.0/120",
               "10.0.0.0/9", "10.128.0.0/10", "198.51.100.7"]
    data = with_options(with_value(TRUSTED, written), "postfix", allow_unsupported=["tls"])
    data["access"]["helo"] = [{"match": "[IPv6:2001:DB8::5]", "action": "reject", "message": "helo refused"},
                              {"match": "192.0.2.9", "action": "defer"}]
    with daemon_dir("redteam-values") as work:
        data = with_options(data, "postfix", config_dir=str(work / "etc"), inet_interfaces=["loopback-only"])
        plan, out = render_policy(data, work / "r", "postfix")
        Postfix.install(out, work / "etc", 25, [step.argv for step in plan.steps])  # postconf and postfix check
        shown = run(["postconf", "-c", str(work / "etc"), "-h", "mynetworks"])
        assert shown.stderr == ""
        entries = shown.stdout.strip().split(", ")
        assert entries == ["127.0.0.0/8", "[::1]/128", "[2001:db8::]/33", "[2001:db8:ffff::]/64",
                           "[64:ff9b::c000:200]/120", "10.0.0.0/9", "10.128.0.0/10", "198.51.100.7/32"]
        parsed = [ipaddress.ip_network(entry.replace("[", "").replace("]", "")) for entry in entries]
        assert parsed == [ipaddress.ip_network(network) for network in written]
        helo = f"texthash:{out}/helo_access"
        for key, answer in (("2001:db8::5", "REJECT helo refused"), ("[2001:db8::5]", "REJECT helo refused"),
                            ("[ipv6:2001:db8::5]", "REJECT helo refused"), ("192.0.2.9", "DEFER"),
                            ("[192.0.2.9]", "DEFER")):
            found = run(["postmap", "-c", str(work / "etc"), "-q", key, helo], check=False)
            assert (found.returncode, found.stdout.strip(), found.stderr) == (0, answer, ""), key


def test_sendmail_listens_on_an_accepted_ipv6_address_and_only_there(m4_tools: None) -> None:
    """``Addr=`` is read in the family set before it: an IPv6 listen address needs ``Family=inet6``."""
    with daemon_dir("redteam-sendmail", parent=SANDBOX_PARENT) as base:
        port = free_port()
        options = Sendmail.options(base, port) | {"listen_address": "0:0:0:0:0:0:0:1"}
        data = {"networks": {"trusted": ["127.0.0.0/8", "::1"]}, "targets": {"sendmail": options}}
        _, rendered = render_policy(data, base / "r", "sendmail")
        sendmail = Sendmail.install(rendered, base, port)
        assert f"O DaemonPortOptions=Port={port}, Family=inet6, Addr=::1, Name=MTA, M=A" in sendmail.cf.read_text()
        sendmail.address = "::1"
        with sendmail.running():
            with socket.create_connection(("::1", port), timeout=5) as connection:
                assert connection.recv(512).startswith(b"220 ")
            with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
                pass
