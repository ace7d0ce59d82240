"""Query names and address expansion (RFC 5782 §2.1, §2.4), with the bound on networks."""

from __future__ import annotations

import ipaddress

import pytest

from mtaharden.blocklist.errors import BadInput
from mtaharden.blocklist.reverse import expand, query_name


def test_ipv4_name_reverses_the_octets() -> None:
    assert query_name(ipaddress.ip_address("192.0.2.30"), "bl.test") == "30.2.0.192.bl.test."


def test_ipv6_name_is_every_nibble_of_the_full_address_reversed() -> None:
    name = query_name(ipaddress.ip_address("2001:db8::1"), "bl.test")
    assert name == "1." + "0." * 23 + "8.b.d.0.1.0.0.2.bl.test."
    assert len(name.removesuffix("bl.test.").rstrip(".").split(".")) == 32


def test_networks_expand_in_order_each_address_once() -> None:
    found = expand(["192.0.2.0/30", "192.0.2.1", "2001:db8::/127"])
    assert [str(a) for a in found] == ["192.0.2.0", "192.0.2.1", "192.0.2.2", "192.0.2.3", "2001:db8::",
                                       "2001:db8::1"]


def test_more_than_the_bound_is_refused_with_the_fix() -> None:
    assert len(expand(["10.0.0.0/16"])) == 65536
    with pytest.raises(BadInput, match=r"more than 65,536 addresses.*--max N"):
        expand(["10.0.0.0/15"])
    with pytest.raises(BadInput, match="18,446,744,073,709,551,616 in this network"):
        expand(["2001:db8::/64"])
    with pytest.raises(BadInput, match="more than 3 addresses"):
        expand(["192.0.2.0/31", "192.0.2.8/31"], limit=3)


@pytest.mark.parametrize(("text", "message"), [
    ("192.0.2.5/24", "has host bits set (fix: write the network as 192.0.2.0/24)"),
    ("fe80::1%eth0", "has a zone id"),
    ("mx.example.org", "is not an IP address or network"),
    ("192.0.2.256", "is not an IP address or network"),
    ("192.0.2.0/33", "is not an IP address or network"),
])
def test_bad_arguments_say_what_to_write(text: str, message: str) -> None:
    with pytest.raises(BadInput, match="fix:") as caught:
        expand([text])
    assert message in str(caught.value)
    assert str(caught.value).startswith(f"address {text!r}: ")
