"""Bot screening and outbound TLS on Exchange Server: what the script can say about them.

Exchange has no pregreet test and no scoring over several DNS lists (the Edge's IP Block List providers
refuse on any one listing), and on-premises Exchange Server has no outbound DANE (Exchange Online has).
"""

from __future__ import annotations

from ...policy import Policy
from ..kit.coverage import Recorder

SCREENING_OFF = "off (no screening before the SMTP dialogue)"
NO_SCREENING = ("Exchange has no pregreet test and no weighted DNS lists (Edge IP Block List providers refuse on one "
                "listing, and Mailbox servers query none); list the zones under dnsbl with deployment: edge instead")
OUTBOUND_MAY = ("Send connectors' default, left as it is: STARTTLS when the receiving server offers it, no "
                "certificate check (not tested on a real Exchange here)")
NO_DANE = "Exchange Server has no outbound DANE (only Exchange Online validates TLSA records)"
NO_REQUIRE_TLS = ("not rendered: set -RequireTLS $true on the Internet Send connector yourself (the script does not "
                  "manage Send connectors)")


def record(policy: Policy, rec: Recorder) -> None:
    """``screening`` (off, or unsupported as a whole) and ``outbound.tls``."""
    if policy.screening.enabled:
        rec.unsupported("screening", NO_SCREENING)
    else:
        rec.enforced("screening", SCREENING_OFF)
    level = policy.outbound.tls
    if level == "may":
        rec.approximated("outbound.tls", OUTBOUND_MAY)
    else:
        rec.unsupported("outbound.tls", NO_DANE if level == "dane" else NO_REQUIRE_TLS)
