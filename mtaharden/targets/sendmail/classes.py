"""Who Sendmail delivers and relays for: class w (local-host-names), class R (relay-domains), trusted networks.

Relaying is granted only by class R, the ``Connect:`` RELAY entries of the trusted networks (written
into the access map, :mod:`.access`) and TRUST_AUTH_MECH; access rules use OK/REJECT/ERROR, which never
relay.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...policy import Policy
from ..base import HOST_ITSELF
from ..kit.coverage import Recorder
from . import capabilities as facts


@dataclass(frozen=True)
class Classes:
    """The two class files, one name per line."""

    local_names: list[str]
    relay_domains: list[str]


def lower(policy: Policy, coverage: Recorder) -> Classes:
    """Both class files; records the local and relay domains and the trusted networks."""
    if any(d.startswith(".") for d in policy.domains.local):
        coverage.unsupported("domains.local", facts.LOCAL_SUBDOMAINS)
    else:
        coverage.enforced("domains.local", facts.LOCAL_DOMAINS)
    if any(d.startswith(".") for d in policy.domains.relay):
        coverage.unsupported("domains.relay", facts.RELAY_SUBDOMAINS)
    else:
        coverage.enforced("domains.relay", facts.RELAY_DOMAINS)
    coverage.enforced("networks.trusted", facts.TRUSTED)
    coverage.approximated(f"networks.trusted[{HOST_ITSELF}]", facts.SELF_RELAY)
    return Classes(local_names(policy), relay_domains(policy))


def relay_domains(policy: Policy) -> list[str]:
    """Class R: with relay_hosts_only an entry is an exact name (a ``.domain`` relays for the parent only)."""
    return [domain.lstrip(".") for domain in policy.domains.relay]


def local_names(policy: Policy) -> list[str]:
    """Class w: the host name and the exact local domains (class w has no subdomain wildcard)."""
    names = [d for d in policy.domains.local if not d.startswith(".")]
    if policy.hostname:
        names.insert(0, policy.hostname)
    return names
