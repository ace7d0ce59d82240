"""Unit tests of the Sendmail Plan: decisions made in Python, before m4 ever runs."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mtaharden.policy import PolicyError, load_policy, load_policy_text
from mtaharden.render import render_plan
from mtaharden.targets.base import Plan
from mtaharden.targets.kit.dnsbl import return_codes
from mtaharden.targets.sendmail import SendmailTarget
from mtaharden.targets.sendmail.access import connect_keys
from mtaharden.targets.sendmail.contexts import McFile, Table
from mtaharden.targets.sendmail.dnsbl import ENHDNSBL_SLOTS
from mtaharden.targets.sendmail.relay_check import relay_scenarios
from mtaharden.targets.sendmail.rulesets import CLIENT_RULESET


def plan(text: str) -> Plan:
    return SendmailTarget().plan(load_policy_text(text, "p.yml"))


def mc_file(result: Plan) -> McFile:
    context = next(f for f in result.files if f.path == "sendmail.mc").context
    assert isinstance(context, McFile)
    return context


def table(result: Plan, path: str) -> Table:
    context = next(f for f in result.files if f.path == path).context
    assert isinstance(context, Table)
    return context


def statements(result: Plan) -> list[str]:
    return list(mc_file(result).statements)


def access(result: Plan) -> list[tuple[str, str]]:
    return list(table(result, "access").lines)


def test_greeting_leaves_esmtp_to_sendmail() -> None:
    assert "define(`confSMTP_LOGIN_MSG', ``$j'')" in statements(plan("smtp: {banner: '{hostname} ESMTP'}\n"))
    assert "define(`confSMTP_LOGIN_MSG', ``$j ready'')" in statements(plan("smtp: {banner: '{hostname} ready'}\n"))


def test_auth_off_means_no_auth_on_the_mta_daemon() -> None:
    assert "DAEMON_OPTIONS(`Port=25, Family=inet6, Name=MTA, M=A')" in statements(plan("{}\n"))


@pytest.mark.parametrize(("options", "daemon"), [
    ("{}", "Port=25, Family=inet6, Name=MTA, M=A"),  # [::]: IPv6 and (IPv4-mapped) IPv4 clients, one socket
    ("{listen_address: 192.0.2.25}", "Port=25, Addr=192.0.2.25, Name=MTA, M=A"),
    ("{listen_address: '2001:DB8::25'}", "Port=25, Family=inet6, Addr=2001:db8::25, Name=MTA, M=A"),
])
def test_one_daemon_per_port_takes_both_families_unless_an_address_is_named(options: str, daemon: str) -> None:
    """Sendmail sets no IPV6_V6ONLY: an inet daemon beside the inet6 one cannot bind port 25 on Linux."""
    daemons = [s for s in statements(plan(f"targets: {{sendmail: {options}}}\n")) if s.startswith("DAEMON_OPTIONS")]
    assert daemons == [f"DAEMON_OPTIONS(`{daemon}')"]


def test_submission_daemons_require_auth() -> None:
    text = ("role: mx+submission\ndomains: {local: [example.org]}\nauth: {enabled: true}\n"
            "tls: {cert: /c.pem, key: /k.pem}\n")
    result = statements(plan(text))
    assert "DAEMON_OPTIONS(`Port=587, Family=inet6, Name=MSA, M=Ea')" in result
    assert "DAEMON_OPTIONS(`Port=465, Family=inet6, Name=MSA-TLS, M=Eas')" in result
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
    assert ("ClientRule:192.0.2.1", 'ERROR:5.7.1:"550 Go away, now"') in lines
    result = plan("access: {clients: [{match: 192.0.2.1, action: reject, message: 'say \"hi\"'}]}\n")
    gaps = result.unwaived_gaps([])
    assert [gap.element for gap in gaps] == ["access.clients[0]"]


def test_dnsbl_filters_become_exact_patterns_when_they_fit() -> None:
    exact = ("127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.10")
    assert return_codes(["127.0.0.[2..4]", "127.0.0.10"], ENHDNSBL_SLOTS) == exact
    assert return_codes(["127.0.0.[2..11]"], ENHDNSBL_SLOTS) is None
    result = plan("dnsbl: [{zone: zen.spamhaus.org, match: ['127.0.0.[2..11]']}]\n")
    assert any("127.0.0.$-." in s for s in statements(result))
    assert [c.status for c in result.coverage if c.element == "dnsbl[0]"] == ["approximated"]


def test_header_check_that_ere_cannot_express_is_unsupported() -> None:
    result = plan("header_checks: [{header: Subject, pattern: '\\bmoney'}]\n")
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


def test_debian_ostype_takes_debians_mta_domain_and_a_plain_tree_does_not() -> None:
    debian = statements(plan("{}\n"))
    assert debian[1:4] == ["OSTYPE(`debian')", "DOMAIN(`debian-mta')", "undefine(`confHOST_STATUS_DIRECTORY')"]
    linux = statements(plan("targets: {sendmail: {ostype: linux}}\n"))
    assert not any(s.startswith(("DOMAIN(", "undefine(")) for s in linux)


def test_every_scenario_sets_what_a_session_has_by_rcpt_time() -> None:
    """OSTYPE(debian)'s delayed sender check reads {mail_from}; -bt keeps macros between scenarios."""
    result = plan("auth: {enabled: true}\ntls: {cert: /c.pem, key: /k.pem}\ndomains: {local: [example.org]}\n")
    script = next(f for f in render_plan(result, SendmailTarget()) if f.path == "relay-check.bt").content.splitlines()
    asked = [line for line in script if line.startswith("check_rcpt")]
    for macro in ("{client_addr}", "{client_name}", "{client_resolve}", "s", "{mail_from}", "{auth_type}",
                  "{auth_authen}"):
        assert sum(line.startswith(f".D{macro}") for line in script) == len(asked), macro
    authenticated = [s for s in relay_scenarios(load_policy_text(
        "auth: {enabled: true}\ntls: {cert: /c.pem, key: /k.pem}\n", "p.yml")) if s.auth]
    assert [(s.auth, s.accepted) for s in authenticated] == [("PLAIN", True)]


