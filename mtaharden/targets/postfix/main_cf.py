"""main.cf: every parameter mtaharden writes, laid out by one table of sections (DebOps-style ordered data).

Each lowering step below sets the parameters of one part of the policy and records that part's coverage as
it decides; :data:`SECTIONS` alone says where each parameter goes. The policy refuses these names as site
parameters (``policy.options.postfix.parameters.MANAGED_PARAMETERS``, which cannot import a target); a unit
test holds the two sets equal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ...policy import Policy
from ...policy.options.postfix.parameters import canonical as site_value
from ..base import Block
from ..kit.coverage import Recorder
from ..kit.placeholders import fill
from . import capabilities as facts
from . import dnsbl, header_checks, outbound, sasl, screening, smuggling
from .access import access_tables
from .sender_auth import SenderAuth
from .syntax import Value, escape_dollar, interface, network, yes
from .tables import Table

Section = tuple[str, tuple[tuple[str, Value], ...]]

# Where each parameter is written, in order; a parameter a step leaves unset is left out.
SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Identity and listeners", (
        "compatibility_level", "myhostname", "myorigin", "smtpd_banner", "biff", "append_dot_mydomain",
        "readme_directory", "inet_interfaces", "inet_protocols")),
    ("Relay control (every parameter explicit; no compatibility_level defaults)", (
        "mydestination", "relay_domains", "mynetworks_style", "mynetworks", "parent_domain_matches_subdomains",
        "smtpd_relay_restrictions", "allow_untrusted_routing", "allow_percent_hack", "swap_bangpath",
        "resolve_dequoted_address", "resolve_null_domain", "permit_mx_backup_networks",
        "smtpd_authorized_xclient_hosts", "smtpd_authorized_xforward_hosts", "local_transport")),
    ("Access restrictions (first match wins within each list)", (
        "smtpd_delay_reject", "smtpd_client_restrictions", "smtpd_helo_restrictions", "smtpd_sender_restrictions",
        "smtpd_recipient_restrictions", "smtpd_data_restrictions", "smtpd_reject_unlisted_recipient",
        "smtpd_reject_unlisted_sender", "header_checks", "rbl_reply_maps")),
    ("SMTP protocol hardening and limits", (
        "smtpd_helo_required", "disable_vrfy_command", "strict_rfc821_envelopes", "message_size_limit",
        "mailbox_size_limit", "smtpd_recipient_limit", "smtpd_client_connection_count_limit",
        "smtpd_forbid_bare_newline", "smtpd_forbid_bare_newline_exclusions", "smtpd_forbid_bare_newline_reject_code")),
    ("SMTP AUTH", (
        "smtpd_sasl_auth_enable", "smtpd_sasl_type", "smtpd_sasl_path", "smtpd_sasl_security_options",
        "smtpd_sasl_tls_security_options", "smtpd_sasl_mechanism_filter", "broken_sasl_auth_clients",
        "cyrus_sasl_config_path")),
    ("TLS", (
        "smtpd_tls_cert_file", "smtpd_tls_key_file", "smtpd_tls_security_level", "smtpd_tls_protocols",
        "smtpd_tls_mandatory_protocols", "smtpd_tls_auth_only", "smtpd_tls_received_header")),
    ("Bot screening (postscreen on port 25)", (
        "postscreen_access_list", "postscreen_greet_wait", "postscreen_greet_action", "postscreen_dnsbl_sites",
        "postscreen_dnsbl_threshold", "postscreen_dnsbl_action", "postscreen_pipelining_enable",
        "postscreen_non_smtp_command_enable", "postscreen_bare_newline_enable")),
    ("Outbound delivery (SMTP client)", ("smtp_tls_security_level", "smtp_dns_support_level")),
    ("Sender authentication and DKIM signing (policyd-spf, OpenDKIM, OpenDMARC)", (
        "smtpd_milters", "non_smtpd_milters", "milter_default_action")),
)
WRITTEN = frozenset(name for _, names in SECTIONS for name in names)  # the policy's MANAGED_PARAMETERS, exactly

# Debian's own main.cf names hash:/etc/aliases; without it Postfix's built-in default adds
# nis:mail.aliases and every smtpd logs a NIS warning. A site's alias_maps replaces these.
DEBIAN_ALIASES = "hash:/etc/aliases"
ALIAS_PARAMETERS = ("alias_maps", "alias_database")


@dataclass(frozen=True)
class MainCf:
    """main.cf's template context: titled sections of ``(parameter, value)`` in the order written."""

    sections: tuple[Section, ...]

    def values(self) -> dict[str, Value]:
        return {name: value for _, parameters in self.sections for name, value in parameters}


