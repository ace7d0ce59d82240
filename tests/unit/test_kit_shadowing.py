"""Which earlier rule decides a later key: networks within networks, and a list file's single addresses."""

from __future__ import annotations

import ipaddress
import itertools

import pytest

from mtaharden.policy.lists import Network, within
from mtaharden.targets.kit.shadowing import first_within, split_hosts

net = ipaddress.ip_network


@pytest.mark.parametrize(("inner", "outer", "expected"), [
    ("192.0.2.0/25", "192.0.2.0/24", True),
    ("192.0.2.0/24", "192.0.2.0/24", True),   # a network is within itself
    ("192.0.2.0/24", "192.0.2.0/25", False),  # wider is not within narrower
    ("192.0.2.128/25", "192.0.2.0/25", False),  # siblings
    ("192.0.2.7/32", "0.0.0.0/0", True),
    ("2001:db8:25::/64", "2001:db8::/32", True),
    ("2001:db8::/32", "2001:db8:25::/64", False),
    ("::ffff:192.0.2.0/120", "192.0.2.0/24", False),  # an IPv4-mapped IPv6 network is IPv6
    ("192.0.2.0/24", "::/0", False),  # never across versions (ipaddress would raise TypeError)
    ("::/0", "0.0.0.0/0", False),
])
def test_within(inner: str, outer: str, expected: bool) -> None:
    assert within(net(inner), net(outer)) is expected


def test_first_within_takes_the_first_covering_rule_not_the_narrowest() -> None:
    rules = [(net("2001:db8::/32"), "v6"), (net("10.0.0.0/8"), "wide"), (net("10.1.0.0/16"), "narrow")]
    assert first_within(net("10.1.2.0/24"), rules) == "wide"
    assert first_within(net("10.1.0.0/16"), rules[2:]) == "narrow"
    assert first_within(net("2001:db8:1::/48"), rules) == "v6"
    assert first_within(net("11.0.0.0/8"), rules) is None
    assert first_within(net("10.0.0.0/7"), rules) is None  # overlaps 10/8 but is not inside it
    assert first_within(net("10.0.0.0/8"), []) is None


def permits(value: str) -> bool:
    return value.startswith("permit")


HOSTS = ["10.1.2.3", "10.9.9.9", "192.0.2.7", "192.0.2.200", "198.51.100.1", "203.0.113.5"]


def test_nothing_special_returns_the_hosts_themselves() -> None:
    split = split_hosts(HOSTS, "reject", [(net("172.16.0.0/12"), "permit")], [net("10.0.0.0/8")], permits)
    assert split.plain is HOSTS and split.decided == () and split.aside == ()


def test_an_earlier_wider_rule_decides_its_hosts_and_the_first_of_several_wins() -> None:
    earlier = [(net("192.0.2.0/25"), "reject early"), (net("192.0.2.0/24"), "defer"), (net("10.0.0.0/8"), "x")]
    split = split_hosts(HOSTS, "reject", earlier, [], permits)
    assert split.decided == (("10.1.2.3", "x", False), ("10.9.9.9", "x", False), ("192.0.2.7", "reject early", False),
                             ("192.0.2.200", "defer", False))
    assert list(split.plain) == ["198.51.100.1", "203.0.113.5"]


def test_a_trusted_host_relays_only_when_its_deciding_rule_permits() -> None:
    earlier = [(net("192.0.2.0/25"), "reject early")]
    trusted = [net("192.0.2.0/24"), net("198.51.100.0/24"), net("2001:db8::/32")]
    split = split_hosts(HOSTS, "permit", earlier, trusted, permits)
    assert split.decided == (("192.0.2.7", "reject early", False), ("192.0.2.200", "permit", True),
                             ("198.51.100.1", "permit", True))
    rejecting = split_hosts(HOSTS, "reject", [], trusted, permits)
    assert rejecting.plain is HOSTS and rejecting.decided == ()  # a rejecting file never relays


def test_an_earlier_permit_inside_a_trusted_network_relays_in_a_rejecting_file() -> None:
    split = split_hosts(HOSTS, "reject", [(net("203.0.113.0/24"), "permit early")], [net("203.0.0.0/16")], permits)
    assert split.decided == (("203.0.113.5", "permit early", True),)


def test_hosts_set_aside_are_only_listed() -> None:
    split = split_hosts(HOSTS, "permit", [(net("10.0.0.0/8"), "reject")], [net("10.0.0.0/8")], permits,
                        aside=[net("10.1.2.0/25"), net("203.0.113.4/30")])
    assert split.aside == ("10.1.2.3", "203.0.113.5")
    assert split.decided == (("10.9.9.9", "reject", False),)
    assert list(split.plain) == ["192.0.2.7", "192.0.2.200", "198.51.100.1"]


def test_ipv6_rules_never_cover_ipv4_hosts() -> None:
    split = split_hosts(HOSTS, "permit", [(net("::/0"), "reject")], [net("::ffff:0:0/96")], permits)
    assert split.plain is HOSTS and split.decided == ()


def reference(hosts: list[str], own: str, earlier: list[tuple[Network, str]],
              trusted: list[Network]) -> dict[str, tuple[str, bool]]:
    """First match wins, one address at a time: the meaning split_hosts must keep."""
    result = {}
    for host in hosts:
        address = ipaddress.ip_network(host)
        value = first_within(address, earlier) or own
        result[host] = (value, permits(value) and any(within(address, t) for t in trusted))
    return result


def test_split_hosts_agrees_with_first_match_one_address_at_a_time() -> None:
    networks = [net(text) for text in ("10.0.0.0/8", "10.1.0.0/16", "192.0.2.0/24", "192.0.2.0/25", "0.0.0.0/0")]
    for count in (0, 1, 2):
        for chosen in itertools.permutations(networks, count):
            for own, first in (("permit", "reject"), ("reject", "permit")):
                earlier = [(n, f"{first}{i}") for i, n in enumerate(chosen)]
                for trusted in ([], [networks[1]], [networks[4]]):
                    split = split_hosts(HOSTS, own, earlier, trusted, permits)
                    got = {host: (value, relayed) for host, value, relayed in split.decided}
                    got.update((host, (own, False)) for host in split.plain)
                    assert got == reference(HOSTS, own, earlier, trusted), (own, earlier, trusted)
