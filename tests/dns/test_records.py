"""The record set's texts: canonical SPF terms, DMARC tags, report authorisation notes."""

from __future__ import annotations

from typing import Any

import pytest

from mtaharden.dns.check import canonical
from mtaharden.dns.records import Record, RecordError, policy_records
from mtaharden.dns.zonefile import rdata, txt_strings
from mtaharden.policy import Policy


def _policy(**published: Any) -> Policy:
    local = ["example.org", ".sub.example.org"]
    return Policy.model_validate({"hostname": "mx1.example.org", "domains": {"local": local}, "published": published})


def test_spf_writes_a_single_address_without_its_prefix_and_each_term_once() -> None:
    records = policy_records(_policy(spf={"hosts": ["mx1.example.org", "mx1.example.org"],
                                          "networks": ["192.0.2.7/32", "2001:db8::/32"], "all": "-all"}))
    assert [r.value for r in records.records if r.tag == "v=spf1"] == [
        "v=spf1 a:mx1.example.org ip4:192.0.2.7 ip6:2001:db8::/32 -all"]
    assert {r.name for r in records.records} == {"example.org", "_dmarc.example.org"}  # no .sub wildcard owner


def test_dmarc_defaults_to_monitoring_and_strict_alignment_sets_both_tags() -> None:
    assert [r.value for r in policy_records(_policy()).records if r.tag == "v=DMARC1"] == ["v=DMARC1; p=none"]
    strict = policy_records(_policy(dmarc={"policy": "reject", "alignment": "strict",
                                           "rua": ["mailto:d@reports.example.net"]}))
    assert [r.value for r in strict.records if r.tag == "v=DMARC1"] == [
        "v=DMARC1; p=reject; adkim=s; aspf=s; rua=mailto:d@reports.example.net"]
    assert strict.notes == ["DMARC reports for example.org go to mailto:d@reports.example.net: reports.example.net "
                            'must publish example.org._report._dmarc.reports.example.net TXT "v=DMARC1" or '
                            "receivers send none"]


def test_no_sender_is_an_error_not_an_empty_record() -> None:
    policy = Policy.model_validate({"domains": {"local": ["example.org"]}})
    with pytest.raises(RecordError, match="names no sender"):
        policy_records(policy)


def test_long_txt_is_split_into_255_byte_strings_and_quotes_are_escaped() -> None:
    text = "v=DKIM1; p=" + "A" * 600
    assert [len(s) for s in txt_strings(text)] == [255, 255, 101]
    assert rdata(Record("x.example.org", "TXT", 'a"b\\c', "test")) == '"a\\"b\\\\c"'


def test_canonical_ignores_what_receivers_ignore_and_keeps_what_they_read() -> None:
    assert canonical("v=DMARC1;p=reject; rua=mailto:a@b.org", "TXT") == canonical(
        "v=DMARC1; rua=mailto:a@b.org;  p=reject", "TXT")
    assert canonical("v=DKIM1; p=AbC", "TXT") != canonical("v=DKIM1; p=abc", "TXT")
    assert canonical("v=spf1 ip4:192.0.2.0/24 -all", "TXT") != canonical("v=spf1 ip4:192.0.2.0/24 ~all", "TXT")
