"""Lookups against the real test DNSBL (rbldnsd): reverse names as rbldnsd reads them, TXT, failures."""

from __future__ import annotations

import ipaddress

import pytest

from mtaharden.blocklist.lookup import host_addresses, lookup
from mtaharden.blocklist.reverse import query_name
from mtaharden.nameserver import Nameserver, NameserverError, parse_nameserver
from tests.dnsbl_server import CLEAN6, LISTED4, LISTED4_TWICE, LISTED6, LISTED6_NET, DnsblServer, silent_nameserver


def server(dnsbl: DnsblServer) -> Nameserver:
    return parse_nameserver(dnsbl.nameserver)


def test_ipv6_names_are_the_ones_rbldnsd_answers(dnsbl: DnsblServer) -> None:
    inside_net = ipaddress.ip_address(LISTED6_NET) + 0x1234
    names = [query_name(ipaddress.ip_address(a), "bl.test") for a in (LISTED6, CLEAN6)]
    names.append(query_name(inside_net, "bl.test"))
    compressed = ".".join(reversed(LISTED6.replace(":", ""))) + ".bl.test."  # the classic mistake
    replies = lookup([*names, compressed], server(dnsbl))
    listed, clean, net, wrong = (replies[n] for n in (*names, compressed))
    assert (listed.outcome, listed.addresses, listed.texts) == ("records", ("127.0.0.3",),
                                                                (f"IPv6 spam source {LISTED6}",))
    assert clean.outcome == "nxdomain"
    assert (net.outcome, net.addresses) == ("records", ("127.0.0.2",))
    assert wrong.outcome == "nxdomain"


def test_two_datasets_give_two_answers_and_both_reasons(dnsbl: DnsblServer) -> None:
    name = query_name(ipaddress.ip_address(LISTED4_TWICE), "bl.test")
    reply = lookup([name], server(dnsbl))[name]
    assert sorted(reply.addresses) == ["127.0.0.10", "127.0.0.2"]
    assert sorted(reply.texts) == [f"Dynamic address {LISTED4_TWICE}", f"Spam source {LISTED4_TWICE}"]


def test_a_zone_the_server_does_not_hold_is_refused(dnsbl: DnsblServer) -> None:
    name = query_name(ipaddress.ip_address(LISTED4), "b.barracudacentral.org")
    reply = lookup([name], server(dnsbl))[name]
    assert (reply.outcome, reply.error) == ("error", "the resolver answered REFUSED")


def test_a_server_that_never_answers_times_out_within_the_bound() -> None:
    with silent_nameserver() as address:
        names = [f"{n}.2.0.192.bl.test." for n in range(4)]
        replies = lookup(names, parse_nameserver(address), concurrency=4, timeout=0.3)
    assert {(r.outcome, r.error) for r in replies.values()} == {("error", "no answer within 0.3 s")}


def test_host_addresses_use_the_same_resolver(dnsbl: DnsblServer) -> None:
    replies = host_addresses("mx.own.test", server(dnsbl))
    assert (replies["A"].outcome, replies["A"].addresses) == ("records", (LISTED4,))
    assert replies["AAAA"].outcome == "nodata"


@pytest.mark.parametrize(("text", "expected"), [
    ("127.0.0.1:5353", Nameserver("127.0.0.1", 5353)), ("127.0.0.1", Nameserver("127.0.0.1", 53)),
    ("[::1]:5353", Nameserver("::1", 5353)), ("::1", Nameserver("::1", 53)), ("[::1]", Nameserver("::1", 53)),
])
def test_nameserver_option(text: str, expected: Nameserver) -> None:
    assert parse_nameserver(text) == expected


@pytest.mark.parametrize("text", ["ns.example.org", "127.0.0.1:0", "127.0.0.1:x", "[::1]5353", "[::1", "1.2.3.4:"])
def test_bad_nameserver_is_refused(text: str) -> None:
    with pytest.raises(NameserverError, match=r"--nameserver .*\(fix: "):
        parse_nameserver(text)
