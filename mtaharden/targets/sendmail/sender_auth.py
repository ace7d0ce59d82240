"""Inbound SPF/DKIM/DMARC and DKIM signing on Sendmail: not rendered yet, with the milters that would do it.

Sendmail 8.17 (Debian 12, compiled with MILTER) checks none of these itself. The Postfix target runs OpenDKIM
and OpenDMARC as milters (:mod:`..kit.milters`); Sendmail would call the same ones with INPUT_MAIL_FILTER, and
SPF with Debian's pyspf-milter, but mtaharden does not write those lines for Sendmail yet, and a row is only
``enforced`` once the lab has proven it.
"""

from __future__ import annotations

from ...policy import Policy
from ..kit import milters
from ..kit.coverage import Recorder
from ..kit.sender_auth import record_gaps

_FILTER = "INPUT_MAIL_FILTER(`{name}', `S=inet:{port}@127.0.0.1, F=T, T=S:30s;R:1m')"
UNSUPPORTED = {
    "sender_auth.spf": ("not rendered: Sendmail has no SPF check; Debian's pyspf-milter does it, called with "
                        "INPUT_MAIL_FILTER in sendmail.mc (add it yourself)"),
    "sender_auth.dkim": ("not rendered: add OpenDKIM (mode v) with "
                         + _FILTER.format(name="opendkim", port=milters.OPENDKIM_PORT) + " in sendmail.mc"),
    "sender_auth.dmarc": ("not rendered: add OpenDMARC with "
                          + _FILTER.format(name="opendmarc", port=milters.OPENDMARC_PORT) + " after OpenDKIM"),
    "dkim_signing": ("not rendered: add OpenDKIM (mode s, KeyTable and SigningTable as the Postfix target writes "
                     "them) with " + _FILTER.format(name="opendkim", port=milters.OPENDKIM_PORT)),
}


def record(policy: Policy, rec: Recorder) -> None:
    """Each element off (enforced), or on (unsupported, with what would carry it out)."""
    record_gaps(policy, rec, UNSUPPORTED)
