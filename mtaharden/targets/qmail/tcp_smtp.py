"""tcp.smtp: the policy's client rules and trusted networks as tcprules keys, and what tcpserver makes of them.

Relaying is granted only by RELAYCLIENT, which tcp.smtp sets for trusted networks (and the AUTH patch after
a login). The order follows Postfix's smtpd_recipient_restrictions: a client rule beats a trusted network,
and a trusted or permitted client skips the DNSBL (``RBLSMTPD=""``). IPv4 only: ucspi-tcp 0.88 neither
listens on nor matches IPv6, so IPv6 entries are recorded as not written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ...policy import Policy, canonical
from ...policy.model import ClientFile, ClientRule
from ..base import Block, PlannedFile
from ..kit.coverage import Recorder
from ..kit.shadowing import split_hosts
from .capabilities import note
from .tcprules import IPv4Network, Outcome, Rule, compile_rules, tcprules_value

DEFER_TEXT = "Try again later"
Client = tuple[int, ClientRule | ClientFile, IPv4Network]
Env = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class TcpRules:
    """tcp.smtp.j2: the compiled rules, then list files' single addresses in bulk (reason, block)."""

    rules: Sequence[Rule]
    hosts: Sequence[tuple[str, Block]]


def trusted_networks(policy: Policy, rec: Recorder) -> list[tuple[int, IPv4Network]]:
    """The trusted networks tcp.smtp gets RELAYCLIENT for (IPv4), by policy index."""
    note(rec, "networks.trusted", "always")
    kept = []
    for index, network in enumerate(policy.networks.trusted):
        if isinstance(network, IPv4Network):
            kept.append((index, network))
        else:
            note(rec, f"networks.trusted[{index}]", "ipv6", network=canonical.network(network))
    return kept


def client_networks(policy: Policy, rec: Recorder, refused_senders: Sequence[str]) -> list[Client]:
    """Every client rule's IPv4 networks (a list file's networks, not its single addresses), by policy index.

    Records per rule how tcpserver and rblsmtpd fall short of it; ``refused_senders``: badmailfrom's lines,
    which a permitted client still meets.
    """
    clients: list[Client] = []
    if policy.access.clients:
        note(rec, "access.clients", "tcprules")
    for index, rule in enumerate(policy.access.clients):
        networks = rule.file.networks if isinstance(rule, ClientFile) else [rule.match]
        clients += [(index, rule, n) for n in networks if isinstance(n, IPv4Network)]
        ipv6 = [n for n in networks if n.version == 6]
        element = f"access.clients[{index}]"
        if ipv6:
            what = f"{rule.match} is" if isinstance(rule, ClientRule) else \
                f"{len(ipv6)} IPv6 entries of {rule.file.name} are"
            note(rec, element, "ipv6", what=what)
        elif rule.action == "defer":
            note(rec, element, "defer")
        elif rule.action == "reject" and not rule.message:
            note(rec, element, "drop")
        elif rule.action == "permit" and refused_senders:
            note(rec, element, "badmailfrom")
    return clients


def answers_with_text(policy: Policy) -> bool:
    """Whether a client rule tcp.smtp writes answers with text (RBLSMTPD), so rblsmtpd must run even without a
    DNSBL: a rule with an IPv4 network, or a list file with only single IPv4 addresses, that defers or
    rejects with a message."""
    return any((rule.action == "defer" or (rule.action == "reject" and rule.message)) and _in_tcp_smtp(rule)
               for rule in policy.access.clients)


def _in_tcp_smtp(rule: ClientRule | ClientFile) -> bool:
    if isinstance(rule, ClientRule):
        return isinstance(rule.match, IPv4Network)
    return bool(rule.file.ipv4_hosts) or any(isinstance(n, IPv4Network) for n in rule.file.networks)


