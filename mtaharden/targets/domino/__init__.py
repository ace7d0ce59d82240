"""HCL Domino 12/14 (formerly IBM Lotus Domino): a checklist for the Domino Administrator, and its coverage.

Domino's SMTP controls live in Notes documents (the Configuration Settings and Server documents), which
mtaharden cannot write, so the output is GUIDE.md: each tab in click order with the policy's values (the
checklist data of :mod:`..kit.checklist`), and COVERAGE.md. No daemon here, so no Ansible role.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from ...policy import Policy, canonical
from ..base import register
from ..kit.address_parts import parts
from ..kit.checklist import ChecklistTarget, Section, Step
from ..kit.coverage import Recorder
from ..kit.placeholders import fill
from . import capabilities as cap


@register
class DominoTarget(ChecklistTarget):
    name = "domino"
    description = "HCL Domino 12/14 (Domino Administrator checklist)"

    product, short, console = "HCL Domino 12/14", "Domino", "the Domino Administrator"

    def sections(self, policy: Policy, rec: Recorder) -> Sequence[Section]:
        sections = (_relay(policy, rec), _connections(policy, rec), _senders(policy, rec), _dnsbl(policy, rec),
                    _commands(policy, rec), _ports(policy, rec))
        _record_gaps(policy, rec)
        return sections


def host(network: str) -> str:
    """A network as Domino's host lists write it: ``[address]``, octet wildcards, else CIDR in brackets."""
    parsed = ipaddress.ip_network(network)
    if parsed.prefixlen == parsed.max_prefixlen:
        return f"[{parsed.network_address}]"
    if parsed.version == 4 and parsed.prefixlen % 8 == 0 and parsed.prefixlen:
        kept = str(parsed.network_address).split(".")[: parsed.prefixlen // 8]
        return "[" + ".".join(kept + ["*"] * (4 - len(kept))) + "]"
    return f"[{parsed}]"


def _relay(policy: Policy, rec: Recorder) -> Section:
    trusted = tuple(host(canonical.network(n)) for n in policy.networks.trusted)
    exact = all(h.count("/") == 0 and ":" not in h for h in trusted)
    rec.approximated("networks.trusted", cap.RELAY if exact else f"{cap.RELAY}; {cap.WILDCARD}")
    rec.approximated("domains.local", cap.LOCAL)
    steps = [Step("Perform Anti-Relay enforcement for these connecting hosts", ("All connecting hosts",)),
             Step("Allow messages only from the following Internet hosts to be sent to external Internet domains",
                  trusted),
             Step("Deny messages from the following Internet hosts to be sent to external Internet domains", ("*",),
                  "every host not allowed above; unverified for Domino 12/14")]
    if policy.domains.relay:
        rec.approximated("domains.relay", cap.RELAY_DOMAINS)
        steps.append(Step("Allow messages to be sent only to the following external internet domains",
                          tuple(policy.domains.relay), "wording unverified"))
    if policy.auth.enabled:
        steps.append(Step("Exceptions for authenticated users", ("Allow all authenticated users to relay",)))
    steps.append(Step("local Internet domains to check (Global Domain document)", tuple(policy.domains.local)))
    return Section(f"{cap.CONFIG}: Inbound Relay Controls and Enforcement", tuple(steps))


def _connections(policy: Policy, rec: Recorder) -> Section:
    denied: list[str] = []
    for index, item in enumerate(policy.access.clients):
        match = getattr(item, "match", None)
        networks = [canonical.network(match)] if match is not None else item.file.entries  # type: ignore[union-attr]
        if item.action == "permit":
            rec.unsupported(f"access.clients[{index}]", cap.NO_PERMIT)
            continue
        rec.approximated(f"access.clients[{index}]", cap.CLIENTS if item.action == "reject" else cap.DEFER)
        denied += [host(str(ipaddress.ip_network(n))) for n in networks]
    steps = (Step("Deny connections from the following SMTP internet host names/IP addresses", tuple(denied)),)
    return Section(f"{cap.CONFIG}: Inbound Connection Controls", steps if denied else ())


def _senders(policy: Policy, rec: Recorder) -> Section:
    denied: list[str] = []
    for index, item in enumerate(policy.access.senders):
        found = _sender_entries(item)
        if item.action == "permit" or not found:
            rec.unsupported(f"access.senders[{index}]", cap.NO_PERMIT)
            continue
        rec.approximated(f"access.senders[{index}]", cap.SENDERS if item.action == "reject" else cap.DEFER)
        denied += found
    steps = (Step("Deny messages from the following Internet addresses/domains", tuple(denied)),)
    return Section(f"{cap.CONFIG}: Inbound Sender Controls", steps if denied else ())


def _sender_entries(item: object) -> list[str]:
    """The deny list spells an address as user@domain and a domain as itself; an item with a user@ entry has
    none (half a list file would refuse less than the policy says, silently)."""
    match = getattr(item, "match", None)
    found = [parts(p) for p in ([match] if match is not None else item.file.entries)]  # type: ignore[attr-defined]
    if any(domain is None for _, domain in found):
        return []
    return [f"{user}@{domain}" if user else str(domain) for user, domain in found]


def _dnsbl(policy: Policy, rec: Recorder) -> Section:
    if not policy.dnsbl:
        return Section("DNS Blacklist Filters", ())
    rec.approximated("dnsbl", cap.DNSBL)
    first = policy.dnsbl[0]
    reply = fill(first.message, {"zone": first.zone, "client": "%s"})
    return Section(f"{cap.CONFIG}: DNS Blacklist Filters", (
        Step("DNS Blacklist filters", ("Enabled",)),
        Step("DNS Blacklist sites", tuple(entry.zone for entry in policy.dnsbl)),
        Step("Desired action when a connecting host is found in a DNS Blacklist", ("Log and reject message",)),
        Step("Custom SMTP error response for rejected messages", (reply,), "Domino puts the address at %s; "
             "one text for all zones: the first zone's message"),
    ))


def _commands(policy: Policy, rec: Recorder) -> Section:
    steps = []
    if policy.smtp.disable_vrfy:
        rec.approximated("smtp.disable_vrfy", cap.VRFY)
        steps.append(Step("VRFY command", ("Disabled",)))
    if policy.smtp.disable_expn:
        rec.approximated("smtp.disable_expn", cap.EXPN)
        steps.append(Step("EXPN command", ("Disabled",)))
    return Section("Configuration Settings document > Router/SMTP > Advanced > Commands and Extensions",
                   tuple(steps))


def _ports(policy: Policy, rec: Recorder) -> Section:
    if not policy.auth.enabled:
        return Section("Server document > Ports > Internet Ports > Mail", ())
    rec.approximated("auth", cap.AUTH)
    if policy.auth.require_tls:
        rec.approximated("auth.require_tls", cap.AUTH_TLS)
    plain = "No" if policy.auth.require_tls else "Yes"
    return Section("Server document > Ports > Internet Ports > Mail (SMTP Inbound column)", (
        Step("Authentication options: Name & password (TCP/IP port)", (plain,)),
        Step("Authentication options: Name & password (SSL port)", ("Yes",)),
    ))


def _record_gaps(policy: Policy, rec: Recorder) -> None:
    for element in ("hostname", "role"):
        if not rec.covers(element):
            rec.approximated(element, cap.INSTALLATION)
    for stage in ("helo", "recipients"):
        if getattr(policy.access, stage):
            rec.unsupported(f"access.{stage}", cap.UNVERIFIED)
    if policy.header_checks:
        rec.unsupported("header_checks", cap.NO_HEADERS)
    rec.unsupported("smtp.max_recipients", cap.RECIPIENTS)
    if policy.auth.enabled:
        rec.unsupported("auth.mechanisms", cap.UNVERIFIED)
    for element in ("smtp.banner", "smtp.require_helo", "smtp.strict_envelopes", "smtp.max_message_size",
                    "smtp.max_connections_per_client",
                    "smtp.bare_newlines", "smtp.bare_newlines_exempt_trusted"):
        rec.unsupported(element, cap.UNVERIFIED)
    if policy.tls is not None:
        rec.unsupported("tls.min_protocol", cap.UNVERIFIED)
    rec.unsupported_rest(policy, cap.UNVERIFIED)  # what no step above sets: said, never dropped