def lower(policy: Policy, record: Recorder, auth: SenderAuth) -> tuple[MainCf, dict[str, Table]]:
    """main.cf and the tables it names (in install order). The steps run in COVERAGE.md's order (the role
    is master.cf's), since each records its elements as it decides them."""
    values = _identity(policy, record)
    domains, domain_tables = _destinations(policy, record)
    values |= domains
    values |= _relay_control(policy, record)
    values |= sasl.parameters(policy, record)
    rbl_steps, rbl_reply = dnsbl.lower(policy.dnsbl, record)
    access = access_tables(policy.access, record)
    headers = header_checks.table(policy.header_checks, record)
    values |= _protocol(policy, record)
    values |= smuggling.parameters(policy, record)
    values |= _tls(policy, record)
    screened, allowed = screening.lower(policy, record)
    values |= screened | outbound.parameters(policy, record)
    tables = {**access, **domain_tables, "header_checks": headers, "rbl_reply": rbl_reply,
              **({"postscreen_access": allowed} if allowed else {})}
    tables = {key: table for key, table in tables.items() if not table.empty}
    values |= _restrictions(policy, tables, [*rbl_steps, *auth.restrictions]) | auth.parameters
    return MainCf(_layout(policy, values)), tables


def _layout(policy: Policy, values: Mapping[str, Value]) -> tuple[Section, ...]:
    """The sections of :data:`SECTIONS`, then Debian's aliases unless the site sets them, then the site's own."""
    sections: list[Section] = [(title, tuple((name, values[name]) for name in names if name in values))
                               for title, names in SECTIONS if any(name in values for name in names)]
    site = policy.targets.postfix.parameters
    aliases = tuple((name, DEBIAN_ALIASES) for name in ALIAS_PARAMETERS if name not in site)
    if aliases:
        sections.append(("Local aliases (Debian's default; targets.postfix.parameters may replace them)", aliases))
    if site:
        sections.append(("Site parameters (targets.postfix.parameters)",
                         tuple(sorted((name, site_value(name, value)) for name, value in site.items()))))
    return tuple(sections)


def _identity(policy: Policy, record: Recorder) -> dict[str, Value]:
    options = policy.targets.postfix
    values: dict[str, Value] = {"compatibility_level": "3.6"}
    if policy.hostname:
        values["myhostname"] = policy.hostname
    record.enforced("hostname", facts.HOSTNAME if policy.hostname else facts.HOSTNAME_FROM_SYSTEM)
    return values | {
        "myorigin": "$myhostname",
        "biff": "no",
        "append_dot_mydomain": "no",
        "readme_directory": "no",
        "inet_interfaces": "loopback-only" if policy.role == "null-client"
        else ", ".join(map(interface, options.inet_interfaces)),
        "inet_protocols": options.inet_protocols,
    }


def _destinations(policy: Policy, record: Recorder) -> tuple[dict[str, Value], dict[str, Table]]:
    """mydestination and relay_domains: inline, or past ``DOMAIN_TABLE_MIN`` names a hash table."""
    tables: dict[str, Table] = {}
    written: dict[str, list[str]] = {}
    for kind, listed in (("local", policy.domains.local), ("relay", policy.domains.relay)):
        how, names, subdomains = facts.DOMAINS[kind], list(listed), []
        if kind == "local":  # mydestination is a string list: a .domain entry there would match only itself
            subdomains = [name for name in listed if name.startswith(".")]
            names = [name for name in listed if not name.startswith(".")]
        if len(names) > facts.DOMAIN_TABLE_MIN:
            table = tables[f"{kind}_domains"] = Table(f"{kind}_domains", "hash", (), (Block(names, "OK"),))
            written[kind] = [table.reference]
            how += facts.DOMAIN_TABLE.format(kind=kind, limit=facts.DOMAIN_TABLE_MIN)
        else:
            written[kind] = names
        if subdomains:
            table = tables["local_subdomains"] = Table(
                "local_subdomains", "regexp", tuple((_subdomain_pattern(name), "OK") for name in subdomains))
            written[kind].append(table.reference)
            how += facts.SUBDOMAIN_TABLE
        record.enforced(f"domains.{kind}", how + (facts.RELAY_RECIPIENTS_UNVERIFIED if kind == "relay" else ""))
    local = [] if policy.role == "null-client" else ["$myhostname", "localhost", *written["local"]]
    return {"mydestination": ", ".join(local), "relay_domains": ", ".join(written["relay"])}, tables


def _subdomain_pattern(name: str) -> str:
    """A regexp table key matching every subdomain of ``.name`` (not the name itself); domain names are
    letters, digits, hyphens and dots, so the dots are all there is to escape."""
    return "/" + name.replace(".", "\\.") + "$/"


