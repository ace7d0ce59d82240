"""Postfix: main.cf, master.cf, access maps, header checks, DNSBL replies and Cyrus SASL config.

Every relay-relevant parameter is written explicitly; nothing relies on ``compatibility_level``.
Access rules never enter ``smtpd_relay_restrictions``, so no ``permit`` rule can open a relay.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from ..policy import Policy, canonical
from ..policy.lists import EntryFile
from ..policy.model import (
    AccessAction,
    AddressFile,
    AddressRule,
    ClientFile,
    ClientRule,
    DnsblEntry,
    HeaderCheck,
    HeloFile,
    HeloRule,
)
from ..policy.pattern import has_text, parse, pcre_body
from . import header_engines, header_forms, pcre2
from .address_keys import first_match_keys
from .base import (
    Block,
    Coverage,
    Plan,
    PlannedFile,
    Requirement,
    Step,
    Target,
    address_requirement,
    coverage_file,
    digest,
    placed,
    register,
    tls_requirements,
)
from .base import Service as Daemon
from .postfix_parameters import canonical as site_value

CONFIG = "$config_directory"
# A domain list longer than this goes to a hash table (one lookup) instead of main.cf (a list scan).
DOMAIN_TABLE_MIN = 20

# Debian 12's default master.cf services (the optional pipe transports are left out).
# (name, type, private, unpriv, chroot, wakeup, maxproc, command, extra args)
INTERNAL_SERVICES: tuple[tuple[str, str, str, str, str, str, str, str, tuple[str, ...]], ...] = (
    ("pickup", "unix", "n", "-", "y", "60", "1", "pickup", ()),
    ("cleanup", "unix", "n", "-", "y", "-", "0", "cleanup", ()),
    ("qmgr", "unix", "n", "-", "n", "300", "1", "qmgr", ()),
    ("tlsmgr", "unix", "-", "-", "y", "1000?", "1", "tlsmgr", ()),
    ("rewrite", "unix", "-", "-", "y", "-", "-", "trivial-rewrite", ()),
    ("bounce", "unix", "-", "-", "y", "-", "0", "bounce", ()),
    ("defer", "unix", "-", "-", "y", "-", "0", "bounce", ()),
    ("trace", "unix", "-", "-", "y", "-", "0", "bounce", ()),
    ("verify", "unix", "-", "-", "y", "-", "1", "verify", ()),
    ("flush", "unix", "n", "-", "y", "1000?", "0", "flush", ()),
    ("proxymap", "unix", "-", "-", "n", "-", "-", "proxymap", ()),
    ("proxywrite", "unix", "-", "-", "n", "-", "1", "proxymap", ()),
    ("smtp", "unix", "-", "-", "y", "-", "-", "smtp", ()),
    ("relay", "unix", "-", "-", "y", "-", "-", "smtp", ("-o syslog_name=postfix/$service_name",)),
    ("showq", "unix", "n", "-", "y", "-", "-", "showq", ()),
    ("error", "unix", "-", "-", "y", "-", "-", "error", ()),
    ("retry", "unix", "-", "-", "y", "-", "-", "error", ()),
    ("discard", "unix", "-", "-", "y", "-", "-", "discard", ()),
    ("local", "unix", "-", "n", "n", "-", "-", "local", ()),
    ("virtual", "unix", "-", "n", "n", "-", "-", "virtual", ()),
    ("lmtp", "unix", "-", "-", "y", "-", "-", "lmtp", ()),
    ("anvil", "unix", "-", "-", "y", "-", "1", "anvil", ()),
    ("scache", "unix", "-", "-", "y", "-", "1", "scache", ()),
    ("postlog", "unix-dgram", "n", "-", "n", "-", "1", "postlogd", ()),
)

DEBIAN_ALIASES = "hash:/etc/aliases"
DEBIAN_CONFIGURE = "/usr/lib/postfix/configure-instance.sh"
DEBIAN_CONFIG_DIR = "/etc/postfix"
DEBIAN_QUEUE = "/var/spool/postfix"
RESTART_PARAMETERS = frozenset({"inet_interfaces", "inet_protocols"})
MAP_SUFFIXES = {"hash": "db", "btree": "db", "lmdb": "lmdb", "cdb": "cdb"}

# Every main.cf parameter _main_cf may write (tests keep this in step): targets.postfix.parameters may
# set none of them (it takes only postfix_parameters.ALLOWED).
MANAGED_PARAMETERS = frozenset({
    "allow_percent_hack", "allow_untrusted_routing", "append_dot_mydomain", "biff", "broken_sasl_auth_clients",
    "compatibility_level", "cyrus_sasl_config_path", "disable_vrfy_command", "header_checks", "inet_interfaces",
    "inet_protocols", "local_transport", "mailbox_size_limit", "message_size_limit", "mydestination",
    "myhostname", "mynetworks", "mynetworks_style", "myorigin", "parent_domain_matches_subdomains",
    "permit_mx_backup_networks", "rbl_reply_maps", "readme_directory", "relay_domains",
    "resolve_dequoted_address", "resolve_null_domain", "smtpd_authorized_xclient_hosts",
    "smtpd_authorized_xforward_hosts", "smtpd_banner", "smtpd_client_connection_count_limit",
    "smtpd_client_restrictions", "smtpd_data_restrictions", "smtpd_delay_reject", "smtpd_helo_required",
    "smtpd_helo_restrictions", "smtpd_recipient_limit", "smtpd_recipient_restrictions",
    "smtpd_reject_unlisted_recipient", "smtpd_reject_unlisted_sender", "smtpd_relay_restrictions",
    "smtpd_sasl_auth_enable", "smtpd_sasl_mechanism_filter", "smtpd_sasl_path", "smtpd_sasl_security_options",
    "smtpd_sasl_tls_security_options", "smtpd_sasl_type", "smtpd_sender_restrictions", "smtpd_tls_auth_only",
    "smtpd_tls_cert_file", "smtpd_tls_key_file", "smtpd_tls_mandatory_protocols", "smtpd_tls_protocols",
    "smtpd_tls_received_header", "smtpd_tls_security_level", "strict_rfc821_envelopes", "swap_bangpath",
})

ACCESS_VERBS: Mapping[AccessAction, str] = {"reject": "REJECT", "defer": "DEFER", "permit": "OK"}
HEADER_VERBS = {"reject": "REJECT", "discard": "DISCARD", "hold": "HOLD", "warn": "WARN"}
DNSBL_CODES = {"reject": "554 5.7.1", "defer": "450 4.7.1"}
DNSBL_PLACEHOLDERS = {"client": "${client_address}", "zone": "${rbl_domain}"}

Value = str | list[str]
Section = tuple[str, list[tuple[str, Value]]]


@dataclass(frozen=True)
class Table:
    """A lookup table file: its name in the config folder, Postfix map type and key/value lines.

    ``blocks`` (list file entries) follow the lines; only tables where order does not matter (hash,
    or one list file's own cidr table) have both.
    """

    name: str
    kind: str
    lines: tuple[tuple[str, str], ...]
    blocks: tuple[Block, ...] = ()
    comments: tuple[str, ...] = ()  # one per line ("" for none): what a generated line stands for

    @property
    def reference(self) -> str:
        return f"{self.kind}:{CONFIG}/{self.name}"

    @property
    def needs_postmap(self) -> bool:
        return self.kind in ("hash", "lmdb", "btree", "cdb")


@dataclass(frozen=True)
class Service:
    name: str
    kind: str
    private: str
    unpriv: str
    chroot: str
    wakeup: str
    maxproc: str
    command: str
    args: tuple[str, ...] = ()


@register
class PostfixTarget(Target):
    name = "postfix"
    description = "Postfix 3.6+ (main.cf, master.cf, maps)"

    def plan(self, policy: Policy) -> Plan:
        tables = _tables(policy)
        options = policy.targets.postfix
        sections, services = _main_cf(policy, tables), _master_cf(policy)
        files = [
            PlannedFile("main.cf", "main.cf.j2", {"sections": sections}),
            PlannedFile("master.cf", "master.cf.j2", {"services": services}),
            *(PlannedFile(t.name, "table.j2", {"lines": t.lines, "blocks": t.blocks, "comments": t.comments})
              for t in tables.values()),
        ]
        if policy.auth.enabled and policy.auth.backend == "cyrus":
            files.append(PlannedFile("sasl/smtpd.conf", "smtpd.conf.j2", _cyrus_conf(policy)))
        coverage = tuple(_coverage(policy))
        files.append(coverage_file(self.name, coverage))
        config_dir = options.config_dir
        steps = (
            *(Step(("postmap", "-c", config_dir, f"{t.kind}:{config_dir}/{t.name}"), f"index {t.name} for lookups",
                   outputs=(f"{config_dir}/{t.name}.{MAP_SUFFIXES[t.kind]}",))
              for t in tables.values() if t.needs_postmap),
            Step(("postconf", "-c", config_dir, "-n"), "parse main.cf: unused or repeated parameters warn", "check"),
            Step(("postconf", "-c", config_dir, "-M"), "parse master.cf", "check"),
            Step(("postfix", "-c", config_dir, "check"), "let Postfix verify files and permissions", "check"),
            Step(("postfix", "-c", config_dir, "reload"), "load the new configuration", "apply"),
        )
        return Plan(self.name, placed(files, lambda path: f"{config_dir}/{path}"), steps, coverage, apply="reload",
                    service=_service(config_dir, sections, services), preflight=_preflight(policy))


def _preflight(policy: Policy) -> tuple[Requirement, ...]:
    """What main.cf relies on the host for. smtpd opens the TLS key as root before it drops privileges
    (TLS_README); a chrooted smtpd reaches SASL inside the queue folder, as the postfix user."""
    options, auth = policy.targets.postfix, policy.auth
    needs = list(tls_requirements(policy.tls.cert, policy.tls.key, "root")) if policy.tls else []
    if auth.enabled and policy.accepts_inbound:
        queue = str(options.parameters.get("queue_directory", DEBIAN_QUEUE))
        inside = queue if options.chroot else ""
        if auth.backend == "dovecot":
            needs.append(Requirement("any-of", (f"{queue}/{auth.dovecot_socket}",),
                                     "Dovecot's auth socket exists (smtpd_sasl_path; Dovecot must run)"))
        elif auth.cyrus.pwcheck_method == "saslauthd":
            needs.append(Requirement("any-of", (f"{inside}/run/saslauthd/mux", f"{inside}/var/run/saslauthd/mux"),
                                     "saslauthd's socket exists where smtpd looks (saslauthd must run"
                                     + (f", with -m {queue}/var/run/saslauthd: smtpd is chrooted)" if inside else ")")))
        else:
            sasldb = auth.cyrus.sasldb_path or "/etc/sasldb2"
            needs.append(Requirement("readable", ("postfix", f"{inside}{sasldb}"),
                                     "the sasldb exists where smtpd opens it and postfix reads it"
                                     + (" (smtpd is chrooted: a copy inside the queue folder)" if inside else "")))
    interfaces = [] if policy.role == "null-client" else options.inet_interfaces
    needs += address_requirement([_interface(i) for i in interfaces if i not in ("all", "loopback-only")])
    return tuple(needs)


def _service(config_dir: str, sections: list[Section], services: list[Service]) -> Daemon:
    """postfix(1) runs, starts and stops it; postconf(5): a change of ``inet_interfaces`` or
    ``inet_protocols`` needs ``postfix stop`` and ``start``, a reload keeps the old listeners. master.cf
    is in the key too: a reload rereads it, but a restart is the conservative answer for changed services."""
    values = {name: value for _, lines in sections for name, value in lines if name in RESTART_PARAMETERS}
    postfix = ("postfix", "-c", config_dir)
    # Debian's init script and systemd unit prepare the default instance's smtpd chroot (resolv.conf, ...)
    # before a start; another config_dir is another instance, which that script does not prepare.
    prepare = (("sh", "-c", f"! [ -x {DEBIAN_CONFIGURE} ] || {DEBIAN_CONFIGURE} -"),)
    start = (*(prepare if config_dir == DEBIAN_CONFIG_DIR else ()), (*postfix, "start"))
    return Daemon(running=(*postfix, "status"), start=start, stop=((*postfix, "stop"),),
                   restart_key=digest({"main.cf": values, "master.cf": repr(services)}))


def escape_dollar(text: str) -> str:
    """Literal text for a Postfix parameter or reply template: ``$`` means expansion, so double it."""
    return text.replace("$", "$$")


# --- tables -----------------------------------------------------------------------------------


def _tables(policy: Policy) -> dict[str, Table]:
    """Every table by role: ``clients``/``clients.N`` (in evaluation order), stages, domains, checks."""
    access = policy.access
    tables: dict[str, Table] = {}

    def add(key: str, table: Table) -> None:
        if table.lines or any(block.keys for block in table.blocks):
            tables[key] = table

    for key, table in _client_tables(access.clients):
        add(key, table)
    add("helo", Table("helo_access", "hash", tuple(
        (key, _access_value(rule.action, rule.message)) for rule in access.helo if isinstance(rule, HeloRule)
        for key in _helo_keys(rule.match)), tuple(
        Block(_helo_file_keys(rule.file), _access_value(rule.action, rule.message))
        for rule in access.helo if isinstance(rule, HeloFile))))
    for stage, name in (("senders", "sender_access"), ("recipients", "recipient_access")):
        add(stage, _address_table(name, getattr(access, stage)))
    for kind, names in (("local", policy.domains.local), ("relay", policy.domains.relay)):
        if len(names) > DOMAIN_TABLE_MIN:
            add(f"{kind}_domains", Table(f"{kind}_domains", "hash", (), (Block(names, "OK"),)))
    header_lines = [line for index, check in enumerate(policy.header_checks) if header_refusal(check) is None
                    for line in _header_lines(index, check)]
    add("header_checks", Table("header_checks.pcre", "pcre", tuple(line for _, line in header_lines),
                               comments=tuple(comment for comment, _ in header_lines)))
    add("rbl_reply", Table("rbl_reply", "texthash", tuple(_rbl_reply_lines(policy.dnsbl))))
    return tables


def _client_tables(rules: Sequence[ClientRule | ClientFile]) -> Iterator[tuple[str, Table]]:
    """Client tables in first-match-wins order: runs of inline rules in cidr tables (read in order), and
    for each list file a hash table of its IPv4 addresses (one indexed lookup, however long the list)
    and a cidr table of the rest. Within one list file order is moot: every entry has the same action."""
    run: list[tuple[str, str]] = []
    start = 0
    for index, rule in enumerate([*rules, None]):
        if isinstance(rule, ClientRule):
            start = start if run else index
            run.append((canonical.network(rule.match), _access_value(rule.action, rule.message)))
            continue
        if run:
            yield ("clients", Table("client_access.cidr", "cidr", tuple(run))) if start == 0 else (
                f"clients.{start}", Table(f"client_access.{start}.cidr", "cidr", tuple(run)))
            run = []
        if rule is not None:
            value = _access_value(rule.action, rule.message)
            networks = [canonical.network(network) for network in rule.file.networks]
            yield f"clients.{index}", Table(f"client_access.{index}", "hash", (), (Block(rule.file.ipv4_hosts, value),))
            yield f"clients.{index}.cidr", Table(f"client_access.{index}.cidr", "cidr", (), (Block(networks, value),))


def _address_table(name: str, rules: Sequence[AddressRule | AddressFile]) -> Table:
    # Postfix looks up user@domain, then domain, then user@: the keys carry the first match (address_keys).
    lines = tuple(first_match_keys([(rule.match, _access_value(rule.action, rule.message))
                                    for rule in rules if isinstance(rule, AddressRule)]))
    blocks = tuple(Block([_address_key(entry) for entry in rule.file.entries], _access_value(rule.action, rule.message))
                   for rule in rules if isinstance(rule, AddressFile))
    return Table(name, "hash", lines, blocks)


def _helo_file_keys(file: EntryFile) -> list[str]:
    """Every HELO key of a list file: names as they are, addresses also in their literal forms."""
    return [*file.entries, *(key for entry in file.entries if ":" in entry or entry[0].isdigit()
                             for key in _helo_keys(entry)[1:])]


def _access_value(action: AccessAction, message: str | None) -> str:
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


def _address_key(match: str) -> str:
    """Postfix access keys: user@domain, domain (whole domain) or user@ (any domain)."""
    return match[1:] if match.startswith("@") else match


def _header_regex(check: HeaderCheck) -> str:
    """The line's regex as written: the policy pattern re-emitted from its tree, / escaped for the table."""
    parsed = parse(check.pattern)
    return escape_delimiter(pcre2.postfix_header_regex(check.header, pcre_body(parsed), parsed.anchored_start))


def header_refusal(check: HeaderCheck) -> str | None:
    """Why Postfix's own PCRE2 would skip this check's line (None: it compiles, with Postfix's options)."""
    if has_text(parse(check.pattern)):
        return header_engines.problem(check.pattern, check.charsets)
    try:
        pcre2.check(_header_regex(check), pcre2.POSTFIX_HEADER_OPTIONS)
    except (pcre2.CompileError, pcre2.Pcre2Unavailable) as exc:
        return str(exc)
    return None


def _header_line(check: HeaderCheck) -> tuple[str, str]:
    """``/^Name: … pattern/i`` (the i keeps the pattern's own case rule) and the action."""
    return f"/{_header_regex(check)}/i", _header_action(check)


def _header_action(check: HeaderCheck) -> str:
    verb = HEADER_VERBS[check.action]
    # $n in a pcre result is a substitution: a literal $ must be doubled.
    text = escape_dollar(check.message or ("message content rejected" if check.action == "reject" else ""))
    return f"{verb} {text}".rstrip()


def _header_lines(index: int, check: HeaderCheck) -> list[tuple[str, tuple[str, str]]]:
    """The check's lines with their comments: one line, or for non-ASCII text one per charset and form."""
    parsed = parse(check.pattern)
    if not has_text(parsed):
        return [("", _header_line(check))]
    action = _header_action(check)
    return [(f"header_checks[{index}] {check.header}, {form.label}",
             (f"/{escape_delimiter(header_engines.postfix_regex(check.header, form))}/i", action))
            for form in header_forms.forms(parsed, check.charsets)]


def escape_delimiter(pattern: str, delimiter: str = "/") -> str:
    """Escape every unescaped ``delimiter`` in a regex, leaving already-escaped ones alone."""
    out: list[str] = []
    escaped = False
    for char in pattern:
        if char == delimiter and not escaped:
            out.append("\\")
        out.append(char)
        escaped = char == "\\" and not escaped
    return "".join(out)


def _rbl_reply_lines(entries: Iterable[DnsblEntry]) -> Iterable[tuple[str, str]]:
    for entry in entries:
        text = escape_dollar(entry.message)
        for name, variable in DNSBL_PLACEHOLDERS.items():
            text = text.replace("{" + name + "}", variable)
        # smtpd looks the reply up under the restriction's full argument, "zone=filter".
        for return_filter in entry.filters:
            yield f"{entry.zone}={return_filter}", f"{DNSBL_CODES[entry.action]} {text}"


# --- main.cf ----------------------------------------------------------------------------------


def _main_cf(policy: Policy, tables: Mapping[str, Table]) -> list[Section]:
    options = policy.targets.postfix
    auth, tls, smtp = policy.auth, policy.tls, policy.smtp
    trusted = [_postfix_network(n) for n in policy.networks.trusted]
    local = [tables["local_domains"].reference] if "local_domains" in tables else policy.domains.local
    local_domains = [] if policy.role == "null-client" else ["$myhostname", "localhost", *local]
    relay_domains = [tables["relay_domains"].reference] if "relay_domains" in tables else policy.domains.relay

    identity: list[tuple[str, Value]] = [("compatibility_level", "3.6")]
    if policy.hostname:
        identity.append(("myhostname", policy.hostname))
    identity += [
        ("myorigin", "$myhostname"),
        ("smtpd_banner", escape_dollar(smtp.banner).replace("{hostname}", "$myhostname")),
        ("biff", "no"),
        ("append_dot_mydomain", "no"),
        ("readme_directory", "no"),
        ("inet_interfaces", "loopback-only" if policy.role == "null-client"
         else ", ".join(map(_interface, options.inet_interfaces))),
        ("inet_protocols", options.inet_protocols),
    ]
    relay: list[tuple[str, Value]] = [
        ("mydestination", ", ".join(local_domains)),
        ("relay_domains", ", ".join(relay_domains)),
        ("mynetworks_style", "host"),
        ("mynetworks", ", ".join(trusted)),
        ("parent_domain_matches_subdomains", ""),
        ("smtpd_relay_restrictions", _relay_restrictions(policy)),
        ("allow_untrusted_routing", "no"),
        ("allow_percent_hack", "yes"),
        ("swap_bangpath", "yes"),
        ("resolve_dequoted_address", "yes"),
        ("resolve_null_domain", "no"),
        ("permit_mx_backup_networks", ""),
        ("smtpd_authorized_xclient_hosts", ""),
        ("smtpd_authorized_xforward_hosts", ""),
    ]
    if policy.role == "null-client":
        relay.append(("local_transport", "error:local delivery is disabled"))
    restrictions: list[tuple[str, Value]] = [
        ("smtpd_delay_reject", "yes"),
        ("smtpd_client_restrictions", ""),
        ("smtpd_helo_restrictions", ""),
        ("smtpd_sender_restrictions", ""),
        ("smtpd_recipient_restrictions", _recipient_restrictions(policy, tables)),
        ("smtpd_data_restrictions", "reject_unauth_pipelining"),
        ("smtpd_reject_unlisted_recipient", "yes"),
        ("smtpd_reject_unlisted_sender", "no"),
        ("header_checks", tables["header_checks"].reference if "header_checks" in tables else ""),
        ("rbl_reply_maps", tables["rbl_reply"].reference if "rbl_reply" in tables else ""),
    ]
    protocol: list[tuple[str, Value]] = [
        ("smtpd_helo_required", _yes(smtp.require_helo)),
        ("disable_vrfy_command", _yes(smtp.disable_vrfy)),
        ("strict_rfc821_envelopes", _yes(smtp.strict_envelopes)),
        ("message_size_limit", str(smtp.max_message_size)),
        ("mailbox_size_limit", "0"),
        ("smtpd_recipient_limit", str(smtp.max_recipients)),
        ("smtpd_client_connection_count_limit", str(smtp.max_connections_per_client)),
    ]
    sasl: list[tuple[str, Value]] = [("smtpd_sasl_auth_enable", _yes(auth.enabled and policy.accepts_inbound))]
    if auth.enabled:
        sasl += [
            ("smtpd_sasl_type", auth.backend),
            ("smtpd_sasl_path", "smtpd" if auth.backend == "cyrus" else auth.dovecot_socket),
            ("smtpd_sasl_security_options", "noanonymous"),
            ("smtpd_sasl_tls_security_options", "noanonymous"),
            ("smtpd_sasl_mechanism_filter", ", ".join(m.lower() for m in auth.mechanisms)),
            ("broken_sasl_auth_clients", "no"),
        ]
        if auth.backend == "cyrus":
            sasl.append(("cyrus_sasl_config_path", f"{CONFIG}/sasl"))
    tls_params: list[tuple[str, Value]]
    if tls is None:
        tls_params = [("smtpd_tls_security_level", "none"), ("smtpd_tls_auth_only", "no")]
    else:
        tls_params = [
            ("smtpd_tls_cert_file", tls.cert),
            ("smtpd_tls_key_file", tls.key),
            ("smtpd_tls_security_level", tls.inbound),
            ("smtpd_tls_protocols", f">={tls.min_protocol}"),
            ("smtpd_tls_mandatory_protocols", f">={tls.min_protocol}"),
            ("smtpd_tls_auth_only", _yes(auth.require_tls)),
            ("smtpd_tls_received_header", "yes"),
        ]
    sections: list[Section] = [
        ("Identity and listeners", identity),
        ("Relay control (every parameter explicit; no compatibility_level defaults)", relay),
        ("Access restrictions (first match wins within each list)", restrictions),
        ("SMTP protocol hardening and limits", protocol),
        ("SMTP AUTH", sasl),
        ("TLS", tls_params),
    ]
    # Debian's own main.cf names hash:/etc/aliases; without it Postfix's built-in default adds
    # nis:mail.aliases and every smtpd logs a NIS warning. A site's alias_maps replaces these.
    aliases: list[tuple[str, Value]] = [
        (name, DEBIAN_ALIASES) for name in ("alias_maps", "alias_database") if name not in options.parameters]
    if aliases:
        sections.append(("Local aliases (Debian's default; targets.postfix.parameters may replace them)", aliases))
    if options.parameters:
        sections.append(("Site parameters (targets.postfix.parameters)",
                         sorted((name, site_value(name, value)) for name, value in options.parameters.items())))
    return sections


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _postfix_network(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> str:
    """mynetworks form: ``192.0.2.0/24``, ``[2001:db8::]/32`` (IPv6 in brackets, as postconf(5) asks)."""
    text = canonical.network(network)
    if network.version == 6:
        address, prefix = text.split("/")
        return f"[{address}]/{prefix}"
    return text


def _interface(interface: str) -> str:
    """An inet_interfaces entry: ``all``, ``loopback-only`` or one canonical address."""
    return interface if interface in ("all", "loopback-only") else canonical.address(interface)


def _relay_restrictions(policy: Policy) -> list[str]:
    steps = ["permit_mynetworks"]
    if policy.auth.enabled:
        steps.append("permit_sasl_authenticated")
    return [*steps, "reject_unauth_destination"]


def _recipient_restrictions(policy: Policy, tables: Mapping[str, Table]) -> list[str]:
    """One ordered list, evaluated at RCPT: explicit rules, then trusted/AUTH bypass, then DNSBLs."""
    steps: list[str] = []
    steps += [f"check_client_access {table.reference}" for key, table in tables.items()
              if key.partition(".")[0] == "clients"]
    if "recipients" in tables:
        steps.append(f"check_recipient_access {tables['recipients'].reference}")
    if policy.smtp.require_helo:
        steps.append("reject_invalid_helo_hostname")
    if "helo" in tables:
        steps.append(f"check_helo_access {tables['helo'].reference}")
    if policy.smtp.strict_envelopes:
        steps += ["reject_non_fqdn_sender", "reject_non_fqdn_recipient"]
    if "senders" in tables:
        steps.append(f"check_sender_access {tables['senders'].reference}")
    steps.append("permit_mynetworks")
    if policy.auth.enabled:
        steps.append("permit_sasl_authenticated")
    steps += [f"reject_rbl_client {entry.zone}={f}" for entry in policy.dnsbl for f in entry.filters]
    return [*steps, "permit"]


# --- master.cf --------------------------------------------------------------------------------


def _master_cf(policy: Policy) -> list[Service]:
    options = policy.targets.postfix
    chroot = "y" if options.chroot else "n"
    services: list[Service] = []
    if policy.accepts_inbound:
        name = "smtp" if options.smtp_port == 25 else str(options.smtp_port)
        services.append(Service(name, "inet", "n", "-", chroot, "-", "-", "smtpd"))
    if policy.offers_submission:
        submission = policy.auth.submission
        if submission.port is not None:
            name = "submission" if submission.port == 587 else str(submission.port)
            services.append(_submission_service(policy, name, wrapper=False, chroot=chroot))
        if submission.smtps_port is not None:
            name = "smtps" if submission.smtps_port == 465 else str(submission.smtps_port)
            services.append(_submission_service(policy, name, wrapper=True, chroot=chroot))
    for entry in INTERNAL_SERVICES:
        service = Service(*entry)
        if service.chroot == "y" and not options.chroot:
            service = Service(*entry[:4], "n", *entry[5:])
        services.append(service)
    return services


def _submission_service(policy: Policy, name: str, *, wrapper: bool, chroot: str) -> Service:
    tls_level = "encrypt" if policy.tls is not None else "none"
    args = [f"-o syslog_name=postfix/{'smtps' if wrapper else 'submission'}"]
    if wrapper:
        args.append("-o smtpd_tls_wrappermode=yes")
    args += [
        f"-o smtpd_tls_security_level={tls_level}",
        "-o smtpd_sasl_auth_enable=yes",
        f"-o smtpd_tls_auth_only={_yes(policy.auth.require_tls)}",
        "-o smtpd_client_restrictions=",
        "-o smtpd_helo_restrictions=",
        "-o smtpd_sender_restrictions=",
        "-o smtpd_relay_restrictions=permit_sasl_authenticated,reject",
        "-o smtpd_recipient_restrictions=permit_sasl_authenticated,reject",
    ]
    return Service(name, "inet", "n", "-", chroot, "-", "-", "smtpd", tuple(args))


# --- SASL -------------------------------------------------------------------------------------


def _cyrus_conf(policy: Policy) -> dict[str, object]:
    cyrus = policy.auth.cyrus
    lines = [("pwcheck_method", cyrus.pwcheck_method), ("mech_list", " ".join(policy.auth.mechanisms))]
    if cyrus.pwcheck_method == "auxprop":
        lines += [("auxprop_plugin", "sasldb"), ("sasldb_path", cyrus.sasldb_path or "/etc/sasldb2")]
    return {"lines": lines}


# --- coverage ---------------------------------------------------------------------------------


def _chrooted_sasldb(policy: Policy) -> str:
    """What a chrooted smtpd needs of a Cyrus sasldb: it opens the path inside the queue folder."""
    cyrus = policy.auth.cyrus
    if not (policy.targets.postfix.chroot and policy.auth.backend == "cyrus" and cyrus.pwcheck_method == "auxprop"):
        return ""
    return (f"; smtpd is chrooted, so Cyrus opens {cyrus.sasldb_path} inside the queue folder: copy it to "
            f"/var/spool/postfix{cyrus.sasldb_path} (root:sasl, 0640; postfix in group sasl) after each "
            "saslpasswd2, or set targets.postfix.chroot: false")


def _coverage(policy: Policy) -> Iterable[Coverage]:
    def enforced(element: str, how: str) -> Coverage:
        return Coverage(element, "enforced", how)

    yield enforced("role", f"{policy.role}: listeners in master.cf, relay rules in main.cf")
    yield enforced("hostname", "myhostname" if policy.hostname else "the system host name (myhostname unset)")
    for kind, parameter in (("local", "mydestination"), ("relay", "relay_domains")):
        table = f" (hash:{kind}_domains: more than {DOMAIN_TABLE_MIN} names)" if len(
            getattr(policy.domains, kind)) > DOMAIN_TABLE_MIN else ""
        unverified = "; recipients are not verified (no relay_recipient_maps)" if kind == "relay" else ""
        yield enforced(f"domains.{kind}", parameter + table + unverified)
    yield enforced("networks.trusted", "mynetworks + permit_mynetworks in smtpd_relay_restrictions")
    if policy.auth.enabled:
        yield enforced("auth", f"SASL ({policy.auth.backend}); permit_sasl_authenticated; "
                               f"smtpd_sasl_mechanism_filter; smtpd_tls_auth_only={_yes(policy.auth.require_tls)}"
                               + _chrooted_sasldb(policy))
    else:
        yield enforced("auth", "SMTP AUTH disabled (smtpd_sasl_auth_enable = no)")
    for index, entry in enumerate(policy.dnsbl):
        yield enforced(f"dnsbl[{index}]", f"reject_rbl_client {entry.zone} with filter(s) "
                                          f"{', '.join(entry.filters)}; reply from rbl_reply_maps")
    clients = "client_access.cidr (cidr)" + (
        "; each list file: its IPv4 addresses in a hash table, the rest in a cidr table, at its place"
        if any(isinstance(rule, ClientFile) for rule in policy.access.clients) else "")
    for stage, table in (("clients", clients), ("helo", "helo_access (hash)"),
                         ("senders", "sender_access (hash)"), ("recipients", "recipient_access (hash)")):
        if getattr(policy.access, stage):
            yield enforced(f"access.{stage}", f"{table} in smtpd_recipient_restrictions; OK never relays")
    for index, check in enumerate(policy.header_checks):
        refusal = header_refusal(check)
        how = f"header_checks.pcre: {check.header} ({check.action})"
        if refusal:
            yield Coverage(f"header_checks[{index}]", "unsupported", refusal)
        elif has_text(parse(check.pattern)):
            yield Coverage(f"header_checks[{index}]", "approximated",
                           f"{how}; {header_forms.limits(parse(check.pattern), check.charsets, raw=True)}")
        else:
            yield enforced(f"header_checks[{index}]", how)
    smtp = policy.smtp
    yield enforced("smtp.banner", "smtpd_banner")
    yield enforced("smtp.disable_vrfy", f"disable_vrfy_command = {_yes(smtp.disable_vrfy)}")
    if smtp.disable_expn:
        yield enforced("smtp.disable_expn", "Postfix has no EXPN command")
    else:
        yield Coverage("smtp.disable_expn", "approximated", "Postfix has no EXPN command; it stays off")
    yield enforced("smtp.require_helo", f"smtpd_helo_required = {_yes(smtp.require_helo)}")
    yield enforced("smtp.strict_envelopes", "strict_rfc821_envelopes, reject_non_fqdn_sender/recipient"
                   if smtp.strict_envelopes else "strict_rfc821_envelopes = no")
    yield enforced("smtp.max_message_size", "message_size_limit")
    yield enforced("smtp.max_recipients", "smtpd_recipient_limit")
    yield enforced("smtp.max_connections_per_client", "smtpd_client_connection_count_limit (anvil)")
    if policy.tls:
        yield enforced("tls", f"smtpd_tls_* (security level {policy.tls.inbound}, >= {policy.tls.min_protocol})")
    else:
        yield enforced("tls", "no TLS (smtpd_tls_security_level = none)")
