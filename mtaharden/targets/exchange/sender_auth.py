"""Inbound SPF/DKIM/DMARC and DKIM signing on Exchange Server: what the script can say about them.

On-premises Exchange 2016/2019/SE has the Sender ID agent (an SPF-record check of the PRA or MAIL FROM, among
the antispam agents of reference/exchange.md), no DKIM verifier or signer and no DMARC evaluation; Exchange
Online Protection does all of them, configured in Microsoft 365, outside what the script manages.
"""

from __future__ import annotations

from ...policy import Policy
from ..kit.coverage import Recorder
from ..kit.sender_auth import record_gaps

_EOP = "Exchange Online Protection does this (configured in Microsoft 365, not by this script)"
UNSUPPORTED = {
    "sender_auth.spf": ("not rendered: the Sender ID agent (Set-SenderIdConfig, after Install-AntiSpamAgents.ps1) "
                        "checks SPF records, but of the PRA header address as well as MAIL FROM and with its own "
                        "actions; " + _EOP),
    "sender_auth.dkim": "Exchange Server verifies no DKIM signature; " + _EOP,
    "sender_auth.dmarc": "Exchange Server evaluates no DMARC; " + _EOP,
    "dkim_signing": ("Exchange Server does not sign (a third-party transport agent would); " + _EOP +
                     " for mail it sends"),
}


def record(policy: Policy, rec: Recorder) -> None:
    """Each element off (enforced), or on (unsupported, with what would carry it out)."""
    record_gaps(policy, rec, UNSUPPORTED)