def test_the_check_step_asks_no_resolver_for_host_names() -> None:
    (check,) = [s for s in plan("{}\n").steps if s.phase == "check" and "relay-check" in s.argv[2]]
    assert "-O ServiceSwitchFile=/etc/mail/relay-check.switch" in check.argv[2]
    assert "Timeout.resolver.retry=1" in check.argv[2]
    assert dict(table(plan("{}\n"), "relay-check.switch").lines)["hosts"] == "files"


def test_help_file_is_ours_and_nothing_in_it_expands() -> None:
    result = plan("{}\n")
    helpfile = next(f for f in result.files if f.path == "helpfile")
    assert helpfile.dest == "/etc/mail/helpfile"
    assert "define(`HELP_FILE', ```/etc/mail/helpfile''')" in statements(result)
    text = " ".join(f"{topic} {line}" for topic, line in table(result, "helpfile").lines)
    assert "$" not in text and "sendmail" not in text.lower() and "version" not in text.lower()
    placed = next(f for f in plan("targets: {sendmail: {help_file: /srv/help}}\n").files if f.path == "helpfile")
    assert placed.dest == "/srv/help"


def test_received_header_carries_no_version() -> None:
    (received,) = [s for s in statements(plan("{}\n")) if "confRECEIVED_HEADER" in s]
    assert "$v" not in received and "$Z" not in received and "by $j" in received


def test_dont_blame_sendmail_is_safe_unless_the_policy_relaxes_it() -> None:
    assert "define(`confDONT_BLAME_SENDMAIL', ``safe'')" in statements(plan("{}\n"))
    relaxed = plan("targets: {sendmail: {dont_blame_sendmail: [TrustStickyBit, GroupReadableKeyFile]}}\n")
    assert "define(`confDONT_BLAME_SENDMAIL', ``TrustStickyBit,GroupReadableKeyFile'')" in statements(relaxed)
    with pytest.raises(PolicyError) as refused:
        plan("targets: {sendmail: {dont_blame_sendmail: ['Safe`)dnl']}}\n")
    assert "dont_blame_sendmail" in str(refused.value)


