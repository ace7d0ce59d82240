"""Sendmail: sendmail.mc (m4), access, relay-domains, local-host-names, Sendmail.conf, -bt checks.

Policy text reaches m4 only inside double m4 quotes (so cf.m4's rescans cannot execute it) and never
contains an m4 quote character; free text for the access map goes to a plain file m4 never reads.
Relaying is granted only by class R (relay-domains), ``Connect:`` RELAY entries for trusted
networks and TRUST_AUTH_MECH; access rules use OK/REJECT/ERROR, which never relay.
"""

from __future__ import annotations

import ipaddress
import shlex
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace

from ..policy import Policy, canonical
from ..policy.evaluate import evaluate
from ..policy.lists import Network, first_covering
from ..policy.model import (
    AccessAction,
    AddressFile,
    AddressRule,
    ClientFile,
    ClientRule,
    DnsblEntry,
    HeaderCheck,
    HeloFile,
)
from ..policy.pattern import has_text, parse
from ..policy.transaction import Transaction
from . import header_engines, header_forms
from .address_keys import first_match_keys
from .base import (
    HOST_ITSELF,
    Block,
    Coverage,
    Plan,
    PlannedFile,
    Requirement,
    Service,
    Status,
    Step,
    Target,
    address_requirement,
    coverage_file,
    placed,
    register,
    tls_requirements,
)
from .sendmail_regex import EreMatcher, Inexpressible, to_ere

M4_QUOTES = ("`", "'")
# cf.m4's Received: header without "($v/$Z)": relayed mail would carry the version off the host.
RECEIVED_HEADER = ("$?sfrom $s $.$?_($?s$|from $.$_) $.$?{auth_type}(authenticated$?{auth_ssf} bits=${auth_ssf}$.) "
                   "$.by $j$?r with $r$. id $i$?{tls_version} (version=${tls_version} cipher=${cipher} "
                   "bits=${cipher_bits} verify=${verify})$.$?u for $u; $|; $.$b")
# HelpFile lines (topic, text). Sendmail expands macros in them, so they hold none; without a
# readable help file HELP answers "502 5.3.0 Sendmail <version> -- HELP not implemented".
HELP_TOPICS = (("#vers", "2"), ("smtp", "Topics: HELO EHLO MAIL RCPT DATA RSET NOOP QUIT HELP"),
               ("smtp", "For local information send email to Postmaster at your site."),
               ("help", "HELP [ <topic> ]"), ("helo", "HELO <hostname>"), ("ehlo", "EHLO <hostname>"),
               ("mail", "MAIL From:<sender> [ <parameters> ]"), ("rcpt", "RCPT To:<recipient> [ <parameters> ]"),
               ("data", "DATA: the message follows, ended by a line with a single dot."),
               ("rset", "RSET"), ("noop", "NOOP"), ("quit", "QUIT"))
DEBIAN_PID_FILE = "/run/sendmail/mta/sendmail.pid"
# Where a distribution puts the Cyrus SASL library sm-mta is linked with (a glob: multiarch folders).
SASL_LIBRARY = ("/usr/lib/*/libsasl2.so.2", "/usr/lib64/libsasl2.so.2", "/usr/lib/libsasl2.so.2")
DEBIAN_INIT = "/etc/init.d/sendmail"  # starts sm-mta as Debian configures it (the only tested layout)
# No verdict of the -bt check depends on DNS (its strangers' names resolve nowhere), so host names
# come from files and the DNSBL lookups (a dns map, which ignores the switch) give up fast: with the
# resolver unreachable the check took 3.5 minutes on Debian, 28 s so.
BT_SERVICES = (("hosts", "files"), ("aliases", "files"), ("passwd", "files"))
BT_RESOLVER = "-O Timeout.resolver.retrans=1s -O Timeout.resolver.retry=1"
# One verdict per check_rcpt answered in `sendmail -bt` output: an $#error is a refusal.
BT_VERDICTS = '/^(> )?check_rcpt +returns:/ { print (index($0, "$# error") ? "refused" : "accepted") }'
SENDMAIL_STRING_UNSAFE = ('"', "$", "\\")
PRIVACY_FLAGS = ("authwarnings", "noverb", "noetrn", "noreceipts", "restrictqrun", "restrictmailq")
ENHDNSBL_SLOTS = 6
HEADER_ACTIONS = {"reject": "$#error $@ 5.7.1 $: {text}", "discard": "$#discard $: discard",
                  "hold": "$#error $@ quarantine $: {text}"}


class Unexpressible(ValueError):
    """A policy element this target cannot carry; the reason ends up in coverage."""


