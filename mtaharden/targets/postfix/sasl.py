"""SMTP AUTH: the SASL parameters of main.cf, Cyrus's ``sasl/smtpd.conf``, and what the host must provide.

A chrooted smtpd reaches SASL inside the queue folder, as the postfix user: the preflight and the coverage
note both follow from that one fact.
"""

from __future__ import annotations

from ...policy import Policy
from ..base import PlannedFile, Requirement
from ..kit.coverage import Recorder
from ..kit.sasl import cyrus_conf, saslauthd_sockets
from . import capabilities as facts
from .syntax import CONFIG, Value, yes

DEBIAN_QUEUE = "/var/spool/postfix"


def parameters(policy: Policy, record: Recorder) -> dict[str, Value]:
    """main.cf's SMTP AUTH parameters; the policy's ``auth`` coverage."""
    auth = policy.auth
    values: dict[str, Value] = {"smtpd_sasl_auth_enable": yes(auth.enabled and policy.accepts_inbound)}
    if not auth.enabled:
        record.enforced("auth", facts.NO_AUTH)
        return values
    values |= {
        "smtpd_sasl_type": auth.backend,
        "smtpd_sasl_path": "smtpd" if auth.backend == "cyrus" else auth.dovecot_socket,
        "smtpd_sasl_security_options": "noanonymous",
        "smtpd_sasl_tls_security_options": "noanonymous",
        "smtpd_sasl_mechanism_filter": ", ".join(m.lower() for m in auth.mechanisms),
        "broken_sasl_auth_clients": "no",
    }
    if auth.backend == "cyrus":
        values["cyrus_sasl_config_path"] = f"{CONFIG}/sasl"
    record.enforced("auth", facts.AUTH.format(backend=auth.backend, tls_only=yes(auth.require_tls))
                    + _chrooted_sasldb(policy))
    return values


def cyrus_file(policy: Policy) -> PlannedFile | None:
    """``sasl/smtpd.conf`` when Cyrus does the checking (Dovecot needs no file of ours)."""
    auth = policy.auth
    if not (auth.enabled and auth.backend == "cyrus"):
        return None
    return PlannedFile("sasl/smtpd.conf", "smtpd.conf.j2", cyrus_conf(auth))


def requirements(policy: Policy) -> list[Requirement]:
    """The SASL backend smtpd will talk to, where a (chrooted) smtpd looks for it."""
    options, auth = policy.targets.postfix, policy.auth
    if not (auth.enabled and policy.accepts_inbound):
        return []
    queue = str(options.parameters.get("queue_directory", DEBIAN_QUEUE))
    inside = queue if options.chroot else ""
    if auth.backend == "dovecot":
        return [Requirement("any-of", (f"{queue}/{auth.dovecot_socket}",),
                            "Dovecot's auth socket exists (smtpd_sasl_path; Dovecot must run)")]
    conf = cyrus_conf(auth)
    if conf.sasldb is None:  # saslauthd checks the passwords
        return [Requirement("any-of", saslauthd_sockets(inside),
                            "saslauthd's socket exists where smtpd looks (saslauthd must run"
                            + (f", with -m {queue}/var/run/saslauthd: smtpd is chrooted)" if inside else ")"))]
    return [Requirement("readable", ("postfix", f"{inside}{conf.sasldb}"),
                        "the sasldb exists where smtpd opens it and postfix reads it"
                        + (" (smtpd is chrooted: a copy inside the queue folder)" if inside else ""))]


def _chrooted_sasldb(policy: Policy) -> str:
    """What a chrooted smtpd needs of a Cyrus sasldb: it opens the path inside the queue folder."""
    sasldb = cyrus_conf(policy.auth).sasldb if policy.auth.backend == "cyrus" else None
    if not (policy.targets.postfix.chroot and sasldb):
        return ""
    return facts.CHROOTED_SASLDB.format(sasldb=sasldb, queue=DEBIAN_QUEUE)
