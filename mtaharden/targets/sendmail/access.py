"""The access map: Connect:/From:/To:/Spam: entries for the policy's access rules and trusted networks.

Sendmail follows the longest key, not the file order, so each key carries the value first match wins
gives all of its addresses (the kit's shadowing and address keys); relaying is granted only to trusted
networks (``Connect: RELAY``), never by an access rule. HELO rules and the client re-check are rulesets
(:mod:`.rulesets`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from ...policy import Policy, canonical
from ...policy.lists import Network, within
from ...policy.model import AccessAction, AddressFile, AddressRule, ClientFile
from ..base import Block
from ..kit.address_parts import address_key, first_match_keys, overlap
from ..kit.coverage import Recorder
from ..kit.escape import Unexpressible
from ..kit.shadowing import first_within, split_hosts
from . import capabilities as facts
from .m4 import rule_string
from .rulesets import CLIENT_TAG, auth_passes, helo_ruleset, rcpt_ruleset

# The reply text is quoted: unquoted, Sendmail re-tokenises it and drops the blanks around commas.
ACCESS_VALUES: Mapping[AccessAction, str] = {"reject": 'ERROR:5.7.1:"550 {text}"',
                                             "defer": 'ERROR:4.7.1:"450 {text}"', "permit": "OK"}
STAGES = ("clients", "helo", "senders", "recipients")
CONNECT, CLIENT_RULE = "Connect:", f"{CLIENT_TAG}:"

Entry = tuple[str, str] | Block  # one access line, or a list file's keys sharing a value
Decision = tuple[AccessAction, str]  # a client rule's action and access value
Decided = tuple[Network, Decision]  # a client rule's network and its decision


@dataclass(frozen=True)
class Access:
    """The access map (lines, then blocks of list-file keys) and the rulesets the access rules need."""

    lines: list[tuple[str, str]]
    blocks: list[Block]
    rulesets: tuple[str, ...]


def lower(policy: Policy, coverage: Recorder, relay_domains: Sequence[str]) -> Access:
    """Every access list in the policy's order; each rule's coverage is recorded as it is lowered."""
    access = policy.access
    for stage in STAGES:
        if getattr(access, stage):
            coverage.record(f"access.{stage}", *facts.ACCESS[stage])
    entries = _client_entries(policy, coverage)
    helo = helo_ruleset(policy, coverage)
    entries += _sender_entries(policy, coverage)
    entries += _recipient_entries(policy, coverage, relay_domains)
    entries.append(("ClientConn:", str(policy.smtp.max_connections_per_client)))
    lines, blocks = _first_match_wins(entries)
    return Access(lines, blocks, (*helo, *rcpt_ruleset(policy)))


def _value(action: AccessAction, message: str | None, default: str) -> str:
    return ACCESS_VALUES[action].format(text=rule_string(message or default, "the message"))


def _approximated(coverage: Recorder, element: str, reasons: Iterable[str | None]) -> None:
    """Record ``element`` as approximated when some reason applies (all of them, in one detail)."""
    found = [reason for reason in reasons if reason]
    if found:
        coverage.approximated(element, "; ".join(found))


def _client_entries(policy: Policy, coverage: Recorder) -> list[Entry]:
    """Connect: keys (RELAY for the trusted networks, OK for permits) and, when a client rule refuses, the
    ClientRule: keys of every client rule that the client re-check (:mod:`.rulesets`) reads."""
    access, trusted = policy.access, policy.networks.trusted
    connect: list[Entry] = []
    rules: list[Entry] = []
    decided: list[Decided] = []  # client networks so far, in policy order
    address_rules = bool(access.senders or access.recipients)
    for index, rule in enumerate(access.clients):
        element = f"access.clients[{index}]"
        try:
            decision = (rule.action, _value(rule.action, rule.message, "Access denied"))
        except Unexpressible as exc:
            coverage.unsupported(element, str(exc))
            continue
        _approximated(coverage, element, [facts.CLIENT_PERMIT if rule.action == "permit" and address_rules else None,
                                          facts.DEFER if rule.action == "defer" else None])
        if isinstance(rule, ClientFile):
            connect += _host_entries(CONNECT, rule.file.ipv4_hosts, decision, decided, trusted)
            rules += _host_entries(CLIENT_RULE, rule.file.ipv4_hosts, decision, decided, ())
        networks = rule.file.networks if isinstance(rule, ClientFile) else [rule.match]
        decided += [(network, decision) for network in networks]
        connect += _connect_entries(CONNECT, networks, decided, trusted)
        rules += _connect_entries(CLIENT_RULE, networks, decided, ())
    connect += _connect_entries(CONNECT, trusted, decided, trusted)
    refuses = any(rule.action != "permit" for rule in access.clients)  # as rulesets.rcpt_ruleset
    return connect + rules if refuses else connect


def _parent_domains(rule: AddressRule | AddressFile) -> str | None:
    """domain and @domain also match subdomains (the map looks parent domains up); a full address does not."""
    if not isinstance(rule, AddressRule):
        return None
    user, _, domain = rule.match.rpartition("@")
    return facts.PARENT_DOMAINS.format(match=rule.match, domain=domain) if domain and not user else None


def _sender_entries(policy: Policy, coverage: Recorder) -> list[Entry]:
    entries: list[Entry] = []
    inline: list[tuple[str, str]] = []  # (pattern, value): the map follows the most specific key
    for index, sender in enumerate(policy.access.senders):
        element = f"access.senders[{index}]"
        try:
            value = _value(sender.action, sender.message, "Sender address rejected")
        except Unexpressible as exc:
            coverage.unsupported(element, str(exc))
            continue
        _approximated(coverage, element, [facts.DEFER if sender.action == "defer" else None, _parent_domains(sender),
                                          auth_passes(policy, sender.action)])
        if isinstance(sender, AddressRule):
            inline.append((sender.match, value))
        else:
            entries.append(_address_entry("From:", sender, value))
    return entries + [(f"From:{key}", value) for key, value in first_match_keys(inline)]


def _recipient_entries(policy: Policy, coverage: Recorder, relay_domains: Sequence[str]) -> list[Entry]:
    """To: refusals and Spam: FRIEND permits (delay_checks); ``user@`` is spelt out per relay domain."""
    recipients = policy.access.recipients
    entries: list[Entry] = []
    inline: list[tuple[str, str]] = []
    for index, recipient in enumerate(recipients):
        element = f"access.recipients[{index}]"
        try:
            value = "FRIEND" if recipient.action == "permit" else _value(
                recipient.action, recipient.message, "Recipient address rejected")
        except Unexpressible as exc:
            coverage.unsupported(element, str(exc))
            continue
        reasons = [facts.DEFER if recipient.action == "defer" else None, _parent_domains(recipient)]
        if isinstance(recipient, AddressRule):
            match = recipient.match
            if recipient.action == "permit" and any(
                    later.action != "permit" and isinstance(later, AddressRule) and overlap(match, later.match)
                    for later in recipients[index + 1:]):
                reasons.append(facts.FRIEND_THEN_REFUSAL)
            inline.append((match, value))
            if match.endswith("@"):  # blocklist_recipients reads user@ for local users only
                reasons.append(facts.ANY_DOMAIN_USER.format(match=match))
                inline += [(f"{match}{domain}", value) for domain in relay_domains]
        else:
            tag = "Spam:" if recipient.action == "permit" else "To:"
            users = [entry for entry in recipient.file.entries if entry.endswith("@")]
            if users:  # as inline user@ rules: spelt out per relay domain, declared for other domains
                reasons.append(facts.ANY_DOMAIN_USER.format(match=f"each user@ entry of {recipient.file.name}"))
            entries.append(_address_entry(tag, recipient, value))
            entries += [(f"{tag}{user}{domain}", value) for user in users for domain in relay_domains]
        _approximated(coverage, element, reasons)
    return entries + [(f"{'Spam:' if value == 'FRIEND' else 'To:'}{key}", value)
                      for key, value in first_match_keys(inline)]


def _address_entry(tag: str, rule: AddressRule | AddressFile, value: str) -> Entry:
    if isinstance(rule, AddressFile):
        return Block([address_key(entry) for entry in rule.file.entries], value, prefix=tag)
    return f"{tag}{address_key(rule.match)}", value


def _connect_entries(tag: str, networks: Iterable[Network], decided: list[Decided], trusted: Sequence[Network]
                     ) -> list[Entry]:
    """``tag`` keys for ``networks``, each with the value first match wins gives all of its addresses.

    Sendmail follows the longest key, not the file order: so each key carries the decision of the
    first client rule whose network holds all of it, which makes the longest key give the first match.
    A key inside a ``trusted`` network relays whatever a rule decides (the contract's relay decision
    comes first; the client re-check applies the rule); a refusing key is left to the re-check."""
    entries: list[Entry] = []
    for network in networks:
        for key, subnet in _connect_subnets(network):
            value = _connect_value(subnet, decided, trusted)
            if value is not None:
                entries.append((f"{tag}{key}", value))
    return entries


def _connect_value(subnet: Network, decided: list[Decided], trusted: Sequence[Network]) -> str | None:
    """RELAY inside a trusted network; else the first covering rule's value (None: a refusal, when the
    key is a Connect: key: the re-check's ClientRule: keys hold it)."""
    if any(within(subnet, network) for network in trusted):
        return "RELAY"
    action, value = first_within(subnet, decided) or ("permit", "OK")
    return value if action == "permit" or not trusted else None


