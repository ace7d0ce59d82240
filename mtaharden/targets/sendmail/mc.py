"""sendmail.mc: the m4 statements cf.m4 compiles into sendmail.cf, one lowering function per concern.

The plan calls the functions in the policy's element order, each recording its element's coverage as it
decides it; :func:`statements` then lays the pieces out in the order cf.m4 wants them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ...policy import Policy, canonical
from ..kit.coverage import Recorder
from ..kit.escape import Unexpressible
from ..kit.placeholders import Placeholder, pieces
from . import capabilities as facts
from .helpfile import help_file
from .m4 import RESCANS, define, feature, m4_quote, rule_string
from .rulesets import MSA, MSA_TLS

# cf.m4's Received: header without "($v/$Z)": relayed mail would carry the version off the host.
RECEIVED_HEADER = ("$?sfrom $s $.$?_($?s$|from $.$_) $.$?{auth_type}(authenticated$?{auth_ssf} bits=${auth_ssf}$.) "
                   "$.by $j$?r with $r$. id $i$?{tls_version} (version=${tls_version} cipher=${cipher} "
                   "bits=${cipher_bits} verify=${verify})$.$?u for $u; $|; $.$b")
PRIVACY_FLAGS = ("authwarnings", "noverb", "noetrn", "noreceipts", "restrictqrun", "restrictmailq")
NO_OLD_PROTOCOLS = ("+SSL_OP_NO_SSLv2", "+SSL_OP_NO_SSLv3", "+SSL_OP_NO_TLSv1", "+SSL_OP_NO_TLSv1_1")


@dataclass(frozen=True)
class Sections:
    """The lowered pieces of sendmail.mc, each decided (and its coverage recorded) by one function."""

    daemons: Sequence[str]
    hostname: Sequence[str]
    auth: Sequence[str]
    dnsbl: Sequence[str]
    session: Sequence[str]
    tls: Sequence[str]
    milters: Sequence[str] = ()  # the milter macros and INPUT_MAIL_FILTER lines (sender_auth)


def daemons(policy: Policy, coverage: Recorder) -> list[str]:
    """DAEMON_OPTIONS for the role's listeners (no default MSA: FEATURE no_default_msa).

    A daemon binds one family, inet (IPv4) unless Family= says otherwise. Without a listen_address each
    listener is Family=inet6 on [::], which on Linux also takes IPv4 clients (as IPv4-mapped addresses,
    which Sendmail writes back as plain IPv4 in ${client_addr}): Sendmail sets no IPV6_V6ONLY, so an inet
    daemon beside it cannot bind port 25 (EADDRINUSE, and the daemon exits); Debian's README says the same."""
    options = policy.targets.sendmail
    if options.listen_address:  # Sendmail reads Addr= in the family set before it
        address = canonical.address(options.listen_address)
        where = f"{', Family=inet6' if ':' in address else ''}, Addr={address}"
    else:
        where = ", Family=inet6"
    # M=A: no AUTH at all here when the policy disables it (Sendmail offers SASL mechanisms by default).
    modifiers = "" if policy.auth.enabled else ", M=A"
    found: list[str] = []
    if policy.role == "null-client":
        found.append(f"Port={options.smtp_port}, Addr=127.0.0.1, Name=MTA{modifiers}")
    elif policy.accepts_inbound:
        found.append(f"Port={options.smtp_port}{where}, Name=MTA{modifiers}")
    submission = policy.auth.submission
    if policy.offers_submission and submission.port is not None:
        found.append(f"Port={submission.port}{where}, Name={MSA}, M=Ea")
    if policy.offers_submission and submission.smtps_port is not None:
        found.append(f"Port={submission.smtps_port}{where}, Name={MSA_TLS}, M=Eas")
    listeners = facts.LISTEN_ADDRESS if options.listen_address else facts.DUAL_STACK
    coverage.enforced("role", facts.ROLE.format(role=policy.role, listeners=listeners))
    return [f"DAEMON_OPTIONS({m4_quote(d)})" for d in found]


def hostname(policy: Policy, coverage: Recorder) -> list[str]:
    """confDOMAIN_NAME ($j), or the system's name when the policy leaves it out."""
    coverage.enforced("hostname", facts.HOSTNAME if policy.hostname else facts.HOSTNAME_FROM_SYSTEM)
    return [define("confDOMAIN_NAME", policy.hostname)] if policy.hostname else []


def auth(policy: Policy, coverage: Recorder) -> list[str]:
    """SMTP AUTH through Cyrus SASL; TRUST_AUTH_MECH lets authenticated clients relay."""
    settings = policy.auth
    if settings.enabled and settings.backend == "dovecot":
        coverage.unsupported("auth", facts.AUTH_DOVECOT)
    elif settings.enabled:
        coverage.enforced("auth", facts.AUTH.format(options=facts.AUTH_TLS_ONLY if settings.require_tls else "y"))
    else:
        coverage.enforced("auth", facts.NO_AUTH)
    if not settings.enabled:
        return []
    mechanisms = " ".join(settings.mechanisms)
    return [define("confAUTH_MECHANISMS", mechanisms), f"TRUST_AUTH_MECH({m4_quote(mechanisms)})",
            define("confAUTH_OPTIONS", "p,y" if settings.require_tls else "y")]


