"""Access-map keys that give the policy's first match where the MTA looks up the most specific key first.

Postfix's and Sendmail's access maps look an address ``user@domain`` up as ``user@domain``, then
``domain``, then ``user@``: the most specific key wins, whatever the order of the policy's rules.
First match wins in the policy, so each full-address key carries the value of the first rule that
covers it, and a ``user@`` rule placed before a ``domain`` rule gets the key ``user@domain`` of its own
(else the domain key would answer for that user).
"""

from __future__ import annotations

from collections.abc import Sequence

Rule = tuple[str | None, str | None, str]  # (user or None: any, domain or None: any, value)


def _parts(pattern: str) -> tuple[str | None, str | None]:
    """A canonical pattern's (user, domain): ``user@domain``, ``@domain``/``domain``, ``user@``."""
    if "@" not in pattern:
        return None, pattern
    user, _, domain = pattern.rpartition("@")
    return user or None, domain or None


def _key(user: str | None, domain: str | None) -> str:
    return f"{user}@{domain}" if user and domain else domain if domain else f"{user}@"


def first_match_keys(rules: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """``(key, value)`` lines for ``(pattern, value)`` rules in policy order, one line per key."""
    parsed: list[Rule] = [(*_parts(pattern), value) for pattern, value in rules]

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
