"""Exchange Server 2016/2019/SE: one idempotent Exchange Management Shell script, a checklist, coverage.

Exchange is configured through cmdlets, not files, so the "config" is ``harden.ps1``: every object is
read first and then created or changed, every change goes through ``ShouldProcess`` (so ``-WhatIf``
lists it), and an audit at the end fails on any open-relay configuration it can see. What no cmdlet
sets (SCHANNEL/.NET TLS, VRFY/EXPN) goes to ``GUIDE.md``. Every value in the script is written by
:func:`ps_value`, the one place that quotes for PowerShell.
"""

from __future__ import annotations

import hashlib
import ipaddress
import itertools
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from ..policy import Policy, canonical
from ..policy.model import AddressFile, AddressRule, ClientFile, ClientRule, DnsblEntry, HeaderCheck
from ..policy.pattern import (
    CLASS_SPECIAL,
    POSIX_CLASSES,
    Alternation,
    Any,
    Atom,
    Char,
    Group,
    Member,
    PatternError,
    Posix,
    Range,
    Repeat,
    Shorthand,
    WordBoundary,
    literal,
    parse,
    quantifier,
)
from .base import Coverage, Plan, PlannedFile, Target, coverage_file, register

# Ports that Exchange's own services hold on every Mailbox server.
RESERVED_PORTS = {465: "Client Proxy (Transport service)", 475: "Mailbox Transport Delivery",
                  717: "Outbound Proxy Frontend", 2525: "Default (Transport service)"}
SUBMISSION_PORT = 587
MESSAGE_SIZE_RANGE = (65536, 2147483647)  # what -MaxMessageSize accepts, in bytes
REJECTION_RESPONSE_MAX = 240  # -RejectionResponse of a block list provider
IP_MATCH_LIMIT = 256  # return codes a DNSBL filter may expand to in -IPAddressesMatch
RULE_PREFIX = "mtaharden "
ACCESS_STAGES = ("clients", "recipients", "senders")  # Postfix's evaluation order, HELO excepted
# A list file becomes one transport rule listing its entries; Exchange caps a rule's size
# (TransportRuleSizeLimit) and all rules' regex text (TransportRuleCollectionRegexCharacterLimit),
# and a cmdlet script is no way to load a long block list, so longer files are reported unsupported.
LIST_FILE_MAX = 100
# A trusted network this wide (per IP version) gets a warning: an unnamed server or load balancer in it
# would reach the anonymous relay connector (the most specific RemoteIPRanges wins).
WIDE_PREFIX = {4: 16, 6: 48}
ORG_SIZE_DEFAULT = 10 * 2**20  # the organization's MaxReceiveSize unless changed (message-size-limits.md)


# --- PowerShell values ------------------------------------------------------------------------


@dataclass(frozen=True)
class Variable:
    """A script variable (``$name``) used as a value, e.g. the server's FQDN known only at run time."""

    name: str


@dataclass(frozen=True)
class Concat:
    """Literal text and variables joined at run time: ``('220 ' + $fqdn + ' ESMTP')``."""

    parts: tuple[str | Variable, ...]


Value = str | int | bool | None | Variable | Concat | Sequence[str]
Settings = tuple[tuple[str, Value], ...]

_QUOTES = "'\u2018\u2019\u201a\u201b"  # PowerShell ends a verbatim string at any of these
_UNSAFE = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]")


def ps_value(value: Value) -> str:
    """A policy value as inert PowerShell: verbatim single-quoted strings (quotes doubled), lists, $true."""
    if value is None:
        return "$null"
    if isinstance(value, bool):
        return "$true" if value else "$false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Variable):
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", value.name):
            raise ValueError(f"not a PowerShell variable name: {value.name!r}")
        return f"${value.name}"
    if isinstance(value, Concat):
        return "(" + " + ".join(ps_value(part) for part in value.parts if part != "") + ")"
    if isinstance(value, str):
        if _UNSAFE.search(value):
            raise ValueError(f"refusing to write a control character into a PowerShell string: {value!r}")
        return "'" + "".join(c + c if c in _QUOTES else c for c in value) + "'"
    return "@(" + ", ".join(ps_value(item) for item in value) + ")"


def md_code(value: object) -> str:
    """Inline Markdown code for a policy value, fenced with more backticks than it contains."""
    text = str(value)
    if _UNSAFE.search(text):
        raise ValueError(f"refusing to write a control character into Markdown: {text!r}")
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    return f"{fence} {text} {fence}" if "`" in text else f"{fence}{text}{fence}"


# --- .NET regular expressions -----------------------------------------------------------------


class DialectError(ValueError):
    """A policy regex that has no .NET equivalent."""


# .NET's \d, \w and \s are Unicode classes and its . stops at a line break: the portable meanings
# (ASCII sets, . across the line breaks of a folded header) are spelled out.
DOTNET_SETS = {"d": "0-9", "w": "0-9A-Za-z_", "s": "\\t-\\r "}
DOTNET_SPECIAL = set("\\*+?|{}[]()^$.")  # space and # are special only under x, which is off


def dotnet_regex(text: str) -> str:
    """The policy pattern in .NET syntax, as transport rules read it, written from its syntax tree."""
    try:
        parsed = parse(text)
    except PatternError as exc:
        raise DialectError(str(exc)) from None
    return (("(?i)" if parsed.ignore_case else "") + ("^" if parsed.anchored_start else "")
            + _dotnet_alternation(parsed.body) + ("\\z" if parsed.anchored_end else ""))  # .NET's $ is PCRE2's


