"""List files on the real daemons: entries from files are enforced at the file item's place, and a
long domain list (a Postfix hash table, Sendmail's relay-domains) accepts what the policy lists."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import need_real_mta, render_policy
from tests.realmta.harness import SANDBOX_PARENT, daemon_dir, run
from tests.realmta.mta_lab import BLOCKED, RUNNING_TARGETS, TRUSTED, UNTRUSTED, RunningMta, rcpt, running_mta
from tests.realmta.test_qmail import tcprulescheck

pytestmark = pytest.mark.realmta
NETWORK_LISTED = "127.0.1.9"  # inside 127.0.1.0/24, a network entry of the client list file
PERMITTED_FIRST = "127.0.2.7"  # listed in the file, but an earlier inline rule permits its network
RELAY_DOMAINS = [f"d{n}.relay.example.test" for n in range(30)] + [".sub.example.test"]


def list_file_policy(lists: Path) -> dict[str, Any]:
    """Client, sender and relay-domain lists from files, with comments, blanks and an upper-case line."""
    lists.mkdir(parents=True)
    (lists / "clients.txt").write_text(f"# block list\n{BLOCKED}\n\n127.0.1.0/24   # a network\n"
                                       f"{PERMITTED_FIRST}\n2001:DB8::7\n")
    (lists / "senders.txt").write_text("@spam.example\nBAD@Sender.Example\n")
    (lists / "relay.txt").write_text("\n".join(RELAY_DOMAINS) + "\n")
    return {
        "version": 1,
        "hostname": "mx.example.test",
        "domains": {"local": ["example.test"], "relay": [{"file": str(lists / "relay.txt")}]},
        "networks": {"trusted": [f"{TRUSTED}/32"]},
        "access": {
            "clients": [{"match": "127.0.2.0/24", "action": "permit"},
                        {"file": str(lists / "clients.txt"), "action": "reject", "message": "Listed here"}],
            "senders": [{"file": str(lists / "senders.txt"), "action": "reject", "message": "Sender listed"}],
        },
    }


@pytest.fixture(scope="module", params=RUNNING_TARGETS)
def mta(request: pytest.FixtureRequest) -> Iterator[RunningMta]:
    with daemon_dir(request.param, parent=SANDBOX_PARENT) as base, \
            running_mta(request.param, base, list_file_policy(base / "r" / "lists")) as running:
        yield running


@pytest.mark.parametrize("client", [BLOCKED, NETWORK_LISTED])
def test_a_client_from_the_list_file_is_rejected_with_its_message(mta: RunningMta, client: str) -> None:
    code, text = rcpt(mta, client, "postmaster@example.test")
    assert code == 550 if mta.target == "sendmail" else code == 554, text
    assert "Listed here" in text


def test_an_earlier_inline_permit_wins_over_the_file(mta: RunningMta) -> None:
    assert rcpt(mta, PERMITTED_FIRST, "postmaster@example.test")[0] == 250


def test_an_unlisted_client_is_served(mta: RunningMta) -> None:
    assert rcpt(mta, UNTRUSTED, "postmaster@example.test")[0] == 250


@pytest.mark.parametrize("sender", ["x@spam.example", "bad@sender.example"])
def test_a_sender_from_the_list_file_is_rejected(mta: RunningMta, sender: str) -> None:
    code, text = rcpt(mta, UNTRUSTED, "postmaster@example.test", sender=sender)
    assert code in (550, 553, 554) and "Sender listed" in text, (code, text)


@pytest.mark.parametrize("recipient", ["user@d0.relay.example.test", "user@d29.relay.example.test"])
def test_relay_domains_from_a_file_are_accepted(mta: RunningMta, recipient: str) -> None:
    assert rcpt(mta, UNTRUSTED, recipient)[0] == 250


def test_a_postfix_domain_table_keeps_the_leading_dot_rule(mta: RunningMta) -> None:
    """.sub.example.test in the hash table matches subdomains only, as it does written in main.cf."""
    if mta.target != "postfix":
        pytest.skip("the Sendmail target writes .domain to class R as the parent name (a gap of its own)")
    assert rcpt(mta, UNTRUSTED, "user@deep.sub.example.test")[0] == 250
    assert rcpt(mta, UNTRUSTED, "user@sub.example.test")[0] == 554


@pytest.mark.parametrize("recipient", ["user@foreign.test", "user@d30.relay.example.test"])
def test_what_the_file_does_not_list_is_not_relayed(mta: RunningMta, recipient: str) -> None:
    assert rcpt(mta, UNTRUSTED, recipient)[0] in (550, 554)


def test_real_tcprules_compiles_a_list_file_with_first_match_wins(tmp_path: Path) -> None:
    need_real_mta("tcprules", "tcprulescheck")
    policy = list_file_policy(tmp_path / "r" / "lists")  # list files live in the policy's folder tree
    policy["targets"] = {"qmail": {"allow_unsupported": ["smtp", "access", "domains"]}}
    _, out = render_policy(policy, tmp_path / "r", target="qmail")
    cdb = tmp_path / "tcp.smtp.cdb"
    run(["tcprules", str(cdb), str(tmp_path / "tcp.smtp.tmp")], input_text=(out / "tcp.smtp").read_text())
    listed = ("allow", {"RBLSMTPD": "-Listed here"})  # rblsmtpd answers every RCPT with 553 and the text
    assert tcprulescheck(cdb, BLOCKED) == listed
    assert tcprulescheck(cdb, NETWORK_LISTED) == listed
    served = ("allow", {"RBLSMTPD": ""})  # rblsmtpd runs (for the text above) but lets these through
    assert tcprulescheck(cdb, PERMITTED_FIRST) == served  # the earlier permit wins over the file
    assert tcprulescheck(cdb, UNTRUSTED) == served
    assert tcprulescheck(cdb, TRUSTED) == ("allow", {"RELAYCLIENT": "", "RBLSMTPD": ""})
