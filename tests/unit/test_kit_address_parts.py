"""Address patterns' parts, and access-map keys for most-specific-first lookups that keep the policy's first match
(found by the differential suite)."""

from __future__ import annotations

import itertools

import pytest

from mtaharden.targets.kit.address_parts import address_key, first_match_keys, overlap, overlaps, parts

PATTERNS = ("spam.example", "friend@spam.example", "friend@", "other.example", "friend@other.example")
ADDRESSES = ("friend@spam.example", "foe@spam.example", "friend@other.example", "foe@other.example",
             "friend@third.example", "foe@third.example")


def lookup(lines: dict[str, str], address: str) -> str | None:
    """Postfix access(5) and Sendmail's access map: user@domain, then domain, then user@."""
    user, _, domain = address.partition("@")
    return next((lines[key] for key in (address, domain, f"{user}@") if key in lines), None)


def first_match(rules: list[tuple[str, str]], address: str) -> str | None:
    user, _, domain = address.partition("@")
    for pattern, value in rules:
        rule_user, at, rule_domain = pattern.rpartition("@")
        if (not at and rule_domain == domain) or (at and rule_user in ("", user) and rule_domain in ("", domain)):
            return value
    return None


def test_a_later_more_specific_rule_does_not_win() -> None:
    lines = dict(first_match_keys([("spam.example", "REJECT"), ("friend@spam.example", "DEFER")]))
    assert lines == {"spam.example": "REJECT", "friend@spam.example": "REJECT"}


def test_a_user_rule_before_a_domain_rule_gets_its_own_full_key() -> None:
    lines = dict(first_match_keys([("root@", "REJECT"), ("example.org", "OK")]))
    assert lines == {"root@": "REJECT", "example.org": "OK", "root@example.org": "REJECT"}


def test_every_order_of_every_pattern_gives_the_first_match() -> None:
    for count in (1, 2, 3):
        for chosen in itertools.permutations(PATTERNS, count):
            rules = [(pattern, f"rule{index}") for index, pattern in enumerate(chosen)]
            lines = dict(first_match_keys(rules))
            for address in ADDRESSES:
                assert lookup(lines, address) == first_match(rules, address), (rules, address)


# --- parts, keys and overlap (the kit's one reading of an address pattern) ------------------------

UNIVERSE_PATTERNS = ("a@x.example", "a@y.example", "b@x.example", "@x.example", "x.example", "y.example", "a@", "b@")


def test_parts_of_each_pattern_form() -> None:
    assert parts("friend@spam.example") == ("friend", "spam.example")
    assert parts("@spam.example") == (None, "spam.example")
    assert parts("spam.example") == (None, "spam.example")
    assert parts("friend@") == ("friend", None)
    assert parts("") == (None, "")


def test_address_keys_drop_only_a_leading_at() -> None:
    assert [address_key(p) for p in ("@spam.example", "spam.example", "friend@", "friend@spam.example")] == [
        "spam.example", "spam.example", "friend@", "friend@spam.example"]


def matches(pattern: str, address: str) -> bool:
    user, domain = parts(pattern)
    address_user, _, address_domain = address.partition("@")
    return user in (None, address_user) and domain in (None, address_domain)


ADDRESS_UNIVERSE = [f"{u}@{d}" for u in ("a", "b", "c") for d in ("x.example", "y.example", "z.example")]


@pytest.mark.parametrize(("first", "second"), list(itertools.product(UNIVERSE_PATTERNS, repeat=2)))
def test_overlap_is_some_address_matching_both(first: str, second: str) -> None:
    expected = any(matches(first, a) and matches(second, a) for a in ADDRESS_UNIVERSE)
    assert overlap(first, second) is expected
    assert overlaps([first], [second]) is expected and overlaps([second], [first]) is expected


def test_overlaps_of_lists_is_any_pair_overlapping() -> None:
    for size in (1, 2, 3):
        for left in itertools.combinations(UNIVERSE_PATTERNS, size):
            for right in itertools.combinations(UNIVERSE_PATTERNS, 4 - size):
                assert overlaps(left, right) is any(overlap(a, b) for a in left for b in right), (left, right)


def test_overlaps_with_an_empty_side_is_false() -> None:
    assert not overlaps([], UNIVERSE_PATTERNS) and not overlaps(UNIVERSE_PATTERNS, [])
