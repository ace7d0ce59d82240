"""The OpenSMTPD plan: the relay decision as first-match rules, the access lists as one filter chain in the
contract's order, and coverage that names what stock OpenSMTPD cannot do."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mtaharden.policy import Policy, load_policy
from mtaharden.targets.base import Plan, registered
from mtaharden.targets.kit.escape import Unexpressible
from mtaharden.targets.opensmtpd.conf import quoted
from tests.conftest import EXAMPLE_POLICY, render_policy


def _plan(data: dict[str, Any], tmp_path: Path) -> tuple[Plan, str]:
    plan, out = render_policy(data, tmp_path, "opensmtpd")
    return plan, (out / "smtpd.conf").read_text()


def _status(plan: Plan) -> dict[str, str]:
    return {item.element: item.status for item in plan.coverage}


def _lines(conf: str, start: str) -> list[str]:
    return [line for line in conf.splitlines() if line.startswith(start)]


RULES: dict[str, Any] = {
    "hostname": "mx.example.test",
    "domains": {"local": ["example.test", ".sub.example.test"], "relay": ["relay.example.test"]},
    "networks": {"trusted": ["192.0.2.10/32", "2001:db8::/64"]},
    "access": {
        "clients": [{"match": "192.0.2.21/32", "action": "permit"},
                    {"match": "192.0.2.20/31", "action": "defer", "message": "Later"}],
        "helo": [{"match": "192.0.2.7", "action": "reject"}],
        "senders": [{"match": "spam.example", "action": "reject", "message": "No"}],
        "recipients": [{"match": "postmaster@", "action": "permit"}],
    },
    "targets": {"opensmtpd": {"allow_unsupported": ["smtp.max_connections_per_client"]}},
}


def test_relay_rules_put_the_domains_first_then_trusted_and_refuse_the_rest(tmp_path: Path) -> None:
    plan, conf = _plan(RULES, tmp_path)
    assert _lines(conf, "match ") == [
        'match from socket for local action "local"',
        'match from socket for any action "relay"',
        'match from any for domain <local_domains> action "local"',
        'match from any for domain <relay_domains> action "relay"',
        'match from src <trusted> for any action "relay"',
    ]  # no "for any" from anyone else, no auth rule without AUTH: every other recipient matches nothing
    assert 'table local_domains { "example.test", "*.sub.example.test" }' in conf
    assert 'table trusted { "192.0.2.10/32", "2001:db8::/64" }' in conf
    assert _status(plan)["domains.local[1]"] == "approximated"


def test_access_lists_are_one_chain_in_the_contracts_order(tmp_path: Path) -> None:
    plan, conf = _plan(RULES, tmp_path)
    assert _lines(conf, "filter access ") == [
        "filter access chain { clients_0, clients_1, recipients_0, helo_0, senders_0 }"]
    assert "filter clients_0 phase rcpt-to match src <clients_0> bypass" in conf
    assert 'filter clients_1 phase rcpt-to match src <clients_1> reject "451 4.7.1 Later"' in conf
    assert 'table helo_0 { "192.0.2.7", "[192.0.2.7]" }' in conf
    assert 'table senders_0 { "@spam.example" }' in conf  # a bare domain is the whole domain
    assert 'filter helo_0 phase rcpt-to match helo <helo_0> reject "550 5.7.1 Access denied"' in conf
    assert all(line.endswith("filter access") for line in _lines(conf, "listen on "))
    status = _status(plan)
    assert status["access.clients"] == "enforced" and status["access.clients[1]"] == "approximated"


def test_tls_auth_and_submission_are_unsupported_and_nothing_offers_them(tmp_path: Path) -> None:
    """Debian 12's build fails every TLS handshake, and OpenSMTPD offers AUTH only over TLS."""
    data = {**RULES, "role": "mx+submission", "tls": {"cert": "/etc/c.pem", "key": "/etc/k.pem", "inbound": "encrypt"},
            "auth": {"enabled": True},
            "targets": {"opensmtpd": {"allow_unsupported": ["tls", "auth", "smtp.max_connections_per_client"]}}}
    plan, conf = _plan(data, tmp_path)
    assert _lines(conf, "listen on ") == ['listen on 0.0.0.0 port 25 hostname "mx.example.test" filter access',
                                          'listen on :: port 25 hostname "mx.example.test" filter access']
    assert not _lines(conf, "pki ") and " auth" not in conf
    status = _status(plan)
    assert status["tls"] == status["auth"] == status["auth.submission"] == "unsupported"
    assert plan.preflight == ()


def test_tls_stated_without_a_waiver_stops_the_render(tmp_path: Path) -> None:
    data = {**RULES, "tls": {"cert": "/etc/c.pem", "key": "/etc/k.pem"}}
    plan, _ = _plan(data, tmp_path)
    assert [gap.element for gap in plan.unwaived_gaps(["smtp.max_connections_per_client"])] == [
        "tls", "smtp.bare_newlines"]  # the default smtp.bare_newlines only warns (cli: not stated)


@pytest.mark.parametrize("role", ["null-client", "submission"])
def test_roles_without_port_25_have_no_public_listener_and_no_filters(tmp_path: Path, role: str) -> None:
    data = {**RULES, "role": role, "tls": {"cert": "/etc/c.pem", "key": "/etc/k.pem"}, "auth": {"enabled": True}}
    data.pop("targets")
    plan, conf = _plan(data, tmp_path)
    assert not _lines(conf, "filter ")
    assert not [line for line in _lines(conf, "listen on ") if " port 25 " in line]
    assert _status(plan)["access"] == "enforced"
    if role == "null-client":
        assert "local_domains" not in conf


def test_dnsbl_and_header_checks_are_unsupported_and_stop_an_unwaived_render(tmp_path: Path) -> None:
    policy = load_policy(EXAMPLE_POLICY)
    gaps = {item.element for item in registered()["opensmtpd"].plan(policy).coverage if item.status == "unsupported"}
    assert gaps == {"tls", "auth", "auth.submission", "dnsbl[0]", "dnsbl[1]", "header_checks[0]",
                    "header_checks[1]", "smtp.max_connections_per_client", "smtp.bare_newlines"}


@pytest.mark.parametrize("text", ["a\\b", "tab\there", "caf\u00e9"])
def test_quoting_refuses_what_no_smtpd_conf_string_holds(text: str) -> None:
    with pytest.raises(Unexpressible):
        quoted(text, "test")


def test_quoting_escapes_the_quote() -> None:
    assert quoted('say "hi" # $x', "test") == '"say \\"hi\\" # $x"'


def test_a_backslash_in_a_message_is_bad_input(tmp_path: Path) -> None:
    data = {**RULES, "access": {"clients": [{"match": "192.0.2.1/32", "action": "reject", "message": "a\\b"}]}}
    with pytest.raises(Unexpressible, match="backslash"):  # raised while laying out: the CLI's exit 2
        render_policy(data, tmp_path, "opensmtpd")


def test_every_element_is_recorded_once_for_the_example() -> None:
    policy: Policy = load_policy(EXAMPLE_POLICY)
    plan = registered()["opensmtpd"].plan(policy)
    elements = [item.element for item in plan.coverage]
    assert len(elements) == len(set(elements))
    assert plan.steps[0].argv == ("smtpd", "-n", "-f", "/etc/smtpd.conf") and plan.steps[0].phase == "check"
    assert [f.dest for f in plan.files] == ["/etc/smtpd.conf", None]
