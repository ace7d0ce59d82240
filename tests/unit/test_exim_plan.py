"""The Exim target's decisions, read from its Plan and its rendered exim4.conf; the real exim runs the plan's
check steps (``exim -bV`` and the -bh relay check) in a private overlay of the lab's stock Exim root
(tests/unit/exim_chroot.py: never written, unlike a chroot straight into the cache)."""

from __future__ import annotations

from pathlib import Path

from mtaharden.policy import load_policy, load_policy_text
from mtaharden.render import render_plan
from mtaharden.targets.base import Plan
from mtaharden.targets.exim import EximTarget
from tests.conftest import EXAMPLE_POLICY
from tests.unit.exim_chroot import exim_chroot

BASE = """
hostname: mx.example.org
domains: {local: [example.org], relay: [.relay.example.org]}
networks: {trusted: [127.0.0.0/8, "2001:db8:1::/48"]}
"""


def _plan(text: str) -> Plan:
    return EximTarget().plan(load_policy_text(text, "p.yml"))


def _conf(plan: Plan) -> str:
    return next(f.content for f in render_plan(plan, EximTarget()) if f.path == "exim4.conf")


def _coverage(plan: Plan) -> dict[str, str]:
    return {item.element: item.status for item in plan.coverage}


def test_the_example_is_carried_out_with_no_gap() -> None:
    plan = EximTarget().plan(load_policy(EXAMPLE_POLICY))
    assert [item.element for item in plan.coverage if item.status == "unsupported"] == []
    assert {f.dest for f in plan.files} >= {"/etc/exim4/exim4.conf", "/etc/sasl2/exim.conf"}


def test_lists_keep_ipv6_and_subdomains() -> None:
    conf = _conf(_plan(BASE))
    assert "domainlist relay_to_domains = <; *.relay.example.org\n" in conf
    assert "hostlist relay_from_hosts = <; 127.0.0.0/8 ; 2001:db8:1::/48\n" in conf


def test_the_relay_decision_comes_before_every_access_rule() -> None:
    conf = _conf(_plan(BASE + "access: {clients: [{match: 192.0.2.0/24, action: permit}]}\n"))
    rcpt = conf[conf.index("acl_check_rcpt:"):]
    assert rcpt.index("Relay access denied") < rcpt.index("hosts = <; 192.0.2.0/24")
    assert "accept\n    hosts = <; 192.0.2.0/24" in rcpt


def test_a_hostile_message_becomes_no_expansion_and_no_directive() -> None:
    hostile = "x ${run{/bin/sh}} $primary_hostname _HAVE_TLS \\ }"
    conf = _conf(_plan(BASE + f"access: {{senders: [{{match: a@b.example, action: reject, message: '{hostile}'}}]}}\n"))
    line = next(line for line in conf.splitlines() if line.strip().startswith("message = x"))
    assert "$" not in line and "{" not in line and "_" not in line.replace("\\x5f", "")


def test_a_null_client_has_no_local_domain_and_no_port_25() -> None:
    conf = _conf(_plan(BASE + "role: null-client\n"))
    assert "domainlist local_domains = <;\n" in conf and "daemon_smtp_ports = \n" not in conf


def test_vrfy_allowed_gets_its_acl_and_refused_gets_none() -> None:
    assert "acl_smtp_vrfy" not in _conf(_plan(BASE))
    assert "acl_smtp_vrfy = acl_check_vrfy" in _conf(_plan(BASE + "smtp: {disable_vrfy: false}\n"))


def test_a_dnsbl_filter_too_wide_to_list_is_a_gap() -> None:
    plan = _plan(BASE + "dnsbl: [{zone: bl.example.net, match: ['127.[0..254].[0..254].[2..255]']}]\n")
    assert _coverage(plan)["dnsbl[0]"] == "unsupported"


def test_dovecot_authenticators_use_the_option_socket_and_only_after_tls() -> None:
    conf = _conf(_plan(BASE + "tls: {cert: /etc/c.pem, key: /etc/k.pem}\n"
                       "auth: {enabled: true, backend: dovecot}\n"))
    assert "driver = dovecot" in conf and "server_socket = /run/dovecot/auth-client" in conf
    assert "server_advertise_condition = ${if def:tls_in_cipher}" in conf


def test_a_second_check_of_one_header_excludes_the_first() -> None:
    conf = _conf(_plan(BASE + "header_checks: [{header: Subject, pattern: a, action: warn},"
                       " {header: Subject, pattern: b, action: reject}]\n"))
    assert "{!match{$h_Subject:}{\\Na\\N}}" in conf


def test_a_non_ascii_check_matches_decoded_utf8_and_raw_other_charsets() -> None:
    plan = _plan(BASE + "header_checks: [{header: Subject, pattern: 发票, charsets: [UTF-8, GB18030]}]\n")
    conf = _conf(plan)
    assert "$h_Subject:" in conf and "$rh_Subject:" in conf
    assert _coverage(plan)["header_checks[0]"] == "approximated"


def test_the_real_exim_runs_the_plans_check_steps_on_the_example(tmp_path: Path) -> None:
    """The files at their plan destinations and the plan's own check steps (exim -bV, the -bh relay check),
    run as the roles run them, in a private overlay of the stock Exim root."""
    exim = exim_chroot(tmp_path)
    plan = EximTarget().plan(load_policy(EXAMPLE_POLICY))
    rendered = {f.path: f.content for f in render_plan(plan, EximTarget())}
    for planned in plan.files:
        if planned.dest is not None:
            exim.put(planned.dest, rendered[planned.path], planned.mode)
    checks = [step.argv for step in plan.steps if step.phase == "check"]
    assert len(checks) == 3 and rendered["relay-check.sh"].count("\ncheck ") >= 5  # -bV, -bh, the version
    for argv in checks:
        result = exim.run(list(argv), timeout=120)
        assert result.returncode == 0 and result.stdout == "" and result.stderr == "", \
            f"{argv}: {result.stdout}{result.stderr}"
    shown = exim.run(["exim4", "-bP", "smtp_banner", "received_header_text", "hosts_require_helo",
                      "tls_advertise_hosts"])
    assert shown.returncode == 0, shown.stderr
    assert "smtp_banner = mx1.example.edu.cn ESMTP\n" in shown.stdout and "version_number" not in shown.stdout, \
        shown.stdout


def test_the_real_exim_refuses_a_broken_file_at_the_plans_check_step(tmp_path: Path) -> None:
    """The -bV check step can fail: a configuration Exim cannot read makes it exit non-zero."""
    exim = exim_chroot(tmp_path)
    plan = _plan(BASE)
    exim.put("/etc/exim4/exim4.conf", "no_such_option = 1\n" + _conf(plan))
    check = next(step.argv for step in plan.steps if step.phase == "check" and "-bV" in " ".join(step.argv))
    result = exim.run(list(check))
    assert result.returncode != 0 and "no_such_option" in result.stderr, result.stdout + result.stderr