def _dotnet_alternation(node: Alternation) -> str:
    return "|".join("".join(_dotnet_item(item) for item in branch) for branch in node.branches)


def _dotnet_item(node: Atom | Repeat) -> str:
    if isinstance(node, Repeat):
        return _dotnet_item(node.node) + quantifier(node)
    if isinstance(node, Char):
        return _dotnet_text(node.char) if node.char > "\x7f" else literal(node.char, DOTNET_SPECIAL)
    if isinstance(node, Any):
        return "[\\s\\S]"
    if isinstance(node, Shorthand):
        return ("[^" if node.letter.isupper() else "[") + DOTNET_SETS[node.letter.lower()] + "]"
    if isinstance(node, WordBoundary):
        return "\\B" if node.negated else "\\b"
    if isinstance(node, Group):
        return "(?:" + _dotnet_alternation(node.body) + ")"
    return "[" + ("^" if node.negated else "") + "".join(_dotnet_member(m) for m in node.members) + "]"


def _dotnet_text(char: str) -> str:
    """Non-ASCII text as .NET \\uXXXX escapes (UTF-16 units): transport rules match the decoded header,
    and an ASCII script reads the same in Windows PowerShell 5.1 (ANSI without a BOM) and pwsh (UTF-8)."""
    data = char.encode("utf-16-be")
    return "".join(f"\\u{int.from_bytes(data[i:i + 2], 'big'):04X}" for i in range(0, len(data), 2))


def _dotnet_member(member: Member) -> str:
    if isinstance(member, Char):
        return literal(member.char, CLASS_SPECIAL)
    if isinstance(member, Range):
        return literal(member.low, CLASS_SPECIAL) + "-" + literal(member.high, CLASS_SPECIAL)
    if isinstance(member, Posix):
        return POSIX_CLASSES[member.name]
    if member.letter.isupper():
        raise DialectError(f"\\{member.letter} inside a class: .NET's own \\{member.letter} is a Unicode class and "
                           "the ASCII complement cannot be written inside brackets")
    return DOTNET_SETS[member.letter]


# --- the plan ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TransportRule:
    """A mail flow rule; its ``Comments`` fingerprint lets the script replace it only when it changed."""

    name: str
    settings: Settings


@dataclass(frozen=True)
class Reconcile:
    """A multivalued connector setting of which the policy owns some values.

    ``Set-ReceiveConnector`` replaces the whole value, so the script reads it first, adds the wanted
    values that are missing, removes the owned ones that are not wanted and keeps every value an
    administrator added (a Partners group, say); ``-WhatIf`` lists what it adds and removes.
    """

    name: str
    wanted: tuple[str, ...]
    owned: tuple[str, ...]


@dataclass(frozen=True)
class PortBindings:
    """The policy owns the port of a connector's bindings, not the interfaces: bindings on that port
    stay as they are (587 on one interface), and only when none is left does it bind all addresses."""

    port: int
    default: tuple[str, ...]


@dataclass(frozen=True)
class Connector:
    """A stock receive connector: single-valued settings assigned, multivalued ones reconciled."""

    settings: Settings
    reconcile: tuple[Reconcile, ...] = ()
    bindings: PortBindings | None = None


@dataclass(frozen=True)
class MailboxAntispam:
    """The antispam agents the Mailbox section needs on every Mailbox server, and their settings."""

    agents: tuple[str, ...]
    sender_filter: Settings


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


@register
class ExchangeTarget(Target):
    name = "exchange"
    description = "Exchange Server 2016/2019/SE (Exchange Management Shell script + checklist)"

    def plan(self, policy: Policy) -> Plan:
        options = policy.targets.exchange
        coverage = tuple(_coverage(policy))
        antispam = _mailbox_antispam(policy)
        size = _message_size(policy.smtp.max_message_size)[0]
        script = {
            "servers": list(options.servers),
            "hostname": policy.hostname,
            "trusted": [canonical.network(n) for n in policy.networks.trusted],
            "accepted_domains": _accepted_domains(policy),
            "relay_name": options.relay_connector,
            "relay": _relay_connector(policy),
            "relay_warnings": _relay_warnings(policy),
            "default_frontend": _default_frontend(policy),
            "client_frontend": _client_frontend(policy),
            "antispam": antispam,
            "size_bytes": _size_bytes(policy.smtp.max_message_size),
            "transport_rules": tuple(_transport_rules(policy)),
            "edge": _edge_section(policy) if _edge(policy) else None,
        }
        guide = {
            "policy": policy,
            "edge": _edge(policy),
            "host": policy.hostname or "mx.example.org",
            "servers": list(options.servers),
            "relay_domains": [_address_space(d) for d in policy.domains.relay],
            "message_size": size,
            "agents": antispam.agents if antispam else (),
            "trusted": [canonical.network(n) for n in policy.networks.trusted],
            "min_protocol": policy.tls.min_protocol if policy.tls else "not set",
            "gaps": [c for c in coverage if c.status != "enforced"],
        }
        files = (
            PlannedFile("harden.ps1", "harden.ps1.j2", script),
            PlannedFile("GUIDE.md", "GUIDE.md.j2", guide, comment="markdown"),
            coverage_file(self.name, coverage),
        )
        return Plan(self.name, files, (), coverage)

    def filters(self) -> Mapping[str, Callable[..., str]]:
        return {"ps": ps_value, "md": md_code, "network": canonical.network}


