"""SMTP smuggling (``smtp.bare_newlines``) on Exchange: nothing to write, so the coverage says so.

Why unsupported rather than assumed safe: no cmdlet or receive-connector parameter sets how Exchange
reads a bare LF or CR, Microsoft documents no on-premises behaviour for it, and the lab cannot run
Exchange to find out. The site can test its own server with the lab's payloads (tests/lab/smuggling.py).
"""

from __future__ import annotations

from ..kit.coverage import Recorder

NOTHING = ("no Exchange cmdlet or receive-connector parameter (Set-ReceiveConnector) sets how a bare LF or CR in "
           "DATA is read, and Microsoft documents no on-premises behaviour mtaharden could verify: send the "
           "CVE-2023-51764 payloads (tests/lab/smuggling.py) to your server before relying on it, or put a relay "
           "that requires CRLF.CRLF in front (Postfix with smtpd_forbid_bare_newline)")
NO_EXEMPTION = "nothing is written for smtp.bare_newlines, so there is no per-client exemption either"


def record(rec: Recorder) -> None:
    """Both elements are unsupported whatever the policy asks (a default only warns; a stated one needs a waiver)."""
    rec.unsupported("smtp.bare_newlines", NOTHING)
    rec.unsupported("smtp.bare_newlines_exempt_trusted", NO_EXEMPTION)
