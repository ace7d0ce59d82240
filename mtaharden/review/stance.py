"""The relay stance of a policy in one plain sentence: who may relay, and for which domains mail is taken.

Derived from the Policy alone (not from a target's files), so every output format and every target
shows the same sentence, and a reviewer can compare it with what the site intends.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..policy import Policy, canonical, trust


def relay_stance(policy: Policy) -> str:
    """E.g. "relays only for 202.112.57.0/24 and authenticated users; accepts mail for example.edu.cn"."""
    if policy.role == "null-client":
        return "relays only mail written on this host; accepts no mail from the network (null client)"
    # loopback is left out (this host may always relay); the submission services relay only for
    # authenticated clients, never for trusted networks
    networks = [] if policy.role == "submission" else [n for n in policy.networks.trusted if not n.is_loopback]
    relayers = [*map(canonical.network, networks), *(["authenticated users"] if policy.auth.enabled else [])]
    relays = f"relays only for {_words(relayers)}" if relayers else "relays for nobody but this host itself"
    if trust.too_wide(networks):  # only possible with networks.allow_wide_trusted
        relays += " — an open relay"
    if not policy.accepts_inbound:
        return f"{relays}; accepts no mail on port 25"
    local = policy.domains.local
    accepts = f"accepts mail for {_words(_domains(local))}" if local else "accepts mail only for its own host name"
    if policy.domains.relay:
        accepts += f", and forwards mail for {_words(_domains(policy.domains.relay))}"
    return f"{relays}; {accepts}"


def _domains(patterns: Sequence[str]) -> list[str]:
    return [f"every subdomain of {p[1:]}" if p.startswith(".") else p for p in patterns]


def _words(items: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"
