"""Bot screening and outbound TLS as each target renders and records them (the lab proves the daemons' side:
tests/lab/test_screening.py, tests/lab/test_outbound_tls.py)."""

from __future__ import annotations

import ipaddress
import subprocess
import sys
from pathlib import Path
from typing import TypeVar

import pytest

from mtaharden.policy import PolicyError, load_policy_text
from mtaharden.policy.evaluate import evaluate
from mtaharden.policy.transaction import Transaction
from mtaharden.targets.base import Plan, registered
from mtaharden.targets.exim.config import EximConf
from mtaharden.targets.postfix.main_cf import MainCf
from mtaharden.targets.postfix.master_cf import MasterCf
from mtaharden.targets.postfix.screening import merged_filter, sites
from mtaharden.targets.postfix.syntax import Value
from mtaharden.targets.sendmail.contexts import McFile, Table
from tests.conftest import REPO

C = TypeVar("C")
SCREENED = """
domains: {local: [example.org]}
networks: {trusted: [192.0.2.0/24]}
role: mx+submission
auth: {enabled: true, require_tls: false, submission: {smtps_port: null}}
screening:
  enabled: true
  pregreet: {wait: 3, action: drop}
  dnsbl:
    threshold: 3
    action: reject
    sites:
      - {zone: bl.example.net, match: ["127.0.0.[9..11]", 127.0.0.13], weight: 2}
      - {zone: wl.example.net, match: [127.0.0.2, 127.0.1.3], weight: -5}
  allow: [198.51.100.0/24, "2001:db8:1::/48"]
"""


def plan(target: str, text: str) -> Plan:
    return registered()[target].plan(load_policy_text(text, "p.yml"))


def coverage(target: str, text: str) -> dict[str, tuple[str, str]]:
    return {item.element: (item.status, item.detail) for item in plan(target, text).coverage}


def context(built: Plan, path: str, kind: type[C]) -> C:
    """The template context of the planned file ``path``, as its type."""
    (found,) = [f.context for f in built.files if f.path == path]
    assert isinstance(found, kind)
    return found


def main_cf(text: str) -> dict[str, Value]:
    return context(plan("postfix", text), "main.cf", MainCf).values()


def test_filters_merge_into_one_postfix_filter_in_canonical_form() -> None:
    assert merged_filter(["127.0.0.[9..11]", "127.0.0.13", "127.0.0.12"]) == "127.0.0.[9..13]"
    assert merged_filter(["127.0.0.[2;4]", "127.0.0.3", "127.0.0.[7..8]"]) == "127.0.0.[2..4;7..8]"
    assert merged_filter(["127.0.0.2"]) == "127.0.0.2"


def test_a_site_whose_filters_differ_in_two_octets_gets_an_entry_per_filter() -> None:
    policy = load_policy_text(SCREENED, "p.yml")
    written, exact = sites(policy.screening.dnsbl.sites)
    assert written == ["bl.example.net=127.0.0.[9..11;13]*2", "wl.example.net=127.0.0.2*-5",
                       "wl.example.net=127.0.1.3*-5"]
    assert not exact
    assert coverage("postfix", SCREENED)["screening.dnsbl"][0] == "approximated"


def test_postfix_puts_postscreen_on_port_25_only() -> None:
    master = context(plan("postfix", SCREENED), "master.cf", MasterCf)
    rows = {(row.service, row.type): row for row in master.services}
    assert rows["smtp", "inet"].program == "postscreen" and rows["smtp", "inet"].maxproc == "1"
    assert rows["smtpd", "pass"].program == "smtpd" and ("dnsblog", "unix") in rows
    assert ("tlsproxy", "unix") not in rows  # no TLS in this policy
    assert rows["submission", "inet"].program == "smtpd"  # never screened
    values = main_cf(SCREENED)
    assert values["postscreen_greet_action"] == "drop" and values["postscreen_greet_wait"] == "3s"
    assert values["postscreen_dnsbl_action"] == "enforce" and values["postscreen_dnsbl_threshold"] == "3"
    assert values["postscreen_access_list"] == ["permit_mynetworks",
                                                "cidr:$config_directory/postscreen_access.cidr"]
    assert all(values[f"postscreen_{test}_enable"] == "no" for test in ("pipelining", "non_smtp_command",
                                                                         "bare_newline"))


