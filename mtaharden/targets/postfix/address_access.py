"""The sender and recipient access maps: the policy's first match, where Postfix reads the most specific key.

Postfix looks an address ``user@domain`` up as ``user@domain``, then ``domain``, then ``user@``, so every key
must carry the value of the first rule (inline, or list-file entry) that covers the addresses it answers for
(:mod:`~mtaharden.targets.kit.address_parts` explains the keys). A full-address key takes the earliest of the
rules for that address, its domain and its user; a ``user@`` entry placed before a ``domain`` entry needs a
key ``user@domain`` for the pair, else the domain key answers for that user. That is one key per pair: where
a rule would add more than :data:`CROSS_KEYS_MAX` of them (a ``postmaster@`` rule before a million-domain
list file) a new table starts at that rule instead. ``check_*_access`` reads the tables in order, and each
table finds only addresses its own rules cover, so an earlier table's match still wins.

Entries are looked at in bulk: a few string and dict operations each, no parsing into parts; an entry that
keeps its list file's value stays in the file's :class:`~mtaharden.targets.base.Block`, only the few others
become lines.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from ...policy.model import AccessAction, AddressFile, AddressRule
from ..base import Block
from .tables import Table

CROSS_KEYS_MAX = 1000  # user@domain keys one rule may add for earlier user@ entries, before a new table
FEW = 64  # up to this many earlier names, one prefix or suffix test in C per entry beats splitting it

Value = tuple[int, str]  # (position of the rule in the policy's list, map value)
AccessValue = Callable[[AccessAction, "str | None"], str]  # an action and message as a map value


@dataclass
class _Segment:
    """One table being built: the first rule of each domain and ``user@`` key, the full keys, what is written."""

    start: int
    domains: dict[str, Value] = field(default_factory=dict)
    users: dict[str, Value] = field(default_factory=dict)  # by key, "user@"
    full: list[list[str]] = field(default_factory=list)  # each rule's full-address keys (a set only on demand)
    lines: dict[str, str] = field(default_factory=dict)
    crossed: dict[str, str] = field(default_factory=dict)  # user@domain keys for an earlier user@ entry
    blocks: list[Block] = field(default_factory=list)

    def add(self, position: int, keys: list[str], domains: list[str], value: str, *, inline: bool) -> None:
        """Write the keys of one rule (an inline rule's key always becomes a line): a few passes in bulk."""
        own: Value = (position, value)
        users = [key for key in keys if key[-1] == "@"]
        full = [key for key in keys if "@" in key and key[-1] != "@"] if len(domains) + len(users) < len(keys) else []
        if self.crossed:  # a full address already written as an earlier user@ entry's user@domain key
            full = [key for key in full if key not in self.crossed]
        special: dict[str, str] = {}
        if full and (self.domains or self.users):  # an earlier domain or user@ rule may cover some of them
            for key in _covered(full, self.domains, self.users):
                at = key.rfind("@") + 1
                special[key] = min(own, self.domains.get(key[at:], own), self.users.get(key[:at], own))[1]
        new_users = {key: own for key in users if key not in self.users}
        new_domains = dict.fromkeys(domains, own)  # @domain and domain give one key
        if self.domains:
            new_domains = {key: first for key, first in new_domains.items() if key not in self.domains}
        if new_domains and self.users:  # address_tables bounds users x domains
            taken = {key for keys in self.full for key in keys} | self.crossed.keys()
            self.crossed |= {user + domain: first[1] for user, first in self.users.items() if first[1] != value
                             for domain in new_domains if user + domain not in taken}
        self.users |= new_users
        if self.domains:
            self.domains |= new_domains
        else:
            self.domains = new_domains
        self.full.append(full)
        if inline:
            self.lines |= {key: special.get(key, value) for key in [*new_domains, *new_users, *full]}
            return
        self.lines |= special
        if len(new_domains) + len(new_users) + len(full) == len(keys) and not special:
            plain = keys  # the usual case: every entry keeps the file's value
        else:
            kept = new_domains.keys() | new_users.keys() | set(full)
            plain = [key for key in dict.fromkeys(keys) if key in kept and key not in special]
        if plain:
            self.blocks.append(Block(plain, value))

    def table(self, name: str) -> Table:
        lines = {**self.lines, **self.crossed}  # no key in both: full keys skip the crossed ones and vice versa
        return Table(name if self.start == 0 else f"{name}.{self.start}", "hash", tuple(lines.items()),
                     tuple(self.blocks))


def address_tables(name: str, rules: Sequence[AddressRule | AddressFile],
                   value: AccessValue) -> list[tuple[int, Table]]:
    """The tables of one address list, in the order ``check_*_access`` reads them, with the index of each
    table's first rule (0 for the list's first table, ``name`` itself; ``name.N`` for the others)."""
    segment = _Segment(0)
    segments = [segment]
    for position, rule in enumerate(rules):
        patterns = (rule.match,) if isinstance(rule, AddressRule) else rule.file.entries
        keys = [pattern[1:] if pattern[0] == "@" else pattern for pattern in patterns]  # address_key, in bulk
        domains = [key for key in keys if "@" not in key]
        if len(segment.users) * len(domains) > CROSS_KEYS_MAX:  # every user so far is an earlier rule's
            segment = _Segment(position)
            segments.append(segment)
        segment.add(position, keys, domains, value(rule.action, rule.message), inline=isinstance(rule, AddressRule))
    return [(s.start, s.table(name)) for s in segments]


def _covered(full: list[str], domains: Mapping[str, Value], users: Mapping[str, Value]) -> list[str]:
    """The full-address keys whose domain or ``user@`` an earlier rule names (each once, in order)."""
    found: list[str] = []
    if users:
        prefixes = tuple(users)
        found += ([key for key in full if key.startswith(prefixes)] if len(users) <= FEW
                  else [key for key in full if key[:key.rfind("@") + 1] in users])
    if domains:
        suffixes = tuple("@" + domain for domain in domains) if len(domains) <= FEW else ()
        found += ([key for key in full if key.endswith(suffixes)] if suffixes
                  else [key for key in full if key[key.rfind("@") + 1:] in domains])
    return list(dict.fromkeys(found))
