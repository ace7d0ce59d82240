"""SMTP smuggling (``smtp.bare_newlines``): Sendmail's ``Srv_Features:`` flags for bare LF and CR, in the access map.

What Debian 12's sendmail 8.17.1.9-2+deb12u2 does (its changelog: the CVE-2023-51765 fix, the checks of
Sendmail 8.18), as the lab's runs showed: by default a bare LF or a bare CR anywhere in the session is
answered ``421 4.5.0 Bare linefeed (LF) not allowed`` (or ``... carriage return (CR) ...``) and the
connection is closed, and only CRLF.CRLF ends DATA. ``srv_features`` letters relax it per client: ``G``
reads a bare LF as a line end, ``u2`` turns a bare CR into a space, ``U`` keeps a bare CR in the line, and
``O`` accepts the old end-of-DATA forms (LF.CRLF, LF.LF) again. Upstream Sendmail before 8.18 has none of
this (it takes LF.CRLF for the end of DATA), so a check step asks the installed binary for the check's text.
"""

from __future__ import annotations

import shlex

from ...policy import Policy
from ...policy.options._version import numbers
from ..base import Step
from ..kit import version
from ..kit.coverage import Recorder
from .access import connect_keys

SRV_FEATURES = "Srv_Features:"
NORMALIZE_FLAGS = "G u2"  # a bare LF ends a line, a bare CR becomes a space; only CRLF.CRLF ends DATA
OLD_FLAGS = "O U G"  # 8.17's old handling: LF.CRLF and LF.LF end DATA, bare LF and CR pass
FIRST = (8, 17, 1, 9)  # Debian's fixed build; upstream from 8.18
CHECK_TEXT = "Bare linefeed (LF) not allowed"

NORMALIZE = (f"{SRV_FEATURES} {NORMALIZE_FLAGS} (the access map's default): only CRLF.CRLF ends DATA, a bare LF "
             "reads as a line end, a bare CR becomes a space (not a line end)")
REJECT = ("Sendmail's default (no Srv_Features flags): a bare LF or CR is answered 421 4.5.0 and the connection "
          "closed, a temporary refusal (the sender retries until its queue lifetime ends); only CRLF.CRLF ends DATA")
EXEMPT = (f"{SRV_FEATURES}<trusted network> {OLD_FLAGS}: the trusted networks keep 8.17's old handling "
          "(LF.CRLF and LF.LF end DATA, bare LF and CR pass)")
NOT_EXEMPT = "no per-client Srv_Features: entry: trusted clients are held to it too"
OLD = ("Sendmail {version} (before Debian's 8.17.1.9 fix or 8.18) takes LF.CRLF for the end of DATA and has no "
       "switch for it; upgrade Sendmail, then set targets.sendmail.version")


def lower(policy: Policy, coverage: Recorder) -> list[tuple[str, str]]:
    """The access-map lines for ``smtp.bare_newlines``, and their coverage."""
    smtp, release = policy.smtp, policy.targets.sendmail.version
    if numbers(release) < FIRST:
        coverage.unsupported("smtp.bare_newlines", OLD.format(version=release))
        coverage.unsupported("smtp.bare_newlines_exempt_trusted", OLD.format(version=release))
        return []
    lines = []
    if smtp.bare_newlines == "normalize":
        coverage.approximated("smtp.bare_newlines", NORMALIZE)
        lines.append((SRV_FEATURES, NORMALIZE_FLAGS))
    else:
        coverage.approximated("smtp.bare_newlines", REJECT)
    if smtp.bare_newlines_exempt_trusted:
        coverage.enforced("smtp.bare_newlines_exempt_trusted", EXEMPT)
        keys = dict.fromkeys(key for network in policy.networks.trusted for key in connect_keys(network))
        lines += [(f"{SRV_FEATURES}{key}", OLD_FLAGS) for key in keys]
    else:
        coverage.enforced("smtp.bare_newlines_exempt_trusted", NOT_EXEMPT)
    return lines


def checks(policy: Policy) -> tuple[Step, ...]:
    """The installed Sendmail is the version rendered for, and its binary has the bare LF check."""
    options = policy.targets.sendmail
    binary = shlex.quote(options.sendmail)
    has_check = Step(("sh", "-c", f"grep -q {shlex.quote(CHECK_TEXT)} \"$(readlink -f {binary})\" || "
                                  "{ echo 'error: this sendmail has no bare LF check (Debian 8.17.1.9-2+deb12u1 or "
                                  "Sendmail 8.18 has it): the Srv_Features flags would be ignored'; exit 1; }"),
                     "the sendmail binary has the bare LF/CR checks the Srv_Features flags tune", "check")
    asked = version.check_step(f"{binary} -d0.1 -bt </dev/null", r"s/^Version \([0-9][0-9.]*\).*/\1/p",
                               options.version, "targets.sendmail.version")
    return (asked, has_check) if numbers(options.version) >= FIRST else (asked,)
