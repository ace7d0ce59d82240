"""How many remote clients ``networks.trusted`` lets relay: the union of its networks, per family.

One entry at a time says little: 256 networks of /8 each are all of IPv4. The guard therefore sums the
union. Loopback is left out (only this host itself connects from there), and the IPv4-mapped part of an
IPv6 network (``::/64`` holds ``::ffff:0:0/96``) counts as the IPv4 addresses it stands for.
"""

from __future__ import annotations

import ipaddress
from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

WIDEST_PREFIX = {4: 8, 6: 32}  # the union may span at most as many addresses as one such network
LIMIT = {version: 2 ** ({4: 32, 6: 128}[version] - prefix) for version, prefix in WIDEST_PREFIX.items()}
_LOOPBACK = {4: (127 << 24, 128 << 24), 6: (1, 2)}
_MAPPED = int(ipaddress.IPv6Address("::ffff:0.0.0.0"))


class _Union:
    """Disjoint, sorted ``[start, end)`` ranges and their total size, grown one range at a time."""

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.size = 0

    def add(self, start: int, end: int) -> None:
        first, last = bisect_left(self.ends, start), bisect_right(self.starts, end)
        if first < last:  # overlapping or touching ranges merge into one
            self.size -= sum(self.ends[i] - self.starts[i] for i in range(first, last))
            start, end = min(start, self.starts[first]), max(end, self.ends[last - 1])
        self.starts[first:last], self.ends[first:last] = [start], [end]
        self.size += end - start


def _pieces(network: Network) -> Iterator[tuple[int, int, int]]:
    """``(family, start, end)`` ranges of remote addresses ``network`` trusts, loopback cut out."""
    start = int(network.network_address)
    end = start + network.num_addresses
    ranges = [(network.version, start, end)]
    if network.version == 6 and start < _MAPPED + 2**32 and end > _MAPPED:
        ranges.append((4, max(start, _MAPPED) - _MAPPED, min(end, _MAPPED + 2**32) - _MAPPED))
    for family, low, high in ranges:
        loop_low, loop_high = _LOOPBACK[family]
        if low < loop_low:
            yield family, low, min(high, loop_low)
        if high > loop_high:
            yield family, max(low, loop_high), high


@dataclass(frozen=True)
class Crossing:
    """The entry with which the union of one family grows past its limit, and the union's size then."""

    index: int
    family: int
    size: int


def crossings(networks: Sequence[Network]) -> list[Crossing]:
    """For each family whose union passes :data:`LIMIT`, the first entry that takes it past."""
    unions = {4: _Union(), 6: _Union()}
    found: dict[int, Crossing] = {}
    for index, network in enumerate(networks):
        for family, start, end in _pieces(network):
            unions[family].add(start, end)
            if family not in found and unions[family].size > LIMIT[family]:
                found[family] = Crossing(index, family, unions[family].size)
    # the entry's own family first: its message then speaks of the network as written
    return sorted(found.values(), key=lambda found: (found.index, found.family != networks[found.index].version))


def too_wide(networks: Sequence[Network]) -> bool:
    """Whether the trusted networks together span more than one /8 of IPv4 or one /32 of IPv6."""
    return bool(crossings(networks))


def described(size: int, family: int) -> str:
    """A union's size in words: ``as many IPv4 addresses as a /7``, ``more IPv6 addresses than a /32``."""
    bits = {4: 32, 6: 128}[family]
    exponent = size.bit_length() - 1
    if size == 1 << exponent:
        return f"as many IPv{family} addresses as a /{bits - exponent}"
    return f"more IPv{family} addresses than a /{bits - exponent}"
