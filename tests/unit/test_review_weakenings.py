"""diff-policy finds weakenings by meaning: transactions the reference evaluator now answers more leniently."""

from __future__ import annotations

import pytest

from mtaharden.policy import load_policy_text
from mtaharden.review.policy_diff import diff_policies
from mtaharden.review.weakenings import weakenings

BASE = """\
domains: {local: [example-u.edu], relay: [med.example-u.edu]}
networks: {trusted: [192.0.2.0/24]}
dnsbl: [{zone: zen.spamhaus.org, match: ["127.0.0.[2..11]"]}]
access:
  clients: [{match: 198.51.100.0/24, action: reject}]
  senders: [{match: "@spam.example", action: reject}]
  helo: [{match: localhost, action: reject}]
header_checks: [{header: Subject, pattern: "make money"}]
"""

# (edit, the risky change's element, words it must contain): the list, and a few more
WEAKENINGS = [
    (("match: [\"127.0.0.[2..11]\"]}", "match: [\"127.0.0.[2..11]\"], action: defer}"), "meaning: dnsbl[0]",
     "reject by dnsbl[0] → defer by dnsbl[0]"),
    (("match: [\"127.0.0.[2..11]\"]", "match: [\"127.0.0.2\"]"), "meaning: dnsbl[0]",
     "listed at zen.spamhaus.org (127.0.0.11) on port 25: reject by dnsbl[0] → accept"),
    (("header_checks: [{header: Subject, pattern: \"make money\"}]",
      "header_checks: [{header: Subject, pattern: \"make money\", action: warn}]"), "header_checks",
     "matching messages are delivered now"),
    (("clients: [{match", "clients: [{match: 127.0.0.0/8, action: permit}, {match"), "meaning: dnsbl[0]",
     "from 127.0.0.0 listed at zen.spamhaus.org (127.0.0.11) on port 25: reject by dnsbl[0] → accept by "
     "access.clients[0]"),
    (("local: [example-u.edu]", "local: [example-u.edu, .example-u.edu]"), "meaning: domains.relay",
     "RCPT user@med.example-u.edu from 203.0.113.77 on port 25: accept by domains.relay → accept by domains.local"),
    (("senders: [{match: \"@spam.example\", action: reject}]", "senders: []"), "meaning: access.senders[0]",
     "RCPT user@example-u.edu from 203.0.113.77 on port 25: reject by access.senders[0] → accept"),
    (("helo: [{match: localhost, action: reject}]", "helo: [{match: localhost, action: defer}]"),
     "meaning: access.helo[0]", "reject by access.helo[0] → defer by access.helo[0]"),
]


def _edited(old: str, new: str) -> str:
    assert old in BASE, old
    return BASE.replace(old, new)


@pytest.mark.parametrize(("edit", "element", "words"), WEAKENINGS, ids=[w[1] + ":" + w[0][1][:30] for w in WEAKENINGS])
def test_each_weakening_is_flagged_with_why(edit: tuple[str, str], element: str, words: str) -> None:
    found = [c for c in diff_policies(load_policy_text(BASE), load_policy_text(_edited(*edit))) if c.risky]
    assert any(c.element == element and words in f"{c.what} ({c.risk})" for c in found), found


@pytest.mark.parametrize("edit", [
    ("match: [\"127.0.0.[2..11]\"]}", "match: [\"127.0.0.[2..11]\"], message: \"Listed: {client}\"}"),
    ("clients: [{match: 198.51.100.0/24, action: reject}]", "clients: [{match: 198.51.100.0/23, action: reject}]"),
    ("pattern: \"make money\"}", "pattern: \"make money\", action: discard}"),
    ("local: [example-u.edu]", "local: [example-u.edu, other.edu]"),
])
def test_a_change_that_refuses_as_much_or_more_is_no_weakening(edit: tuple[str, str]) -> None:
    assert weakenings(load_policy_text(BASE), load_policy_text(_edited(*edit))) == []


def test_a_policy_weakens_nothing_against_itself_and_the_sample_is_bounded() -> None:
    policy = load_policy_text(BASE)
    assert weakenings(policy, policy) == []
    big = BASE.replace("clients: [", "clients: [" + ", ".join(
        f"{{match: 10.{i}.0.0/16, action: reject}}" for i in range(200)) + ", ")
    assert weakenings(load_policy_text(big), load_policy_text(big)) == []


def test_a_weakening_an_edit_already_flags_is_not_repeated_by_meaning() -> None:
    """A widened trusted network lets its new clients relay (to a permitted postmaster@ anywhere, too): that is
    the flagged edit, not a second finding."""
    base = BASE.replace("  helo: [{match: localhost, action: reject}]\n",
                        "  helo: [{match: localhost, action: reject}]\n  recipients: [{match: 'postmaster@', "
                        "action: permit}]\n")
    widened = base.replace("trusted: [192.0.2.0/24]", "trusted: [192.0.0.0/16]")
    found = [c for c in diff_policies(load_policy_text(base), load_policy_text(widened)) if c.risky]
    assert [c.element for c in found] == ["networks.trusted"], found


STRICT_AUTH = BASE + """\
sender_auth: {spf: {enabled: true, on_fail: reject, on_softfail: defer}, dkim: {enabled: true},
              dmarc: {enabled: true, honour_reject: true}}
smtp: {bare_newlines: reject}
"""


@pytest.mark.parametrize(("edit", "words"), [
    (("on_fail: reject", "on_fail: tag"), "with SPF fail: reject by sender_auth.spf → accept by domains.local"),
    (("on_softfail: defer", "on_softfail: tag"), "with SPF softfail: defer by sender_auth.spf → accept"),
    (("honour_reject: true", "honour_reject: false"),
     "DATA message from 203.0.113.77 on port 25 with DMARC fail under p=reject: reject by sender_auth.dmarc → accept"),
    (("bare_newlines: reject", "bare_newlines: normalize"),
     "with bare line ends: reject by smtp.bare_newlines → accept by default"),
])
def test_sender_authentication_and_line_end_weakenings_are_found_by_meaning(edit: tuple[str, str], words: str
                                                                            ) -> None:
    """The edit alone reads as a value change; what it does is found with the strangers' SPF, DMARC and
    line-end facts. Undoing it strengthens, and weakens nothing."""
    old, new = STRICT_AUTH, STRICT_AUTH.replace(*edit)
    assert new != old
    found = [c for c in diff_policies(load_policy_text(old), load_policy_text(new)) if c.risky]
    assert any(words in c.what for c in found), found
    assert weakenings(load_policy_text(new), load_policy_text(old)) == []
