"""The OpenSMTPD queue proof reads ``smtpctl show queue`` and the maillog as Debian 12's OpenSMTPD 6.8 writes them
(lines copied from lab runs: an opened host probed by ``mtaharden probe``, a closed host's own local mail);
tests/lab/test_probe_proof.py runs it against the real daemon.

What leaves the host proves relaying: an ``mta`` delivery to the lab sink is relayed, one back to the host's own
address (the percent and bang forms at its own name or address literal: a loop) is not, and an ``mta`` envelope
in the queue decides nothing by itself, since the loop's envelopes are queued as ``mta`` too."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from mtaharden.probe.proof import Shell, proof_for
from mtaharden.probe.proof.opensmtpd import Delivery, decide_from, deliveries
from mtaharden.probe.session import Reply
from mtaharden.probe.verdict import Verdict

_P = "Dec  2 03:43:43 mx mail.info smtpd[47]: "
LOG = "\n".join(_P + line for line in (
    # nmap-01, relaytest@relaytest.invalid: to the lab sink (another host)
    '18f4db093b1cb37f mta delivery evpid=ede5b43e6b70a135 from=<> to=<relaytest@relaytest.invalid> rcpt=<-> '
    'source="192.0.2.25" relay="192.0.2.53 (relay.example.test)" delay=0s result="Ok" '
    'stat="250 2.0.0 Ok: recorded by the lab sink"',
    # nmap-05, the percent hack at the host's own address literal: handed back to itself
    '18f4db0c972ac91c mta delivery evpid=d4086bfe8257f901 from=<antispam@[192.0.2.25]> '
    'to=<relaytest%relaytest.invalid@[192.0.2.25]> rcpt=<-> source="192.0.2.25" relay="192.0.2.25 (mx.example.test)" '
    'delay=0s result="Ok" stat="250 2.0.0 bdbeaffb Message accepted for delivery"',
    # nmap-16, the bang path at the host's own name: handed back to itself
    '18f4db104f5071c2 mta delivery evpid=95f63853e42af200 from=<antispam@[192.0.2.25]> '
    'to=<relaytest.invalid!relaytest@mx.example.test> rcpt=<-> source="192.0.2.25" '
    'relay="192.0.2.25 (mx.example.test)" delay=5s result="Ok" stat="250 2.0.0 1c5753ff Message accepted for delivery"',
    # local mail to root: the mda's result is not quoted
    '3245cdab187dda18 mda delivery evpid=03d1fb5149c8656a from=<root@mx.example.test> to=<root@mx.example.test> '
    'rcpt=<root@mx.example.test> user=root delay=0s result=PermFail stat=Error (permission denied: not allowed to '
    'deliver to: root)',
    # a relay back to itself refused there (an unknown local user): final, still on this host
    '3245cdb1d83b21ad mta delivery evpid=1553f6a3c5eed610 from=<root@mx.example.test> to=<nosuchuser@example.test> '
    'rcpt=<-> source="192.0.2.25" relay="192.0.2.25 (mx.example.test)" delay=0s result="PermFail" '
    'stat="550 Invalid recipient: <nosuchuser@example.test>"',
))
QUEUE = "\n".join((
    # queued for the relay action, delivered to the sink a moment later (the log above)
    "b93661ae9e176cad|inet4|mta||antispam@mx.example.test|relaytest@relaytest.invalid|relaytest@relaytest.invalid|"
    "1796183023|1796183023|1796183023|0|inflight|0|",
    # queued for the relay action to the host's own name: its loop shows only in the log
    "24ad1b380ed4b4bd|inet4|mta||antispam@[192.0.2.25]|relaytest%relaytest.invalid@mx.example.test|"
    "relaytest%relaytest.invalid@mx.example.test|1796183023|1796183023|1796183023|0|inflight|0|",
    # the bounce of the relay refused by the host itself
    "f7c8b54fa586d37f|local|bounce|auth|root@mx.example.test|nosuchuser@example.test|nosuchuser@example.test|"
    "1796183140|1796787940|1796183140|0|inflight|0|550 Invalid recipient: <nosuchuser@example.test>",
))


def test_delivery_lines_are_parsed_with_their_relay_and_source() -> None:
    found = {d.message: d for d in deliveries(LOG, {"ede5b43e", "d4086bfe", "03d1fb51"})}
    assert found["ede5b43e"] == Delivery("mta", "ede5b43e", "relaytest@relaytest.invalid", "192.0.2.25",
                                         "192.0.2.53 (relay.example.test)", "Ok")
    assert found["d4086bfe"].to_itself and not found["ede5b43e"].to_itself
    assert found["03d1fb51"] == Delivery("mda", "03d1fb51", "root@mx.example.test", "", "", "PermFail")


@pytest.mark.parametrize(("message", "verdict", "words"), [
    ("ede5b43e", Verdict.RELAYED, "to another host: 192.0.2.53"),
    ("d4086bfe", Verdict.NOT_RELAYED, "back to this host itself"),
    ("95f63853", Verdict.NOT_RELAYED, "back to this host itself"),
    ("03d1fb51", Verdict.NOT_RELAYED, "mda delivery (on this host)"),
    ("1553f6a3", Verdict.NOT_RELAYED, "back to this host itself"),
    ("f7c8b54f", Verdict.NOT_RELAYED, "queued as a bounce"),
])
def test_only_what_leaves_the_host_is_relayed(message: str, verdict: Verdict, words: str) -> None:
    decided = decide_from(LOG, QUEUE, [message])
    assert decided[message][0] is verdict and words in decided[message][1], decided


def test_an_mta_envelope_in_the_queue_decides_nothing_before_its_delivery() -> None:
    assert decide_from("", QUEUE, ["b93661ae", "24ad1b38"]) == {}


@pytest.mark.parametrize(("source", "relay", "itself"), [
    ("192.0.2.25", "192.0.2.25 (mx.example.test)", True),
    ("2001:db8:25::25", "2001:db8:25:0::25 (mx.example.test)", True),  # compared as addresses, not text
    ("127.0.0.1", "127.0.0.1 (localhost)", True),
    ("-", "::1 (localhost)", True),
    ("192.0.2.25", "192.0.2.53 (relay.example.test)", False),
    ("-", "relaytest.invalid", False),  # no address: a destination OpenSMTPD tried to reach elsewhere
])
def test_to_itself_compares_the_relay_address_with_the_connection_source(source: str, relay: str,
                                                                          itself: bool) -> None:
    assert Delivery("mta", "ede5b43e", "a@b", source, relay, "Ok").to_itself is itself


class _Host(Shell):
    """A shell that answers smtpctl with the queue above and the log command with the log above."""

    async def run(self, argv: Sequence[str]) -> str:
        return QUEUE if argv[0] == "smtpctl" else LOG


def test_the_proof_reads_the_message_id_and_decides_through_its_shell() -> None:
    proof = proof_for("opensmtpd")
    assert proof.queue_id(Reply(250, ("2.0.0 ede5b43e Message accepted for delivery",))) == "ede5b43e"
    decided = asyncio.run(proof.decide(_Host(), ["ede5b43e", "d4086bfe", "24ad1b38"]))
    assert {message: verdict for message, (verdict, _) in decided.items()} == {
        "ede5b43e": Verdict.RELAYED, "d4086bfe": Verdict.NOT_RELAYED}
