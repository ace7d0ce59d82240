# kit: ready
"""First match wins, where the MTA follows the most specific key: which earlier rule decides a later one.

The policy's client rules are first-match-wins; Sendmail's access map and tcpserver's rules follow the
longest (most specific) key instead. So a key written for a later rule must carry the decision of the
first earlier rule that covers it, and a permitted key inside a trusted network must relay.
:func:`first_within` answers that for a network key; :func:`split_hosts` for a list file's single addresses
in bulk (over :func:`mtaharden.policy.lists.first_covering`, so a million addresses cost little).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from ...policy.lists import Network, first_covering, within

T = TypeVar("T")


def first_within(network: Network, rules: Iterable[tuple[Network, T]]) -> T | None:
    """The value of the first rule whose network holds all of ``network`` (None: no rule does)."""
    return next((value for outer, value in rules if within(network, outer)), None)


@dataclass(frozen=True)
class HostSplit(Generic[T]):
    """A list file's single addresses, split by who decides them (each part in the file's order)."""

    plain: Sequence[str]  # the file's own decision, not relayed: one bulk block (``hosts`` itself if all are)
    decided: tuple[tuple[str, T, bool], ...]  # (host, the first covering earlier rule's value or own, relayed)
    aside: tuple[str, ...]  # inside an ``aside`` network: the target writes these another way


def split_hosts(hosts: Sequence[str], own: T, earlier: Sequence[tuple[Network, T]], trusted: Sequence[Network],
                permits: Callable[[T], bool], aside: Sequence[Network] = ()) -> HostSplit[T]:
    """Split the IPv4 ``hosts`` of a list file whose rule decides ``own``.

    A host inside an ``earlier`` rule's network takes the first such rule's value; a host whose value
    ``permits`` and that lies in a ``trusted`` network is relayed. Hosts in an ``aside`` network (e.g.
    one that gives them a key of their own) are only listed. Usually nothing is special: then no
    per-address work is done and ``plain`` is ``hosts`` itself.
    """
    set_aside = first_covering(hosts, [(network, True) for network in aside]) if aside else {}
    shadowed = first_covering(hosts, earlier)
    relays = permits(own) or any(permits(value) for value in shadowed.values())
    relayed = first_covering(hosts, [(network, True) for network in trusted]) if relays and trusted else {}
    special = set_aside.keys() | shadowed.keys() | relayed.keys()
    if not special:
        return HostSplit(hosts, (), ())
    decided: list[tuple[str, T, bool]] = []
    for host in (h for h in hosts if h in special and h not in set_aside):
        value = shadowed.get(host, own)
        decided.append((host, value, host in relayed and permits(value)))
    return HostSplit([h for h in hosts if h not in special], tuple(decided), tuple(set_aside))
