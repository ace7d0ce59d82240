"""SMTP AUTH's host side: Sendmail.conf for the Cyrus SASL library, and what the host must provide for it.

Sendmail authenticates through Cyrus SASL only; the settings are the kit's (shared with Postfix), the
file's place is Sendmail's (``targets.sendmail.sasl_dir``).
"""

from __future__ import annotations

from ...policy import Policy
from ..base import PlannedFile, Requirement
from ..kit.sasl import cyrus_conf, saslauthd_sockets
from .contexts import Table

CONF = "Sendmail.conf"
# Where a distribution puts the Cyrus SASL library sm-mta is linked with (a glob: multiarch folders).
SASL_LIBRARY = ("/usr/lib/*/libsasl2.so.2", "/usr/lib64/libsasl2.so.2", "/usr/lib/libsasl2.so.2")


def uses_cyrus(policy: Policy) -> bool:
    """Whether the plan offers AUTH through Cyrus SASL (a dovecot backend is reported unsupported)."""
    return policy.auth.enabled and policy.auth.backend == "cyrus"


def conf_file(policy: Policy) -> list[PlannedFile]:
    """Sendmail.conf, when AUTH goes through Cyrus SASL."""
    return [PlannedFile(CONF, "Sendmail.conf.j2", Table(cyrus_conf(policy.auth).lines))] if uses_cyrus(policy) else []


def requirements(policy: Policy) -> list[Requirement]:
    """The Cyrus SASL library Sendmail is linked with and, for saslauthd, its socket (else the sasldb)."""
    if not uses_cyrus(policy):
        return []
    needs = [Requirement("any-of", SASL_LIBRARY, "the Cyrus SASL library is installed (libsasl2-2)")]
    conf = cyrus_conf(policy.auth)
    if conf.sasldb is None:
        needs.append(Requirement("any-of", saslauthd_sockets(), "saslauthd's socket exists (saslauthd must run)"))
    else:
        needs.append(Requirement("readable", ("root", conf.sasldb),
                                 "the sasldb Sendmail.conf names exists"))
    return needs