@register
class SendmailTarget(Target):
    name = "sendmail"
    description = "Sendmail 8.15+ (sendmail.mc for m4 + sendmail-cf, access map)"

    def plan(self, policy: Policy) -> Plan:
        options = policy.targets.sendmail
        gaps: list[Coverage] = []
        header_rules = _local_rules(policy, gaps)
        dnsbl = list(_dnsbl_features(policy.dnsbl, gaps))
        mc = _mc(policy, dnsbl, header_rules, gaps)
        access_lines, access_blocks = _access_lines(policy, gaps)
        scenarios = relay_scenarios(policy)
        files = [
            PlannedFile("sendmail.mc", "sendmail.mc.j2", {"statements": mc, "local_config": header_rules.config,
                                                            "local_rulesets": header_rules.rulesets}),
            PlannedFile("access", "table.j2", {"lines": access_lines, "blocks": access_blocks}),
            PlannedFile("relay-domains", "list.j2", {"items": _relay_domains(policy)}),
            PlannedFile("local-host-names", "list.j2", {"items": _local_names(policy)}),
            PlannedFile("helpfile", "table.j2", {"lines": HELP_TOPICS, "blocks": []}),
            PlannedFile("relay-check.bt", "relay-check.bt.j2", {"scenarios": scenarios, "helo": BT_HELO},
                        comment="none"),
            PlannedFile("relay-check.switch", "table.j2", {"lines": BT_SERVICES, "blocks": []}),
            PlannedFile("relay-check.expected", "list.j2",
                        {"items": ["accepted" if s.accepted else "refused" for s in scenarios]}, comment="none"),
        ]
        if policy.auth.enabled and policy.auth.backend == "cyrus":
            files.append(PlannedFile("Sendmail.conf", "Sendmail.conf.j2", {"lines": _cyrus_conf(policy)}))
        coverage = tuple(_coverage(policy, gaps))
        files.append(coverage_file(self.name, coverage))
        q, settings = shlex.quote, options.settings_dir
        cf = f"{settings}/sendmail.cf"
        steps = (
            Step(("sh", "-c", f"m4 {q(options.cf_dir + '/m4/cf.m4')} {q(settings + '/sendmail.mc')} > {q(cf)}"),
                 "compile sendmail.mc with sendmail-cf (any m4 message is an error)", outputs=(cf,)),
            Step(("sh", "-c", f"{q(options.makemap)} -C {q(cf)} hash {q(settings + '/access')} "
                              f"< {q(settings + '/access')}"), "index the access map into access.db",
                 outputs=(f"{settings}/access.db",)),
            Step(("sh", "-c", f"{q(options.sendmail)} -C {q(cf)} {BT_RESOLVER} -O ServiceSwitchFile="
                              f"{q(settings + '/relay-check.switch')} -bt < {q(settings + '/relay-check.bt')} "
                              f"| awk {q(BT_VERDICTS)} | diff {q(settings + '/relay-check.expected')} -"),
                 "address test mode: every check_rcpt decision of relay-check.bt as expected", "check"),
            Step(("sh", "-c", f"kill -HUP \"$(head -n 1 {q(options.pid_file or DEBIAN_PID_FILE)})\""),
                 "the daemon re-executes itself and reads the new sendmail.cf", "apply"),
        )
        def where(path: str) -> str:
            if path == "helpfile":
                return help_file(policy)
            return f"{options.sasl_dir}/{path}" if path == "Sendmail.conf" else f"{settings}/{path}"

        # Every apply is a full restart (SIGHUP re-executes the daemon): no separate restart key.
        pid_file = q(options.pid_file or DEBIAN_PID_FILE)
        service = Service(running=("sh", "-c", f'kill -0 "$(head -n 1 {pid_file} 2>/dev/null)" 2>/dev/null'),
                          start=((DEBIAN_INIT, "start"),), stop=((DEBIAN_INIT, "stop"),))
        return Plan(self.name, placed(files, where), steps, coverage, apply="restart", service=service,
                    preflight=_preflight(policy))

    def filters(self) -> Mapping[str, Callable[..., str]]:
        return {"m4_line": m4_line}


DEBIAN_ALIASES = "/etc/aliases"  # Sendmail's AliasFile without ALIAS_FILE (Debian's sendmail.mc keeps it)


def _preflight(policy: Policy) -> tuple[Requirement, ...]:
    """What sendmail.mc relies on the host for. The daemon reads the TLS key as root at start (and
    refuses a group- or world-readable one unless DontBlameSendmail says otherwise); AUTH needs the
    Cyrus SASL library Sendmail is linked with and, for saslauthd, its socket. Mail for postmaster@ of
    the local domains must be accepted (RFC 5321 4.5.1, and the contract): Sendmail checks local users
    at RCPT, and Debian's package leaves the aliases file without postmaster, so a stock host answers
    "User unknown" (the aliases are the site's; mtaharden writes none)."""
    options, auth = policy.targets.sendmail, policy.auth
    needs = list(tls_requirements(policy.tls.cert, policy.tls.key, "root")) if policy.tls else []
    if policy.domains.local and policy.role != "null-client":
        needs.append(Requirement("alias", (options.alias_file or DEBIAN_ALIASES, "postmaster"),
                                 "postmaster@ is deliverable (an alias for postmaster)"))
    if auth.enabled and auth.backend == "cyrus":
        needs.append(Requirement("any-of", SASL_LIBRARY,
                                 "the Cyrus SASL library is installed (libsasl2-2)"))
        if auth.cyrus.pwcheck_method == "saslauthd":
            needs.append(Requirement("any-of", ("/run/saslauthd/mux", "/var/run/saslauthd/mux"),
                                     "saslauthd's socket exists (saslauthd must run)"))
        else:
            needs.append(Requirement("readable", ("root", auth.cyrus.sasldb_path or "/etc/sasldb2"),
                                     "the sasldb Sendmail.conf names exists"))
    if options.listen_address and policy.role != "null-client":
        needs += address_requirement([canonical.address(options.listen_address)])
    return tuple(needs)


def help_file(policy: Policy) -> str:
    """Where mtaharden's help file goes: HELP must not fall back to a stock file that names the version."""
    options = policy.targets.sendmail
    return options.help_file or f"{options.settings_dir.rstrip('/')}/helpfile"


def m4_quote(text: object, depth: int = 1) -> str:
    """Quote text for m4 ``depth`` times; refuse text that contains a quote or a control character."""
    value = str(text)
    if any(q in value for q in M4_QUOTES) or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise ValueError(f"refusing to pass text with an m4 quote or control character to m4: {value!r}")
    return "`" * depth + value + "'" * depth


def m4_line(line: object) -> str:
    """A raw sendmail.cf line (tabs separate rule fields), quoted so m4 copies it verbatim."""
    return "\t".join(m4_quote(part) if part else "" for part in str(line).split("\t"))


def _check_text(text: str, what: str) -> str:
    """Text placed inside a Sendmail "string" in a rule: no quotes, macros or m4 quote characters."""
    bad = [c for c in (*M4_QUOTES, *SENDMAIL_STRING_UNSAFE) if c in text]
    if bad:
        raise Unexpressible(f"{what} contains {bad[0]!r}, which a Sendmail rule string cannot carry")
    return text


# --- the .mc ----------------------------------------------------------------------------------


