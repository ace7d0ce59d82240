"""The case matrix: nmap's 16 forms verbatim, the extra forms, and well-formed data."""

from __future__ import annotations

import re

from mtaharden.probe.cases import CASES, NMAP_CASES, Placeholders

# nmap scripts/smtp-open-relay.nse, the 16 tests (reference/relay-matrix.md §1.4), with
# domain = nmap.scanme.org, IP = 192.0.2.25, SRV = mx.example.test.
NMAP_16 = [
    ("<>", "<relaytest@nmap.scanme.org>"),
    ("<antispam@nmap.scanme.org>", "<relaytest@nmap.scanme.org>"),
    ("<antispam@mx.example.test>", "<relaytest@nmap.scanme.org>"),
    ("<antispam@[192.0.2.25]>", "<relaytest@nmap.scanme.org>"),
    ("<antispam@[192.0.2.25]>", "<relaytest%nmap.scanme.org@[192.0.2.25]>"),
    ("<antispam@[192.0.2.25]>", "<relaytest%nmap.scanme.org@mx.example.test>"),
    ("<antispam@[192.0.2.25]>", '<"relaytest@nmap.scanme.org">'),
    ("<antispam@[192.0.2.25]>", '<"relaytest%nmap.scanme.org">'),
    ("<antispam@[192.0.2.25]>", "<relaytest@nmap.scanme.org@[192.0.2.25]>"),
    ("<antispam@[192.0.2.25]>", '<"relaytest@nmap.scanme.org"@[192.0.2.25]>'),
    ("<antispam@[192.0.2.25]>", "<relaytest@nmap.scanme.org@mx.example.test>"),
    ("<antispam@[192.0.2.25]>", "<@[192.0.2.25]:relaytest@nmap.scanme.org>"),
    ("<antispam@[192.0.2.25]>", "<@mx.example.test:relaytest@nmap.scanme.org>"),
    ("<antispam@[192.0.2.25]>", "<nmap.scanme.org!relaytest>"),
    ("<antispam@[192.0.2.25]>", "<nmap.scanme.org!relaytest@[192.0.2.25]>"),
    ("<antispam@[192.0.2.25]>", "<nmap.scanme.org!relaytest@mx.example.test>"),
]
NMAP_VALUES = Placeholders("nmap.scanme.org", "192.0.2.25", "mx.example.test", "example.test")


def test_nmap_forms_verbatim_and_in_order() -> None:
    sent = [case.commands(NMAP_VALUES) for case in NMAP_CASES]
    assert sent == [(f"MAIL FROM:{mail}", f"RCPT TO:{rcpt}") for mail, rcpt in NMAP_16]
    assert [case.source.split(";")[0] for case in NMAP_CASES] == [f"nmap #{n}" for n in range(1, 17)]


def test_extra_forms_are_present() -> None:
    rcpts = {case.id: case.commands(NMAP_VALUES) for case in CASES}
    assert rcpts["maps-unqualified"][0] == "MAIL FROM:<spamtest>"
    assert rcpts["maps-localhost"][0] == "MAIL FROM:<spamtest@localhost>"
    assert rcpts["maps-server-domain"][0] == "MAIL FROM:<spamtest@example.test>"
    assert rcpts["mailradar-trailing-at"][1] == "RCPT TO:<relaytest@nmap.scanme.org@>"
    assert rcpts["dnsgoodies-bare-ip"][1] == "RCPT TO:<relaytest@192.0.2.1>"
    assert rcpts["route-multihop"][1] == "RCPT TO:<@mx.example.test,@[192.0.2.25]:relaytest@nmap.scanme.org>"
    assert rcpts["percent-chain"][1] == "RCPT TO:<relaytest%nmap.scanme.org%mx.example.test@[192.0.2.25]>"
    assert rcpts["uppercase-percent"][1] == "RCPT TO:<RELAYTEST%NMAP.SCANME.ORG@MX.EXAMPLE.TEST>"
    assert rcpts["syntax-unbracketed"][1] == "RCPT TO:relaytest@nmap.scanme.org"
    assert rcpts["syntax-space"][1] == "RCPT TO: <relaytest@nmap.scanme.org>"
    assert rcpts["ipv6-literal"][1] == "RCPT TO:<relaytest@[IPv6:2001:db8::1]>"
    assert {"bang-percent-foreign-first", "bang-percent-foreign-last"} <= set(rcpts)


def test_every_case_is_named_described_and_sourced() -> None:
    assert len({case.id for case in CASES}) == len(CASES)
    for case in CASES:
        assert re.fullmatch(r"[a-z0-9-]+", case.id)
        assert case.description and "\n" not in case.description
        assert re.match(r"(nmap #\d+|abuse\.net #\d+|MAPS|mailradar #18|dnsgoodies|PMDF manual|mtaharden own)",
                        case.source)


def test_ipv6_server_uses_the_ipv6_literal_form() -> None:
    values = Placeholders("relaytest.invalid", "2001:db8::25", "[IPv6:2001:db8::25]", "example.test")
    mail, rcpt = CASES[4].commands(values)
    assert mail == "MAIL FROM:<antispam@[IPv6:2001:db8::25]>"
    assert rcpt == "RCPT TO:<relaytest%relaytest.invalid@[IPv6:2001:db8::25]>"
