"""Outbound TLS: how the SMTP client secures delivery (``outbound.tls``), DANE included.

Debian's stock main.cf sets ``smtp_tls_security_level = may``; mtaharden's main.cf replaces that file, so the
level is always written. ``dane`` needs ``smtp_dns_support_level = dnssec`` and a resolver that validates
DNSSEC: without one Postfix reads every TLSA record as unsigned and silently delivers as ``may``. So the
plan's check step makes Postfix's own DNSSEC probe (``dnssec_probe``, run by posttls-finger's first DNSSEC
lookup) and fails on its "DNSSEC validation may be unavailable" warning, before the new files go live.
With a validating resolver, a destination whose DNSSEC-signed TLSA records match gets a verified TLS delivery
and one whose records match nothing stays deferred (proven in the lab's DANE zone, tests/lab/test_dane.py).
"""

from __future__ import annotations

from ...policy import Policy
from ..base import Step
from ..kit.coverage import Recorder
from . import capabilities as facts
from .syntax import Value

# posttls-finger's first DNSSEC lookup runs the probe; the host's own name, looked up natively, keeps the lookups
# off the mail's path (no MX, no mail sent: at most an EHLO and QUIT to the host's own port 25).
PROBE = ("-c", "-t", "5", "-l", "dane", "-o", "smtp_dns_support_level=dnssec", "-o", "smtp_host_lookup=native",
         "[localhost]:25")


def parameters(policy: Policy, record: Recorder) -> dict[str, Value]:
    level = policy.outbound.tls
    record.enforced("outbound.tls", facts.OUTBOUND[level])  # dane: tests/lab/test_dane.py, on signed TLSA records
    values: dict[str, Value] = {"smtp_tls_security_level": level}
    if level == "dane":
        values["smtp_dns_support_level"] = "dnssec"
    return values


def checks(policy: Policy, config_dir: str) -> tuple[Step, ...]:
    """With DANE: Postfix's DNSSEC probe through the host's resolver, silent only when it validates."""
    if policy.outbound.tls != "dane":
        return ()
    return (Step(("env", f"MAIL_CONFIG={config_dir}", "posttls-finger", *PROBE),
                 "DANE needs a DNSSEC-validating resolver: Postfix's dnssec_probe must not warn", "check"),)