# --- receive connectors -----------------------------------------------------------------------

FQDN = Variable("fqdn")  # the script sets it per server: the policy's hostname, or the server's FQDN


def _message_size(size: int) -> tuple[str, bool]:
    """-MaxMessageSize text (Exchange's KB/MB are binary) and whether the policy value had to be clamped."""
    low, high = MESSAGE_SIZE_RANGE
    clamped = min(max(size, low), high)
    for unit, factor in (("MB", 2**20), ("KB", 2**10)):
        if clamped % factor == 0:
            return f"{clamped // factor}{unit}", clamped != size
    return f"{clamped}B", clamped != size


def _size_bytes(size: int) -> int:
    """The connector limit in bytes as Exchange takes it (clamped): the organization's must not be smaller."""
    low, high = MESSAGE_SIZE_RANGE
    return min(max(size, low), high)


def _limits(policy: Policy, *, internet: bool) -> Settings:
    """What every receive connector gets: its name in banner and EHLO reply, the limits and, facing the
    Internet only (clients and devices may say EHLO with a bare name), the EHLO and envelope checks."""
    smtp = policy.smtp
    pieces = smtp.banner.split("{hostname}")
    banner: tuple[str | Variable, ...] = ("220 " + pieces[0],)
    for piece in pieces[1:]:
        banner += (FQDN, piece)
    return (
        ("Fqdn", FQDN),
        ("Banner", Concat(banner)),
        ("MaxMessageSize", _message_size(smtp.max_message_size)[0]),
        ("MaxRecipientsPerMessage", smtp.max_recipients),
        ("MaxInboundConnectionPerSource", smtp.max_connections_per_client),
        *((("RequireEHLODomain", smtp.require_helo),
           ("RejectSingleLabelRecipientDomains", smtp.strict_envelopes)) if internet else ()),
    )


def _bindings(addresses: Sequence[str], port: int) -> list[str]:
    if not addresses:
        return [f"0.0.0.0:{port}", f"[::]:{port}"]
    return [f"[{a}]:{port}" if ":" in a else f"{a}:{port}" for a in map(canonical.address, addresses)]


def _edge(policy: Policy) -> bool:
    return policy.targets.exchange.deployment == "edge"


def _server_addresses(policy: Policy) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    return [ipaddress.ip_address(a) for a in policy.targets.exchange.server_addresses]


def _relay_ranges(policy: Policy) -> list[str]:
    """Trusted networks but loopback (the server itself, whose health probes need Default Frontend) and
    but the servers' own addresses: the most specific range wins, so an Exchange or Edge server or a load
    balancer inside a trusted range would otherwise reach the relay connector, anonymous, with relay rights."""
    ranges: list[str] = []
    for network in (n for n in policy.networks.trusted if not n.is_loopback):
        cut = sorted(a for a in _server_addresses(policy) if a in network)
        if not cut:
            ranges.append(canonical.network(network))
            continue
        low = int(network.network_address)
        for address in [*cut, None]:  # the spans between the cut addresses, as "first-last"
            high = int(network.broadcast_address) + 1 if address is None else int(address)
            if low < high:
                ranges.append(f"{_address(network, low)}-{_address(network, high - 1)}")
            low = high + 1
    return ranges


def _address(network: ipaddress.IPv4Network | ipaddress.IPv6Network, value: int) -> str:
    return str(ipaddress.ip_address(value) if network.version == 4 else ipaddress.IPv6Address(value))


def _inside_trusted(policy: Policy) -> list[str]:
    """The servers' own addresses that a trusted network holds (cut out of the relay connector)."""
    return [str(a) for a in _server_addresses(policy)
            if any(a in n for n in policy.networks.trusted if not n.is_loopback)]


def _wide(policy: Policy) -> list[str]:
    """Trusted networks of WIDE_PREFIX or wider, in which an unnamed server or load balancer may hide."""
    return [canonical.network(n) for n in policy.networks.trusted
            if not n.is_loopback and n.prefixlen <= WIDE_PREFIX[n.version]]


def _relay_warnings(policy: Policy) -> list[str]:
    """What the script says while it sets up the relay connector for a wide trusted range."""
    if not _relay_ranges(policy) or not _wide(policy):
        return []
    return [f"{network} is a wide range for anonymous relay: every host in it that is not listed in "
            "targets.exchange.server_addresses (an Exchange or Edge server, a load balancer's SNAT address) "
            "reaches the relay connector; list the hosts that relay instead" for network in _wide(policy)]


def _relay_connector(policy: Policy) -> Settings | None:
    """Anonymous relay for networks.trusted only: a Custom connector whose ranges win by being narrower."""
    options = policy.targets.exchange
    if not _relay_ranges(policy) or options.relay_port in RESERVED_PORTS:
        return None
    return (
        ("Bindings", _bindings(options.relay_bindings, options.relay_port)),
        ("RemoteIPRanges", _relay_ranges(policy)),
        ("PermissionGroups", ["AnonymousUsers"]),
        ("AuthMechanism", ["Tls"]),
        *_limits(policy, internet=False),
        ("Enabled", True),
    )


