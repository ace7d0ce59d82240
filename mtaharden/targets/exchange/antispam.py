"""The antispam agents: Sender and Recipient Filter lists, IP block list providers (DNSBLs).

An agent list may only take a rejection no earlier permit exempts, since an agent refuses before any transport
rule could spare the message. The DNSBL step records each entry's coverage as it writes (or cannot write) it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...policy import Policy
from ...policy.model import DnsblEntry
from ..kit.address_parts import overlap, parts
from ..kit.coverage import Recorder
from ..kit.dnsbl import return_codes
from ..kit.placeholders import Placeholder, fill, pieces
from .capabilities import ACCESS_STAGES, IP_MATCH_LIMIT, NO_DEFER, NO_MAILBOX_DNSBL, REJECTION_RESPONSE_MAX
from .domains import object_name
from .powershell import Settings
from .rules import patterns


@dataclass(frozen=True)
class MailboxAntispam:
    """The antispam agents the Mailbox section needs on every Mailbox server, and their settings."""

    agents: tuple[str, ...]
    sender_filter: Settings


def sender_filter(policy: Policy) -> Settings | None:
    """Sender Filter settings for the rejected senders no earlier permit exempts (None: nothing to block)."""
    senders = [parts(match) for match in unexempted(policy, "senders")]
    addresses = [f"{local}@{domain}" for local, domain in senders if local and domain]
    domains = [domain for local, domain in senders if not local and domain]
    if not addresses and not domains:
        return None
    return (("Enabled", True), ("ExternalMailEnabled", True), ("InternalMailEnabled", False), ("Action", "Reject"),
            ("BlockedSenders", addresses or None), ("BlockedDomains", domains or None))


def recipient_filter(policy: Policy) -> Settings | None:
    """Recipient Filter settings for the rejected full addresses no earlier permit exempts (Edge only)."""
    recipients = [match for match in unexempted(policy, "recipients") if all(parts(match))]
    if not recipients:
        return None
    return (("Enabled", True), ("ExternalMailEnabled", True), ("BlockListEnabled", True),
            ("BlockedRecipients", recipients))


def unexempted(policy: Policy, stage: str) -> list[str]:
    """Rejections no earlier permit can exempt (in Postfix's order), so an agent's block list may take them.

    A recipients permit before the senders stage exempts the whole message; one in the same stage only
    the addresses both patterns match. Client permits need no care: the IP Allow list exempts a client
    from every other antispam agent, as a Postfix client permit does.
    """
    if any(r.action == "permit" for s in ACCESS_STAGES[1:ACCESS_STAGES.index(stage)]
           for r in getattr(policy.access, s)):
        return []
    permitted: list[str] = []
    refused: list[str] = []
    for rule in getattr(policy.access, stage):
        if rule.action == "permit":
            permitted += patterns(rule)
        else:
            refused += [match for match in patterns(rule) if not any(overlap(p, match) for p in permitted)]
    return refused


def bypassed_recipients(policy: Policy) -> list[str]:
    """Recipients permitted before any DNSBL check, as full addresses (``user@`` once per own domain)."""
    domains = [d for d in (*policy.domains.local, *policy.domains.relay) if not d.startswith(".")]
    addresses: list[str] = []
    for match in (m for rule in policy.access.recipients if rule.action == "permit" for m in patterns(rule)):
        local, domain = parts(match)
        if local:
            addresses += [f"{local}@{d}" for d in ([domain] if domain else domains)]
    return list(dict.fromkeys(addresses))


def providers(policy: Policy, rec: Recorder, *, edge: bool) -> tuple[Settings, ...]:
    """An IP block list provider per DNSBL entry Edge can express (none on Mailbox servers)."""
    found: list[Settings] = []
    for index, entry in enumerate(policy.dnsbl):
        element = f"dnsbl[{index}]"
        if not edge:
            rec.unsupported(element, f"Mailbox servers cannot query {entry.zone}: {NO_MAILBOX_DNSBL}")
            continue
        codes = return_codes(entry.filters, IP_MATCH_LIMIT)
        if codes is None:
            rec.unsupported(element, f"filter {', '.join(entry.filters)} matches more than {IP_MATCH_LIMIT} return "
                            "codes, which -IPAddressesMatch must list one by one")
            continue
        how = (f"Edge: IP block list provider for lookup domain {entry.zone} (-IPAddressesMatch "
               f"{', '.join(entry.filters)}, AnyMatch and BitmaskMatch reset; one provider per lookup domain); "
               "permitted clients and recipients bypass it")
        differs = [note for note, applies in ((NO_DEFER, entry.action == "defer"),
                                              ("the reply cannot name the client",
                                               Placeholder("client") in pieces(entry.message)))
                   if applies]
        if differs:
            rec.approximated(element, f"{how}; {'; '.join(differs)}")
        else:
            rec.enforced(element, how)
        found.append(_provider(entry, index + 1, codes))
    return tuple(found)


def _provider(entry: DnsblEntry, priority: int, codes: tuple[str, ...]) -> Settings:
    text = fill(entry.message, {"zone": entry.zone, "client": "your address"})
    return (
        ("Name", object_name(entry.zone)),
        ("LookupDomain", entry.zone),
        ("AnyMatch", False),  # an earlier AnyMatch or BitmaskMatch would make any answer (127.255.255.x too) a hit
        ("BitmaskMatch", None),
        ("IPAddressesMatch", list(codes)),
        ("RejectionResponse", text[:REJECTION_RESPONSE_MAX]),
        ("Priority", priority),
        ("Enabled", True),
    )
