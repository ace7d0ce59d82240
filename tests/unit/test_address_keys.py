"""Access-map keys for most-specific-first lookups keep the policy's first match (found by the differential suite)."""

from __future__ import annotations

import itertools

from mtaharden.targets.address_keys import first_match_keys

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