def _host_entries(tag: str, hosts: Sequence[str], own: Decision, decided: list[Decided],
                  trusted: Sequence[Network]) -> list[Entry]:
    """A list file's single addresses: one block, except those an earlier rule or a trusted network decides
    (the same choice of value as :func:`_connect_value`)."""
    split = split_hosts(hosts, own, decided, trusted, lambda decision: True)
    keep = not trusted  # ClientRule: keys keep every value; Connect: keys only permits
    lines: list[Entry] = [(f"{tag}{host}", "RELAY" if relayed else value)
                          for host, (action, value), relayed in split.decided
                          if relayed or keep or action == "permit"]
    return [*lines, Block(split.plain, own[1], prefix=tag)] if keep or own[0] == "permit" else lines


def _first_match_wins(entries: Sequence[Entry]) -> tuple[list[tuple[str, str]], list[Block]]:
    """Keep the first entry of each key, as the policy's lists are first-match-wins.

    Keys are compared without case, per tag (``connect:``, ``from:``, …); a block's keys are
    already lower case, and are checked against the keys before them with set operations."""
    seen: dict[str, set[str]] = {}
    lines: list[tuple[str, str]] = []
    blocks: list[Block] = []
    for entry in entries:
        if isinstance(entry, Block):
            taken = seen.setdefault(entry.prefix.lower(), set())
            keys = entry.keys if taken.isdisjoint(entry.keys) else [k for k in entry.keys if k not in taken]
            taken.update(keys)
            blocks.append(replace(entry, keys=keys))
            continue
        tag, colon, rest = entry[0].partition(":")
        taken = seen.setdefault(f"{tag}{colon}".lower(), set())
        if rest.lower() not in taken:
            taken.add(rest.lower())
            lines.append(entry)
    return lines, blocks