def _default_frontend(policy: Policy) -> Connector:
    """Port 25 for the world: anonymous only when the role takes inbound mail, user AUTH only when enabled.

    The policy owns the groups and mechanisms it can grant; others an administrator set (Partners, say)
    stay. ExternalAuthoritative is never owned: the audit reports it.
    """
    groups = ["ExchangeServers", "ExchangeLegacyServers"]
    if policy.accepts_inbound:
        groups.insert(0, "AnonymousUsers")
    mechanisms = ["Tls", "ExchangeServer"]
    if policy.auth.enabled and policy.accepts_inbound:
        mechanisms[1:1] = _user_auth(policy)
    return Connector(
        settings=(("RequireTLS", policy.tls is not None and policy.tls.inbound == "encrypt"),
                  *_limits(policy, internet=True)),
        reconcile=(Reconcile("PermissionGroups", tuple(groups),
                             ("AnonymousUsers", "ExchangeServers", "ExchangeLegacyServers")),
                   Reconcile("AuthMechanism", tuple(mechanisms), ("Tls", "ExchangeServer", *USER_AUTH))),
    )


USER_AUTH = ("Integrated", "BasicAuth", "BasicAuthRequireTLS")


def _user_auth(policy: Policy) -> list[str]:
    return ["Integrated", "BasicAuth", *(["BasicAuthRequireTLS"] if policy.auth.require_tls else [])]


def _submission_port(policy: Policy) -> int:
    port = policy.auth.submission.port
    return port if port is not None and port not in RESERVED_PORTS else SUBMISSION_PORT


def _client_frontend(policy: Policy) -> Connector:
    """Submission with AUTH (authenticated ExchangeUsers may relay), or the connector switched off.

    The policy owns the port of the bindings, ExchangeUsers and AnonymousUsers (submission needs AUTH)
    and the user AUTH mechanisms.
    """
    if not policy.offers_submission:
        return Connector((("Enabled", False),))
    port = _submission_port(policy)
    return Connector(
        settings=(("RequireTLS", policy.tls is not None), *_limits(policy, internet=False), ("Enabled", True)),
        reconcile=(Reconcile("PermissionGroups", ("ExchangeUsers",), ("ExchangeUsers", "AnonymousUsers")),
                   Reconcile("AuthMechanism", ("Tls", *_user_auth(policy)), ("Tls", *USER_AUTH))),
        bindings=PortBindings(port, tuple(_bindings([], port))),
    )


# --- accepted domains and antispam agents -----------------------------------------------------


def _accepted_domains(policy: Policy) -> list[Settings]:
    """Authoritative for local domains, InternalRelay for relay domains; ``.example.org`` is ``*.example.org``."""
    kinds = [(d, "Authoritative") for d in policy.domains.local] + [(d, "InternalRelay") for d in policy.domains.relay]
    return [
        (("Name", _object_name(d[1:] + " subdomains" if d.startswith(".") else d)),
         ("DomainName", _address_space(d)),
         ("DomainType", kind))
        for d, kind in kinds
    ]


def _address_space(domain: str) -> str:
    return "*" + domain if domain.startswith(".") else domain


def _object_name(text: str) -> str:
    """An Exchange object name (at most 64 characters), kept unique by a hash when it must be cut."""
    if len(text) <= 64:
        return text
    return text[:55] + "~" + hashlib.sha256(text.encode()).hexdigest()[:8]


def _mailbox_antispam(policy: Policy) -> MailboxAntispam | None:
    """Without Edge, the Sender Filter agent on the Mailbox servers refuses blocked senders at MAIL FROM.

    Sender Reputation is no stand-in for a DNS block list (it scores a sender only after 20 messages
    and probes the sender's address for open proxies), so it is not turned on.
    """
    sender_filter = None if _edge(policy) else _sender_filter(policy)
    if sender_filter is None:
        return None
    return MailboxAntispam(agents=("Sender Filter Agent",), sender_filter=sender_filter)


def _sender_filter(policy: Policy) -> Settings | None:
    """Sender Filter settings for the rejected senders no earlier permit exempts (None: nothing to block)."""
    senders = [_parts(match) for match in _unexempted(policy, "senders")]
    addresses = [f"{local}@{domain}" for local, domain in senders if local and domain]
    domains = [domain for local, domain in senders if not local]
    if not addresses and not domains:
        return None
    return (("Enabled", True), ("ExternalMailEnabled", True), ("InternalMailEnabled", False), ("Action", "Reject"),
            ("BlockedSenders", addresses or None), ("BlockedDomains", domains or None))


# --- transport rules --------------------------------------------------------------------------


def _transport_rules(policy: Policy) -> Iterator[TransportRule]:
    """Mailbox rules: header checks first (no access permit may skip them), then the access rules in
    Postfix's order.

    These rules run after the message was accepted, so a rejection is a deletion: an NDR would go to the
    (often forged) sender. No rule stops rule processing, which would also exempt the message from the
    organization's own later rules; first match wins because each rejection lists every earlier permit
    as an exception.
    """
    for index, check in enumerate(policy.header_checks):
        settings = None if _edge(policy) and check.action in EDGE_HEADER_ACTIONS else _header_rule(check)
        if settings is not None:
            yield _rule(f"header_checks[{index}]", settings)
    permits: list[Settings] = []
    for stage in ACCESS_STAGES:
        for index, rule in enumerate(getattr(policy.access, stage)):
            if _too_long(rule):
                continue
            condition = _access_condition(stage, rule)
            if rule.action == "permit":
                yield _rule(f"access.{stage}[{index}]", (*condition, ("SetSCL", -1)))
                permits.append(condition)
            else:
                yield _rule(f"access.{stage}[{index}]", (*condition, *_exceptions(permits), ("DeleteMessage", True)))