CLIENT_VS_PERMIT = ("access: {clients: [{match: 192.0.2.0/24, action: reject}],\n"
                    "         recipients: [{match: 'postmaster@', action: permit}]}\ndomains: {local: [example.org]}\n")


def test_explicit_client_reject_is_checked_before_a_recipient_permit() -> None:
    result = plan(CLIENT_VS_PERMIT)
    rulesets = list(mc_file(result).local_rulesets)
    start = rulesets.index(CLIENT_RULESET[0])
    assert tuple(rulesets[start:start + len(CLIENT_RULESET)]) == CLIENT_RULESET
    refused = [s for s in relay_scenarios(load_policy_text(CLIENT_VS_PERMIT, "p.yml"))
               if s.name.startswith("refused client")]
    assert [(s.client, s.recipient, s.accepted) for s in refused] == [("192.0.2.1", "postmaster@example.org", False)]
    no_permit = mc_file(plan("access: {clients: [{match: 192.0.2.0/24, action: reject}]}\n"))
    assert CLIENT_RULESET[0] in no_permit.local_rulesets  # before the sender rules and AUTH too
    permits_only = mc_file(plan("access: {clients: [{match: 192.0.2.0/24, action: permit}]}\n"))
    assert CLIENT_RULESET[0] not in permits_only.local_rulesets


TRUSTED_BUT_DEFERRED = ("networks: {trusted: [127.0.0.0/8, 192.0.2.0/24]}\n"
                        "access: {clients: [{match: 192.0.2.10/32, action: defer}, {match: 192.0.2.11/32, "
                        "action: permit}, {match: 192.0.0.0/16, action: reject}]}\n")


def test_a_trusted_network_relays_and_its_client_rules_are_applied_by_the_re_check() -> None:
    """The contract's relay decision comes first: a client rule over a trusted network refuses through the
    re-check's ClientRule: keys (first match wins there), never by taking the network's RELAY away."""
    result = plan(TRUSTED_BUT_DEFERRED)
    lines = access(result)
    connect = [line for line in lines if line[0].startswith("Connect:")]
    assert connect == [("Connect:192.0.2.10", "RELAY"), ("Connect:192.0.2.11", "RELAY"), ("Connect:127", "RELAY"),
                       ("Connect:192.0.2", "RELAY")]  # the /16 refusal is the re-check's alone
    rules = [line for line in lines if line[0].startswith("ClientRule:")]
    assert rules == [("ClientRule:192.0.2.10", 'ERROR:4.7.1:"450 Access denied"'), ("ClientRule:192.0.2.11", "OK"),
                     ("ClientRule:192.0", 'ERROR:5.7.1:"550 Access denied"')]
    assert CLIENT_RULESET[0] in mc_file(result).local_rulesets
    assert not any(line[0].startswith("ClientRule:") for line in access(plan(
        "access: {clients: [{match: 192.0.2.0/24, action: permit}]}\n")))


def test_what_sendmail_does_apart_for_auth_and_invalid_helo_names_is_declared() -> None:
    """An authenticated client passes the HELO and sender rules (Rcpt_ok ends the checks); an invalid HELO
    name is refused at EHLO whatever a rule decides. A permit differs in nothing."""
    auth = ("auth: {enabled: true, require_tls: false, cyrus: {pwcheck_method: saslauthd}}\n"
            "access: {senders: [{match: spam.example, action: defer}, {match: ok.example, action: permit}],\n"
            "         helo: [{match: bad.example, action: reject}]}\n")
    found = {c.element: (c.status, c.detail) for c in plan(auth).coverage}
    for element in ("access.senders[0]", "access.helo[0]"):
        assert found[element][0] == "approximated" and "authenticated client's mail passes" in found[element][1]
    assert "authenticated" not in found.get("access.senders[1]", ("", ""))[1]
    no_auth = {c.element: c.detail for c in plan(auth.split("\n", 1)[1]).coverage}
    assert "authenticated" not in no_auth.get("access.helo[0]", "")
    (helo,) = [c for c in plan("{}\n").coverage if c.element == "smtp.require_helo"]
    assert helo.status == "approximated" and "refused at EHLO itself (501)" in helo.detail
    (optional,) = [c for c in plan("smtp: {require_helo: false}\n").coverage if c.element == "smtp.require_helo"]
    assert optional.status == "enforced"

