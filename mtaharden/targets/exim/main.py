"""exim4.conf's main section: identity, domains and trusted networks as named lists, limits, TLS, AUTH advertising."""

from __future__ import annotations

from ...policy import Policy, canonical
from ..kit.coverage import Recorder
from ..kit.placeholders import fill
from . import capabilities as facts
from .auth import advertise
from .lists import domain_item, semicolon_list
from .quoting import edges, literal

# GnuTLS priority strings (Debian's exim4 links GnuTLS): the oldest protocol accepted and newer.
TLS_PRIORITY = {"TLSv1.2": "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2", "TLSv1.3": "NORMAL:-VERS-ALL:+VERS-TLS1.3"}


def ports(policy: Policy) -> tuple[list[int], list[int]]:
    """The daemon's ports, and those of them that start TLS on connect (implicit-TLS submission)."""
    listen = [25] if policy.accepts_inbound or not policy.offers_submission else []
    on_connect = []
    if policy.offers_submission:
        submission = policy.auth.submission
        listen += [p for p in (submission.port, submission.smtps_port) if p is not None]
        on_connect = [submission.smtps_port] if submission.smtps_port is not None and policy.tls else []
    return listen, on_connect


def submission_ports(policy: Policy) -> str:
    """The submission ports as an Exim list (``587 : 465``), empty when the role has none."""
    listen, _ = ports(policy)
    return " : ".join(str(port) for port in listen if port != 25)


def main_options(policy: Policy, rec: Recorder) -> list[tuple[str, str]]:
    """The main section's settings, in file order; each element recorded where it is decided."""
    listen, on_connect = ports(policy)
    rec.enforced("role", facts.ROLE.format(role=policy.role, ports=" : ".join(map(str, listen))))
    out: list[tuple[str, str]] = []
    if policy.hostname:
        out.append(("primary_hostname", policy.hostname))
        rec.enforced("hostname", facts.HOSTNAME)
    local = [] if policy.role == "null-client" else list(policy.domains.local)
    if policy.domains.local:
        rec.enforced("domains.local", facts.LOCAL_NULL_CLIENT if policy.role == "null-client" else facts.LOCAL)
    if policy.domains.relay:
        rec.enforced("domains.relay", facts.RELAY)
    rec.enforced("networks.trusted", facts.TRUSTED)
    out += [("domainlist local_domains", semicolon_list(map(domain_item, local))),
            ("domainlist relay_to_domains", semicolon_list(map(domain_item, policy.domains.relay))),
            ("hostlist relay_from_hosts", semicolon_list(canonical.network(n) for n in policy.networks.trusted)),
            ("acl_smtp_mail", "acl_check_mail"), ("acl_smtp_rcpt", "acl_check_rcpt"),
            ("acl_smtp_data", "acl_check_data"),
            *((("acl_smtp_vrfy", "acl_check_vrfy"),) if not policy.smtp.disable_vrfy else ()),
            *((("acl_smtp_expn", "acl_check_expn"),) if not policy.smtp.disable_expn else ()),
            ("daemon_smtp_ports", " : ".join(map(str, listen)))]
    if not policy.accepts_inbound and not policy.offers_submission:  # the daemon runs the queue: loopback only
        out.append(("local_interfaces", "<; 127.0.0.1 ; ::1"))
    if on_connect:
        out.append(("tls_on_connect_ports", " : ".join(map(str, on_connect))))
    hostname = literal(policy.hostname) if policy.hostname else "$primary_hostname"
    out.append(("smtp_banner", edges(fill(policy.smtp.banner, {"hostname": hostname}, literal))))
    rec.enforced("smtp.banner", facts.BANNER)
    if not policy.smtp.require_helo:
        out.append(("hosts_require_helo", ""))  # Exim 4.95+ refuses MAIL without HELO/EHLO by default
    out += [("helo_accept_junk_hosts", "*"), ("headers_charset", "UTF-8"), ("keep_environment", "")]
    out += [("sender_unqualified_hosts", "*"), ("recipient_unqualified_hosts", "*")]
    if policy.smtp.strict_envelopes:
        rec.approximated("smtp.strict_envelopes", facts.STRICT)
    else:
        rec.enforced("smtp.strict_envelopes", facts.LAX)
    limit = policy.smtp.max_connections_per_client
    out += [("message_size_limit", str(policy.smtp.max_message_size)),
            ("smtp_accept_max_per_host", str(limit)),
            ("smtp_accept_max", str(max(100, limit)))]
    rec.enforced("smtp.max_connections_per_client", facts.CONNECTIONS.format(limit=limit))
    out += _tls(policy, rec)
    out.append(("auth_advertise_hosts", advertise(policy)))
    return out


def _tls(policy: Policy, rec: Recorder) -> list[tuple[str, str]]:
    tls = policy.tls
    if tls is None:
        return [("tls_advertise_hosts", "")]  # Exim's default (*) would offer STARTTLS with a self-signed key
    priority = TLS_PRIORITY[tls.min_protocol]
    rec.enforced("tls", facts.TLS.format(priority=priority,
                                         encrypt=facts.TLS_ENCRYPT if tls.inbound == "encrypt" else ""))
    return [("tls_advertise_hosts", "*"), ("tls_certificate", literal(tls.cert)),
            ("tls_privatekey", literal(tls.key)), ("tls_require_ciphers", priority)]
