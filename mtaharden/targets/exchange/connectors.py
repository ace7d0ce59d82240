"""Receive connectors: the limits all of them share, the anonymous relay connector, Default and Client Frontend.

Each step records the coverage of what it decides: the limits the SMTP settings and the hostname, the relay
connector ``networks.trusted``, the frontends the role, AUTH and TLS.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from ...policy import Policy, canonical
from ..kit.coverage import Recorder
from ..kit.placeholders import spelled
from .capabilities import (
    ALWAYS_STARTTLS,
    MESSAGE_SIZE_RANGE,
    NO_SMTPS,
    ORG_SIZE_DEFAULT,
    OWN_CERTIFICATE,
    RESERVED_PORTS,
    SUBMISSION_PORT,
    USER_AUTH,
    WIDE_PREFIX,
)
from .powershell import Concat, Settings, Variable

FQDN = Variable("fqdn")  # the script sets it per server: the policy's hostname, or the server's FQDN


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
class Limits:
    """What every receive connector gets (``common``) and the Internet-facing ones also (``internet``)."""

    common: Settings
    internet: Settings
    size_text: str  # -MaxMessageSize as written (Exchange's KB/MB are binary)
    size_bytes: int  # the same, in bytes (clamped): the organization's limit must not be smaller

    def of(self, *, internet: bool) -> Settings:
        """The settings of a connector facing the Internet (``internet``) or clients and devices."""
        return (*self.common, *self.internet) if internet else self.common


@dataclass(frozen=True)
class Relay:
    """The anonymous relay connector's settings (None: no relay, the connector is disabled if present)."""

    settings: Settings | None
    warnings: tuple[str, ...]


def limits(policy: Policy, rec: Recorder) -> Limits:
    """Name in banner and EHLO reply, the limits and, facing the Internet only (clients and devices may say
    EHLO with a bare name), the EHLO and envelope checks."""
    smtp = policy.smtp
    rec.enforced("hostname", "-Fqdn and -Banner of the receive connectors" if policy.hostname
                 else "each server's own FQDN in -Fqdn and -Banner")
    banner = ("220 ", *spelled(smtp.banner, {"hostname": FQDN}))
    rec.enforced("smtp.banner", "-Banner '220 …' on the receive connectors")
    rec.enforced("smtp.require_helo", "Exchange wants HELO or EHLO before MAIL; -RequireEHLODomain "
                 f"${str(smtp.require_helo).lower()} on the Internet-facing connectors")
    strict = (f"-RejectSingleLabelRecipientDomains ${str(smtp.strict_envelopes).lower()} on the Internet-facing "
              "connectors")
    if smtp.strict_envelopes:
        rec.approximated("smtp.strict_envelopes", f"{strict}; non-FQDN senders and RFC 821 syntax are left to "
                         "Exchange's own parser")
    else:
        rec.enforced("smtp.strict_envelopes", strict)
    size_text, size_bytes = _message_size(smtp.max_message_size, rec)
    rec.enforced("smtp.max_recipients", "-MaxRecipientsPerMessage (452 beyond it)")
    rec.enforced("smtp.max_connections_per_client", "-MaxInboundConnectionPerSource")
    return Limits(
        common=(("Fqdn", FQDN), ("Banner", Concat(banner)), ("MaxMessageSize", size_text),
                ("MaxRecipientsPerMessage", smtp.max_recipients),
                ("MaxInboundConnectionPerSource", smtp.max_connections_per_client)),
        internet=(("RequireEHLODomain", smtp.require_helo),
                  ("RejectSingleLabelRecipientDomains", smtp.strict_envelopes)),
        size_text=size_text, size_bytes=size_bytes,
    )