def _relay_control(policy: Policy, record: Recorder) -> dict[str, Value]:
    """Trust and relaying, every parameter explicit: only trusted and authenticated clients relay."""
    relay = ["permit_mynetworks", *(["permit_sasl_authenticated"] if policy.auth.enabled else []),
             "reject_unauth_destination"]
    values: dict[str, Value] = {
        "mynetworks_style": "host",
        "mynetworks": ", ".join(network(n) for n in policy.networks.trusted),
        "parent_domain_matches_subdomains": "",
        "smtpd_relay_restrictions": relay,
        "allow_untrusted_routing": "no",
        "allow_percent_hack": "yes",
        "swap_bangpath": "yes",
        "resolve_dequoted_address": "yes",
        "resolve_null_domain": "no",
        "permit_mx_backup_networks": "",
        "smtpd_authorized_xclient_hosts": "",
        "smtpd_authorized_xforward_hosts": "",
    }
    if policy.role == "null-client":
        values["local_transport"] = "error:local delivery is disabled"
    record.enforced("networks.trusted", facts.TRUSTED)
    return values


def _protocol(policy: Policy, record: Recorder) -> dict[str, Value]:
    smtp = policy.smtp
    record.enforced("smtp.banner", facts.BANNER)
    record.enforced("smtp.disable_vrfy", facts.VRFY.format(value=yes(smtp.disable_vrfy)))
    if smtp.disable_expn:
        record.enforced("smtp.disable_expn", facts.NO_EXPN)
    else:
        record.approximated("smtp.disable_expn", facts.EXPN_STAYS_OFF)
    record.enforced("smtp.require_helo", facts.REQUIRE_HELO.format(value=yes(smtp.require_helo)))
    record.enforced("smtp.strict_envelopes", facts.STRICT_ENVELOPES if smtp.strict_envelopes else facts.LAX_ENVELOPES)
    record.approximated("smtp.max_message_size", facts.MESSAGE_SIZE)
    for element, how in facts.LIMITS:
        record.enforced(element, how)
    return {
        "smtpd_banner": fill(smtp.banner, {"hostname": "$myhostname"}, escape_dollar),
        "smtpd_helo_required": yes(smtp.require_helo),
        "disable_vrfy_command": yes(smtp.disable_vrfy),
        "strict_rfc821_envelopes": yes(smtp.strict_envelopes),
        "message_size_limit": str(smtp.max_message_size),
        "mailbox_size_limit": "0",
        "smtpd_recipient_limit": str(smtp.max_recipients),
        "smtpd_client_connection_count_limit": str(smtp.max_connections_per_client),
    }


def _tls(policy: Policy, record: Recorder) -> dict[str, Value]:
    tls = policy.tls
    if tls is None:
        record.enforced("tls", facts.NO_TLS)
        return {"smtpd_tls_security_level": "none", "smtpd_tls_auth_only": "no"}
    record.enforced("tls", facts.TLS.format(inbound=tls.inbound, min_protocol=tls.min_protocol))
    return {
        "smtpd_tls_cert_file": tls.cert,
        "smtpd_tls_key_file": tls.key,
        "smtpd_tls_security_level": tls.inbound,
        "smtpd_tls_protocols": f">={tls.min_protocol}",
        "smtpd_tls_mandatory_protocols": f">={tls.min_protocol}",
        "smtpd_tls_auth_only": yes(policy.auth.require_tls),
        "smtpd_tls_received_header": "yes",
    }


def _restrictions(policy: Policy, tables: Mapping[str, Table], rbl_steps: list[str]) -> dict[str, Value]:
    """Every access decision at RCPT, in one list: explicit rules, the trusted/AUTH bypass, the DNSBLs."""
    return {
        "smtpd_delay_reject": "yes",
        "smtpd_client_restrictions": "",
        "smtpd_helo_restrictions": "",
        "smtpd_sender_restrictions": "",
        "smtpd_recipient_restrictions": _recipient_restrictions(policy, tables, rbl_steps),
        "smtpd_data_restrictions": "reject_unauth_pipelining",
        "smtpd_reject_unlisted_recipient": "yes",
        "smtpd_reject_unlisted_sender": "no",
        "header_checks": tables["header_checks"].reference if "header_checks" in tables else "",
        "rbl_reply_maps": tables["rbl_reply"].reference if "rbl_reply" in tables else "",
    }


def _recipient_restrictions(policy: Policy, tables: Mapping[str, Table], rbl_steps: list[str]) -> list[str]:
    steps = [f"check_client_access {table.reference}" for key, table in tables.items()
             if key.partition(".")[0] == "clients"]
    steps += [f"check_recipient_access {table.reference}" for key, table in tables.items()
              if key.partition(".")[0] == "recipients"]
    if policy.smtp.require_helo:
        steps.append("reject_invalid_helo_hostname")
    if "helo" in tables:
        steps.append(f"check_helo_access {tables['helo'].reference}")
    if policy.smtp.strict_envelopes:
        steps += ["reject_non_fqdn_sender", "reject_non_fqdn_recipient"]
    steps += [f"check_sender_access {table.reference}" for key, table in tables.items()
              if key.partition(".")[0] == "senders"]
    steps.append("permit_mynetworks")
    if policy.auth.enabled:
        steps.append("permit_sasl_authenticated")
    return [*steps, *rbl_steps, "permit"]
