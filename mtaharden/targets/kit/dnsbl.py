# kit: ready
"""A DNSBL entry's return-code filters as address sets, for targets that list the answers one by one.

The policy writes filters in Postfix's ``d.d.d.d`` form (``127.0.0.[2..11]``, ``127.0.0.[2;4]``), which Postfix
reads as is; Sendmail's enhdnsbl and Exchange's ``-IPAddressesMatch`` need every matching address. The grammar
and its validation are the policy's (``policy/types.dnsbl_filter``); the kit reuses its parser, so the addresses a
target lists are the ones the policy's evaluator matches.

Canonical form: each octet's values ascending, filters in policy order, each address once (two overlapping
filters do not spend a slot twice).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable

from ...policy.types import filter_octets


def octets(return_filter: str) -> tuple[tuple[int, ...], ...]:
    """The values each of a valid filter's four octets allows, ascending."""
    return tuple(tuple(sorted(values)) for values in filter_octets(return_filter))


def return_codes(filters: Iterable[str], limit: int) -> tuple[str, ...] | None:
    """Every address the filters match, or None when more than ``limit`` distinct ones (too many to list).

    A filter wider than ``limit`` answers None before any address is listed, so the work stays within
    ``limit`` addresses per filter.
    """
    found: dict[str, None] = {}  # insertion-ordered set
    for return_filter in filters:
        values = octets(return_filter)
        if math.prod(len(octet) for octet in values) > limit:
            return None
        found.update((".".join(map(str, address)), None) for address in itertools.product(*values))
        if len(found) > limit:
            return None
    return tuple(found)
