"""SMTP smuggling (``smtp.bare_newlines``) on Exim: no setting to write, so coverage and a version check.

Debian 12's exim4 4.96-15+deb12u4 carries upstream 4.97.1's CVE-2023-51766 fix (its changelog: a line
"dot, LF" no longer ends DATA unless the message is read in LF-only mode, detected from its first header
line). Exim has no setting to refuse bare line ends or to change how it reads them; what it does with them
is what the lab's payloads showed (tests/lab/test_smuggling.py).
"""

from __future__ import annotations

import shlex

from ...policy import Policy
from ...policy.options._version import numbers
from ..base import Step
from ..kit import version
from ..kit.coverage import Recorder

FIXED = (4, 96)  # Debian's 4.96 carries the fix; upstream from 4.97.1
READS = ("only CRLF.CRLF ends DATA once the message's first line ended in CRLF (a client whose first header line "
         "ends in a bare LF is read in LF-only mode, where LF.LF ends it); a bare CR reads as a line end and a "
         "bare LF becomes a space (as the lab saw)")
NORMALIZE = "Exim has no setting for it and needs none: " + READS + ", so a bare LF is not a line end"
REJECT = ("Exim has no setting to refuse a bare LF or CR: such a message is accepted and read as under normalize ("
          + READS + "); refuse it on a relay in front (Postfix with smtpd_forbid_bare_newline = reject), or waive it")
OLD = ("Exim {version} (before 4.97.1 and without Debian's 4.96-15+deb12u4 fix) takes LF.CRLF for the end of DATA "
       "and has no setting for it; upgrade Exim, then set targets.exim.version")
EXEMPT = "no per-client line handling: trusted clients are read like everyone (see smtp.bare_newlines)"
HELD = "every client, trusted or not, is read alike (see smtp.bare_newlines)"


def record(policy: Policy, rec: Recorder) -> None:
    """What Exim does with bare line ends, by the assumed version and the policy's wish."""
    smtp, release = policy.smtp, policy.targets.exim.version
    if numbers(release) < FIXED:
        rec.unsupported("smtp.bare_newlines", OLD.format(version=release))
    elif smtp.bare_newlines == "normalize":
        rec.approximated("smtp.bare_newlines", NORMALIZE)
    else:
        rec.unsupported("smtp.bare_newlines", REJECT)
    if smtp.bare_newlines_exempt_trusted:
        rec.approximated("smtp.bare_newlines_exempt_trusted", EXEMPT)
    else:
        rec.enforced("smtp.bare_newlines_exempt_trusted", HELD)


def version_check(policy: Policy) -> Step:
    """The deploy stops on an Exim older than the render assumed."""
    options = policy.targets.exim
    return version.check_step(f"{shlex.quote(options.exim)} -bV", r"s/^Exim version \([0-9][0-9.]*\).*/\1/p",
                              options.version, "targets.exim.version")