def session(policy: Policy, coverage: Recorder) -> list[str]:
    """The greeting, the Received: header, PrivacyOptions and the limits."""
    smtp = policy.smtp
    out = [define("confSMTP_LOGIN_MSG", _greeting(smtp.banner, coverage)),
           define("confRECEIVED_HEADER", RECEIVED_HEADER),
           define("confPRIVACY_FLAGS", ",".join(_privacy_flags(policy))),
           define("confMAX_MESSAGE_SIZE", str(smtp.max_message_size)),
           define("confMAX_RCPTS_PER_MESSAGE", str(smtp.max_recipients)),
           define("confDONT_PROBE_INTERFACES", "True")]
    if not smtp.require_helo:  # else Sendmail answers 501 to an EHLO name that is not a host name
        out.append(define("confALLOW_BOGUS_HELO", "True"))
    for element, on, off in facts.SWITCHES:
        coverage.enforced(element, on if getattr(smtp, element.removeprefix("smtp.")) else off)
    if smtp.require_helo and policy.tls is not None:
        coverage.approximated("smtp.require_helo", facts.REQUIRE_HELO)
    elif smtp.require_helo:
        coverage.approximated("smtp.require_helo", facts.NEED_MAIL_HELO)
    else:
        coverage.enforced("smtp.require_helo", facts.HELO_OPTIONAL)
    for element, status, how in facts.FIXED:
        coverage.record(element, status, how)
    return out


def _greeting(banner: str, coverage: Recorder) -> str:
    """Sendmail inserts "ESMTP" after the greeting's first word itself, so the policy's own is dropped.

    Sendmail expands ``$`` in the greeting (``$v`` is its version), so text it cannot carry as written
    is reported, and the greeting is the host name alone."""
    try:  # the policy's banner starts with {hostname}; a later one is the same macro
        rest = "".join("$j" if isinstance(piece, Placeholder) else rule_string(piece, "the banner")
                       for piece in pieces(banner)[1:])
    except Unexpressible as exc:
        coverage.unsupported("smtp.banner", facts.BANNER_HOST_ONLY.format(reason=exc))
        return "$j"
    coverage.enforced("smtp.banner", facts.BANNER)
    return f"$j {rest.strip().removeprefix('ESMTP').strip()}".rstrip()


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


def tls(policy: Policy, coverage: Recorder) -> list[str]:
    """The server certificate and the oldest protocol accepted; STARTTLS stays optional on port 25."""
    settings, options = policy.tls, policy.targets.sendmail
    if settings is None:
        coverage.enforced("tls", facts.NO_TLS)
        return []
    if settings.inbound == "encrypt":
        coverage.unsupported("tls.inbound", facts.TLS_REQUIRED)
    else:
        coverage.enforced("tls", facts.TLS.format(min_protocol=settings.min_protocol))
    no_old = [*NO_OLD_PROTOCOLS, *(["+SSL_OP_NO_TLSv1_2"] if settings.min_protocol == "TLSv1.3" else [])]
    return [define("confSERVER_CERT", settings.cert), define("confSERVER_KEY", settings.key),
            define("confCACERT_PATH", options.ca_path), define("confCACERT", options.ca_file),
            define("confSERVER_SSL_OPTIONS", " ".join(no_old))]


def statements(policy: Policy, sections: Sections) -> list[str]:
    """The whole .mc in cf.m4's order: the OS and paths first, then options, features, daemons, mailers."""
    options = policy.targets.sendmail
    out = [f"VERSIONID({m4_quote('mtaharden')})", f"OSTYPE({m4_quote(options.ostype)})"]
    if options.ostype == "debian":
        # As Debian's own sendmail.mc: its PID file, control socket and TrustedUser smmta, who owns
        # /etc/mail there (without it makemap and sendmail call that folder unsafe and refuse the maps);
        # no host status folder, which Debian creates only when sendmail.conf asks for one.
        out += [f"DOMAIN({m4_quote('debian-mta')})", f"undefine({m4_quote('confHOST_STATUS_DIRECTORY')})"]
    out.append(define("MAIL_SETTINGS_DIR", options.settings_dir.rstrip("/") + "/"))
    for macro, value in (("QUEUE_DIR", options.queue_dir), ("confPID_FILE", options.pid_file),
                         ("STATUS_FILE", options.status_file), ("HELP_FILE", help_file(policy)),
                         ("ALIAS_FILE", options.alias_file)):
        if value:
            out.append(define(macro, value))
    out.append(define("confDONT_BLAME_SENDMAIL", ",".join(options.dont_blame_sendmail) or "safe"))
    out += [*sections.hostname, *sections.session, *sections.auth, *sections.tls]
    access_db = f"hash -T<TMPF> {options.settings_dir.rstrip('/')}/access"  # spelt out: see m4.RESCANS
    out += [feature("no_default_msa"), feature("use_cw_file"),
            f"FEATURE({m4_quote('access_db')}, {m4_quote(access_db, RESCANS)})",
            feature("relay_hosts_only"), feature("delay_checks", "friend"), feature("nouucp", "reject"),
            feature("nopercenthack", "reject"), feature("conncontrol", "nodelay", "terminate"), *sections.dnsbl]
    if any(rule.action != "permit" for rule in policy.access.recipients):
        out.append(feature("blocklist_recipients"))
    if options.accept_unresolvable_domains:
        out.append(feature("accept_unresolvable_domains"))
    out += [*sections.daemons, f"MAILER({m4_quote('local')})", f"MAILER({m4_quote('smtp')})", *sections.milters]
    return out