def _mc(policy: Policy, dnsbl: list[str], header_rules: LocalRules, gaps: list[Coverage]) -> list[str]:
    options, smtp, auth, tls = policy.targets.sendmail, policy.smtp, policy.auth, policy.tls
    out = [f"VERSIONID({m4_quote('mtaharden')})", f"OSTYPE({m4_quote(options.ostype)})"]
    if options.ostype == "debian":
        # As Debian's own sendmail.mc: its PID file, control socket and TrustedUser smmta, who owns
        # /etc/mail there (without it makemap and sendmail call that folder unsafe and refuse the maps);
        # no host status folder, which Debian creates only when sendmail.conf asks for one.
        out += [f"DOMAIN({m4_quote('debian-mta')})", f"undefine({m4_quote('confHOST_STATUS_DIRECTORY')})"]
    out.append(_define("MAIL_SETTINGS_DIR", options.settings_dir.rstrip("/") + "/"))
    for macro, value in (("QUEUE_DIR", options.queue_dir), ("confPID_FILE", options.pid_file),
                         ("STATUS_FILE", options.status_file), ("HELP_FILE", help_file(policy)),
                         ("ALIAS_FILE", options.alias_file)):
        if value:
            out.append(_define(macro, value))
    out.append(_define("confDONT_BLAME_SENDMAIL", ",".join(options.dont_blame_sendmail) or "safe"))
    if policy.hostname:
        out.append(_define("confDOMAIN_NAME", policy.hostname))
    out += [
        _define("confSMTP_LOGIN_MSG", _greeting(smtp.banner, gaps)),
        _define("confRECEIVED_HEADER", RECEIVED_HEADER),
        _define("confPRIVACY_FLAGS", ",".join(_privacy_flags(policy))),
        _define("confMAX_MESSAGE_SIZE", str(smtp.max_message_size)),
        _define("confMAX_RCPTS_PER_MESSAGE", str(smtp.max_recipients)),
        _define("confDONT_PROBE_INTERFACES", "True"),
    ]
    if auth.enabled:
        mechanisms = " ".join(auth.mechanisms)
        out += [_define("confAUTH_MECHANISMS", mechanisms), f"TRUST_AUTH_MECH({m4_quote(mechanisms)})",
                _define("confAUTH_OPTIONS", "p,y" if auth.require_tls else "y")]
    if tls:
        no_old = ["+SSL_OP_NO_SSLv2", "+SSL_OP_NO_SSLv3", "+SSL_OP_NO_TLSv1", "+SSL_OP_NO_TLSv1_1"]
        if tls.min_protocol == "TLSv1.3":
            no_old.append("+SSL_OP_NO_TLSv1_2")
        out += [_define("confSERVER_CERT", tls.cert), _define("confSERVER_KEY", tls.key),
                _define("confCACERT_PATH", options.ca_path), _define("confCACERT", options.ca_file),
                _define("confSERVER_SSL_OPTIONS", " ".join(no_old))]
    access_db = f"hash -T<TMPF> {options.settings_dir.rstrip('/')}/access"  # spelt out: see _define
    out += [_feature("no_default_msa"), _feature("use_cw_file"),
            f"FEATURE({m4_quote('access_db')}, {m4_quote(access_db, RESCANS)})",
            _feature("relay_hosts_only"), _feature("delay_checks", "friend"), _feature("nouucp", "reject"),
            _feature("nopercenthack", "reject"), _feature("conncontrol", "nodelay", "terminate"), *dnsbl]
    if any(rule.action != "permit" for rule in policy.access.recipients):
        out.append(_feature("blocklist_recipients"))
    if options.accept_unresolvable_domains:
        out.append(_feature("accept_unresolvable_domains"))
    out += _daemons(policy)
    out += [f"MAILER({m4_quote('local')})", f"MAILER({m4_quote('smtp')})"]
    return out


def _greeting(banner: str, gaps: list[Coverage]) -> str:
    """Sendmail inserts "ESMTP" after the greeting's first word itself, so the policy's own is dropped.

    Sendmail expands ``$`` in the greeting (``$v`` is its version), so text it cannot carry as written
    is reported, and the greeting is the host name alone."""
    rest = banner.removeprefix("{hostname}").strip()
    rest = rest.removeprefix("ESMTP").strip()
    try:
        _check_text(rest, "the banner")
    except Unexpressible as exc:
        gaps.append(Coverage("smtp.banner", "unsupported", f"{exc}; the greeting is the host name alone"))
        rest = ""
    return f"$j {rest}".rstrip()


# cf.m4 rescans a defined value on its way to sendmail.cf: once where proto.m4 names the macro (in
# _OPTION or a quoted ifdef branch), so values get two quote levels, and once more for the macros it
# expands as unquoted ifdef arguments. One level too few lets policy text such as "dnl" or
# "esyscmd(...)" run as m4. MAIL_SETTINGS_DIR reaches access_db's default one level deeper than
# elsewhere, so that map is spelt out. tests/robustness proves every value with the real m4.
RESCANS = 2
EXPANDED_IN_ARGUMENTS = frozenset({"QUEUE_DIR", "HELP_FILE"})


def _define(name: str, value: str) -> str:
    depth = RESCANS + (name in EXPANDED_IN_ARGUMENTS)
    return f"define({m4_quote(name)}, {m4_quote(value, depth)})"


def _feature(name: str, *args: str) -> str:
    quoted = ", ".join(m4_quote(a) for a in (name, *args))
    return f"FEATURE({quoted})"


def _privacy_flags(policy: Policy) -> list[str]:
    smtp = policy.smtp
    flags = list(PRIVACY_FLAGS)
    if smtp.require_helo:
        flags.insert(1, "needmailhelo")
    if smtp.disable_vrfy:
        flags.append("novrfy")
    if smtp.disable_expn:
        flags.append("noexpn")
    return flags


