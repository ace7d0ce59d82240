"""SMTP smuggling (``smtp.bare_newlines``) on qmail: qmail-smtpd's own bare LF refusal, nothing to write."""

from __future__ import annotations

from ...policy import Policy
from ..kit.coverage import Recorder
from .capabilities import note


def record(policy: Policy, rec: Recorder) -> None:
    """qmail-smtpd has one line-end behaviour for every client (see the capability table)."""
    note(rec, "smtp.bare_newlines", policy.smtp.bare_newlines)
    note(rec, "smtp.bare_newlines_exempt_trusted", "exempt" if policy.smtp.bare_newlines_exempt_trusted else "held")
