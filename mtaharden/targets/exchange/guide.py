"""GUIDE.md: the checklist of what no cmdlet sets, as a typed context the template only lays out.

The checklist carries out some elements by hand (TLS versions, the VRFY/EXPN check): :func:`record_checklist`
records their coverage, :func:`guide` builds the context once every step has recorded its gaps.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...policy import Policy, canonical
from ..base import Coverage
from ..kit.coverage import Recorder
from .capabilities import NO_TLS13_ONLY, NO_VRFY_CONTROL, TLS_BY_REGISTRY
from .domains import address_space


@dataclass(frozen=True)
class Guide:
    """What GUIDE.md says about this policy (every value quoted by the template's md or ps filter)."""

    edge: bool
    host: str  # the name the certificate and the checks use
    servers: tuple[str, ...]
    relay_connector: str
    relay_domains: tuple[str, ...]  # address spaces that need a Send connector
    trusted: tuple[str, ...]
    message_size: str
    agents: tuple[str, ...]  # Mailbox antispam agents the script installs
    min_protocol: str
    disable_vrfy: str
    disable_expn: str
    gaps: tuple[Coverage, ...]  # what Exchange does differently
    test_section: int  # the number of the last section (one more when there are gaps)


def record_checklist(policy: Policy, rec: Recorder) -> None:
    """The elements the checklist carries out by hand."""
    rec.approximated("smtp.disable_vrfy", NO_VRFY_CONTROL)
    rec.approximated("smtp.disable_expn", NO_VRFY_CONTROL)
    if policy.tls is None:
        return
    if policy.tls.min_protocol == "TLSv1.3":
        rec.unsupported("tls.min_protocol", NO_TLS13_ONLY)
    else:
        rec.approximated("tls.min_protocol", TLS_BY_REGISTRY)


def guide(policy: Policy, *, message_size: str, agents: tuple[str, ...], coverage: tuple[Coverage, ...]) -> Guide:
    """The guide's context from the policy and what the other steps decided."""
    gaps = tuple(c for c in coverage if c.status != "enforced")
    options = policy.targets.exchange
    return Guide(
        edge=options.deployment == "edge",
        host=policy.hostname or "mx.example.org",
        servers=tuple(options.servers),
        relay_connector=options.relay_connector,
        relay_domains=tuple(address_space(d) for d in policy.domains.relay),
        trusted=tuple(canonical.network(n) for n in policy.networks.trusted),
        message_size=message_size,
        agents=agents,
        min_protocol=policy.tls.min_protocol if policy.tls else "not set",
        disable_vrfy=str(policy.smtp.disable_vrfy).lower(),
        disable_expn=str(policy.smtp.disable_expn).lower(),
        gaps=gaps,
        test_section=4 if gaps else 3,
    )


