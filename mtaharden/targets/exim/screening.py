"""Bot screening in Exim's connect ACL.

Pregreet: with ``smtp_enforce_sync`` (Exim's default, written explicitly), input that arrives before Exim's
greeting is a synchronization error, answered 554 and the connection closed; the connect ACL's ``delay``
holds the greeting back so that an early talker shows itself. Exim 4.96 advertises PIPECONNECT to every host
by default and then takes early input as pipelining, so ``pipelining_connect_advertise_hosts`` is emptied.

Weighted DNS lists: one ``warn dnslists`` per site adds its weight to ``acl_c_screen`` (a site's return
codes are one ``=`` list, so a listing counts once), then the score is compared with the threshold.
Trusted and allowed clients and every port but 25 are accepted first, unscreened (``control =
no_enforce_sync``: not even Exim's own check refuses their early input).
"""

from __future__ import annotations

from ...policy import Policy, canonical
from ..kit.coverage import Recorder
from ..kit.dnsbl import return_codes
from . import capabilities as facts
from .acl import DNSBL_LIMIT
from .config import Acl, Statement
from .lists import semicolon_list

ACL = "acl_check_connect"
SCORE = "acl_c_screen"
PIPECONNECT = (4, 94)
REFUSAL = "Screened out: $sender_host_address scored $acl_c_screen"


def main_options(policy: Policy) -> list[tuple[str, str]]:
    """acl_smtp_connect when screening is on; smtp_enforce_sync always explicit."""
    out = [("smtp_enforce_sync", "true")]
    if policy.screening.enabled:
        out.append(("acl_smtp_connect", ACL))
    if policy.screening.enabled and policy.screening.pregreet.action != "log" and _has_pipeconnect(policy):
        out.append(("pipelining_connect_advertise_hosts", ""))  # else early input is PIPECONNECT, never an error
    return out


def _has_pipeconnect(policy: Policy) -> bool:
    """PIPECONNECT (and its option) left the experimental build in Exim 4.94 (targets.exim.version)."""
    return tuple(int(part) for part in policy.targets.exim.version.split(".")) >= PIPECONNECT


def connect_acl(policy: Policy, rec: Recorder) -> Acl | None:
    """The connect ACL (None when screening is off); records the four screening elements."""
    screening = policy.screening
    if not screening.enabled:
        rec.enforced("screening", facts.SCREENING_OFF)
        return None
    rec.enforced("screening", facts.SCREENING)
    unscreened = ("control", "no_enforce_sync")  # else Exim's own check still refuses their early input
    statements = [Statement("accept", (("condition", "${if !={$received_port}{25}}"), unscreened),
                            "screening: port 25 only"),
                  Statement("accept", (("hosts", "+relay_from_hosts"), unscreened), "networks.trusted: never screened")]
    if screening.allow:
        allowed = semicolon_list(canonical.network(n) for n in screening.allow)
        statements.append(Statement("accept", (("hosts", allowed), unscreened), "screening.allow"))
    rec.enforced("screening.allow", facts.SCREENING_ALLOW)
    statements += _weighted(policy, rec)
    pregreet = screening.pregreet
    if pregreet.action == "log":
        rec.unsupported("screening.pregreet", facts.PREGREET_LOG)
        statements.append(Statement("accept"))
    else:
        rec.approximated("screening.pregreet", facts.PREGREET[pregreet.action].format(wait=pregreet.wait))
        statements.append(Statement("accept", (("delay", f"{pregreet.wait}s"),), "screening.pregreet"))
    return Acl(ACL, tuple(statements))


def _weighted(policy: Policy, rec: Recorder) -> list[Statement]:
    weighted = policy.screening.dnsbl
    if not weighted.sites:
        rec.enforced("screening.dnsbl", facts.SCREENING_NO_DNSBL)
        return []
    statements = [Statement("warn", ((f"set {SCORE}", "0"),), "screening.dnsbl: the score")]
    for site in weighted.sites:
        codes = return_codes(site.match, DNSBL_LIMIT)
        if codes is None:
            rec.unsupported("screening.dnsbl", facts.DNSBL_WIDE.format(filters=", ".join(site.match),
                                                                       limit=DNSBL_LIMIT))
            return []
        sign = "+" if site.weight >= 0 else "-"
        statements.append(Statement("warn", (("dnslists", f"{site.zone}={','.join(codes)}"),
                                             (f"set {SCORE}", f"${{eval:${SCORE}{sign}{abs(site.weight)}}}"))))
    reached = ("condition", f"${{if >={{${SCORE}}}{{{weighted.threshold}}}}}")
    if weighted.action == "log":
        statements.append(Statement("warn", (reached, ("log_message", REFUSAL))))
        rec.enforced("screening.dnsbl", facts.SCREENING_DNSBL_LOG.format(count=len(weighted.sites)))
    else:
        statements.append(Statement("deny", (reached, ("message", REFUSAL))))
        rec.approximated("screening.dnsbl", facts.SCREENING_DNSBL[weighted.action].format(
            count=len(weighted.sites)))
    return statements