EDGE_HEADER_ACTIONS = ("reject", "discard")  # header checks an Edge rule carries out during the SMTP session
EXCEPTION = {"SenderIpRanges": "ExceptIfSenderIpRanges",
             "FromAddressMatchesPatterns": "ExceptIfFromAddressMatchesPatterns",
             "RecipientAddressMatchesPatterns": "ExceptIfRecipientAddressMatchesPatterns"}


def _access_condition(stage: str, rule: ClientRule | ClientFile | AddressRule | AddressFile) -> Settings:
    if isinstance(rule, ClientRule | ClientFile):
        return (("SenderIpRanges", [canonical.network(n) for n in _networks(rule)]),)
    if stage == "recipients":
        return (("RecipientAddressMatchesPatterns", [_address_regex(m) for m in _patterns(rule)]),)
    return (("FromAddressMatchesPatterns", [_address_regex(m) for m in _patterns(rule)]),
            ("SenderAddressLocation", "Envelope"))


def _exceptions(permits: Sequence[Settings]) -> Settings:
    """The earlier permits' conditions as one rule's exceptions (any exception spares the message)."""
    merged: dict[str, list[str]] = {}
    for key, values in (item for condition in permits for item in condition if item[0] in EXCEPTION):
        assert isinstance(values, list)
        merged.setdefault(EXCEPTION[key], []).extend(v for v in values if v not in merged.get(EXCEPTION[key], []))
    location = (("SenderAddressLocation", "Envelope"),) if "ExceptIfFromAddressMatchesPatterns" in merged else ()
    return (*merged.items(), *location)


def _too_long(rule: object) -> bool:
    """A list file with more entries than one transport rule should carry (see LIST_FILE_MAX)."""
    return isinstance(rule, ClientFile | AddressFile) and len(rule.file) > LIST_FILE_MAX


def _networks(rule: ClientRule | ClientFile) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    if isinstance(rule, ClientRule):
        return [rule.match]
    return [] if _too_long(rule) else [ipaddress.ip_network(entry) for entry in rule.file.entries]


def _patterns(rule: AddressRule | AddressFile) -> Sequence[str]:
    if isinstance(rule, AddressRule):
        return [rule.match]
    return [] if _too_long(rule) else rule.file.entries


def _rule(element: str, settings: Settings) -> TransportRule:
    fingerprint = hashlib.sha256(repr(settings).encode()).hexdigest()[:16]
    return TransportRule(RULE_PREFIX + element, (*settings, ("Comments", f"mtaharden {fingerprint}")))


def _header_rule(check: HeaderCheck, *, in_session: bool = False) -> Settings | None:
    """The rule for one header check, or None when Exchange cannot express it (see its coverage).

    ``in_session``: an Edge rule, which refuses during the SMTP session; a Mailbox rule deletes instead.
    """
    try:
        pattern = dotnet_regex(check.pattern)
    except DialectError:
        return None
    condition: Settings = (("HeaderMatchesMessageHeader", check.header), ("HeaderMatchesPatterns", [pattern]))
    if check.action == "reject" and in_session:
        return (*condition, ("SmtpRejectMessageRejectText", check.message or "message content rejected"))
    if check.action in ("reject", "discard"):
        return (*condition, ("DeleteMessage", True))
    if check.action == "warn":
        return (*condition, ("RejectMessageReasonText", check.message or "header check"), ("Mode", "Audit"))
    return None


def _address_regex(match: str) -> str:
    """A policy address pattern as an anchored, case-insensitive .NET regex over the whole address."""
    local, domain = _parts(match)
    if not domain:
        return f"(?i)^{re.escape(local)}@"
    return f"(?i){'^' + re.escape(local) if local else ''}@{re.escape(domain)}$"


# --- Edge -------------------------------------------------------------------------------------


def _edge_section(policy: Policy) -> EdgeSection:
    """Connection-time filtering on Edge Transport servers, for what their agents express faithfully."""
    access = policy.access
    recipient_filter = None
    sender_filter = _sender_filter(policy)
    recipients = [match for match in _unexempted(policy, "recipients") if all(_parts(match))]
    if recipients:
        recipient_filter = (("Enabled", True), ("ExternalMailEnabled", True), ("BlockListEnabled", True),
                            ("BlockedRecipients", recipients))
    agents = [name for name, used in (("Connection Filtering Agent", bool(access.clients or policy.dnsbl)),
                                      ("Sender Filter Agent", sender_filter is not None),
                                      ("Recipient Filter Agent", recipient_filter is not None)) if used]
    providers = [_provider(entry, index + 1) for index, entry in enumerate(policy.dnsbl)]
    return EdgeSection(
        connector=Connector((("RequireTLS", policy.tls is not None and policy.tls.inbound == "encrypt"),
                             *_limits(policy, internet=True))),
        agents=tuple(agents),
        rules=tuple(_rule(f"header_checks[{index}]", settings) for index, check in enumerate(policy.header_checks)
                    if check.action in EDGE_HEADER_ACTIONS
                    and (settings := _header_rule(check, in_session=True)) is not None),
        providers=tuple(p for p in providers if p is not None),
        providers_config=(("Enabled", True), ("ExternalMailEnabled", True), ("InternalMailEnabled", False),
                          ("BypassedRecipients", _bypassed_recipients(policy) or None)) if policy.dnsbl else None,
        block_list=tuple(_ip_entry(n) for r in access.clients if r.action != "permit" for n in _networks(r)),
        allow_list=tuple(_ip_entry(n) for r in access.clients if r.action == "permit" for n in _networks(r)),
        sender_filter=sender_filter,
        recipient_filter=recipient_filter,
    )