def _daemons(policy: Policy) -> list[str]:
    options = policy.targets.sendmail
    address = f", Addr={canonical.address(options.listen_address)}" if options.listen_address else ""
    if ":" in address:  # Sendmail reads Addr= in the family set before it, inet (IPv4) by default
        address = ", Family=inet6" + address
    daemons: list[str] = []
    if policy.accepts_inbound or policy.role == "null-client":
        where = ", Addr=127.0.0.1" if policy.role == "null-client" else address
        # M=A: no AUTH at all here when the policy disables it (Sendmail offers SASL mechanisms by default).
        modifiers = "" if policy.auth.enabled else ", M=A"
        daemons.append(f"Port={options.smtp_port}{where}, Name=MTA{modifiers}")
    submission = policy.auth.submission
    if policy.offers_submission and submission.port is not None:
        daemons.append(f"Port={submission.port}{address}, Name=MSA, M=Ea")
    if policy.offers_submission and submission.smtps_port is not None:
        daemons.append(f"Port={submission.smtps_port}{address}, Name=MSA-TLS, M=Eas")
    return [f"DAEMON_OPTIONS({m4_quote(d)})" for d in daemons]


# --- DNSBL ------------------------------------------------------------------------------------


def _dnsbl_features(entries: Iterable[DnsblEntry], gaps: list[Coverage]) -> Iterator[str]:
    for index, entry in enumerate(entries):
        element = f"dnsbl[{index}]"
        try:
            patterns = _enhdnsbl_patterns(entry.filters)
            text = _check_text(entry.message, "the message")
        except Unexpressible as exc:
            gaps.append(Coverage(element, "unsupported", str(exc)))
            continue
        code = "550" if entry.action == "reject" else "450"
        message = " ".join(_rule_string_parts(f"{code} {text}".replace("{zone}", entry.zone),
                                              {"client": "$&{client_addr}"}))
        args = [m4_quote("enhdnsbl"), m4_quote(entry.zone, RESCANS), m4_quote(message, RESCANS), m4_quote(""),
                *(m4_quote(p) for p in patterns)]
        yield f"FEATURE({', '.join(args)})"


def _rule_string_parts(text: str, macros: Mapping[str, str]) -> list[str]:
    """Split ``text`` at ``{name}`` placeholders into quoted strings and the Sendmail macros they stand for."""
    parts: list[str] = []
    rest = text
    while rest:
        start = rest.find("{")
        if start < 0:
            parts.append(f'"{rest}"')
            break
        end = rest.index("}", start)
        if start:
            parts.append(f'"{rest[:start]}"')
        parts.append(macros[rest[start + 1:end]])
        rest = rest[end + 1:]
    return parts


def enhdnsbl_values(filters: Iterable[str]) -> list[str] | None:
    """Every address the Postfix-style filters match, or None when there are more than fit the feature."""
    values: list[str] = []
    for return_filter in filters:
        octets = [_octet_values(part) for part in _split_octets(return_filter)]
        count = 1
        for octet in octets:
            count *= len(octet)
        if count + len(values) > ENHDNSBL_SLOTS:
            return None
        values += [".".join(map(str, (a, b, c, d))) for a in octets[0] for b in octets[1]
                   for c in octets[2] for d in octets[3]]
    return values


def _enhdnsbl_patterns(filters: list[str]) -> list[str]:
    exact = enhdnsbl_values(filters)
    if exact is not None:
        return [f"{value}." for value in exact]
    if all(f.startswith("127.0.0.") for f in filters):
        return ["127.0.0.$-."]
    raise Unexpressible("the return-code filters need more than six patterns and do not all lie in 127.0.0.x")


def _split_octets(text: str) -> list[str]:
    parts: list[str] = []
    current = ""
    depth = 0
    for char in text:
        if char == "." and depth == 0:
            parts.append(current)
            current = ""
            continue
        depth += char == "["
        depth -= char == "]"
        current += char
    return [*parts, current]


def _octet_values(part: str) -> list[int]:
    if part.startswith("[") and ".." in part:
        low, high = (int(x) for x in part[1:-1].split(".."))
        return list(range(low, high + 1))
    if part.startswith("["):
        return sorted(int(x) for x in part[1:-1].split(";"))
    return [int(part)]


# --- header checks ----------------------------------------------------------------------------


@dataclass(frozen=True)
class LocalRules:
    """Regex map declarations (LOCAL_CONFIG) and header rulesets (LOCAL_RULESETS), as raw cf lines."""

    config: tuple[str, ...]
    rulesets: tuple[str, ...]


def _local_rules(policy: Policy, gaps: list[Coverage]) -> LocalRules:
    headers = _header_rules(policy.header_checks, gaps)
    return LocalRules(headers.config, (*_helo_ruleset(policy, gaps), *_client_ruleset(policy), *headers.rulesets))


# Local_check_rcpt runs before delay_checks looks at Spam: FRIEND or From: OK, so no recipient or sender
# permit can lift an explicit client refusal. proto.m4's LookUpAddress (ruleset A) reads the same Connect: keys as
# Basic_check_relay, so the longest key gives the same first-match decision there.
CLIENT_RULESET = ("SLocal_check_rcpt", "R$*\t$: $>A <$&{client_addr}> <?> <+ Connect> <>",
                  "R<ERROR:$-.$-.$-:$+> <$*>\t$#error $@ $1.$2.$3 $: $4",
                  'R<$* <TMPF>> <$*>\t$#error $@ 4.3.0 $: "451 Temporary system failure. Please try again later."')


def _client_ruleset(policy: Policy) -> tuple[str, ...]:
    """Needed when a permit of a later list could lift a client refusal: with delay_checks a sender
    permit (From: OK) lets a refused client through too (the differential suite found it)."""
    access = policy.access
    refuses = any(rule.action != "permit" for rule in access.clients)
    permits = any(r.action == "permit" for r in (*access.recipients, *access.senders, *access.helo))
    return CLIENT_RULESET if refuses and permits else ()


HELO_ACTIONS: Mapping[AccessAction, str] = {"reject": '$#error $@ 5.7.1 $: "550 {text}"',
                                            "defer": '$#error $@ 4.7.1 $: "450 {text}"', "permit": "$@ OK"}


# A ruleset is tried line by line at every MAIL command: longer HELO list files are not expanded.
HELO_FILE_MAX = 1000


