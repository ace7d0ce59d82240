"""The Sendmail package over the kit: one coverage row per element, decided once, in the policy's order;
typed template contexts; the kit's one error for text Sendmail cannot carry."""

from __future__ import annotations

import dataclasses

import pytest

from mtaharden.policy import load_policy_text
from mtaharden.render import RenderError, render_plan
from mtaharden.targets.base import Coverage, Plan
from mtaharden.targets.kit.escape import Unexpressible
from mtaharden.targets.sendmail import SendmailTarget
from mtaharden.targets.sendmail.contexts import McFile
from mtaharden.targets.sendmail.m4 import m4_line, m4_quote, rule_string
from mtaharden.targets.sendmail.regex import to_ere

GAPS = """\
domains: {local: [example.org]}
auth: {enabled: true, backend: dovecot}
tls: {cert: /c.pem, key: /k.pem, inbound: encrypt}
dnsbl: [{zone: a.example, match: ['127.0.[0..1].[2..11]']}, {zone: b.example, message: 'say "hi"'}]
header_checks: [{header: Subject, pattern: 'cheap', action: warn}, {header: Subject, pattern: '\\\\bmoney'}]
access:
  helo: [{match: localhost, action: defer, message: 'no $v'}]
  senders: [{match: spam.example, action: defer}]
  recipients: [{match: 'postmaster@', action: permit}, {match: 'postmaster@example.org', action: reject}]
"""


def plan(text: str) -> Plan:
    return SendmailTarget().plan(load_policy_text(text, "p.yml"))


def rows(result: Plan) -> dict[str, Coverage]:
    return {item.element: item for item in result.coverage}


def test_every_element_has_one_row_in_the_policys_order() -> None:
    result = plan(GAPS)
    elements = [item.element for item in result.coverage]
    assert len(elements) == len(set(elements))
    order = ["role", "hostname", "domains.local", "domains.relay", "networks.trusted", "networks.trusted[host]",
             "auth", "dnsbl[0]", "dnsbl[1]", "access.helo", "access.senders", "access.recipients",
             "access.helo[0]", "access.senders[0]", "access.recipients[0]", "header_checks[0]", "header_checks[1]",
             "smtp.banner"]
    assert [e for e in elements if e in order] == order
    issue_26 = ("screening", "sender_auth", "dkim_signing", "outbound")  # recorded after the session elements
    assert [e for e in elements if not e.startswith(issue_26)][-1] == "tls.inbound"
    assert {e: rows(result)[e].status for e in ("auth", "dnsbl[0]", "dnsbl[1]", "access.helo[0]",
                                                 "header_checks[0]", "header_checks[1]", "tls.inbound")} == {
        e: "unsupported" for e in ("auth", "dnsbl[0]", "dnsbl[1]", "access.helo[0]", "header_checks[0]",
                                   "header_checks[1]", "tls.inbound")}
    assert [gap.element for gap in result.unwaived_gaps(["auth", "dnsbl", "header_checks", "access", "tls"])] == []


def test_a_rule_with_two_differences_gets_one_row_naming_both() -> None:
    covered = rows(plan(GAPS))
    sender = covered["access.senders[0]"]
    assert sender.status == "approximated"
    assert "defer answers 4xx" in sender.detail and "every subdomain of spam.example" in sender.detail
    recipient = covered["access.recipients[0]"].detail
    assert "a later refusing recipient rule" in recipient and "postmaster@ applies to the local" in recipient
    assert covered["access.helo[0]"].detail.startswith("the message contains '$'")  # unsupported wins


def test_coverage_file_shows_what_the_plan_recorded_in_its_order() -> None:
    result = plan(GAPS)
    (text,) = [f.content for f in render_plan(result, SendmailTarget()) if f.path == "COVERAGE.md"]
    shown = [line.split("`")[1] for line in text.splitlines() if line.startswith("| `")]
    assert shown == [item.element for item in result.coverage]


def test_every_template_context_is_a_frozen_dataclass() -> None:
    result = plan(GAPS.replace("backend: dovecot", "backend: cyrus"))
    assert {f.path for f in result.files} >= {"sendmail.mc", "access", "Sendmail.conf", "relay-check.bt"}
    for planned in result.files:
        if planned.path == "COVERAGE.md":  # the kit's common coverage file
            continue
        assert dataclasses.is_dataclass(planned.context), planned.path
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(planned.context, dataclasses.fields(planned.context)[0].name, ())


def test_a_later_hostname_placeholder_in_the_banner_is_the_host_name_macro() -> None:
    mc = next(f for f in plan("smtp: {banner: '{hostname} ESMTP ready at {hostname}'}\n").files
              if f.path == "sendmail.mc").context
    assert isinstance(mc, McFile)
    assert "define(`confSMTP_LOGIN_MSG', ``$j ready at $j'')" in mc.statements


def test_dnsbl_reply_spells_client_as_a_macro_and_fills_in_the_zone() -> None:
    mc = next(f for f in plan("dnsbl: [{zone: bl.example, message: '{client} is listed at {zone}'}]\n").files
              if f.path == "sendmail.mc").context
    assert isinstance(mc, McFile)
    (feature,) = [s for s in mc.statements if "enhdnsbl" in s]
    assert '``"550 " $&{client_addr} " is listed at bl.example"\'\'' in feature


@pytest.mark.parametrize("text", ["a\nb", "tab\there", "nul\x00", "line\u2028sep", "next\x85line", "esc\x1b[0m"])
def test_unfit_text_never_reaches_m4_and_is_not_echoed(text: str) -> None:
    line = text.replace("\t", "\t\x01")  # a tab separates a cf line's fields: m4_line quotes each one
    for call in (lambda: m4_quote(text), lambda: m4_line(f"R{line}"), lambda: rule_string(text, "the message")):
        with pytest.raises(Unexpressible) as refused:
            call()
        assert isinstance(refused.value, RenderError)
        assert text not in str(refused.value)


@pytest.mark.parametrize("text", ["`m4'", "it's"])
def test_m4_quote_characters_are_refused_with_the_kit_error(text: str) -> None:
    with pytest.raises(Unexpressible):
        m4_quote(text)


def test_rule_strings_refuse_what_sendmail_would_expand() -> None:
    for text in ('say "hi"', "costs $5", "back\\slash"):
        with pytest.raises(Unexpressible, match="a Sendmail rule string cannot carry"):
            rule_string(text, "the message")
    assert rule_string("Access denied, sorry", "the message") == "Access denied, sorry"


def test_regex_translation_refuses_control_bytes_with_the_kit_error() -> None:
    with pytest.raises(Unexpressible, match="U\\+0009"):
        to_ere("a\\tb")
