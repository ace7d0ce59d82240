# kit: ready
"""The parts of a sender/recipient pattern, and the access-map keys that keep the policy's first match.

A canonical address pattern is ``user@domain`` (that address), ``@domain`` or ``domain`` (anyone in that
domain, no subdomains) or ``user@`` (that user in any domain). :func:`parts` splits it, :func:`address_key`
spells it as Postfix's and Sendmail's access maps do, :func:`overlap` and :func:`overlaps` say whether one
address can match patterns of both sides (an earlier permit exempting a later rejection).

Postfix's and Sendmail's access maps look an address ``user@domain`` up as ``user@domain``, then
``domain``, then ``user@``: the most specific key wins, whatever the order of the policy's rules.
First match wins in the policy, so each full-address key carries the value of the first rule that
covers it, and a ``user@`` rule placed before a ``domain`` rule gets the key ``user@domain`` of its own
(else the domain key would answer for that user): :func:`first_match_keys`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

Parts = tuple[str | None, str | None]  # (user or None: any user, domain or None: any domain)
Rule = tuple[str | None, str | None, str]  # parts and the rule's value


def parts(pattern: str) -> Parts:
    """A canonical pattern's (user, domain): ``user@domain``, ``@domain``/``domain``, ``user@``; None: any."""
    if "@" not in pattern:
        return None, pattern
    user, _, domain = pattern.rpartition("@")
    return user or None, domain or None


def address_key(pattern: str) -> str:
    """The pattern as an access-map key: ``user@domain``, ``domain`` (for ``@domain`` too) or ``user@``."""
    return pattern[1:] if pattern.startswith("@") else pattern


def overlap(first: str, second: str) -> bool:
    """Whether some address matches both patterns."""
    (user1, domain1), (user2, domain2) = parts(first), parts(second)
    return (None in (user1, user2) or user1 == user2) and (None in (domain1, domain2) or domain1 == domain2)


def overlaps(first: Iterable[str], second: Iterable[str]) -> bool:
    """Whether some address matches a pattern of each side: set lookups, so two list files cost little."""
    small, large = sorted((list(first), list(second)), key=len)
    split = [parts(pattern) for pattern in small]
    any_user = {domain for user, domain in split if user is None}  # @domain: any user there
    any_domain = {user for user, domain in split if domain is None}  # user@: that user anywhere
    both = {(user, domain) for user, domain in split if user and domain}
    both_domains = {domain for _, domain in both}
    both_users = {user for user, _ in both}
    for user, domain in map(parts, large):
        if user and domain and (domain in any_user or user in any_domain or (user, domain) in both):
            return True
        if user is None and (domain in any_user or any_domain or domain in both_domains):
            return True
        if domain is None and (user in any_domain or any_user or user in both_users):
            return True
    return False


def _key(user: str | None, domain: str | None) -> str:
    return f"{user}@{domain}" if user and domain else domain if domain else f"{user}@"


def first_match_keys(rules: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """``(key, value)`` lines for ``(pattern, value)`` rules in policy order, one line per key."""
    parsed: list[Rule] = [(*parts(pattern), value) for pattern, value in rules]

    def first(user: str | None, domain: str | None) -> str:
        """The value of the first rule matching every address the key ``user``/``domain`` stands for."""
        return next(value for u, d, value in parsed if (u is None or u == user) and (d is None or d == domain))

    keys = [(u, d) for u, d, _ in parsed]
    keys += [(u, d) for position, (u, d2, _) in enumerate(parsed) if u is not None and d2 is None
             for u2, d, _ in parsed[position + 1:] if u2 is None and d is not None]
    lines: dict[str, str] = {}
    for user, domain in keys:
        lines.setdefault(_key(user, domain), first(user, domain))
    return list(lines.items())