def _helo_ruleset(policy: Policy, gaps: list[Coverage]) -> list[str]:
    """Local_check_mail: match the HELO name ($s) against the policy's HELO rules, first match wins."""
    rules: list[str] = []
    for index, rule in enumerate(policy.access.helo):
        names = rule.file.entries if isinstance(rule, HeloFile) else (rule.match,)
        try:
            text = _check_text(rule.message or "HELO name refused", "the message")
            if len(names) > HELO_FILE_MAX:
                raise Unexpressible(f"{len(names)} HELO names: more than the {HELO_FILE_MAX} mtaharden writes as "
                                    "ruleset lines (Sendmail tries each in turn at every MAIL)")
        except Unexpressible as exc:
            gaps.append(Coverage(f"access.helo[{index}]", "unsupported", str(exc)))
            continue
        for name in names:
            forms = [name, f"[{name}]"] if ":" in name or name[0].isdigit() else [name]
            rules += [f"R{form}\t{HELO_ACTIONS[rule.action].format(text=text)}" for form in forms]
    return ["SLocal_check_mail", "R$*\t$: $&s", *rules] if rules else []


def _header_maps(index: int, check: HeaderCheck) -> list[tuple[str, str, EreMatcher]]:
    """The check's regex maps (name, comment, ERE): one, or for non-ASCII text one per RFC 2047 form."""
    parsed = parse(check.pattern)
    if not has_text(parsed):
        ere = to_ere(check.pattern)
        return [(f"mtaharden_header{index}", "", EreMatcher(_check_text(ere.pattern, "the translated pattern"),
                                                            ere.ignore_case))]
    problem = header_engines.problem(check.pattern, check.charsets)
    if problem:
        raise Inexpressible(problem)
    forms = [form for form in header_forms.forms(parsed, check.charsets) if form.encoding != "raw"]
    return [(f"mtaharden_header{index}_{number}", f"header_checks[{index}] {check.header}, {form.label}",
             EreMatcher(_check_text(header_forms.ere(form), "the translated pattern"), False))
            for number, form in enumerate(forms)]


def _header_rules(checks: list[HeaderCheck], gaps: list[Coverage]) -> LocalRules:
    config: list[str] = []
    by_header: dict[str, list[str]] = {}
    for index, check in enumerate(checks):
        element = f"header_checks[{index}]"
        try:
            if check.action == "warn":
                raise Unexpressible("Sendmail header rulesets cannot log without rejecting (action warn)")
            maps = _header_maps(index, check)
            text = _check_text(check.message or "Message content rejected", "the message")
        except (Unexpressible, Inexpressible) as exc:
            gaps.append(Coverage(element, "unsupported", str(exc)))
            continue
        action = HEADER_ACTIONS[check.action].format(text=f'"550 {text}"')
        for map_name, comment, ere in maps:
            config += [f"# {comment}"] if comment else []
            flags = "" if ere.ignore_case else "-f "
            config.append(f"K{map_name} regex {flags}-a@MATCH {ere.pattern}")
            by_header.setdefault(check.header, []).extend(
                [f"R$*\t$: $({map_name} $&{{currHeader}} $)", f"R@MATCH\t{action}"])
    rulesets: list[str] = []
    for header, rules in by_header.items():
        ruleset = "mtaharden_" + header.replace("-", "_").lower()
        rulesets += [f"H{header}: $>+{ruleset}", f"S{ruleset}", *rules]
    return LocalRules(tuple(config), tuple(rulesets))


# --- access map, classes ----------------------------------------------------------------------

# The reply text is quoted: unquoted, Sendmail re-tokenises it and drops the blanks around commas.
ACCESS_VALUES: Mapping[AccessAction, str] = {"reject": 'ERROR:5.7.1:"550 {text}"',
                                             "defer": 'ERROR:4.7.1:"450 {text}"', "permit": "OK"}


def _access_value(action: AccessAction, message: str | None, default: str) -> str:
    return ACCESS_VALUES[action].format(text=_check_text(message or default, "the message"))


Entry = tuple[str, str] | Block  # one access line, or a list file's keys sharing a value


def _access_lines(policy: Policy, gaps: list[Coverage]) -> tuple[list[tuple[str, str]], list[Block]]:
    """Connect:/From:/To:/Spam: entries; relaying only for the trusted networks.

    A list file's IPv4 addresses and address patterns stay one :class:`Block` each (no per-entry work)."""
    access = policy.access
    entries: list[Entry] = []
    trusted = policy.networks.trusted
    decided: list[Decided] = []  # client networks so far, in policy order
    for index, rule in enumerate(access.clients):
        try:
            value = _access_value(rule.action, rule.message, "Access denied")
        except Unexpressible as exc:
            gaps.append(Coverage(f"access.clients[{index}]", "unsupported", str(exc)))
            continue
        if isinstance(rule, ClientFile):
            entries += _host_entries(rule.file.ipv4_hosts, (rule.action, value), decided, trusted)
        networks = rule.file.networks if isinstance(rule, ClientFile) else [rule.match]
        decided += [(network, (rule.action, value)) for network in networks]
        entries += _connect_entries(networks, decided, trusted)
    entries += _connect_entries(trusted, decided, trusted)
    inline: list[tuple[str, str]] = []  # (pattern, value): the map follows the most specific key, see address_keys
    for index, sender in enumerate(access.senders):
        try:
            value = _access_value(sender.action, sender.message, "Sender address rejected")
        except Unexpressible as exc:
            gaps.append(Coverage(f"access.senders[{index}]", "unsupported", str(exc)))
            continue
        if isinstance(sender, AddressRule):
            inline.append((sender.match, value))
        else:
            entries.append(_address_entry("From:", sender, value))
    entries += [(f"From:{key}", value) for key, value in first_match_keys(inline)]
    inline = []
    for index, recipient in enumerate(access.recipients):
        try:
            value = "FRIEND" if recipient.action == "permit" else _access_value(
                recipient.action, recipient.message, "Recipient address rejected")
        except Unexpressible as exc:
            gaps.append(Coverage(f"access.recipients[{index}]", "unsupported", str(exc)))
            continue
        if isinstance(recipient, AddressRule):
            inline.append((recipient.match, value))
            if recipient.match.endswith("@"):  # blocklist_recipients reads user@ for local users only
                inline += [(f"{recipient.match}{domain}", value) for domain in _relay_domains(policy)]
        else:
            entries.append(_address_entry("Spam:" if recipient.action == "permit" else "To:", recipient, value))
    entries += [(f"{'Spam:' if value == 'FRIEND' else 'To:'}{key}", value) for key, value in first_match_keys(inline)]
    entries.append(("ClientConn:", str(policy.smtp.max_connections_per_client)))
    return _first_match_wins(entries)


