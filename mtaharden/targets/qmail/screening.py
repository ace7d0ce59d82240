"""Bot screening and outbound TLS on qmail: what the target can say about them (see the capability table)."""

from __future__ import annotations

from ...policy import Policy
from ..kit.coverage import Recorder
from .capabilities import note


def record(policy: Policy, rec: Recorder) -> None:
    """``screening`` (off, or unsupported as a whole) and ``outbound.tls`` (the level asked for)."""
    note(rec, "screening", "none" if policy.screening.enabled else "off")
    note(rec, "outbound.tls", policy.outbound.tls)
