"""Unit tests of the Sendmail Plan: decisions made in Python, before m4 ever runs."""

from __future__ import annotations

import ipaddress

from hypothesis import given, settings
from hypothesis import strategies as st

from mtaharden.policy import load_policy_text
from mtaharden.targets.base import Plan
from mtaharden.targets.sendmail import SendmailTarget, connect_keys, enhdnsbl_values


def plan(text: str) -> Plan:
    return SendmailTarget().plan(load_policy_text(text, "p.yml"))


def statements(result: Plan) -> list[str]:
    mc = next(f for f in result.files if f.path == "sendmail.mc")
    return list(mc.context["statements"])


def access(result: Plan) -> list[tuple[str, str]]:
    return list(next(f for f in result.files if f.path == "access").context["lines"])


def test_greeting_leaves_esmtp_to_sendmail() -> None:
    assert "define(`confSMTP_LOGIN_MSG', ``$j'')" in statements(plan("smtp: {banner: '{hostname} ESMTP'}\n"))
    assert "define(`confSMTP_LOGIN_MSG', ``$j ready'')" in statements(plan("smtp: {banner: '{hostname} ready'}\n"))


def test_auth_off_means_no_auth_on_the_mta_daemon() -> None:
    assert "DAEMON_OPTIONS(`Port=25, Name=MTA, M=A')" in statements(plan("{}\n"))


def test_submission_daemons_require_auth() -> None:
    text = ("role: mx+submission\ndomains: {local: [example.org]}\nauth: {enabled: true}\n"
            "tls: {cert: /c.pem, key: /k.pem}\n")
    result = statements(plan(text))
    assert "DAEMON_OPTIONS(`Port=587, Name=MSA, M=Ea')" in result
    assert "DAEMON_OPTIONS(`Port=465, Name=MSA-TLS, M=Eas')" in result
    assert "define(`confAUTH_OPTIONS', ``p,y'')" in result


def test_trusted_networks_relay_and_access_rules_never_do() -> None:
    text = ("networks: {trusted: [10.1.0.0/22]}\n"
            "access: {clients: [{match: 10.9.0.0/16, action: permit}], senders: [{match: a@b.org, action: permit}]}\n")
    lines = access(plan(text))
    relays = [key for key, value in lines if value == "RELAY"]
    assert relays == ["Connect:10.1.0", "Connect:10.1.1", "Connect:10.1.2", "Connect:10.1.3"]
    assert ("Connect:10.9", "OK") in lines and ("From:a@b.org", "OK") in lines


def test_reply_text_is_quoted_and_unsafe_text_is_reported() -> None:
    lines = access(plan("access: {clients: [{match: 192.0.2.1, action: reject, message: 'Go away, now'}]}\n"))
    assert ("Connect:192.0.2.1", 'ERROR:5.7.1:"550 Go away, now"') in lines
    result = plan("access: {clients: [{match: 192.0.2.1, action: reject, message: 'say \"hi\"'}]}\n")
    gaps = result.unwaived_gaps([])
    assert [gap.element for gap in gaps] == ["access.clients[0]"]


def test_dnsbl_filters_become_exact_patterns_when_they_fit() -> None:
    assert enhdnsbl_values(["127.0.0.[2..4]", "127.0.0.10"]) == ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.10"]
    assert enhdnsbl_values(["127.0.0.[2..11]"]) is None
    result = plan("dnsbl: [{zone: zen.spamhaus.org, match: ['127.0.0.[2..11]']}]\n")
    assert any("127.0.0.$-." in s for s in statements(result))
    assert [c.status for c in result.coverage if c.element == "dnsbl[0]"] == ["approximated"]


def test_header_check_that_ere_cannot_express_is_unsupported() -> None:
    result = plan("header_checks: [{header: Subject, pattern: 'a+?b'}]\n")
    assert [gap.element for gap in result.unwaived_gaps([])] == ["header_checks[0]"]
    assert result.unwaived_gaps(["header_checks"]) == []


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 32), st.integers(0, 2**32 - 1))
def test_connect_keys_cover_exactly_the_network(base: int, prefix: int, probe: int) -> None:
    network = ipaddress.ip_network((base, prefix), strict=False)
    keys = connect_keys(network)
    address = str(ipaddress.ip_address(probe))
    matched = any(address == key or address.startswith(key + ".") for key in keys)
    assert matched == (ipaddress.ip_address(probe) in network)
    inside = str(network.network_address)
    assert any(inside == key or inside.startswith(key + ".") for key in keys)