def _overlap(first: str, second: str) -> bool:
    """Whether some address matches both address patterns (``user@domain``, ``domain``/``@domain``, ``user@``)."""
    (user1, domain1), (user2, domain2) = (_pattern_parts(first), _pattern_parts(second))
    return (None in (user1, user2) or user1 == user2) and (None in (domain1, domain2) or domain1 == domain2)


def _pattern_parts(pattern: str) -> tuple[str | None, str | None]:
    user, at, domain = pattern.rpartition("@")
    return ((user or None), (domain or None)) if at else (None, pattern)


def _address_entry(tag: str, rule: AddressRule | AddressFile, value: str) -> Entry:
    if isinstance(rule, AddressFile):
        return Block([_address_key(entry) for entry in rule.file.entries], value, prefix=tag)
    return f"{tag}{_address_key(rule.match)}", value


Decided = tuple[Network, tuple[AccessAction, str]]  # a client rule's network, its action and access value


def _connect_entries(networks: Iterable[Network], decided: list[Decided], trusted: Sequence[Network]
                     ) -> list[tuple[str, str]]:
    """Connect: keys for ``networks``, each with the value first match wins gives all of its addresses.

    Sendmail follows the longest key, not the file order: so each key carries the decision of the
    first client rule whose network holds all of it (a permit, or no rule, lets a trusted key relay),
    which makes the longest key give the first match."""
    return [(f"Connect:{key}", _connect_value(subnet, decided, trusted))
            for network in networks for key, subnet in _connect_subnets(network)]


def _connect_value(subnet: Network, decided: list[Decided], trusted: Sequence[Network]) -> str:
    action, value = next((first for network, first in decided if _within(subnet, network)), ("permit", ""))
    if action == "permit" and any(_within(subnet, network) for network in trusted):
        return "RELAY"
    return value


def _host_entries(hosts: Sequence[str], own: tuple[AccessAction, str], decided: list[Decided],
                  trusted: Sequence[Network]) -> list[Entry]:
    """A list file's single addresses: one block, except those an earlier rule or a trusted network decides."""
    shadowed = first_covering(hosts, decided)
    permits = own[0] == "permit" or any(action == "permit" for action, _ in shadowed.values())
    relayed = first_covering(hosts, [(network, True) for network in trusted]) if permits else {}
    special = shadowed.keys() | relayed.keys()  # usually empty: then no per-address work at all
    lines: list[Entry] = []
    for host in [h for h in hosts if h in special] if special else ():
        action, value = shadowed.get(host, own)
        lines.append((f"Connect:{host}", "RELAY" if action == "permit" and host in relayed else value))
    return [*lines, Block([h for h in hosts if h not in special] if special else hosts, own[1], prefix="Connect:")]


def _within(inner: Network, outer: Network) -> bool:
    return inner.version == outer.version and inner.subnet_of(outer)  # type: ignore[arg-type]


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


def _address_key(match: str) -> str:
    """Sendmail access keys: user@domain, domain (whole domain) or user@ (any domain)."""
    return match[1:] if match.startswith("@") else match


def _relay_domains(policy: Policy) -> list[str]:
    return [domain.lstrip(".") for domain in policy.domains.relay]


def _local_names(policy: Policy) -> list[str]:
    names = [d for d in policy.domains.local if not d.startswith(".")]
    if policy.hostname:
        names.insert(0, policy.hostname)
    return names


def _cyrus_conf(policy: Policy) -> list[tuple[str, str]]:
    cyrus = policy.auth.cyrus
    lines = [("pwcheck_method", cyrus.pwcheck_method), ("mech_list", " ".join(policy.auth.mechanisms))]
    if cyrus.pwcheck_method == "auxprop":
        lines += [("auxprop_plugin", "sasldb"), ("sasldb_path", cyrus.sasldb_path or "/etc/sasldb2")]
    return lines


