"""What sendmail.mc relies on the host for, checked by the roles before the files are swapped in."""

from __future__ import annotations

from ...policy import Policy, canonical
from ..base import Requirement, address_requirement, tls_requirements
from . import sasl

DEBIAN_ALIASES = "/etc/aliases"  # Sendmail's AliasFile without ALIAS_FILE (Debian's sendmail.mc keeps it)


def preflight(policy: Policy) -> tuple[Requirement, ...]:
    """The daemon reads the TLS key as root at start (and refuses a group- or world-readable one unless
    DontBlameSendmail says otherwise); AUTH needs the Cyrus SASL library Sendmail is linked with and, for
    saslauthd, its socket. Mail for postmaster@ of the local domains must be accepted (RFC 5321 4.5.1, and
    the contract): Sendmail checks local users at RCPT, and Debian's package leaves the aliases file without
    postmaster, so a stock host answers "User unknown" (the aliases are the site's; mtaharden writes none)."""
    options = policy.targets.sendmail
    needs = list(tls_requirements(policy.tls.cert, policy.tls.key, "root")) if policy.tls else []
    if policy.domains.local and policy.role != "null-client":
        needs.append(Requirement("alias", (options.alias_file or DEBIAN_ALIASES, "postmaster"),
                                 "postmaster@ is deliverable (an alias for postmaster)"))
    needs += sasl.requirements(policy)
    if options.listen_address and policy.role != "null-client":
        needs += address_requirement([canonical.address(options.listen_address)])
    return tuple(needs)
