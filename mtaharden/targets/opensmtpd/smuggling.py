"""SMTP smuggling (``smtp.bare_newlines``) on OpenSMTPD 6.8: nothing to write, the coverage says what it does."""

from __future__ import annotations

from ...policy import Policy
from ..kit.coverage import Recorder
from .capabilities import note


def record(policy: Policy, rec: Recorder) -> None:
    """OpenSMTPD has no line-end setting: the same facts whatever the policy asks (see the capability table)."""
    note(rec, "smtp.bare_newlines", "any")
    note(rec, "smtp.bare_newlines_exempt_trusted", "exempt" if policy.smtp.bare_newlines_exempt_trusted else "held")
