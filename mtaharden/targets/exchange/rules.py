"""Transport rules: header checks first (no access permit may skip them), then the access rules in Postfix's order.

Mailbox rules run after the message was accepted, so a rejection is a deletion: an NDR would go to the (often
forged) sender. No rule stops rule processing, which would also exempt the message from the organization's own
later rules; first match wins because each rejection lists every earlier permit as an exception. Each step
records the coverage of the rules it writes (or cannot write).
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeGuard

from ...policy import Policy, canonical
from ...policy.model import AddressFile, AddressRule, ClientFile, ClientRule, HeaderCheck
from ..kit.address_parts import parts
from ..kit.coverage import Recorder
from ..kit.escape import Unexpressible
from .capabilities import (
    ACCESS_STAGES,
    AFTER_ACCEPTANCE,
    EDGE_HEADER_ACTIONS,
    LIST_FILE_MAX,
    NO_HELO_CONTROL,
    NO_HOLD,
    RULE_PREFIX,
)
from .dotnet_regex import dotnet_regex
from .powershell import Settings

EXCEPTION = {"SenderIpRanges": "ExceptIfSenderIpRanges",
             "FromAddressMatchesPatterns": "ExceptIfFromAddressMatchesPatterns",
             "RecipientAddressMatchesPatterns": "ExceptIfRecipientAddressMatchesPatterns"}
CONDITION = {"clients": "SenderIpRanges", "recipients": "RecipientAddressMatchesPatterns",
             "senders": "FromAddressMatchesPatterns on the envelope sender"}
EDGE_FILTER = {"clients": "IP Block and Allow list entries (the allow list wins)",
               "senders": "Sender Filter for rejected addresses and domains no earlier permit exempts",
               "recipients": "Recipient Filter for rejected addresses no earlier permit exempts"}
AccessRule = ClientRule | ClientFile | AddressRule | AddressFile


@dataclass(frozen=True)
class TransportRule:
    """A mail flow rule; its ``Comments`` fingerprint lets the script replace it only when it changed."""

    name: str
    settings: Settings


@dataclass(frozen=True)
class HeaderRules:
    """The header checks as Mailbox transport rules and (Edge deployment) Edge rules."""

    mailbox: tuple[TransportRule, ...]
    edge: tuple[TransportRule, ...]


def header_rules(policy: Policy, rec: Recorder, *, edge: bool) -> HeaderRules:
    """One rule per header check Exchange can carry out: on Edge, in the SMTP session, if ``edge``."""
    mailbox: list[TransportRule] = []
    in_session: list[TransportRule] = []
    for index, check in enumerate(policy.header_checks):
        element = f"header_checks[{index}]"
        try:
            pattern = dotnet_regex(check.pattern)
        except Unexpressible as exc:
            rec.unsupported(element, f"pattern has no .NET equivalent: {exc}")
            continue
        if check.action == "hold":
            rec.unsupported(element, NO_HOLD)
            continue
        condition: Settings = (("HeaderMatchesMessageHeader", check.header), ("HeaderMatchesPatterns", [pattern]))
        rule = f"HeaderMatchesMessageHeader {check.header}, HeaderMatchesPatterns (.NET regex)"
        if edge and check.action in EDGE_HEADER_ACTIONS:
            in_session.append(_rule(element, (*condition, *_edge_action(check))))
            action = ("SmtpRejectMessageRejectText: refused in the SMTP session at end of DATA"
                      if check.action == "reject" else "DeleteMessage")
            rec.enforced(element, f"Edge rule '{RULE_PREFIX}{element}' on each Edge Transport server: {rule}; {action}")
        elif check.action == "warn":
            mailbox.append(_rule(element, (*condition, ("RejectMessageReasonText", check.message or "header check"),
                                           ("Mode", "Audit"))))
            rec.enforced(element, f"transport rule '{RULE_PREFIX}{element}': {rule}; Mode Audit: logged in message "
                         "tracking, not acted on")
        else:
            mailbox.append(_rule(element, (*condition, ("DeleteMessage", True))))
            how = f"transport rule '{RULE_PREFIX}{element}' on the Mailbox servers: {rule}; DeleteMessage"
            if check.action == "reject":
                rec.approximated(element, f"{how}; Mailbox rules run after the message was accepted: it is deleted "
                                 "without an NDR (which would go to the often forged sender), not refused; an Edge "
                                 "deployment refuses it")
            else:
                rec.enforced(element, how)
    return HeaderRules(tuple(mailbox), tuple(in_session))


def _edge_action(check: HeaderCheck) -> Settings:
    if check.action == "reject":
        return (("SmtpRejectMessageRejectText", check.message or "message content rejected"),)
    return (("DeleteMessage", True),)


def access_rules(policy: Policy, rec: Recorder, *, edge: bool,
                 mailbox_sender_filter: bool) -> tuple[TransportRule, ...]:
    """The access rules as transport rules in Postfix's order, each rejection excepting the earlier permits.

    ``mailbox_sender_filter``: the Mailbox Sender Filter agent also refuses rejected senders at MAIL FROM.
    """
    if policy.access.helo:
        rec.unsupported("access.helo", NO_HELO_CONTROL)
    rules: list[TransportRule] = []
    permits: list[Settings] = []
    for stage in ACCESS_STAGES:
        stage_rules: Sequence[AccessRule] = getattr(policy.access, stage)
        if stage_rules:
            _record_stage(policy, rec, stage, stage_rules, edge=edge, mailbox_sender_filter=mailbox_sender_filter)
        for index, rule in enumerate(stage_rules):
            element = f"access.{stage}[{index}]"
            if too_long(rule):
                rec.unsupported(element, f"{len(rule.file)} entries in {rule.file.name}: Exchange limits the size of "
                                "a transport rule, and a cmdlet script is no way to load a long list (mtaharden "
                                f"writes up to {LIST_FILE_MAX}); filter with such lists upstream of Exchange")
                continue
            condition = _access_condition(stage, rule)
            if rule.action == "permit":
                rules.append(_rule(element, (*condition, ("SetSCL", -1))))
                permits.append(condition)
            else:
                rules.append(_rule(element, (*condition, *_exceptions(permits), ("DeleteMessage", True))))
    return tuple(rules)


def _record_stage(policy: Policy, rec: Recorder, stage: str, rules: Sequence[AccessRule], *, edge: bool,
                  mailbox_sender_filter: bool) -> None:
    element = f"access.{stage}"
    how = (f"transport rules '{RULE_PREFIX}{element}[n]' ({CONDITION[stage]}) in policy order, each rejection "
           "excepting the earlier permits; permit sets SCL -1")
    if edge:
        how += f"; Edge: {EDGE_FILTER[stage]}, refused in the SMTP session"
    elif stage == "senders" and mailbox_sender_filter:
        how += ("; Mailbox Sender Filter agent for rejected addresses and domains no earlier permit exempts, "
                "refused at MAIL FROM")
    differs = [AFTER_ACCEPTANCE]
    if stage == "recipients":
        differs.append("RecipientAddressMatchesPatterns sees primary addresses only, not proxy addresses")
    if any(r.action == "defer" for r in rules):
        differs.append("defer refuses or deletes (Exchange cannot defer)")
    if stage == "clients" and any(n.version == 6 for r in rules if isinstance(r, ClientRule | ClientFile)
                                  for n in networks(r)):
        differs.append("Microsoft documents IPv4 ranges only for SenderIpRanges")
    rec.approximated(element, f"{how}; {'; '.join(differs)}")


def _access_condition(stage: str, rule: AccessRule) -> Settings:
    if isinstance(rule, ClientRule | ClientFile):
        return (("SenderIpRanges", [canonical.network(n) for n in networks(rule)]),)
    if stage == "recipients":
        return (("RecipientAddressMatchesPatterns", [address_regex(m) for m in patterns(rule)]),)
    return (("FromAddressMatchesPatterns", [address_regex(m) for m in patterns(rule)]),
            ("SenderAddressLocation", "Envelope"))


def _exceptions(permits: Sequence[Settings]) -> Settings:
    """The earlier permits' conditions as one rule's exceptions (any exception spares the message)."""
    merged: dict[str, list[str]] = {}
    for key, values in (item for condition in permits for item in condition if item[0] in EXCEPTION):
        assert isinstance(values, list)
        merged.setdefault(EXCEPTION[key], []).extend(v for v in values if v not in merged.get(EXCEPTION[key], []))
    location = (("SenderAddressLocation", "Envelope"),) if "ExceptIfFromAddressMatchesPatterns" in merged else ()
    return (*merged.items(), *location)


def too_long(rule: object) -> TypeGuard[ClientFile | AddressFile]:
    """A list file with more entries than one transport rule should carry (see LIST_FILE_MAX)."""
    return isinstance(rule, ClientFile | AddressFile) and len(rule.file) > LIST_FILE_MAX


def networks(rule: ClientRule | ClientFile) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    if isinstance(rule, ClientRule):
        return [rule.match]
    return [] if too_long(rule) else [ipaddress.ip_network(entry) for entry in rule.file.entries]


def patterns(rule: AddressRule | AddressFile) -> Sequence[str]:
    if isinstance(rule, AddressRule):
        return [rule.match]
    return [] if too_long(rule) else rule.file.entries


def _rule(element: str, settings: Settings) -> TransportRule:
    fingerprint = hashlib.sha256(repr(settings).encode()).hexdigest()[:16]
    return TransportRule(RULE_PREFIX + element, (*settings, ("Comments", f"mtaharden {fingerprint}")))


def address_regex(match: str) -> str:
    """A policy address pattern as an anchored, case-insensitive .NET regex over the whole address."""
    local, domain = parts(match)
    if domain is None:
        return f"(?i)^{re.escape(local or '')}@"
    return f"(?i){'^' + re.escape(local) if local else ''}@{re.escape(domain)}$"