def _unexempted(policy: Policy, stage: str) -> list[str]:
    """Rejections no earlier permit can exempt (in Postfix's order), so an Edge block list may take them.

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
            permitted += _patterns(rule)
        else:
            refused += [match for match in _patterns(rule) if not any(_overlap(p, match) for p in permitted)]
    return refused


def _overlap(first: str, second: str) -> bool:
    """Whether one address could match both patterns (an empty part matches any)."""
    (local_a, domain_a), (local_b, domain_b) = (_parts(first), _parts(second))
    return (not local_a or not local_b or local_a == local_b) and (not domain_a or not domain_b or domain_a == domain_b)


def _parts(match: str) -> tuple[str, str]:
    """An address pattern's local part and domain; empty means any (``user@``, ``@domain``, ``domain``)."""
    local, at, domain = match.partition("@")
    return (local, domain) if at else ("", match)


def _ip_entry(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> Settings:
    text = canonical.network(network)
    return (("IPRange", text), ("Comment", f"mtaharden access.clients {text}"))


def _bypassed_recipients(policy: Policy) -> list[str]:
    """Recipients permitted before any DNSBL check, as full addresses (``user@`` once per own domain)."""
    domains = [d for d in (*policy.domains.local, *policy.domains.relay) if not d.startswith(".")]
    addresses: list[str] = []
    for match in (m for rule in policy.access.recipients if rule.action == "permit" for m in _patterns(rule)):
        local, _, domain = match.partition("@")
        if local:
            addresses += [f"{local}@{d}" for d in ([domain] if domain else domains)]
    return list(dict.fromkeys(addresses))


def _provider(entry: DnsblEntry, priority: int) -> Settings | None:
    codes = _return_codes(entry.filters)
    if codes is None:
        return None
    text = entry.message.replace("{zone}", entry.zone).replace("{client}", "your address")
    return (
        ("Name", _object_name(entry.zone)),
        ("LookupDomain", entry.zone),
        ("AnyMatch", False),  # an earlier AnyMatch or BitmaskMatch would make any answer (127.255.255.x too) a hit
        ("BitmaskMatch", None),
        ("IPAddressesMatch", codes),
        ("RejectionResponse", text[:REJECTION_RESPONSE_MAX]),
        ("Priority", priority),
        ("Enabled", True),
    )


def _return_codes(filters: Iterable[str]) -> list[str] | None:
    """Every 127.x.y.z the Postfix-style filters match, or None when there are too many to list."""
    expanded = [[_octet(part) for part in re.findall(r"\[[^\]]*\]|\d+", text)] for text in filters]
    if sum(math.prod(len(values) for values in octets) for octets in expanded) > IP_MATCH_LIMIT:
        return None
    return list(dict.fromkeys(".".join(map(str, address)) for octets in expanded
                              for address in itertools.product(*octets)))


def _octet(part: str) -> list[int]:
    if part.startswith("[") and ".." in part:
        low, high = (int(x) for x in part[1:-1].split(".."))
        return list(range(low, high + 1))
    if part.startswith("["):
        return [int(x) for x in part[1:-1].split(";")]
    return [int(part)]


# --- coverage ---------------------------------------------------------------------------------


def _item(element: str, how: str, differs: str | None = None) -> Coverage:
    """Enforced as ``how``, or approximated when ``differs`` says what falls short."""
    return Coverage(element, "approximated", f"{how}; {differs}") if differs else Coverage(element, "enforced", how)


def _coverage(policy: Policy) -> Iterator[Coverage]:
    yield _item("role", f"{policy.role}: Default Frontend {'takes' if policy.accepts_inbound else 'refuses'} "
                f"anonymous mail; Client Frontend {'enabled' if policy.offers_submission else 'disabled'}",
                "Exchange still delivers to its own mailboxes" if policy.role == "null-client" else None)
    yield _item("hostname", "-Fqdn and -Banner of the receive connectors" if policy.hostname
                else "each server's own FQDN in -Fqdn and -Banner")
    yield _item("domains.local", "accepted domains of type Authoritative", _wildcard_note(policy.domains.local))
    yield _item("domains.relay", "accepted domains of type InternalRelay; the script warns while no Send "
                "connector routes one (GUIDE.md)", _wildcard_note(policy.domains.relay))
    yield _trusted_coverage(policy)
    yield from _auth_coverage(policy)
    for index, entry in enumerate(policy.dnsbl):
        yield _dnsbl_coverage(policy, index, entry)
    for stage in ("clients", "helo", "senders", "recipients"):
        if getattr(policy.access, stage):
            yield _access_coverage(policy, stage)
        for index, rule in enumerate(getattr(policy.access, stage)):
            if stage != "helo" and _too_long(rule):
                yield Coverage(f"access.{stage}[{index}]", "unsupported", f"{len(rule.file)} entries in "
                               f"{rule.file.name}: Exchange limits the size of a transport rule, and a cmdlet "
                               f"script is no way to load a long list (mtaharden writes up to {LIST_FILE_MAX}); "
                               "filter with such lists upstream of Exchange")
    for index, check in enumerate(policy.header_checks):
        yield _header_coverage(policy, index, check)
    yield from _smtp_coverage(policy)
    yield from _tls_coverage(policy)


def _wildcard_note(domains: Iterable[str]) -> str | None:
    if any(d.startswith(".") for d in domains):
        return "Exchange's *.domain may also take the parent domain"
    return None


def _trusted_coverage(policy: Policy) -> Coverage:
    options = policy.targets.exchange
    name = options.relay_connector
    if options.relay_port in RESERVED_PORTS:
        return Coverage("networks.trusted", "unsupported", f"port {options.relay_port} belongs to Exchange's "
                        f"{RESERVED_PORTS[options.relay_port]} connector; set another targets.exchange.relay_port")
    loopback = [canonical.network(n) for n in policy.networks.trusted if n.is_loopback]
    notes = []
    if loopback:
        notes.append(f"{', '.join(loopback)} (the server itself) may not relay anonymously: Exchange's own health "
                     "probes connect from there to Default Frontend")
    if _inside_trusted(policy):
        notes.append(f"the servers' own addresses {', '.join(_inside_trusted(policy))} "
                     "(targets.exchange.server_addresses) are cut out of the relay connector's ranges, so their "
                     "traffic stays on Default Frontend with ExchangeServer authentication")
    if _relay_ranges(policy) and _wide(policy):
        notes.append(f"{', '.join(_wide(policy))} is wide: any host in it not named in "
                     "targets.exchange.server_addresses (an Edge server, a load balancer's SNAT address) would "
                     "reach the relay connector; the script warns")
    differs = "; ".join(notes) or None
    if not _relay_ranges(policy):
        return _item("networks.trusted", f"no anonymous relay: receive connector {name!r} is disabled if present",
                     differs)
    return _item("networks.trusted", f"receive connector {name!r} (Custom, FrontendTransport) limited to these "
                 "ranges, the only place ANONYMOUS LOGON gets ms-Exch-SMTP-Accept-Any-Recipient; the audit "
                 "fails on any wider grant", differs)


def _auth_coverage(policy: Policy) -> Iterator[Coverage]:
    auth = policy.auth
    if not auth.enabled:
        yield _item("auth", "no user AUTH: Default Frontend offers only Tls and ExchangeServer")
        return
    after_tls = ("BasicAuthRequireTLS: Basic only after STARTTLS (Integrated sends no password)"
                 if auth.require_tls else "Basic also before STARTTLS")
    yield _item("auth", f"BasicAuth and Integrated on Client Frontend and Default Frontend; {after_tls}",
                f"Exchange checks passwords against Active Directory, not {auth.backend}")
    yield _item("auth.mechanisms", "BasicAuth (AUTH LOGIN) and Integrated (NTLM, GSSAPI)",
                "the mechanism list itself cannot be set")
    submission = auth.submission
    if policy.offers_submission and submission.port in RESERVED_PORTS:
        yield _item("auth.submission.port", f"Client Frontend on port {SUBMISSION_PORT}",
                    f"port {submission.port} belongs to Exchange's {RESERVED_PORTS[submission.port]} connector")
    if policy.offers_submission and submission.smtps_port is not None:
        yield _item("auth.submission.smtps_port", f"STARTTLS on port {_submission_port(policy)} (Client Frontend)",
                    "Exchange has no implicit-TLS SMTP listener; point those clients there")


def _dnsbl_coverage(policy: Policy, index: int, entry: DnsblEntry) -> Coverage:
    element = f"dnsbl[{index}]"
    if not _edge(policy):
        return Coverage(element, "unsupported", f"Mailbox servers cannot query {entry.zone}: block list providers "
                        "belong to the Connection Filtering agent, which runs only on Edge Transport servers (Sender "
                        "Reputation is no substitute: it scores a sender after 20 messages and probes the sender "
                        "for open proxies); set targets.exchange.deployment: edge or filter upstream")
    if _return_codes(entry.filters) is None:
        return Coverage(element, "unsupported", f"filter {', '.join(entry.filters)} matches more than "
                        f"{IP_MATCH_LIMIT} return codes, which -IPAddressesMatch must list one by one")
    differs = [note for note, applies in (("Exchange answers 550, it cannot defer", entry.action == "defer"),
                                          ("the reply cannot name the client", "{client}" in entry.message))
               if applies]
    return _item(element, f"Edge: IP block list provider for lookup domain {entry.zone} (-IPAddressesMatch "
                 f"{', '.join(entry.filters)}, AnyMatch and BitmaskMatch reset; one provider per lookup domain); "
                 "permitted clients and recipients bypass it", "; ".join(differs))


def _access_coverage(policy: Policy, stage: str) -> Coverage:
    element = f"access.{stage}"
    if stage == "helo":
        return Coverage(element, "unsupported", "Exchange has no HELO/EHLO access control (no cmdlet or rule "
                        "condition sees the EHLO name); filter HELO upstream")
    rules = getattr(policy.access, stage)
    condition = {"clients": "SenderIpRanges", "recipients": "RecipientAddressMatchesPatterns",
                 "senders": "FromAddressMatchesPatterns on the envelope sender"}[stage]
    how = (f"transport rules '{RULE_PREFIX}{element}[n]' ({condition}) in policy order, each rejection excepting "
           "the earlier permits; permit sets SCL -1")
    if _edge(policy):
        edge = {"clients": "IP Block and Allow list entries (the allow list wins)",
                "senders": "Sender Filter for rejected addresses and domains no earlier permit exempts",
                "recipients": "Recipient Filter for rejected addresses no earlier permit exempts"}[stage]
        how += f"; Edge: {edge}, refused in the SMTP session"
    elif stage == "senders" and _sender_filter(policy) is not None:
        how += ("; Mailbox Sender Filter agent for rejected addresses and domains no earlier permit exempts, "
                "refused at MAIL FROM")
    differs = ["the transport rules run after the message was accepted, so they delete it without an NDR "
               "(an NDR would go to the often forged sender) and the policy's message is not sent"]
    if stage == "recipients":
        differs.append("RecipientAddressMatchesPatterns sees primary addresses only, not proxy addresses")
    if any(r.action == "defer" for r in rules):
        differs.append("defer refuses or deletes (Exchange cannot defer)")
    if stage == "clients" and any(n.version == 6 for r in rules for n in _networks(r)):
        differs.append("Microsoft documents IPv4 ranges only for SenderIpRanges")
    return _item(element, how, "; ".join(differs))


def _header_coverage(policy: Policy, index: int, check: HeaderCheck) -> Coverage:
    element = f"header_checks[{index}]"
    try:
        dotnet_regex(check.pattern)
    except DialectError as exc:
        return Coverage(element, "unsupported", f"pattern has no .NET equivalent: {exc}")
    if check.action == "hold":
        return Coverage(element, "unsupported", "no Mailbox-server rule action holds a message for review "
                        "(Quarantine runs only on Edge and needs the content filter's quarantine mailbox)")
    rule = f"HeaderMatchesMessageHeader {check.header}, HeaderMatchesPatterns (.NET regex)"
    if check.action == "warn":
        return _item(element, f"transport rule '{RULE_PREFIX}{element}': {rule}; Mode Audit: logged in message "
                     "tracking, not acted on")
    if _edge(policy):
        action = ("SmtpRejectMessageRejectText: refused in the SMTP session at end of DATA" if check.action == "reject"
                  else "DeleteMessage")
        return _item(element, f"Edge rule '{RULE_PREFIX}{element}' on each Edge Transport server: {rule}; {action}")
    how = f"transport rule '{RULE_PREFIX}{element}' on the Mailbox servers: {rule}; DeleteMessage"
    if check.action == "reject":
        return _item(element, how, "Mailbox rules run after the message was accepted: it is deleted without an "
                     "NDR (which would go to the often forged sender), not refused; an Edge deployment refuses it")
    return _item(element, how)


def _smtp_coverage(policy: Policy) -> Iterator[Coverage]:
    smtp = policy.smtp
    size, clamped = _message_size(smtp.max_message_size)
    yield _item("smtp.banner", "-Banner '220 …' on the receive connectors")
    by_hand = ("no cmdlet controls VRFY or EXPN; Exchange is said to answer VRFY with 252 and no lookup "
               "(KB 289521, unverified for 2016+): GUIDE.md has the check by hand")
    yield Coverage("smtp.disable_vrfy", "approximated", by_hand)
    yield Coverage("smtp.disable_expn", "approximated", by_hand)
    yield _item("smtp.require_helo", "Exchange wants HELO or EHLO before MAIL; -RequireEHLODomain "
                f"${str(smtp.require_helo).lower()} on the Internet-facing connectors")
    yield _item("smtp.strict_envelopes", f"-RejectSingleLabelRecipientDomains ${str(smtp.strict_envelopes).lower()} "
                "on the Internet-facing connectors", "non-FQDN senders and RFC 821 syntax are left to Exchange's "
                "own parser" if smtp.strict_envelopes else None)
    notes = [f"clamped to {MESSAGE_SIZE_RANGE} bytes"] if clamped else []
    if _size_bytes(smtp.max_message_size) > ORG_SIZE_DEFAULT:
        notes.append("the organization's MaxReceiveSize (10 MB unless changed) applies too and the smaller limit "
                     "wins: the script warns while it is smaller (raise it with Set-TransportConfig)")
    yield _item("smtp.max_message_size", f"-MaxMessageSize {size} on the receive connectors", "; ".join(notes))
    yield _item("smtp.max_recipients", "-MaxRecipientsPerMessage (452 beyond it)")
    yield _item("smtp.max_connections_per_client", "-MaxInboundConnectionPerSource")


def _tls_coverage(policy: Policy) -> Iterator[Coverage]:
    tls = policy.tls
    if tls is None:
        yield _item("tls", "no TLS settings", "Exchange always offers STARTTLS, with a self-signed certificate at "
                    "least")
        return
    port25 = "also on port 25" if tls.inbound == "encrypt" else "not on port 25"
    yield _item("tls", f"STARTTLS (AuthMechanism Tls); RequireTLS on submission, {port25}",
                "Exchange uses the certificate enabled for SMTP (GUIDE.md), not tls.cert/tls.key")
    if tls.min_protocol == "TLSv1.3":
        yield Coverage("tls.min_protocol", "unsupported", "TLS 1.3 needs Exchange 2019 CU15 or later or SE on "
                       "Windows Server 2022 or later, and no Exchange version documents TLS 1.3 as the only protocol "
                       "for SMTP; TLS 1.2 is the highest minimum mtaharden sets (GUIDE.md)")
    else:
        yield Coverage("tls.min_protocol", "approximated", "SCHANNEL and .NET registry settings from the "
                       "GUIDE.md checklist: no cmdlet sets protocol versions")