def _message_size(size: int, rec: Recorder) -> tuple[str, int]:
    """-MaxMessageSize text and bytes, clamped to what Exchange takes."""
    low, high = MESSAGE_SIZE_RANGE
    clamped = min(max(size, low), high)
    text = next((f"{clamped // factor}{unit}" for unit, factor in (("MB", 2**20), ("KB", 2**10))
                 if clamped % factor == 0), f"{clamped}B")
    notes = [f"clamped to {MESSAGE_SIZE_RANGE} bytes"] if clamped != size else []
    if clamped > ORG_SIZE_DEFAULT:
        notes.append("the organization's MaxReceiveSize (10 MB unless changed) applies too and the smaller limit "
                     "wins: the script warns while it is smaller (raise it with Set-TransportConfig)")
    how = f"-MaxMessageSize {text} on the receive connectors"
    if notes:
        rec.approximated("smtp.max_message_size", f"{how}; {'; '.join(notes)}")
    else:
        rec.enforced("smtp.max_message_size", how)
    return text, clamped


def _bindings(addresses: Sequence[str], port: int) -> list[str]:
    if not addresses:
        return [f"0.0.0.0:{port}", f"[::]:{port}"]
    return [f"[{a}]:{port}" if ":" in a else f"{a}:{port}" for a in map(canonical.address, addresses)]


# --- the relay connector ------------------------------------------------------------------------


def relay(policy: Policy, shared: Limits, rec: Recorder) -> Relay:
    """Anonymous relay for networks.trusted only: a Custom connector whose ranges win by being narrower."""
    options = policy.targets.exchange
    name = options.relay_connector
    if options.relay_port in RESERVED_PORTS:
        rec.unsupported("networks.trusted", f"port {options.relay_port} belongs to Exchange's "
                        f"{RESERVED_PORTS[options.relay_port]} connector; set another targets.exchange.relay_port")
        return Relay(None, ())
    ranges = _relay_ranges(policy)
    inside = _inside_trusted(policy)
    wide = _wide(policy) if ranges else []
    notes = []
    loopback = [canonical.network(n) for n in policy.networks.trusted if n.is_loopback]
    if loopback:
        notes.append(f"{', '.join(loopback)} (the server itself) may not relay anonymously: Exchange's own health "
                     "probes connect from there to Default Frontend")
    if inside:
        notes.append(f"the servers' own addresses {', '.join(inside)} "
                     "(targets.exchange.server_addresses) are cut out of the relay connector's ranges, so their "
                     "traffic stays on Default Frontend with ExchangeServer authentication")
    if wide:
        notes.append(f"{', '.join(wide)} is wide: any host in it not named in "
                     "targets.exchange.server_addresses (an Edge server, a load balancer's SNAT address) would "
                     "reach the relay connector; the script warns")
    if not ranges:
        how = f"no anonymous relay: receive connector {name!r} is disabled if present"
    else:
        how = (f"receive connector {name!r} (Custom, FrontendTransport) limited to these ranges, the only place "
               "ANONYMOUS LOGON gets ms-Exch-SMTP-Accept-Any-Recipient; the audit fails on any wider grant")
    if notes:
        rec.approximated("networks.trusted", f"{how}; {'; '.join(notes)}")
    else:
        rec.enforced("networks.trusted", how)
    if not ranges:
        return Relay(None, ())
    return Relay(
        settings=(("Bindings", _bindings(options.relay_bindings, options.relay_port)),
                  ("RemoteIPRanges", ranges), ("PermissionGroups", ["AnonymousUsers"]), ("AuthMechanism", ["Tls"]),
                  *shared.of(internet=False), ("Enabled", True)),
        warnings=tuple(f"{network} is a wide range for anonymous relay: every host in it that is not listed in "
                       "targets.exchange.server_addresses (an Exchange or Edge server, a load balancer's SNAT "
                       "address) reaches the relay connector; list the hosts that relay instead" for network in wide),
    )


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


# --- Default Frontend and Client Frontend ---------------------------------------------------------


def frontends(policy: Policy, shared: Limits, rec: Recorder) -> tuple[Connector, Connector]:
    """Default Frontend and Client Frontend; records the role, AUTH and TLS they carry out."""
    how = (f"{policy.role}: Default Frontend {'takes' if policy.accepts_inbound else 'refuses'} anonymous mail; "
           f"Client Frontend {'enabled' if policy.offers_submission else 'disabled'}")
    if policy.role == "null-client":
        rec.approximated("role", f"{how}; Exchange still delivers to its own mailboxes")
    else:
        rec.enforced("role", how)
    user_auth = _user_auth(policy, rec)
    _tls(policy, rec)
    return _default_frontend(policy, shared, user_auth), _client_frontend(policy, shared, user_auth, rec)


