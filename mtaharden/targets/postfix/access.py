"""The access maps of the four ``access`` lists, each list's coverage recorded where its maps are decided."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping, Sequence

from ...policy import canonical
from ...policy.lists import EntryFile
from ...policy.model import (
    Access,
    AccessAction,
    ClientFile,
    ClientRule,
    HeloFile,
    HeloRule,
)
from ..base import Block
from ..kit.coverage import Recorder
from . import capabilities as facts
from .address_access import address_tables
from .tables import Table

ACCESS_VERBS: Mapping[AccessAction, str] = {"reject": "REJECT", "defer": "DEFER", "permit": "OK"}


def access_tables(access: Access, record: Recorder) -> dict[str, Table]:
    """The access maps by role: ``clients``/``clients.N`` (in evaluation order), ``helo``, ``senders``,
    ``recipients``; each list's coverage as its maps are decided."""
    tables = dict(_client_tables(access.clients, record))
    tables["helo"] = Table("helo_access", "hash", tuple(
        (key, access_value(rule.action, rule.message)) for rule in access.helo if isinstance(rule, HeloRule)
        for key in _helo_keys(rule.match)), tuple(
        Block(_helo_file_keys(rule.file), access_value(rule.action, rule.message))
        for rule in access.helo if isinstance(rule, HeloFile)))
    split = {"helo": ""}
    for stage, name in (("senders", "sender_access"), ("recipients", "recipient_access")):
        parts = address_tables(name, getattr(access, stage), access_value)
        tables |= {f"{stage}.{start}" if start else stage: table for start, table in parts}
        split[stage] = facts.ADDRESS_TABLES.format(tables=", ".join(t.name for _, t in parts[1:])) if parts[1:] else ""
    for stage in ("helo", "senders", "recipients"):
        if getattr(access, stage):
            record.enforced(f"access.{stage}", facts.ACCESS.format(tables=facts.ACCESS_TABLES[stage]) + split[stage])
    return {key: table for key, table in tables.items() if not table.empty}


def _client_tables(rules: Sequence[ClientRule | ClientFile], record: Recorder) -> Iterator[tuple[str, Table]]:
    """Client tables in first-match-wins order: runs of inline rules in cidr tables (read in order), and
    for each list file a hash table of its IPv4 addresses (one indexed lookup, however long the list)
    and a cidr table of the rest. Within one list file order is moot: every entry has the same action."""
    run: list[tuple[str, str]] = []
    start = 0
    files = ""
    for index, rule in enumerate([*rules, None]):
        if isinstance(rule, ClientRule):
            start = start if run else index
            run.append((canonical.network(rule.match), access_value(rule.action, rule.message)))
            continue
        if run:
            yield ("clients", Table("client_access.cidr", "cidr", tuple(run))) if start == 0 else (
                f"clients.{start}", Table(f"client_access.{start}.cidr", "cidr", tuple(run)))
            run = []
        if rule is not None:
            value = access_value(rule.action, rule.message)
            networks = [canonical.network(network) for network in rule.file.networks]
            files = facts.CLIENT_FILES
            yield f"clients.{index}", Table(f"client_access.{index}", "hash", (), (Block(rule.file.ipv4_hosts, value),))
            yield f"clients.{index}.cidr", Table(f"client_access.{index}.cidr", "cidr", (), (Block(networks, value),))
    if rules:
        record.enforced("access.clients", facts.ACCESS.format(tables=facts.ACCESS_TABLES["clients"] + files))


def _helo_file_keys(file: EntryFile) -> list[str]:
    """Every HELO key of a list file: names as they are, addresses also in their literal forms."""
    return [*file.entries, *(key for entry in file.entries if ":" in entry or entry[0].isdigit()
                             for key in _helo_keys(entry)[1:])]


def access_value(action: AccessAction, message: str | None) -> str:
    verb = ACCESS_VERBS[action]
    return f"{verb} {message}" if message and action != "permit" else verb


def _helo_keys(match: str) -> list[str]:
    """An IP in HELO may arrive bare or as an address literal (``[IPv6:…]`` for IPv6); a name as written."""
    try:
        parsed = ipaddress.ip_address(match)
    except ValueError:
        return [match]
    address = canonical.address(parsed)
    if parsed.version == 6:
        return [address, f"[{address}]", f"[ipv6:{address}]"]
    return [address, f"[{address}]"]