def _ruleset(text: str, name: str) -> list[str]:
    rulesets = list(mc_file(plan(text)).local_rulesets)
    if name not in rulesets:
        return []
    start = rulesets.index(name)
    end = next((i for i in range(start + 1, len(rulesets)) if rulesets[i].startswith("S")), len(rulesets))
    return rulesets[start:end]


SINCE_TLS = ["R$*\t$: <$&{tls_version}> <$&r>", "R<$+> <ESMTP>\t{then}", "R<$+> <ESMTPA>\t{then}"]
UNGREETED = '$#error $@ 5.5.1 $: "503 Polite people say HELO first"'
TLS = "tls: {cert: /c.pem, key: /k.pem}\n"


def test_a_helo_name_given_before_starttls_is_forgotten() -> None:
    """RFC 3207: with TLS on and no EHLO since ($r still ESMTP, not ESMTPS) the HELO rules are skipped;
    without TLS ($&{tls_version} empty) they read $s."""
    helo = "access: {helo: [{match: client.test, action: reject}]}\n"
    check_mail = _ruleset(helo + "smtp: {require_helo: false}\n", "SLocal_check_mail")
    assert check_mail[1:5] == [*(line.replace("{then}", "$@ OK") for line in SINCE_TLS), "R$*\t$: $&s"]
    assert check_mail[5].startswith("Rclient.test\t$#error $@ 5.7.1")


def test_require_helo_refuses_every_recipient_without_an_ehlo_since_starttls() -> None:
    """In Local_check_rcpt, which a recipient permit (FRIEND) does not skip; only when STARTTLS is offered."""
    ungreeted = [line.replace("{then}", UNGREETED) for line in SINCE_TLS]
    assert _ruleset(TLS, "SLocal_check_rcpt")[1:] == ungreeted
    assert _ruleset(TLS + "smtp: {require_helo: false}\n", "SLocal_check_rcpt") == []
    assert _ruleset("{}\n", "SLocal_check_rcpt") == []
    both = _ruleset(TLS + CLIENT_VS_PERMIT, "SLocal_check_rcpt")
    assert both == [*CLIENT_RULESET, *ungreeted]
    (item,) = [c for c in plan(TLS).coverage if c.element == "smtp.require_helo"]
    assert item.status == "approximated" and "greeted with HELO (not EHLO) before STARTTLS" in item.detail


def test_message_size_is_approximated_with_its_condition() -> None:
    (item,) = [c for c in plan("{}\n").coverage if c.element == "smtp.max_message_size"]
    assert item.status == "approximated"
    assert "SIZE= above it is refused exactly" in item.detail and "LF line ends" in item.detail


def test_a_list_file_user_entry_is_spelt_out_per_relay_domain_and_declared(tmp_path: Path) -> None:
    """blocklist_recipients reads To:user@ for local users only: as for an inline user@ rule, each relay domain
    gets its user@domain key (first match kept against a later inline rule), other domains are declared."""
    (tmp_path / "r.txt").write_text("root@\nx@y.test\n")
    (tmp_path / "p.yml").write_text(
        "domains: {local: [example.test], relay: [relay.example.test]}\n"
        "access: {recipients: [{file: r.txt, action: defer}, {match: 'root@relay.example.test', action: reject}]}\n")
    result = SendmailTarget().plan(load_policy(tmp_path / "p.yml"))
    assert ("To:root@relay.example.test", 'ERROR:4.7.1:"450 Recipient address rejected"') in access(result)
    (item,) = [c for c in result.coverage if c.element == "access.recipients[0]"]
    assert item.status == "approximated" and "each user@ entry of r.txt" in item.detail
    assert "looks user@ up for local users alone" in item.detail


def test_helo_optional_accepts_any_helo_name() -> None:
    """Without require_helo the contract accepts an invalid HELO name; Sendmail answers 501 unless AllowBogusHELO."""
    assert "define(`confALLOW_BOGUS_HELO', ``True'')" in statements(plan("smtp: {require_helo: false}\n"))
    assert not [s for s in statements(plan("{}\n")) if "ALLOW_BOGUS_HELO" in s]
