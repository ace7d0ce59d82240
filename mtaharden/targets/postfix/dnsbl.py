"""DNS blocklists: one ``reject_rbl_client zone=filter`` per return-code filter, each reply in ``rbl_reply``."""

from __future__ import annotations

from collections.abc import Sequence

from ...policy.model import DnsblEntry
from ..kit.coverage import Recorder
from ..kit.placeholders import fill
from . import capabilities as facts
from .syntax import escape_dollar
from .tables import Table

DNSBL_CODES = {"reject": "554 5.7.1", "defer": "450 4.7.1"}
DNSBL_PLACEHOLDERS = {"client": "${client_address}", "zone": "${rbl_domain}"}


def lower(entries: Sequence[DnsblEntry], record: Recorder) -> tuple[list[str], Table]:
    """The restrictions (in policy order) and the reply table smtpd looks each one's reply up in."""
    steps: list[str] = []
    replies: list[tuple[str, str]] = []
    for index, entry in enumerate(entries):
        text = fill(entry.message, DNSBL_PLACEHOLDERS, escape_dollar)
        # smtpd looks the reply up under the restriction's full argument, "zone=filter".
        for return_filter in entry.filters:
            steps.append(f"reject_rbl_client {entry.zone}={return_filter}")
            replies.append((f"{entry.zone}={return_filter}", f"{DNSBL_CODES[entry.action]} {text}"))
        record.enforced(f"dnsbl[{index}]", facts.DNSBL.format(zone=entry.zone, filters=", ".join(entry.filters)))
    return steps, Table("rbl_reply", "texthash", tuple(replies))
