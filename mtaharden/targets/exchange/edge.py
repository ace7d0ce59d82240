"""The Edge section: connection-time filtering on Edge Transport servers, for what their agents express faithfully."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from ...policy import Policy, canonical
from .antispam import bypassed_recipients, recipient_filter
from .connectors import Connector, Limits
from .powershell import Settings
from .rules import TransportRule, networks


@dataclass(frozen=True)
class EdgeSection:
    """What the Edge section sets on each Edge Transport server (None: leave that part alone)."""

    connector: Connector
    agents: tuple[str, ...]
    rules: tuple[TransportRule, ...]
    providers: tuple[Settings, ...]
    providers_config: Settings | None
    block_list: tuple[Settings, ...]
    allow_list: tuple[Settings, ...]
    sender_filter: Settings | None
    recipient_filter: Settings | None


def edge_section(policy: Policy, shared: Limits, rules: tuple[TransportRule, ...], providers: tuple[Settings, ...],
                 sender_filter: Settings | None) -> EdgeSection:
    """The Edge section from the steps that decided its parts (header rules, providers, the sender filter)."""
    access = policy.access
    recipients = recipient_filter(policy)
    agents = [name for name, used in (("Connection Filtering Agent", bool(access.clients or policy.dnsbl)),
                                      ("Sender Filter Agent", sender_filter is not None),
                                      ("Recipient Filter Agent", recipients is not None)) if used]
    return EdgeSection(
        connector=Connector((("RequireTLS", policy.tls is not None and policy.tls.inbound == "encrypt"),
                             *shared.of(internet=True))),
        agents=tuple(agents),
        rules=rules,
        providers=providers,
        providers_config=(("Enabled", True), ("ExternalMailEnabled", True), ("InternalMailEnabled", False),
                          ("BypassedRecipients", bypassed_recipients(policy) or None)) if policy.dnsbl else None,
        block_list=tuple(_ip_entry(n) for r in access.clients if r.action != "permit" for n in networks(r)),
        allow_list=tuple(_ip_entry(n) for r in access.clients if r.action == "permit" for n in networks(r)),
        sender_filter=sender_filter,
        recipient_filter=recipients,
    )


def _ip_entry(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> Settings:
    text = canonical.network(network)
    return (("IPRange", text), ("Comment", f"mtaharden access.clients {text}"))