# --- address-test scenarios -------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    """One ``check_rcpt`` decision to verify with ``sendmail -bt``: a client (optionally authenticated)
    that sent MAIL FROM:<> and then RCPT TO: the recipient."""

    name: str
    client: str
    recipient: str
    accepted: bool
    auth: str = ""  # the SASL mechanism the client authenticated with, if any

    @property
    def authen(self) -> str:
        """The {auth_authen} macro: a user name when the scenario authenticated, else empty."""
        return "relaycheck" if self.auth else ""


OUTSIDE_CANDIDATES = ("192.0.2.1", "198.51.100.1", "203.0.113.1", "100.64.0.1", "240.0.0.1")
# proto.m4's Relay_ok relays for loopback, the host's own addresses ([addr] in class w) and its own names
# before the access map is read: a client on the host itself is trusted whatever networks.trusted says
SELF_RELAY = ("Sendmail also relays for loopback and for the host's own addresses and names (class w; "
              "proto.m4 Relay_ok, before the access map), whatever networks.trusted says: a probe from the "
              "host itself proves nothing")

FOREIGN = "someone@relaytest.invalid"
BT_HELO = "client.relaytest.invalid"  # an .invalid name no HELO rule of a real policy names
SCENARIO_USERS = ("postmaster", "relay-check")
STAGES = ("clients", "helo", "senders", "recipients")
SCENARIO_DOMAINS = 10  # per list: the first and the last ones (a long list is checked at both ends)


def _outside_address(policy: Policy) -> str | None:
    """A documentation address no trusted network or client rule covers: a plain stranger."""
    for candidate in map(ipaddress.ip_address, OUTSIDE_CANDIDATES):
        if not any(candidate in network for network in policy.networks.trusted) and not any(
                rule.covers(candidate) for rule in policy.access.clients):
            return canonical.address(candidate)
    return None


def relay_scenarios(policy: Policy) -> list[Scenario]:
    """Decisions the compiled .cf must make: trusted and authenticated clients relay, strangers reach
    only our domains, and an explicitly refused client is refused even for a permitted recipient.

    A trusted host that a client rule refuses is left out: the client rule wins there, by design."""
    refused = [rule for rule in policy.access.clients if rule.action != "permit"]
    scenarios: list[Scenario] = []
    for network in policy.networks.trusted:
        host = network.network_address + (1 if network.num_addresses > 1 else 0)
        if network.version == 4 and not any(rule.covers(host) for rule in refused):
            accepted = contract_accepts(policy, canonical.address(host), FOREIGN)
            if accepted is not None:
                scenarios.append(Scenario(f"trusted client {host}", canonical.address(host), FOREIGN, accepted))
    scenarios += _refused_client_scenarios(policy)
    outside = _outside_address(policy)
    if outside is None:
        return scenarios
    scenarios += [Scenario("stranger, foreign recipient", outside, FOREIGN, False),
                  Scenario("stranger, percent hack", outside, "someone%relaytest.invalid@[127.0.0.1]", False)]
    if policy.auth.enabled and policy.auth.backend == "cyrus":
        mechanism = policy.auth.mechanisms[0]
        scenarios.append(Scenario(f"stranger authenticated with {mechanism}", outside, FOREIGN, True, mechanism))
    for domains in (policy.domains.local, policy.domains.relay):
        names = [domain for domain in domains if not domain.startswith(".")]
        if len(names) > 2 * SCENARIO_DOMAINS:
            names = [*names[:SCENARIO_DOMAINS], *names[-SCENARIO_DOMAINS:]]
        for domain in names:  # a recipient no recipient rule matches (check_rcpt verifies no mailbox)
            found = ((f"{user}@{domain}", contract_accepts(policy, outside, f"{user}@{domain}"))
                     for user in SCENARIO_USERS)
            recipient, accepted = next(((r, a) for r, a in found if a is not None), ("", None))
            if accepted is not None:
                scenarios.append(Scenario(f"stranger to {domain}", outside, recipient, accepted))
    return scenarios


def contract_accepts(policy: Policy, client: str, recipient: str) -> bool | None:
    """What the reference evaluator requires of check_rcpt for this client, MAIL FROM:<> and the -bt HELO;
    None when a recipient rule matches: that is an access question, not a relay one (and one the
    coverage may declare approximated), so the relay check leaves it out."""
    # -bt runs check_rcpt alone, the ruleset every daemon of the host shares: past STARTTLS (tls.inbound:
    # encrypt is decided at MAIL), and as on port 25 even for a submission-only role
    if not policy.accepts_inbound:
        policy = policy.model_copy(update={"role": "mx+submission"})
    transaction = Transaction(ipaddress.ip_address(client), BT_HELO, "", (recipient,), tls=True)
    decision = evaluate(policy, transaction).at("rcpt")[0]
    if any(element.startswith("access.recipients") for element in decision.matched):
        return None
    return decision.verdict == "accept"


def _refused_client_scenarios(policy: Policy) -> list[Scenario]:
    """The first refused IPv4 client rule's host against the first permitted recipient: refused."""
    clients = policy.access.clients
    hosts = [rule.match.network_address + (1 if rule.match.num_addresses > 1 else 0) for rule in clients
             if isinstance(rule, ClientRule) and rule.action != "permit" and rule.match.version == 4]
    host = next((h for h in hosts if next(r for r in clients if r.covers(h)).action != "permit"), None)
    recipient = next((_permitted_address(policy, r.match) for r in policy.access.recipients
                      if isinstance(r, AddressRule) and r.action == "permit"), None)
    if host is None or recipient is None:
        return []
    return [Scenario(f"refused client {host} to permitted {recipient}", canonical.address(host), recipient, False)]


def _permitted_address(policy: Policy, match: str) -> str | None:
    """An address a recipient rule's pattern matches (``user@`` at our first exact local domain)."""
    user, at, domain = match.rpartition("@") if "@" in match else ("postmaster", "@", match)
    domain = domain or next((d for d in policy.domains.local if not d.startswith(".")), policy.hostname or "")
    return f"{user or 'postmaster'}{at}{domain}" if domain else None


# --- coverage ---------------------------------------------------------------------------------


