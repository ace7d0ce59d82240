"""SMTP smuggling (``smtp.bare_newlines``): ``smtpd_forbid_bare_newline`` as far as the Postfix version has it.

Why version-aware: Postfix grew the knob in two steps. 3.5.23/3.6.13/3.7.9/3.8.4 have only ``yes`` (refuse a
bare LF and disconnect); 3.5.24/3.6.14/3.7.10/3.8.5 and 3.9+ have ``normalize`` (only CRLF.CRLF ends DATA,
a bare LF reads as CRLF) and ``reject`` (refuse with ``smtpd_forbid_bare_newline_reject_code``). Debian 12's
3.7.11 has both (its postconf(5) and the lab's postconf -d agree). ``reject_unauth_pipelining`` (the
short-term fix) stays in ``smtpd_data_restrictions`` either way (main_cf).

A bare CR is no line end to Postfix in any mode: it stays in the line and never ends DATA; the lab saw it
arrive at the next hop as a space.
"""

from __future__ import annotations

import shlex

from ...policy import Policy
from ...policy.options._version import numbers
from ..base import Step
from ..kit import version
from ..kit.coverage import Recorder
from .syntax import Value

# The first release of each branch with normalize/reject, and with the older yes-only knob.
NORMALIZE_SINCE = {(3, 5): 24, (3, 6): 14, (3, 7): 10, (3, 8): 5}
YES_SINCE = {(3, 5): 23, (3, 6): 13, (3, 7): 9, (3, 8): 4}
NEWEST_BRANCH = (3, 9)  # every release from here has normalize

BARE_CR = "; a bare CR is no line end to Postfix: it stays in the line (the next hop sees a space) and never ends DATA"
NORMALIZE = ("smtpd_forbid_bare_newline = normalize: only CRLF.CRLF ends DATA, a bare LF reads as CRLF" + BARE_CR)
REJECT = ("smtpd_forbid_bare_newline = reject: a bare LF is refused with 550 5.5.2 (only CRLF.CRLF ends DATA)"
          + BARE_CR + ", so a bare CR alone is not refused")
YES_ONLY = ("Postfix {version} has only smtpd_forbid_bare_newline = yes: a bare LF is refused with 521 and the "
            "connection closed{instead}" + BARE_CR)
NONE = ("Postfix {version} has no smtpd_forbid_bare_newline (3.5.23/3.6.13/3.7.9/3.8.4 or later): a bare LF ends a "
        "line and LF.CRLF ends DATA; only reject_unauth_pipelining refuses a smuggled command sent ahead. Upgrade "
        "Postfix, then set targets.postfix.version")
EXEMPT = "smtpd_forbid_bare_newline_exclusions = $mynetworks: the trusted networks keep Postfix's old line handling"
NOT_EXEMPT = "smtpd_forbid_bare_newline_exclusions is empty: trusted clients are held to it too"


def knob(release: str) -> str | None:
    """What ``release`` spells: ``normalize`` (normalize and reject), ``yes`` (yes only) or None (nothing)."""
    parts = numbers(release)
    branch, patch = parts[:2], (parts[2] if len(parts) > 2 else 0)
    if branch >= NEWEST_BRANCH:
        return "normalize"
    if branch in NORMALIZE_SINCE and patch >= NORMALIZE_SINCE[branch]:
        return "normalize"
    if branch in YES_SINCE and patch >= YES_SINCE[branch]:
        return "yes"
    return None


def parameters(policy: Policy, record: Recorder) -> dict[str, Value]:
    """The smtpd_forbid_bare_newline parameters the assumed version accepts, and their coverage."""
    smtp, release = policy.smtp, policy.targets.postfix.version
    has = knob(release)
    if has is None:
        record.unsupported("smtp.bare_newlines", NONE.format(version=release))
        record.unsupported("smtp.bare_newlines_exempt_trusted", NONE.format(version=release))
        return {}
    values: dict[str, Value] = {
        "smtpd_forbid_bare_newline_exclusions": "$mynetworks" if smtp.bare_newlines_exempt_trusted else ""}
    if has == "yes":
        instead = " (normalize is not there: refusing is what is left)" if smtp.bare_newlines == "normalize" else ""
        record.approximated("smtp.bare_newlines", YES_ONLY.format(version=release, instead=instead))
        values["smtpd_forbid_bare_newline"] = "yes"
    elif smtp.bare_newlines == "normalize":
        record.approximated("smtp.bare_newlines", NORMALIZE)
        values["smtpd_forbid_bare_newline"] = "normalize"
    else:
        record.approximated("smtp.bare_newlines", REJECT)
        values |= {"smtpd_forbid_bare_newline": "reject", "smtpd_forbid_bare_newline_reject_code": "550"}
    record.enforced("smtp.bare_newlines_exempt_trusted", EXEMPT if smtp.bare_newlines_exempt_trusted else NOT_EXEMPT)
    return values


def version_check(policy: Policy) -> Step:
    """The deploy stops on a Postfix older than the render assumed (its parameters would be unknown there)."""
    config_dir = policy.targets.postfix.config_dir
    return version.check_step(f"postconf -c {shlex.quote(config_dir)} -h mail_version", r"s/^\([0-9][0-9.]*\).*/\1/p",
                              policy.targets.postfix.version, "targets.postfix.version")
