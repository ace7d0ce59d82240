"""The reference evaluator: every element that can decide decides at least once, in the documented order."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from mtaharden.policy import Policy, load_policy, load_policy_text
from mtaharden.policy.evaluate import Decision, evaluate
from mtaharden.policy.transaction import Transaction

BASE: dict[str, Any] = {
    "version": 1, "hostname": "mx.example.org",
    "domains": {"local": ["example.org", ".sub.example.org"], "relay": ["gw.example.org"]},
    "networks": {"trusted": ["127.0.0.0/8", "198.51.100.0/24"]},
    "auth": {"enabled": True},
    "tls": {"cert": "/etc/ssl/c.pem", "key": "/etc/ssl/k.pem"},
    "dnsbl": [{"zone": "bl.example", "match": ["127.0.0.[2..11]"]},
              {"zone": "soft.example", "action": "defer"}],
    "access": {
        "clients": [{"match": "192.0.2.7/32", "action": "permit"}, {"match": "192.0.2.0/24", "action": "reject"},
                    {"match": "203.0.113.0/24", "action": "defer"}],
        "recipients": [{"match": "closed@example.org", "action": "reject"},
                       {"match": "postmaster@", "action": "permit"}, {"match": "busy@example.org", "action": "defer"}],
        "helo": [{"match": "friend.example", "action": "permit"}, {"match": "localhost", "action": "reject"},
                 {"match": "192.0.2.99", "action": "reject"}],
        "senders": [{"match": "good@spam.example", "action": "permit"}, {"match": "@spam.example", "action": "reject"},
                    {"match": "slow@", "action": "defer"}],
    },
    "header_checks": [{"header": "Subject", "pattern": "(?i)make money", "action": "warn"},
                      {"header": "Subject", "pattern": "money", "action": "reject"},
                      {"header": "X-Mailer", "pattern": "^Mass", "action": "discard"},
                      {"header": "X-Spam", "pattern": "yes", "action": "hold"}],
    "smtp": {"max_recipients": 2, "max_message_size": 1000},
}


def policy(**changes: Any) -> Policy:
    document = {**BASE, **changes}
    return load_policy_text(json.dumps(document))


def tx(client: str = "233.252.0.1", *recipients: str, **fields: Any) -> Transaction:
    listed = MappingProxyType(fields.pop("listed", {}))
    fields.setdefault("sender", "someone@stranger.example")
    fields.setdefault("helo", "mail.stranger.example")
    return Transaction(ipaddress.ip_address(client), recipients=recipients or ("user@example.org",), listed=listed,
                       **fields)


def rcpt(p: Policy, t: Transaction, index: int = 0) -> Decision:
    return evaluate(p, t).at("rcpt")[index]


def decided(d: Decision) -> tuple[str, str | None]:
    return d.verdict, d.element


SPF_REJECT = {"spf": {"enabled": True, "on_fail": "reject", "on_softfail": "defer"}}
DMARC = {"spf": {"enabled": True}, "dkim": {"enabled": True},
         "dmarc": {"enabled": True, "honour_reject": True, "on_quarantine": "hold"}}

# (name, policy changes, transaction, stage, index, verdict, element)
CASES: list[tuple[str, dict[str, Any], Transaction, str, int, str, str | None]] = [
    ("no port 25 for submission", {"role": "submission"}, tx(), "connect", 0, "reject", "role"),
    ("STARTTLS required", {"tls": {"cert": "/c", "key": "/k", "inbound": "encrypt"}}, tx(), "mail", 0, "reject",
     "tls.inbound"),
    ("MAIL before HELO", {}, tx(helo=None), "mail", 0, "reject", "smtp.require_helo"),
    ("an invalid HELO name", {}, tx(helo="bad_name!"), "rcpt", 0, "reject", "smtp.require_helo"),
    ("relay denied", {}, tx("233.252.0.1", "x@elsewhere.example"), "rcpt", 0, "reject", "domains"),
    ("a local domain", {}, tx(), "rcpt", 0, "accept", "domains.local"),
    (".domain means the subdomains", {}, tx("233.252.0.1", "a@x.sub.example.org"), "rcpt", 0, "accept",
     "domains.local"),
    (".domain is not the parent", {}, tx("233.252.0.1", "a@sub.example.org"), "rcpt", 0, "reject", "domains"),
    ("a relay domain", {}, tx("233.252.0.1", "a@gw.example.org"), "rcpt", 0, "accept", "domains.relay"),
    ("a trusted client relays", {}, tx("198.51.100.9", "x@elsewhere.example"), "rcpt", 0, "accept",
     "networks.trusted"),
    ("an authenticated client relays", {}, tx("233.252.0.1", "x@elsewhere.example", tls=True, auth="alice"), "rcpt",
     0, "accept", "auth"),
    ("AUTH before STARTTLS does not count", {}, tx("233.252.0.1", "x@elsewhere.example", auth="alice"), "rcpt", 0,
     "reject", "domains"),
    ("a client reject", {}, tx("192.0.2.8"), "rcpt", 0, "reject", "access.clients[1]"),
    ("a client permit first", {}, tx("192.0.2.7", helo="localhost"), "rcpt", 0, "accept", "access.clients[0]"),
    ("a client defer", {}, tx("203.0.113.5"), "rcpt", 0, "defer", "access.clients[2]"),
    ("a recipient reject", {}, tx("233.252.0.1", "closed@example.org"), "rcpt", 0, "reject", "access.recipients[0]"),
    ("a recipient defer", {}, tx("233.252.0.1", "busy@example.org"), "rcpt", 0, "defer", "access.recipients[2]"),
    ("a HELO reject", {}, tx(helo="LOCALHOST."), "rcpt", 0, "reject", "access.helo[1]"),
    ("a HELO address literal", {}, tx(helo="[192.0.2.99]"), "rcpt", 0, "reject", "access.helo[2]"),
    ("a HELO permit skips the senders", {}, tx(helo="friend.example", sender="x@spam.example"), "rcpt", 0, "accept",
     "access.helo[0]"),
    ("a bare sender", {}, tx(sender="root"), "rcpt", 0, "reject", "smtp.strict_envelopes"),
    ("a sender reject", {}, tx(sender="x@SPAM.example"), "rcpt", 0, "reject", "access.senders[1]"),
    ("a sender permit first", {}, tx(sender="good@spam.example", listed={"bl.example": "127.0.0.2"}), "rcpt", 0,
     "accept", "access.senders[0]"),
    ("a user@ sender defer", {}, tx(sender="slow@anywhere.example"), "rcpt", 0, "defer", "access.senders[2]"),
    ("the null sender meets no sender rule", {}, tx(sender=""), "rcpt", 0, "accept", "domains.local"),
    ("a DNSBL listing", {}, tx(listed={"bl.example": "127.0.0.4"}), "rcpt", 0, "reject", "dnsbl[0]"),
    ("an answer outside the filter", {}, tx(listed={"bl.example": "127.0.0.12"}), "rcpt", 0, "accept",
     "domains.local"),
    ("the default filter and defer", {}, tx(listed={"soft.example": "127.0.0.2"}), "rcpt", 0, "defer", "dnsbl[1]"),
    ("no error answer is a listing", {}, tx(listed={"soft.example": "127.255.255.254"}), "rcpt", 0, "accept",
     "domains.local"),
    ("the recipient limit", {}, tx("233.252.0.1", "a@example.org", "b@example.org", "c@example.org"), "rcpt", 2,
     "defer", "smtp.max_recipients"),
    ("too big", {}, tx(size=1001), "data", 0, "reject", "smtp.max_message_size"),
    ("SIZE= over the limit", {}, tx(mail_size=1001), "mail", 0, "reject", "smtp.max_message_size"),
    ("SIZE= at the limit", {}, tx(mail_size=1000, size=1000), "data", 0, "accept", None),
    ("a header reject", {}, tx(headers=("Subject: money for you",)), "data", 0, "reject", "header_checks[1]"),
    ("a header discard", {}, tx(headers=("X-Mailer:   Mass Mailer 2",)), "data", 0, "accept", "header_checks[2]"),
    ("a header hold", {}, tx(headers=("X-Spam: yes",)), "data", 0, "accept", "header_checks[3]"),
    ("nothing in the headers", {}, tx(headers=("Subject: lunch",)), "data", 0, "accept", None),
    # sender authentication and line ends, from the transaction's facts
    ("an SPF fail rejected", {"sender_auth": SPF_REJECT}, tx(spf="fail"), "rcpt", 0, "reject", "sender_auth.spf"),
    ("an SPF softfail deferred", {"sender_auth": SPF_REJECT}, tx(spf="softfail"), "rcpt", 0, "defer",
     "sender_auth.spf"),
    ("an SPF fail tagged by default", {"sender_auth": {"spf": {"enabled": True}}}, tx(spf="fail"), "rcpt", 0,
     "accept", "domains.local"),
    ("an SPF permerror accepted", {"sender_auth": SPF_REJECT}, tx(spf="permerror"), "rcpt", 0, "accept",
     "domains.local"),
    ("SPF off: a fail is accepted", {}, tx(spf="fail"), "rcpt", 0, "accept", "domains.local"),
    ("a DMARC fail under p=reject honoured", {"sender_auth": DMARC}, tx(dmarc="fail", dmarc_policy="reject"), "data",
     0, "reject", "sender_auth.dmarc"),
    ("a DMARC fail under p=quarantine held", {"sender_auth": DMARC}, tx(dmarc="fail", dmarc_policy="quarantine"),
     "data", 0, "accept", "sender_auth.dmarc"),
    ("a DMARC pass under p=reject", {"sender_auth": DMARC}, tx(dmarc="pass", dmarc_policy="reject"), "data", 0,
     "accept", None),
    ("bare line ends refused", {"smtp": {"bare_newlines": "reject"}}, tx(bare_newlines=True), "data", 0, "reject",
     "smtp.bare_newlines"),
    ("bare line ends normalised by default", {}, tx(bare_newlines=True), "data", 0, "accept", None),
    ("bare line ends from a trusted client", {"smtp": {"bare_newlines": "reject"}},
     tx("198.51.100.9", bare_newlines=True), "data", 0, "accept", None),
    # the role's ports (README: "Which port takes what")
    ("no listener for a null-client", {"role": "null-client"}, tx(), "connect", 0, "reject", "role"),
    ("an mx opens no submission port", {}, tx(port=587, tls=True, auth="alice"), "connect", 0, "reject", "role"),
    ("mx+submission: 587 with AUTH after STARTTLS", {"role": "mx+submission"},
     tx("233.252.0.1", "x@elsewhere.example", port=587, tls=True, auth="alice"), "rcpt", 0, "accept", "auth"),
    ("465 is TLS from the first byte", {"role": "submission"},
     tx("233.252.0.1", "x@elsewhere.example", port=465, auth="alice"), "rcpt", 0, "accept", "auth"),
    ("587 needs STARTTLS before MAIL", {"role": "submission", "auth": {"enabled": True, "require_tls": False}},
     tx(port=587), "mail", 0, "reject", "auth.submission"),
    ("587 takes no mail without AUTH, not even a local domain from a trusted client", {"role": "submission"},
     tx("198.51.100.9", port=587, tls=True), "rcpt", 0, "reject", "auth.submission"),
    ("a submission port drops a closed port", {"role": "submission", "auth": {"enabled": True, "submission":
                                                                              {"port": None}}},
     tx(port=587, tls=True), "connect", 0, "reject", "role"),
]


@pytest.mark.parametrize(("changes", "transaction", "stage", "index", "verdict", "element"),
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_each_element_decides(changes: dict[str, Any], transaction: Transaction, stage: str, index: int,
                              verdict: str, element: str | None) -> None:
    decision = evaluate(policy(**changes), transaction).at(stage)[index]  # type: ignore[arg-type]
    assert decided(decision) == (verdict, element), decision


def test_every_deciding_element_is_covered() -> None:
    """The table above names every element the evaluator can decide by (the README's stage table)."""
    named = {case[6].split("[")[0] for case in CASES if case[6]}
    assert named == {"role", "tls.inbound", "smtp.require_helo", "domains", "domains.local", "domains.relay",
                     "networks.trusted", "auth", "access.clients", "access.recipients", "access.helo",
                     "smtp.strict_envelopes", "access.senders", "dnsbl", "smtp.max_recipients",
                     "smtp.max_message_size", "header_checks", "auth.submission", "sender_auth.spf",
                     "sender_auth.dmarc", "smtp.bare_newlines"}


def test_spf_judges_only_the_clients_that_reach_its_step() -> None:
    """Trusted, authenticated and permitted clients never meet SPF; a tagged result is still named; the null
    sender's SPF is its HELO name's; a DNSBL listing decides before SPF."""
    p = policy(sender_auth=SPF_REJECT)
    assert decided(rcpt(p, tx("198.51.100.9", spf="fail"))) == ("accept", "networks.trusted")
    assert decided(rcpt(p, tx(spf="fail", tls=True, auth="alice"))) == ("accept", "auth")
    assert decided(rcpt(p, tx("192.0.2.7", spf="fail"))) == ("accept", "access.clients[0]")
    assert decided(rcpt(p, tx(spf="fail", listed={"soft.example": "127.0.0.2"}))) == ("defer", "dnsbl[1]")
    assert "HELO mail.stranger.example" in rcpt(p, tx(sender="", spf="fail")).note
    tagged = rcpt(policy(sender_auth={"spf": {"enabled": True}}), tx(spf="softfail"))
    assert "sender_auth.spf" in tagged.matched


def test_dmarc_spares_trusted_and_authenticated_clients_and_follows_the_policy() -> None:
    def data(changes: dict[str, Any], t: Transaction) -> tuple[str, str | None, str]:
        decision = evaluate(policy(sender_auth=changes), t).at("data")[0]
        return decision.verdict, decision.element, decision.note

    fail = {"dmarc": "fail", "dmarc_policy": "reject"}
    assert data(DMARC, tx("198.51.100.9", **fail))[:2] == ("accept", None)
    assert data(DMARC, tx(tls=True, auth="alice", **fail))[:2] == ("accept", None)
    lenient = {**DMARC, "dmarc": {"enabled": True}}  # honour_reject off, on_quarantine tag
    assert data(lenient, tx(**fail)) == ("accept", "sender_auth.dmarc", "accepted (sender_auth.dmarc: tag)")
    assert data(lenient, tx(dmarc="fail", dmarc_policy="quarantine"))[2] == "accepted (sender_auth.dmarc: tag)"
    assert data(DMARC, tx(dmarc="fail", dmarc_policy="quarantine"))[2] == "accepted (sender_auth.dmarc: hold)"
    # a header check decides first; a hold goes on to DMARC, which still refuses
    assert data(DMARC, tx(headers=("Subject: money",), **fail))[:2] == ("reject", "header_checks[1]")
    held = evaluate(policy(sender_auth=DMARC), tx(headers=("X-Spam: yes",), **fail)).at("data")[0]
    assert decided(held) == ("reject", "sender_auth.dmarc") and held.matched == ("header_checks[3]",
                                                                                   "sender_auth.dmarc")


# --- the documented order ---------------------------------------------------------------------


def test_a_client_block_beats_a_recipient_permit_for_postmaster() -> None:
    d = rcpt(policy(), tx("192.0.2.8", "postmaster@example.org"))
    assert decided(d) == ("reject", "access.clients[1]") and "access.recipients[1]" in d.matched


def test_a_recipient_permit_skips_helo_sender_and_dnsbl() -> None:
    t = tx("233.252.0.1", "postmaster@example.org", helo="localhost", sender="x@spam.example",
           listed={"bl.example": "127.0.0.2"})
    assert decided(rcpt(policy(), t)) == ("accept", "access.recipients[1]")


def test_helo_rules_come_before_sender_rules() -> None:
    assert decided(rcpt(policy(), tx(helo="localhost", sender="x@spam.example"))) == ("reject", "access.helo[1]")


def test_the_relay_decision_comes_first_and_a_defer_cannot_soften_it() -> None:
    d = rcpt(policy(), tx("203.0.113.5", "x@elsewhere.example"))
    assert decided(d) == ("reject", "domains") and d.matched == ("access.clients[2]",)


def test_a_client_permit_never_relays() -> None:
    assert decided(rcpt(policy(), tx("192.0.2.7", "x@elsewhere.example"))) == ("reject", "domains")


def test_trusted_clients_meet_the_access_lists_but_not_the_dnsbls() -> None:
    p = policy(networks={"trusted": ["192.0.2.0/24", "198.18.0.0/15"]})
    assert decided(rcpt(p, tx("192.0.2.8"))) == ("reject", "access.clients[1]")
    assert decided(rcpt(p, tx("198.18.0.5", listed={"bl.example": "127.0.0.2"}))) == ("accept", "networks.trusted")


def test_first_match_wins_within_a_list() -> None:
    p = policy(access={"senders": [{"match": "spam.example", "action": "reject"},
                                   {"match": "friend@spam.example", "action": "defer"}]})
    assert decided(rcpt(p, tx(sender="friend@spam.example"))) == ("reject", "access.senders[0]")


def test_the_first_listing_dnsbl_decides() -> None:
    t = tx(listed={"bl.example": "127.0.0.2", "soft.example": "127.0.0.2"})
    assert decided(rcpt(policy(), t)) == ("reject", "dnsbl[0]")


def test_header_checks_first_match_per_line_and_warn_goes_on() -> None:
    """The Subject line's first matching check is warn (so not the reject after it); the next line still counts."""
    p = policy()
    assert decided(evaluate(p, tx(headers=("Subject: make money",))).at("data")[0]) == ("accept", "header_checks[0]")
    both = evaluate(p, tx(headers=("Subject: make money", "X-Mailer: Mass"))).at("data")[0]
    assert decided(both) == ("accept", "header_checks[2]") and both.matched == ("header_checks[0]", "header_checks[2]")


def test_no_data_stage_without_an_accepted_recipient_and_nothing_after_a_refused_mail() -> None:
    assert evaluate(policy(), tx("233.252.0.1", "x@elsewhere.example")).at("data") == []
    assert [d.stage for d in evaluate(policy(), tx(helo=None)).decisions] == ["connect", "mail"]


def test_refused_recipients_do_not_count_towards_the_limit() -> None:
    t = tx("233.252.0.1", "x@elsewhere.example", "a@example.org", "b@example.org")
    assert [d.verdict for d in evaluate(policy(), t).at("rcpt")] == ["reject", "accept", "accept"]


def test_list_file_items_decide_at_their_place(tmp_path: Path) -> None:
    (tmp_path / "block.txt").write_text("# blocked\n192.0.2.9\n2001:db8::/32\n")
    document = {**BASE, "access": {"clients": [{"match": "192.0.2.8/32", "action": "permit"},
                                               {"file": "block.txt", "action": "reject"}]}}
    (tmp_path / "policy.yml").write_text(json.dumps(document))
    p = load_policy(tmp_path / "policy.yml")
    assert decided(rcpt(p, tx("192.0.2.8"))) == ("accept", "access.clients[0]")
    assert decided(rcpt(p, tx("192.0.2.9"))) == ("reject", "access.clients[1]")
    assert decided(rcpt(p, tx("2001:db8::5"))) == ("reject", "access.clients[1]")


def test_an_empty_policy_relays_only_for_loopback() -> None:
    empty = load_policy_text("")
    assert decided(rcpt(empty, tx("127.0.0.1", "x@elsewhere.example"))) == ("accept", "networks.trusted")
    assert decided(rcpt(empty, tx("192.0.2.1", "x@elsewhere.example"))) == ("reject", "domains")


def test_a_size_declared_over_the_limit_ends_the_session_at_mail() -> None:
    stages = [d.stage for d in evaluate(policy(), tx(mail_size=1001, size=10)).decisions]
    assert stages == ["connect", "helo", "mail"]


# --- the role's ports -------------------------------------------------------------------------


def test_on_a_submission_port_only_auth_decides_then_the_limits_and_header_checks() -> None:
    """Access lists and DNSBLs judge strangers on port 25; an authenticated user on 587 meets none of them."""
    p = policy(role="mx+submission")
    t = tx("192.0.2.8", "closed@example.org", "x@elsewhere.example", "y@elsewhere.example", port=587, tls=True,
           auth="alice", helo="localhost", sender="x@spam.example", listed={"bl.example": "127.0.0.2"},
           headers=("Subject: money",))
    outcome = evaluate(p, t)
    assert [decided(d) for d in outcome.at("rcpt")] == [("accept", "auth"), ("accept", "auth"),
                                                          ("defer", "smtp.max_recipients")]
    assert decided(outcome.at("data")[0]) == ("reject", "header_checks[1]")
    assert decided(rcpt(p, tx("192.0.2.8", port=25, tls=True, auth="alice"))) == ("reject", "access.clients[1]")


def test_auth_on_a_submission_port_needs_tls_whenever_the_policy_has_it() -> None:
    p = policy(role="submission", auth={"enabled": True, "require_tls": False})
    assert decided(rcpt(p, tx("233.252.0.1", port=587, tls=True, auth="alice"))) == ("accept", "auth")
    assert [d.stage for d in evaluate(p, tx(port=587, auth="alice")).decisions] == ["connect", "helo", "mail"]
    no_tls = load_policy_text(json.dumps({"version": 1, "role": "submission",
                                          "auth": {"enabled": True, "require_tls": False,
                                                   "submission": {"smtps_port": None}}}))
    assert decided(rcpt(no_tls, tx("233.252.0.1", port=587, auth="alice"))) == ("accept", "auth")
