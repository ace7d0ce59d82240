"""tcp.smtp for tcpserver: CIDR networks with first-match-wins policy semantics as tcprules lines.

tcpserver (ucspi-tcp 0.88) looks a client up by its exact address, then by shorter and shorter
prefixes ending in a dot (``1.2.3.``, ``1.2.``, ``1.``), then by the empty key, and follows the first
key it finds: the longest match wins, whatever the file order. tcprules knows no CIDR, only whole
octets and one ``lo-hi`` range per line (``10.0-127.``, ``1.2.3.0-127``).

The conversion is exact: every network becomes the keys of its own octet level; each key gets the
outcome the policy gives to the addresses that key decides (those not under a longer key); a key is
written only where its outcome differs from the shorter key the client would otherwise fall back
to. IPv4 only: 0.88 neither listens on nor matches IPv6.
"""

from __future__ import annotations

import ipaddress
import string
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from ..kit.escape import Unexpressible, fit

IPv4Network = ipaddress.IPv4Network

# Delimiters for tcprules' var=XvalueX form, in order of preference. Never whitespace: tcprules
# strips it from the end of a line, which would eat a closing delimiter.
DELIMITERS = '"' + "'/|%+^~!" + "".join(c for c in string.punctuation if c not in "\"'/|%+^~!")


@dataclass(frozen=True, order=True)
class Key:
    """A tcprules address key: the first 0-3 octets of an address (a prefix) or all 4 (one address)."""

    octets: tuple[int, ...]

    @property
    def network(self) -> IPv4Network:
        padded = (*self.octets, 0, 0, 0, 0)[:4]
        return IPv4Network((".".join(map(str, padded)), 8 * len(self.octets)))

    def text(self, last: str | None = None) -> str:
        """The key as tcprules writes it; ``last`` replaces the final octet (for a ``lo-hi`` range)."""
        parts = [str(o) for o in self.octets]
        if last is not None:
            parts[-1] = last
        joined = ".".join(parts)
        return joined if len(parts) == 4 else joined + "." if parts else ""


def network_keys(network: IPv4Network) -> list[Key]:
    """The keys that together match exactly the addresses of ``network``."""
    level = -(-network.prefixlen // 8)
    if level == 0:
        return [Key(())]
    base = tuple(network.network_address.packed[:level])
    count = 2 ** (8 * level - network.prefixlen)
    return [Key((*base[:-1], base[-1] + step)) for step in range(count)]


def network_addresses(network: IPv4Network) -> str:
    """The one tcprules address (with a range where needed) that matches exactly ``network``."""
    keys = network_keys(network)
    if len(keys) == 1:
        return keys[0].text()
    return keys[0].text(f"{keys[0].octets[-1]}-{keys[-1].octets[-1]}")


@dataclass(frozen=True)
class Outcome:
    """What tcpserver does for a client: run the service (with environment variables) or drop it."""

    verb: Literal["allow", "deny"]
    env: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Rule:
    """One tcprules line: an address (possibly a range), the outcome, and why (for a comment)."""

    address: str
    outcome: Outcome
    reason: str


Decide = Callable[[IPv4Network], tuple[Outcome, str]]


def compile_rules(networks: Iterable[IPv4Network], decide: Decide) -> list[Rule]:
    """Rules equal to ``decide`` for every IPv4 address.

    ``decide`` gets an octet-aligned block; its answer must depend only on which of ``networks``
    contain the whole block, which holds for any first-match-wins evaluation over those networks.
    """
    keys = sorted({Key(())} | {key for network in networks for key in network_keys(network)},
                  key=lambda k: (len(k.octets), k.octets))
    kept: dict[Key, tuple[Outcome, str]] = {}
    for key in keys:
        decided = decide(key.network)
        parent = next((kept[p] for p in _ancestors(key) if p in kept), None)
        if parent is None or parent[0] != decided[0]:
            kept[key] = decided
    return _ranges(kept)


def _ancestors(key: Key) -> Iterable[Key]:
    """Shorter keys, longest first: where tcpserver falls back to when ``key`` is absent."""
    for length in range(len(key.octets) - 1, -1, -1):
        yield Key(key.octets[:length])


def _ranges(kept: dict[Key, tuple[Outcome, str]]) -> list[Rule]:
    """Merge runs of keys that differ only in a consecutive last octet into one ``lo-hi`` line."""
    runs: list[list[Key]] = []
    for key in sorted(kept, key=lambda k: (len(k.octets), k.octets)):
        if runs and _extends(runs[-1][-1], key) and kept[runs[-1][-1]] == kept[key]:
            runs[-1].append(key)
        else:
            runs.append([key])
    # Readable order: by address, wider first, the catch-all last; tcpserver does not care.
    runs.sort(key=lambda run: (not run[0].octets, run[0].network.network_address, len(run[0].octets)))
    rules = []
    for run in runs:
        first, last = run[0], run[-1]
        address = first.text() if first == last else first.text(f"{first.octets[-1]}-{last.octets[-1]}")
        rules.append(Rule(address, *kept[first]))
    return rules


def _extends(previous: Key, key: Key) -> bool:
    return (len(previous.octets) == len(key.octets) > 0 and previous.octets[:-1] == key.octets[:-1]
            and previous.octets[-1] + 1 == key.octets[-1])


def tcprules_value(value: object) -> str:
    """An environment value in tcprules' ``var=XvalueX`` form, with a delimiter X the value lacks."""
    text = fit(str(value), "tcp.smtp")
    for delimiter in DELIMITERS:
        if delimiter not in text:
            return f"{delimiter}{text}{delimiter}"
    raise Unexpressible("no delimiter left for this tcp.smtp value (it uses every punctuation mark)")