def test_postfix_without_screening_writes_no_postscreen_and_always_the_outbound_level() -> None:
    values = main_cf("domains: {local: [example.org]}\n")
    assert not [name for name in values if name.startswith("postscreen_")]
    assert values["smtp_tls_security_level"] == "may" and "smtp_dns_support_level" not in values
    assert coverage("postfix", "")["screening"][0] == "enforced"


def test_postfix_dane_asks_for_dnssec_and_a_check_step_probes_the_resolver() -> None:
    text = "outbound: {tls: dane}\n"
    values = main_cf(text)
    assert values["smtp_tls_security_level"] == "dane" and values["smtp_dns_support_level"] == "dnssec"
    checks = [step.argv for step in plan("postfix", text).steps if "posttls-finger" in step.argv]
    assert checks and checks[0][:2] == ("env", "MAIL_CONFIG=/etc/postfix")
    assert not [step for step in plan("postfix", "").steps if "posttls-finger" in step.argv]


def test_the_outbound_level_is_no_longer_a_site_parameter() -> None:
    with pytest.raises(PolicyError) as caught:
        load_policy_text("targets:\n  postfix:\n    parameters:\n      smtp_tls_security_level: encrypt\n", "p.yml")
    (problem,) = caught.value.problems
    assert problem.hint == "set outbound.tls in the policy instead"


def test_exim_sums_the_weights_in_the_connect_acl_and_holds_the_greeting_back() -> None:
    conf = context(plan("exim", SCREENED), "exim4.conf", EximConf)
    main = dict(conf.main)
    assert main["acl_smtp_connect"] == "acl_check_connect" and main["smtp_enforce_sync"] == "true"
    assert main["pipelining_connect_advertise_hosts"] == ""
    (acl,) = [a for a in conf.acls if a.name == "acl_check_connect"]
    conditions = [dict(s.conditions) for s in acl.statements]
    assert {"dnslists": "bl.example.net=127.0.0.9,127.0.0.10,127.0.0.11,127.0.0.13",
            "set acl_c_screen": "${eval:$acl_c_screen+2}"} in conditions
    assert {"dnslists": "wl.example.net=127.0.0.2,127.0.1.3", "set acl_c_screen": "${eval:$acl_c_screen-5}"} \
        in conditions
    assert conditions[-1] == {"delay": "3s"}
    older = context(plan("exim", SCREENED + "targets: {exim: {version: '4.93'}}\n"), "exim4.conf", EximConf)
    assert "pipelining_connect_advertise_hosts" not in dict(older.main)  # no PIPECONNECT before 4.94
    assert coverage("exim", SCREENED)["screening.pregreet"][0] == "approximated"


def test_exim_outbound_options() -> None:
    dane = context(plan("exim", "outbound: {tls: dane}\n"), "exim4.conf", EximConf)
    assert dane.transport == (("hosts_try_dane", "*"),) and dane.router == (("dnssec_request_domains", "*"),)
    encrypt = context(plan("exim", "outbound: {tls: encrypt}\n"), "exim4.conf", EximConf)
    assert encrypt.transport == (("hosts_require_tls", "*"),) and encrypt.router == ()


