"""Messaging Server: the mappings parse with the checker into exactly the rules the policy means, and no
policy string (tests/robustness/hostile.py's values) can add a rule, change a result or extend a reply."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mtaharden.policy import Policy, PolicyError, load_policy, load_policy_text
from mtaharden.render import render_plan
from mtaharden.targets.base import registered
from mtaharden.targets.kit.escape import Unexpressible
from mtaharden.targets.messaging_server.checker import MappingError, Rule, parse
from mtaharden.targets.messaging_server.mappings import pattern_text
from tests.conftest import EXAMPLE_POLICY
from tests.robustness.hostile import HOSTILE, LINE_BREAKERS

TARGET = registered()["messaging_server"]
ANY = ("*",)


def mappings(policy: Policy) -> str:
    (found,) = [f.content for f in render_plan(TARGET.plan(policy), TARGET) if f.path == "mappings"]
    return found


def lit(text: str) -> str:
    return "=" + text


def mail_access(client: tuple[str, ...] = ANY, sender: tuple[str, ...] = ANY,
                recipient: tuple[str, ...] = ANY) -> tuple[tuple[str, ...], ...]:
    return (("=TCP",), ANY, ANY, client, ANY, ANY, ANY, ANY, sender, ANY, recipient)


def test_the_example_reads_back_as_the_policys_rules() -> None:
    relay = (("=tcp_local",), ANY, ("=tcp_local",))
    assert parse(mappings(load_policy(EXAMPLE_POLICY))) == [
        Rule("INTERNAL_IP", (("$(127.0.0.0/8)",),), "Y", None),
        Rule("INTERNAL_IP", (("=::1",),), "Y", None),
        Rule("INTERNAL_IP", (("$(202.112.57.0/24)",),), "Y", None),
        Rule("INTERNAL_IP", (ANY,), "N", None),
        Rule("ORIG_SEND_ACCESS", (*relay, ("*", "=@dept.example.edu.cn")), "Y", None),
        Rule("ORIG_SEND_ACCESS", (*relay, ("*", "=@lib.example.edu.cn")), "Y", None),
        Rule("ORIG_SEND_ACCESS", (*relay, ANY), "N", "Relaying not allowed"),
        Rule("MAIL_ACCESS", mail_access(client=("$(192.0.2.0/24)",)), "N",
             "Your network is blocked; contact postmaster@example.edu.cn"),
        Rule("MAIL_ACCESS", mail_access(client=("$(2001:db8:bad::/48)",)), "N", "Client refused"),
        Rule("MAIL_ACCESS", mail_access(recipient=("=postmaster@", "*")), "Y", None),
        Rule("MAIL_ACCESS", mail_access(recipient=("=abuse@", "*")), "Y", None),
        Rule("MAIL_ACCESS", mail_access(sender=("*", "=@spam.example")), "N", "Sender domain refused"),
    ]


def policy_with(message: str, sender: str = "@spam.example") -> Policy:
    data: dict[str, Any] = {
        "hostname": "mx.example.org",
        "domains": {"local": ["example.org"], "relay": ["relay.example.org", ".sub.example.net"]},
        "networks": {"trusted": ["192.0.2.0/24"]},
        "access": {"clients": [{"match": "198.51.100.0/24", "action": "reject", "message": message}],
                   "recipients": [{"match": "abuse@", "action": "permit"},
                                  {"match": "x@example.org", "action": "defer", "message": message}],
                   "senders": [{"match": sender, "action": "reject", "message": message}]},
    }
    return load_policy_text(json.dumps(data), "policy.yml")


def expected(message: str, sender: tuple[str, ...]) -> list[Rule]:
    relay = (("=tcp_local",), ANY, ("=tcp_local",))
    return [
        Rule("INTERNAL_IP", (("$(192.0.2.0/24)",),), "Y", None),
        Rule("INTERNAL_IP", (ANY,), "N", None),
        Rule("ORIG_SEND_ACCESS", (*relay, ("*", "=@relay.example.org")), "Y", None),
        Rule("ORIG_SEND_ACCESS", (*relay, ("*", "=@", "*", "=.sub.example.net")), "Y", None),
        Rule("ORIG_SEND_ACCESS", (*relay, ANY), "N", "Relaying not allowed"),
        Rule("MAIL_ACCESS", mail_access(client=("$(198.51.100.0/24)",)), "N", message),
        Rule("MAIL_ACCESS", mail_access(recipient=("=abuse@", "*")), "Y", None),
        Rule("MAIL_ACCESS", mail_access(recipient=("=x@example.org",)), "N", message),
        Rule("MAIL_ACCESS", mail_access(sender=sender), "N", message),
    ]


# The hostile texts and the mapping syntax's own metacharacters, each alone and inside words.
MESSAGES = (*HOSTILE, "$Y", "$N$D30|x", "a $[IMTA_LIB:x.so,y] b", "x $|INTERNAL_IP;1|", "wild * and % here",
            "  two  spaces  ", "end with $", "$(10.0.0.0/8)", "! not a comment", "question? $?x?", "tab\\there")


@pytest.mark.parametrize("message", MESSAGES)
def test_a_hostile_message_changes_no_rule(message: str) -> None:
    """Either the text is refused as unexpressible (render exits 2), or it reads back as exactly that reply."""
    policy = policy_with(message)
    try:
        text = mappings(policy)
    except Unexpressible as exc:
        assert "Messaging Server mappings cannot carry" in str(exc)
        assert any(char in message for char in "|!?\\`")
        return
    meant = policy.access.clients[0].message  # the policy's own value (it trims surrounding spaces)
    assert meant is not None and meant.strip() == message.strip()
    assert parse(text) == expected(meant, ("*", "=@spam.example"))


@pytest.mark.parametrize("text", LINE_BREAKERS)
def test_line_breakers_never_reach_the_target(text: str) -> None:
    with pytest.raises(PolicyError):
        policy_with(text)


def test_wildcards_in_a_pattern_string_stay_literal() -> None:
    """The policy refuses * % $ in addresses; pattern_text quotes them anyway, so they match only themselves."""
    entry = f"MAIL_ACCESS\n\n  {pattern_text('a*b%c$d e')}@*  $Y\n"
    assert parse(entry) == [Rule("MAIL_ACCESS", (("=a*b%c$d e@", "*"),), "Y", None)]
    with pytest.raises(Unexpressible):
        pattern_text("a|b")


@pytest.mark.parametrize(("entry", "why"), [
    ("  tcp_local|*|tcp_local|*  $NRelaying not$ allowed", "parts"),  # an unquoted space splits the reply
    ("  *  $Y$N", "text after \\$Y"),
    ("  *  $NHi$[IMTA_LIB:x.so]", "in a reply"),
    ("  *$[lib,routine]  $Y", "in a pattern"),
    ("  *  $Nx|y", "in a reply"),
    ("  *  $Cfoo", "does not start with"),
    ("  a!b  $Y", "in a pattern"),
    ("  $(not-a-net)  $Y", "not an IP network"),
])
def test_the_checker_refuses_what_mtaharden_never_writes(entry: str, why: str) -> None:
    with pytest.raises(MappingError, match=why):
        parse(f"MAIL_ACCESS\n\n{entry}\n")


def test_a_mutated_quote_shows_as_a_different_rule() -> None:
    text = mappings(policy_with("Go away"))
    assert parse(text) == expected("Go away", ("*", "=@spam.example"))
    with pytest.raises(MappingError):
        parse(text.replace("Go$ away", "Go away"))
    assert parse(text.replace("$(198.51.100.0/24)", "*")) != expected("Go away", ("*", "=@spam.example"))


def test_an_entry_needs_a_table_and_a_table_name_is_one_word() -> None:
    with pytest.raises(MappingError, match="before any table"):
        parse("  *  $Y\n")
    with pytest.raises(MappingError, match="not a table name"):
        parse("MAIL ACCESS\n")


def test_trusted_clients_leave_the_relay_refusal_and_auth_switches_channel() -> None:
    data = {"networks": {"trusted": ["192.0.2.0/24"]}, "auth": {"enabled": True},
            "tls": {"cert": "/etc/ssl/certs/mx.pem", "key": "/etc/ssl/private/mx.key", "inbound": "encrypt"}}
    plan = TARGET.plan(load_policy_text(json.dumps(data), "policy.yml"))
    guide = plan.files[1].context
    keywords = {c.name: c.keywords for c in guide.channels}  # type: ignore[union-attr]
    assert "saslswitchchannel tcp_auth" in keywords["tcp_local"] and "musttls" in keywords["tcp_local"]
    assert "mustsaslserver" in keywords["tcp_auth"] and "allowswitchchannel" in keywords["tcp_intranet"]
    statuses = {c.element: c.status for c in plan.coverage}
    assert statuses["networks.trusted"] == "enforced" and statuses["auth.mechanisms"] == "unsupported"


def test_list_file_entries_each_get_an_entry_in_place(tmp_path: Any) -> None:
    (tmp_path / "clients.txt").write_text("198.51.100.7\n203.0.113.0/24\n")
    (tmp_path / "senders.txt").write_text("@spam.example\nbad@\n")
    (tmp_path / "policy.yml").write_text(
        "access:\n  clients:\n    - {file: clients.txt, action: reject, message: Listed}\n"
        "  senders:\n    - {file: senders.txt, action: reject}\n")
    rules = [r for r in parse(mappings(load_policy(tmp_path / "policy.yml"))) if r.table == "MAIL_ACCESS"]
    assert rules == [
        Rule("MAIL_ACCESS", mail_access(client=("=198.51.100.7",)), "N", "Listed"),
        Rule("MAIL_ACCESS", mail_access(client=("$(203.0.113.0/24)",)), "N", "Listed"),
        Rule("MAIL_ACCESS", mail_access(sender=("*", "=@spam.example")), "N", "Sender refused"),
        Rule("MAIL_ACCESS", mail_access(sender=("=bad@", "*")), "N", "Sender refused"),
    ]