def _user_auth(policy: Policy, rec: Recorder) -> tuple[str, ...]:
    """The user AUTH mechanisms the frontends offer (none without AUTH)."""
    auth = policy.auth
    if not auth.enabled:
        rec.enforced("auth", "no user AUTH: Default Frontend offers only Tls and ExchangeServer")
        return ()
    after_tls = ("BasicAuthRequireTLS: Basic only after STARTTLS (Integrated sends no password)"
                 if auth.require_tls else "Basic also before STARTTLS")
    rec.approximated("auth", f"BasicAuth and Integrated on Client Frontend and Default Frontend; {after_tls}; "
                     f"Exchange checks passwords against Active Directory, not {auth.backend}")
    rec.approximated("auth.mechanisms", "BasicAuth (AUTH LOGIN) and Integrated (NTLM, GSSAPI); the mechanism list "
                     "itself cannot be set")
    return ("Integrated", "BasicAuth", *(("BasicAuthRequireTLS",) if auth.require_tls else ()))


def _tls(policy: Policy, rec: Recorder) -> None:
    tls = policy.tls
    if tls is None:
        rec.approximated("tls", f"no TLS settings; {ALWAYS_STARTTLS}")
        return
    port25 = "also on port 25" if tls.inbound == "encrypt" else "not on port 25"
    rec.approximated("tls", f"STARTTLS (AuthMechanism Tls); RequireTLS on submission, {port25}; {OWN_CERTIFICATE}")


def _default_frontend(policy: Policy, shared: Limits, user_auth: tuple[str, ...]) -> Connector:
    """Port 25 for the world: anonymous only when the role takes inbound mail, user AUTH only when enabled.

    The policy owns the groups and mechanisms it can grant; others an administrator set (Partners, say)
    stay. ExternalAuthoritative is never owned: the audit reports it.
    """
    groups = (*(("AnonymousUsers",) if policy.accepts_inbound else ()), "ExchangeServers", "ExchangeLegacyServers")
    mechanisms = ("Tls", *(user_auth if policy.accepts_inbound else ()), "ExchangeServer")
    return Connector(
        settings=(("RequireTLS", policy.tls is not None and policy.tls.inbound == "encrypt"),
                  *shared.of(internet=True)),
        reconcile=(Reconcile("PermissionGroups", groups,
                             ("AnonymousUsers", "ExchangeServers", "ExchangeLegacyServers")),
                   Reconcile("AuthMechanism", mechanisms, ("Tls", "ExchangeServer", *USER_AUTH))),
    )


def _client_frontend(policy: Policy, shared: Limits, user_auth: tuple[str, ...], rec: Recorder) -> Connector:
    """Submission with AUTH (authenticated ExchangeUsers may relay), or the connector switched off.

    The policy owns the port of the bindings, ExchangeUsers and AnonymousUsers (submission needs AUTH)
    and the user AUTH mechanisms.
    """
    if not policy.offers_submission:
        return Connector((("Enabled", False),))
    submission = policy.auth.submission
    port = SUBMISSION_PORT
    if submission.port in RESERVED_PORTS:
        rec.approximated("auth.submission.port", f"Client Frontend on port {SUBMISSION_PORT}; port {submission.port} "
                         f"belongs to Exchange's {RESERVED_PORTS[submission.port]} connector")
    elif submission.port is not None:
        port = submission.port
    if submission.smtps_port is not None:
        rec.approximated("auth.submission.smtps_port", f"STARTTLS on port {port} (Client Frontend); {NO_SMTPS}")
    return Connector(
        settings=(("RequireTLS", policy.tls is not None), *shared.of(internet=False), ("Enabled", True)),
        reconcile=(Reconcile("PermissionGroups", ("ExchangeUsers",), ("ExchangeUsers", "AnonymousUsers")),
                   Reconcile("AuthMechanism", ("Tls", *user_auth), ("Tls", *USER_AUTH))),
        bindings=PortBindings(port, tuple(_bindings([], port))),
    )
