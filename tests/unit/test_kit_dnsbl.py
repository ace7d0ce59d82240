"""DNSBL return-code filters as address lists: the policy's grammar, canonical order, bounded work."""

from __future__ import annotations

import ipaddress
import math
import time

import pytest

from mtaharden.policy.types import dnsbl_filter
from mtaharden.targets.kit.dnsbl import octets, return_codes

SENDMAIL_SLOTS, EXCHANGE_LIMIT = 6, 256


def test_octets_are_ascending_whatever_the_written_order() -> None:
    assert octets("127.0.0.[10;2;4]") == ((127,), (0,), (0,), (2, 4, 10))
    assert octets("127.[0..1].0.[2;2]") == ((127,), (0, 1), (0,), (2,))  # a repeated value counts once
    assert octets("127.0.0.[5..5]") == ((127,), (0,), (0,), (5,))


def test_what_sendmail_and_exchange_list_today() -> None:
    assert return_codes(["127.0.0.[2..4]", "127.0.0.10"], SENDMAIL_SLOTS) == (
        "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.10")
    assert return_codes(["127.0.0.[2..11]"], SENDMAIL_SLOTS) is None
    assert return_codes(["127.0.0.[2..11]"], EXCHANGE_LIMIT) == tuple(f"127.0.0.{n}" for n in range(2, 12))
    assert return_codes(["127.0.0.2"], 1) == ("127.0.0.2",)


def test_overlapping_filters_list_each_address_once_in_policy_order() -> None:
    assert return_codes(["127.0.0.[3..4]", "127.0.0.[2..5]", "127.0.0.4"], SENDMAIL_SLOTS) == (
        "127.0.0.3", "127.0.0.4", "127.0.0.2", "127.0.0.5")
    assert return_codes(["127.0.0.[2..7]", "127.0.0.[2..7]"], SENDMAIL_SLOTS) is not None  # 6 distinct fit 6 slots
    assert return_codes(["127.0.0.[2..7]", "127.0.0.8"], SENDMAIL_SLOTS) is None


def test_the_limit_is_exact() -> None:
    assert return_codes(["127.0.[0..15].[0..15]"], EXCHANGE_LIMIT) is not None
    assert return_codes(["127.0.[0..15].[0..15]", "127.1.0.0"], EXCHANGE_LIMIT) is None
    assert return_codes([], 0) == ()


def test_a_huge_filter_is_refused_without_listing_it() -> None:
    started = time.monotonic()
    assert return_codes(["127.[0..254].[0..254].[0..255]"], EXCHANGE_LIMIT) is None
    assert time.monotonic() - started < 0.5


@pytest.mark.parametrize("text", ["127.0.0.2", "127.0.0.[2..11]", "127.0.[0;1].[2;4;10]", "127.[1..2].0.[0..3]"])
def test_every_listed_address_is_one_the_policy_filter_matches(text: str) -> None:
    valid = dnsbl_filter(text)
    listed = return_codes([valid], EXCHANGE_LIMIT)
    allowed = octets(valid)
    assert listed is not None and len(listed) == math.prod(len(values) for values in allowed)
    for address in listed:
        parts = [int(part) for part in str(ipaddress.IPv4Address(address)).split(".")]
        assert all(value in values for value, values in zip(parts, allowed, strict=True))
