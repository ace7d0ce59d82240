"""What stock qmail-smtpd does by itself, whatever the files say: the elements no qmail file expresses.

No lowering step writes these, so this one records them: each from the capability table, by the policy's
setting.
"""

from __future__ import annotations

from ...policy import Policy
from ..kit.coverage import Recorder
from .capabilities import note


def record_builtin(policy: Policy, rec: Recorder) -> None:
    """header_checks, VRFY/EXPN, HELO, envelope syntax, the recipient limit and TLS: stock qmail-smtpd's own."""
    smtp = policy.smtp
    for index, check in enumerate(policy.header_checks):
        note(rec, f"header_checks[{index}]", "none", header=check.header)
    note(rec, "smtp.disable_vrfy", "on" if smtp.disable_vrfy else "off")
    note(rec, "smtp.disable_expn", "on" if smtp.disable_expn else "off")
    note(rec, "smtp.require_helo", "on" if smtp.require_helo else "off")
    note(rec, "smtp.strict_envelopes", "on" if smtp.strict_envelopes else "off")
    note(rec, "smtp.max_recipients", "none")
    note(rec, "tls", "on" if policy.tls else "off")
    if policy.accepts_inbound and policy.access.helo:
        note(rec, "access.helo", "ignored")
