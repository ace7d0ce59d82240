"""Bot screening and outbound TLS on Sendmail 8.17: FEATURE(greet_pause) and what the client can do.

greet_pause holds the greeting back; a client that talks before it gets ``554 … not accepting messages``
and MAIL and RCPT ``550 5.0.0 Command rejected`` (seen in the lab), so its mail is refused, as ``reject``
means. ``GreetPause:`` access entries of 0 exempt the trusted networks and the allow-list. Sendmail has no
scoring over several DNS lists (FEATURE dnsbl/enhdnsbl refuse on one listing), and Debian's 8.17.1.9 is
built without DANE (``sendmail -d0.1`` lists no DANE among its compile options).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ...policy import Policy
from ..kit.coverage import Recorder
from . import capabilities as facts
from .access import connect_keys
from .m4 import feature

GREET_PAUSE = "GreetPause:"


@dataclass(frozen=True)
class Screening:
    """The .mc statements (after FEATURE access_db) and the access-map lines screening adds."""

    features: list[str] = field(default_factory=list)
    access: list[tuple[str, str]] = field(default_factory=list)


def lower(policy: Policy, coverage: Recorder) -> Screening:
    """Records ``screening`` and its parts, then ``outbound.tls`` (the policy's order)."""
    screened = _screening(policy, coverage)
    _outbound(policy, coverage)
    return screened


def _screening(policy: Policy, coverage: Recorder) -> Screening:
    screening = policy.screening
    if not screening.enabled:
        coverage.enforced("screening", facts.SCREENING_OFF)
        return Screening()
    coverage.enforced("screening", facts.SCREENING)
    if screening.dnsbl.sites:
        coverage.unsupported("screening.dnsbl", facts.NO_WEIGHTS)
    else:
        coverage.enforced("screening.dnsbl", facts.NO_WEIGHTED_LISTS)
    pregreet = screening.pregreet
    if pregreet.action == "log":
        coverage.unsupported("screening.pregreet", facts.PREGREET_LOG)
        coverage.enforced("screening.allow", facts.NOTHING_TO_ALLOW)
        return Screening()
    how = facts.PREGREET[pregreet.action].format(wait=pregreet.wait)
    if policy.offers_submission:
        coverage.approximated("screening.pregreet", how + facts.PREGREET_SUBMISSION)
    elif pregreet.action == "drop":
        coverage.approximated("screening.pregreet", how)
    else:
        coverage.enforced("screening.pregreet", how)
    exempt = [*policy.networks.trusted, *screening.allow]
    coverage.enforced("screening.allow", facts.SCREENING_ALLOW)
    lines = {f"{GREET_PAUSE}{key}": "0" for network in exempt for key in connect_keys(network)}
    return Screening([feature("greet_pause", str(pregreet.wait * 1000))], sorted(lines.items()))


def _outbound(policy: Policy, coverage: Recorder) -> None:
    level = policy.outbound.tls
    if level == "may":
        coverage.approximated("outbound.tls", facts.OUTBOUND_MAY)
    else:
        coverage.unsupported("outbound.tls", facts.NO_DANE if level == "dane" else facts.NO_REQUIRE_TLS)
