"""Inbound SPF/DKIM/DMARC on OpenSMTPD 6.8: the capability table's rows for them (signing: :mod:`.signing`)."""

from __future__ import annotations

from ...policy import Policy
from ..kit.coverage import Recorder
from ..kit.sender_auth import INBOUND, wanted
from .capabilities import note


def record(policy: Policy, rec: Recorder) -> None:
    """Each inbound element off (enforced), or on (unsupported: see the table for what to do instead)."""
    on = wanted(policy)
    for element in INBOUND:
        note(rec, element, "on" if on[element] else "off")