def test_sendmail_pauses_the_greeting_and_exempts_trusted_and_allowed_clients() -> None:
    text = SCREENED.replace("action: drop", "action: reject")
    built = plan("sendmail", text)
    assert "FEATURE(`greet_pause', `3000')" in context(built, "sendmail.mc", McFile).statements
    lines = dict(context(built, "access", Table).lines)
    assert lines["GreetPause:192.0.2"] == lines["GreetPause:198.51.100"] == lines["GreetPause:IPv6:2001:db8:1"] == "0"
    found = coverage("sendmail", text)
    assert found["screening.dnsbl"][0] == "unsupported" and found["outbound.tls"][0] == "approximated"
    assert found["screening.pregreet"][0] == "approximated"  # the submission port is paused too


@pytest.mark.parametrize("target", ["qmail", "opensmtpd", "exchange"])
def test_targets_without_screening_say_so_and_a_stated_screening_stops_the_render(target: str,
                                                                                  tmp_path: Path) -> None:
    assert coverage(target, SCREENED)["screening"][0] == "unsupported"
    assert coverage(target, "")["screening"][0] == "enforced"
    assert coverage(target, "outbound: {tls: dane}\n")["outbound.tls"][0] == "unsupported"
    policy = tmp_path / "p.yml"
    policy.write_text(SCREENED)
    refused = subprocess.run([sys.executable, "-m", "mtaharden", "render", str(policy), "--target", target,
                              "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=60,
                             cwd=REPO, check=False)
    assert refused.returncode != 0 and "screening" in refused.stderr
    assert not (tmp_path / "out" / target).exists()


EVALUATED = """
domains: {local: [example.org]}
networks: {trusted: [192.0.2.10/32]}
screening:
  enabled: true
  allow: [192.0.2.40/32]
  dnsbl:
    threshold: 2
    action: ACTION
    sites:
      - {zone: bl.example.net, match: [127.0.0.2], weight: 2}
      - {zone: bl.example.net, match: ["127.0.0.[9..11]"], weight: 1}
      - {zone: wl.example.net, match: [127.0.0.2], weight: -5}
"""


def outcome(action: str, client: str, listed: dict[str, str]) -> list[tuple[str, str, str | None]]:
    transaction = Transaction(ipaddress.ip_address(client), recipients=("postmaster@example.org",),
                              listed=listed)
    found = evaluate(load_policy_text(EVALUATED.replace("ACTION", action), "p.yml"), transaction)
    return [(d.stage, d.verdict, d.element) for d in found.decisions if d.stage in ("connect", "rcpt")]


@pytest.mark.parametrize(("action", "client", "listed", "expected"), [
    ("reject", "192.0.2.30", {"bl.example.net": "127.0.0.2"},
     [("connect", "accept", None), ("rcpt", "reject", "screening.dnsbl")]),
    ("drop", "192.0.2.30", {"bl.example.net": "127.0.0.2"}, [("connect", "reject", "screening.dnsbl")]),
    ("log", "192.0.2.30", {"bl.example.net": "127.0.0.2"},
     [("connect", "accept", None), ("rcpt", "accept", "domains.local")]),
    ("reject", "192.0.2.31", {"bl.example.net": "127.0.0.9"},  # weight 1: below the threshold
     [("connect", "accept", None), ("rcpt", "accept", "domains.local")]),
    ("reject", "192.0.2.30", {"bl.example.net": "127.0.0.2", "wl.example.net": "127.0.0.2"},  # 2 - 5
     [("connect", "accept", None), ("rcpt", "accept", "domains.local")]),
    ("drop", "192.0.2.40", {"bl.example.net": "127.0.0.2"},  # allowed
     [("connect", "accept", None), ("rcpt", "accept", "domains.local")]),
    ("drop", "192.0.2.10", {"bl.example.net": "127.0.0.2"},  # trusted
     [("connect", "accept", None), ("rcpt", "accept", "networks.trusted")]),
])
def test_the_evaluator_screens_by_the_summed_weights(action: str, client: str, listed: dict[str, str],
                                                     expected: list[tuple[str, str, str | None]]) -> None:
    assert outcome(action, client, listed) == expected
