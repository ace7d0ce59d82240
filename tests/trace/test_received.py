"""Each MTA's Received shape read into the same hop fields (what the receiver saw, not what it was told)."""

from __future__ import annotations

import pytest

from mtaharden.trace.received import parse_received

SHAPES: dict[str, tuple[str, dict[str, object]]] = {
    "postfix": ("from mail.example.com (mail.example.com [203.0.113.5]) by mx.example.org (Postfix) with ESMTPS "
                "id 4AbC for <a@example.org>; Tue, 1 Dec 2026 21:00:00 +0000",
                {"helo": "mail.example.com", "rdns": "mail.example.com", "ip": "203.0.113.5", "by": "mx.example.org",
                 "software": "Postfix", "protocol": "ESMTPS", "id": "4AbC", "recipient": "a@example.org"}),
    "postfix-unknown": ("from fake.helo (unknown [198.51.100.7]) by mx.example.org (Postfix) with ESMTP id 9; "
                        "Tue, 1 Dec 2026 21:00:00 +0000 (UTC)",
                        {"helo": "fake.helo", "rdns": "unknown", "ip": "198.51.100.7"}),
    "postfix-ipv6": ("from v6.example (v6.example [IPv6:2001:db8::25]) by mx.example.org (Postfix) with ESMTP id 1; "
                     "Tue, 1 Dec 2026 21:00:00 +0000", {"ip": "2001:db8::25", "rdns": "v6.example"}),
    "sendmail-forged": ("from helo.example (IDENT:joe@rdns.example [203.0.113.9] (may be forged)) by mx.example.org "
                        "(8.17.1/8.17.1/Debian-2) with ESMTP id 1B2; Tue, 1 Dec 2026 21:00:00 +0000",
                        {"helo": "helo.example", "rdns": "rdns.example", "ip": "203.0.113.9",
                         "software": "8.17.1/8.17.1/Debian-2", "remarks": ["may be forged"]}),
    "qmail-smtpd": ("from unknown (HELO helo.name) (203.0.113.9) by mx.example.org with SMTP; 2 Dec 2026 "
                    "05:00:00 -0000",
                    {"helo": "helo.name", "rdns": "unknown", "ip": "203.0.113.9", "by": "mx.example.org"}),
    "qmail-rdns": ("from rdns.example (HELO helo.name) (joe@203.0.113.9) by mx.example.org with SMTP; 2 Dec 2026 "
                   "05:00:00 -0000", {"helo": "helo.name", "rdns": "rdns.example", "ip": "203.0.113.9"}),
    "qmail-queue": ("(qmail 12345 invoked from network); 2 Dec 2026 05:00:00 -0000",
                    {"helo": None, "ip": None, "by": None, "remarks": ["qmail 12345 invoked from network"]}),
    "exim": ("from rdns.example ([203.0.113.5] helo=mail.example.com) by mx.example.org with esmtps (TLS1.3) tls "
             "TLS_AES_256_GCM_SHA384 (Exim 4.96) (envelope-from <a@b.example>) id 1tXyz-000abc-1Q for x@y.example; "
             "Tue, 01 Dec 2026 21:00:00 +0000",
             {"helo": "mail.example.com", "rdns": "rdns.example", "ip": "203.0.113.5", "software": "Exim 4.96",
              "envelope_from": "a@b.example", "id": "1tXyz-000abc-1Q", "recipient": "x@y.example"}),
    "exim-literal": ("from [203.0.113.5]:41000 (helo=mail.example.com) by mx.example.org with esmtp (Exim 4.96) "
                     "id 1t; Tue, 01 Dec 2026 21:00:00 +0000", {"helo": "mail.example.com", "ip": "203.0.113.5"}),
    "exchange": ("from EXCH01.corp.example.com (10.0.0.5) by EXCH02.corp.example.com (10.0.0.6) with Microsoft SMTP "
                 "Server (version=TLS1_2, cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id 15.1.2507.6; Tue, 1 Dec "
                 "2026 21:00:00 +0000", {"helo": "exch01.corp.example.com", "ip": "10.0.0.5", "rdns": None,
                                         "by": "exch02.corp.example.com", "by_ip": "10.0.0.6"}),
    "gmail": ("from mail-sor-f41.google.com (mail-sor-f41.google.com. [209.85.220.41]) by mx.google.com with SMTPS "
              "id abc.123 for <x@gmail.com> (Google Transport Security); Tue, 01 Dec 2026 21:00:00 -0800 (PST)",
              {"rdns": "mail-sor-f41.google.com", "ip": "209.85.220.41", "by": "mx.google.com"}),
    "gmail-internal": ("by 2002:a05:6402:1234:b0:5c5:c2a7:d535 with SMTP id abc; Tue, 1 Dec 2026 21:00:00 -0800 (PST)",
                       {"helo": None, "ip": None, "by": "2002:a05:6402:1234:b0:5c5:c2a7:d535"}),
    "coremail-webmail": ("from user$example.cn ( [123.45.67.89] ) by ajax-webmail-app1 (Coremail) ; Wed, 2 Dec 2026 "
                         "13:00:00 +0800 (GMT+08:00)", {"ip": "123.45.67.89", "by": "ajax-webmail-app1",
                                                        "software": "Coremail"}),
    "eyou-http": ("from 123.45.67.89 by mail.example.cn with HTTP; Wed, 2 Dec 2026 13:00:00 +0800",
                  {"ip": "123.45.67.89", "helo": None, "protocol": "HTTP"}),
    "mapped-v6": ("from x (x [IPv6:::ffff:203.0.113.7]) by y; Tue, 1 Dec 2026 21:00:00 +0000", {"ip": "203.0.113.7"}),
}


@pytest.mark.parametrize("name", SHAPES)
def test_each_shape_yields_what_the_receiver_saw(name: str) -> None:
    text, expected = SHAPES[name]
    hop = parse_received(text, 7)
    assert hop.parsed and hop.line == 7
    assert {key: getattr(hop, key) for key in expected} == expected
    assert hop.date is not None and hop.date.tzinfo is not None


def test_qmail_minus_zero_zone_is_read_as_utc() -> None:
    hop = parse_received("(qmail 1 invoked by uid 89); 2 Dec 2026 05:00:00 -0000", 1)
    assert hop.date is not None and hop.date.isoformat() == "2026-12-02T05:00:00+00:00"


@pytest.mark.parametrize("text", ["garbage", "", ";", "from", "((((((", "from a (b [999.1.1.1]) by c; not a date"])
def test_nonsense_never_raises_and_claims_no_address(text: str) -> None:
    hop = parse_received(text, 1)
    assert hop.ip is None
    assert hop.date is None


def test_a_comment_cannot_hide_a_keyword() -> None:
    hop = parse_received("from a.example (by evil.example [203.0.113.1]) by mx.example.org; Tue, 1 Dec 2026 "
                         "21:00:00 +0000", 1)
    assert hop.by == "mx.example.org"
    assert hop.ip == "203.0.113.1"
