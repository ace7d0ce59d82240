"""The bulk paths of a million-entry render (issue 25) agree with their plain per-entry definitions:
``first_covering`` (screened by one regular expression over the joined hosts) and ``key_block`` (checked
on the keys alone, then laid out in one join)."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mtaharden.policy.lists import Network, first_covering
from mtaharden.render import RenderError, key_block
from mtaharden.targets.base import Block
from mtaharden.targets.kit.escape import unfit

hosts = st.lists(st.ip_addresses(v=4).map(str), max_size=40, unique=True)
networks = st.lists(st.tuples(st.ip_addresses(v=4), st.integers(0, 32)).map(
    lambda pair: ipaddress.ip_network(f"{pair[0]}/{pair[1]}", strict=False)), max_size=6)


@settings(max_examples=300, deadline=None)
@given(hosts, networks, st.lists(st.sampled_from(["2001:db8::/32", "::/0", "::ffff:0:0/96"]).map(ipaddress.ip_network),
                                 max_size=2))
def test_first_covering_is_the_first_network_that_holds_each_host(
        some: list[str], v4: list[Network], v6: list[Network]) -> None:
    rules = [(network, order) for order, network in enumerate([*v6, *v4])]
    expected = {}
    for host in some:
        address = ipaddress.ip_address(host)
        value = next((order for network, order in rules if address in network), None)
        if value is not None:
            expected[host] = value
    assert first_covering(some, rules) == expected


def test_first_covering_tells_octets_apart() -> None:
    """10.x is not inside 1.0.0.0/8, nor 100.x inside 10.0.0.0/8: the screen matches whole octets."""
    rules = [(ipaddress.ip_network("1.0.0.0/8"), "one"), (ipaddress.ip_network("10.0.0.0/8"), "ten")]
    assert first_covering(["10.1.2.3", "100.1.2.3", "1.2.3.4", "11.0.0.1"], rules) == {
        "10.1.2.3": "ten", "1.2.3.4": "one"}


def _plain_key_block(block: Block) -> str | None:
    """The definition: every line ``prefix key separator value``, or None when any line would not stay one."""
    rows = [f"{block.prefix}{key}{block.separator}{block.value}" for key in block.keys]
    parts = [block.prefix, block.value, *block.keys]
    if not rows or any(unfit(part) for part in parts) or unfit(block.separator, tabs=True):
        return None
    return "\n".join(rows)


texts = st.text(st.sampled_from(["a", "é", "1", ".", "\t", "\n", "\x00", "\u2028", "\x85", " ", "@"]), max_size=6)


@settings(max_examples=400, deadline=None)
@given(st.lists(texts, max_size=5), texts, st.sampled_from(["\t", ":", " ", "", "\n", "\t\t"]),
       st.sampled_from(["", "From:", "To:"]))
def test_key_block_is_its_definition(keys: list[str], value: str, separator: str, prefix: str) -> None:
    block = Block(keys, value, separator=separator, prefix=prefix)
    expected = _plain_key_block(block)
    if expected is None:
        with pytest.raises(RenderError):
            key_block(block)
    else:
        assert key_block(block) == expected