def _coverage(policy: Policy, gaps: list[Coverage]) -> Iterator[Coverage]:
    def enforced(element: str, how: str) -> Coverage:
        return Coverage(element, "enforced", how)

    gap_elements = {gap.element for gap in gaps}
    yield enforced("role", f"{policy.role}: DAEMON_OPTIONS (no default MSA)")
    yield enforced("hostname", "confDOMAIN_NAME" if policy.hostname else "the system host name")
    if any(d.startswith(".") for d in policy.domains.local):
        yield Coverage("domains.local", "unsupported", "class w (local-host-names) has no subdomain wildcard")
    else:
        yield enforced("domains.local", "local-host-names (class w, FEATURE use_cw_file)")
    if any(d.startswith(".") for d in policy.domains.relay):
        yield Coverage("domains.relay", "unsupported", "with FEATURE(relay_hosts_only) class R holds exact names: "
                                                       "a .domain entry relays for the parent name only")
    else:
        yield enforced("domains.relay", "relay-domains (class R) with FEATURE(relay_hosts_only): exact names")
    yield enforced("networks.trusted", "access Connect: RELAY (CIDR written as whole-octet prefixes)")
    yield Coverage(f"networks.trusted[{HOST_ITSELF}]", "approximated", SELF_RELAY)
    if policy.auth.enabled and policy.auth.backend == "dovecot":
        yield Coverage("auth", "unsupported", "Sendmail authenticates through Cyrus SASL only (no dovecot socket)")
    elif policy.auth.enabled:
        yield enforced("auth", "confAUTH_MECHANISMS, TRUST_AUTH_MECH, confAUTH_OPTIONS "
                               f"({'p: no plaintext AUTH before STARTTLS' if policy.auth.require_tls else 'y'})")
    else:
        yield enforced("auth", "no AUTH offered (no mechanisms configured)")
    for index, entry in enumerate(policy.dnsbl):
        element = f"dnsbl[{index}]"
        if element in gap_elements:
            continue
        exact = enhdnsbl_values(entry.filters) is not None
        how = f"FEATURE(enhdnsbl) {entry.zone}"
        if entry.action == "defer":
            how += "; 450 reply text (the enhanced status stays 5.7.1)"
        if exact:
            yield enforced(element, how)
        else:
            yield Coverage(element, "approximated", how + "; filter widened to any 127.0.0.x answer "
                                                          "(the feature holds at most six exact values)")
    for stage, how in (("clients", "access Connect: (decided at RCPT, delay_checks); an explicit reject or defer "
                                   "is looked up again in Local_check_rcpt, so no recipient permit lifts it"),
                       ("helo", "Local_check_mail on the HELO name ($s); permit only ends the HELO rules"),
                       ("senders", "access From:"),
                       ("recipients", "access To: / Spam: FRIEND (delay_checks): a permit skips the HELO, sender "
                                      "and DNSBL checks, never an explicit client reject")):
        if getattr(policy.access, stage):
            status: Status = "approximated" if stage == "helo" else "enforced"
            yield Coverage(f"access.{stage}", status, how)
    if policy.access.senders or policy.access.recipients:
        for index, client in enumerate(policy.access.clients):
            if client.action == "permit":
                yield Coverage(f"access.clients[{index}]", "approximated", "a permit ends the client rules only "
                               "(Connect: OK): the sender (From:) and recipient (To:) rules still apply to the client")
    for stage in STAGES:
        for index, item in enumerate(getattr(policy.access, stage)):
            if item.action == "defer":
                yield Coverage(f"access.{stage}[{index}]", "approximated", "defer answers 4xx to relay attempts too: "
                               "Sendmail reads the access rules before the relay decision (check_rcpt with "
                               "delay_checks), where the contract refuses a relay attempt with 5xx first")
    for stage in ("senders", "recipients"):
        for index, rule in enumerate(getattr(policy.access, stage)):
            user, _, domain = rule.match.rpartition("@") if isinstance(rule, AddressRule) else ("-", "", "")
            if domain and not user:  # domain and @domain; a full address key is looked up as it is
                yield Coverage(f"access.{stage}[{index}]", "approximated", f"{rule.match} also matches the "
                               f"addresses of every subdomain of {domain}: the access map looks parent domains up")
    recipients = policy.access.recipients
    for index, rule in enumerate(recipients):
        if rule.action == "permit" and isinstance(rule, AddressRule) and any(
                later.action != "permit" and isinstance(later, AddressRule) and _overlap(rule.match, later.match)
                for later in recipients[index + 1:]):
            yield Coverage(f"access.recipients[{index}]", "approximated", "a later refusing recipient rule that "
                           "also matches still refuses: the permit is Spam: FRIEND, looked up apart from the To: "
                           "refusals, so the first match is not kept for addresses both rules cover")
    for index, rule in enumerate(recipients):
        if isinstance(rule, AddressRule) and rule.match.endswith("@"):
            yield Coverage(f"access.recipients[{index}]", "approximated", f"{rule.match} applies to the local and "
                           "relay domains only (written as To:/Spam: user@domain for each relay domain): Sendmail "
                           "looks user@ up for local users alone, so mail a trusted or authenticated client sends "
                           "to other domains passes it")
    for index, check in enumerate(policy.header_checks):
        element = f"header_checks[{index}]"
        how = f"LOCAL_RULESETS H{check.header} with a POSIX regex map"
        if element in gap_elements:
            continue
        parsed = parse(check.pattern)
        if has_text(parsed):
            limits = header_forms.limits(parsed, check.charsets, raw=False)
            yield Coverage(element, "approximated", f"{how} per RFC 2047 form; {limits}")
        else:
            yield enforced(element, how)
    smtp = policy.smtp
    if "smtp.banner" not in gap_elements:
        yield enforced("smtp.banner", "confSMTP_LOGIN_MSG; no other reply names the software or its version: HELP "
                                      "reads mtaharden's help file (HELP_FILE), Received: is cf.m4's without ($v/$Z)")
    yield enforced("smtp.disable_vrfy", "PrivacyOptions novrfy" if smtp.disable_vrfy else "VRFY allowed")
    yield enforced("smtp.disable_expn", "PrivacyOptions noexpn" if smtp.disable_expn else "EXPN allowed")
    yield enforced("smtp.require_helo", "PrivacyOptions needmailhelo" if smtp.require_helo else "HELO optional")
    yield Coverage("smtp.strict_envelopes", "approximated",
                   "Sendmail always parses RFC 5321 paths; FEATURE nouucp/nopercenthack reject ! and % routing")
    yield enforced("smtp.max_message_size", "confMAX_MESSAGE_SIZE")
    yield enforced("smtp.max_recipients", "confMAX_RCPTS_PER_MESSAGE")
    yield enforced("smtp.max_connections_per_client", "FEATURE(conncontrol) with access ClientConn:")
    if policy.tls and policy.tls.inbound == "encrypt":
        yield Coverage("tls.inbound", "unsupported", "requiring STARTTLS from every client needs a site ruleset")
    elif policy.tls:
        yield enforced("tls", f"confSERVER_CERT/KEY, confSERVER_SSL_OPTIONS (>= {policy.tls.min_protocol})")
    else:
        yield enforced("tls", "no certificate: STARTTLS not offered")
    yield from gaps