def tcp_rules_file(policy: Policy, clients: list[Client], trusted: list[tuple[int, IPv4Network]],
                   rblsmtpd: bool) -> PlannedFile:
    """tcp.smtp: client rules (first match wins), then trusted networks, then everyone else.

    A list file's single addresses are exact keys, the longest there are, written in bulk beside the rules.
    """
    skip_dnsbl: Env = (("RBLSMTPD", ""),) if rblsmtpd else ()
    hosts, exact = _file_hosts(policy, clients, trusted, skip_dnsbl)
    clients = sorted([*clients, *exact], key=lambda client: client[0])  # decide() walks them in policy order

    def decide(block: IPv4Network) -> tuple[Outcome, str]:
        relay = next((f"networks.trusted[{i}] {canonical.network(n)}" for i, n in trusted if block.subnet_of(n)), None)
        for index, rule, network in clients:
            if block.subnet_of(network):
                outcome = _client_outcome(rule, relay is not None, skip_dnsbl)
                return outcome, f"access.clients[{index}] {canonical.network(network)}: {rule.action}"
        if relay is not None:
            return Outcome("allow", (("RELAYCLIENT", ""), *skip_dnsbl)), f"{relay}: may relay"
        # Without a DNSBL, rblsmtpd (if it runs) must look nothing up: upstream 0.88 has a default list.
        if policy.dnsbl:
            return Outcome("allow"), "every other client, checked against the DNSBLs"
        return Outcome("allow", skip_dnsbl), "every other client"

    rules = compile_rules([n for _, _, n in clients] + [n for _, n in trusted], decide)
    return PlannedFile("tcp.smtp", "tcp.smtp.j2", TcpRules(rules, hosts))


def _file_hosts(policy: Policy, clients: list[Client], trusted: list[tuple[int, IPv4Network]],
                skip_dnsbl: Env) -> tuple[list[tuple[str, Block]], list[Client]]:
    """List files' IPv4 addresses: blocks of exact tcprules keys, grouped by outcome.

    An address inside an earlier rule's network gets that rule's outcome (first match wins, the kit's
    :func:`~..kit.shadowing.split_hosts`); one that a network narrower than /24 would also give a key of
    its own goes to the compiled rules instead (as a /32), so no key is written twice.
    """
    narrow = [n for n in [*(n for _, _, n in clients), *(n for _, n in trusted)] if n.prefixlen > 24]
    blocks: list[tuple[str, Block]] = []
    exact: list[Client] = []
    for index, rule in enumerate(policy.access.clients):
        if not isinstance(rule, ClientFile) or not rule.file.ipv4_hosts:
            continue
        earlier = [(n, (i, r)) for i, r, n in clients if i < index]
        split = split_hosts(rule.file.ipv4_hosts, (index, rule), earlier, [n for _, n in trusted],
                            lambda decider: decider[1].action == "permit", aside=narrow)
        exact += [(index, rule, IPv4Network(host)) for host in split.aside]
        groups = {(index, _client_outcome(rule, False, skip_dnsbl)): list(split.plain)}
        for host, (first_index, first_rule), relayed in split.decided:
            groups.setdefault((first_index, _client_outcome(first_rule, relayed, skip_dnsbl)), []).append(host)
        for (first_index, outcome), keys in groups.items():
            if not keys:
                continue
            value = "".join([outcome.verb, *(f",{name}={tcprules_value(text)}" for name, text in outcome.env)])
            reason = f"access.clients[{first_index}]: {len(keys)} address(es) of {rule.file.name}: " \
                     f"{policy.access.clients[first_index].action}"
            blocks.append((reason, Block(keys, value, separator=":")))
    return blocks, exact


def _client_outcome(rule: ClientRule | ClientFile, trusted: bool, skip_dnsbl: Env) -> Outcome:
    if rule.action == "reject":
        # rblsmtpd answers every RCPT with 553 and the text; without a text, drop the connection.
        return Outcome("allow", (("RBLSMTPD", f"-{rule.message}"),)) if rule.message else Outcome("deny")
    if rule.action == "defer":
        text = rule.message or DEFER_TEXT
        # A leading '-' would make rblsmtpd answer 553; a blank keeps it 451.
        return Outcome("allow", (("RBLSMTPD", f" {text}" if text.startswith("-") else text),))
    relay = (("RELAYCLIENT", ""),) if trusted else ()
    return Outcome("allow", (*relay, *skip_dnsbl))