def connect_keys(network: Network) -> list[str]:
    """Access-map keys covering exactly ``network``: whole octets (IPv4) or groups (IPv6, IPv6: prefix)."""
    return [key for key, _ in _connect_subnets(network)]


def _connect_subnets(network: Network) -> list[tuple[str, Network]]:
    """Each access-map key for ``network`` with the subnet it stands for."""
    if network.version == 6:
        step = 16
        # A key has at least one group (octet): "IPv6:" or "0" alone would match one block, not all.
        prefix = max(step, (network.prefixlen + step - 1) // step * step)
        return [(_ipv6_key(sub, sub.prefixlen), sub) for sub in _subnets(network, prefix)]
    prefix = max(8, (network.prefixlen + 7) // 8 * 8)
    keys: list[tuple[str, Network]] = []
    for sub in _subnets(network, prefix):
        octets = canonical.address(sub.network_address).split(".")
        keys.append((".".join(octets[: max(sub.prefixlen // 8, 1)]) if sub.prefixlen < 32 else ".".join(octets), sub))
    return keys


def _subnets(network: ipaddress.IPv4Network | ipaddress.IPv6Network, prefix: int
             ) -> list[ipaddress.IPv4Network] | list[ipaddress.IPv6Network]:
    if network.prefixlen == prefix:
        return [network]  # type: ignore[return-value]
    return list(network.subnets(new_prefix=prefix))  # type: ignore[return-value]


def _ipv6_key(network: ipaddress.IPv4Network | ipaddress.IPv6Network, prefix: int) -> str:
    groups = ipaddress.IPv6Address(canonical.address(network.network_address)).exploded.split(":")
    kept = groups[: prefix // 16] if prefix < 128 else groups
    return "IPv6:" + ":".join(g.lstrip("0") or "0" for g in kept)
