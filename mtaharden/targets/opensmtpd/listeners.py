"""The listeners and global settings: limits, the banner host name, and why there is no TLS, AUTH or submission.

Why no TLS: Debian 12's OpenSMTPD 6.8.0p2 runs against OpenSSL 3, and its privilege-separated key handling
(the "ca" process signs for the session) fails every handshake ("io-error: ... SSL routines::EVP lib",
measured in the lab with an RSA key; upstream issues OpenSMTPD#1171 and #1239). A STARTTLS that always fails
is worse than none (senders that insist on it cannot deliver), and OpenSMTPD offers AUTH only over TLS, so
AUTH and the submission listeners go too; COVERAGE.md says so.
"""

from __future__ import annotations

from ...policy import Policy
from ..kit.coverage import Recorder
from ..kit.placeholders import pieces
from .capabilities import note
from .conf import Directive, Value, Word
from .options import opensmtpd_options

LISTEN_ADDRESSES = ("0.0.0.0", "::")  # every IPv4 and IPv6 address, one listener each


def globals_(policy: Policy, rec: Recorder) -> list[Directive]:
    """The size and recipient limits; no ``pki``: Debian 12's build cannot complete a TLS handshake."""
    if policy.tls is None:
        note(rec, "tls", "off")
    else:
        note(rec, "tls", "broken")
    size, count = policy.smtp.max_message_size, policy.smtp.max_recipients
    note(rec, "smtp.max_message_size", "set", size=size)
    note(rec, "smtp.max_recipients", "set", count=count)
    return [Directive(("smtp", "max-message-size", str(int(size)))),
            Directive(("smtp", "limit", "max-rcpt", str(int(count))))]


def listeners(policy: Policy, rec: Recorder, chain: str | None) -> list[Directive]:
    """Port 25 on every address, with the banner name and the access chain; no STARTTLS, AUTH or submission
    listener, since all three need TLS (see :func:`globals_`)."""
    options = opensmtpd_options(policy)
    name = _hostname(policy, rec)
    _auth(policy, rec)
    if not policy.accepts_inbound:
        note(rec, "role", policy.role if policy.role == "null-client" else "submission")
        return []
    note(rec, "role", "inbound", addresses=" and ".join(LISTEN_ADDRESSES), port=options.smtp_port)
    words: tuple[Word, ...] = (*(("hostname", Value(name, "hostname")) if name else ()),
                               *(("filter", chain) if chain else ()))
    return [Directive(("listen", "on", address, "port", str(options.smtp_port), *words))
            for address in LISTEN_ADDRESSES]


def _hostname(policy: Policy, rec: Recorder) -> str | None:
    """The listeners' name, and the banner it makes (only the name of OpenSMTPD's greeting is settable)."""
    note(rec, "hostname", "set" if policy.hostname else "unset")
    rest = "".join(piece for piece in pieces(policy.smtp.banner) if isinstance(piece, str)).strip()
    note(rec, "smtp.banner", "always", rest="" if rest == "ESMTP" else f", not the policy's '{rest}'")
    note(rec, "smtp.banner[HELP]", "always")
    return policy.hostname


def _auth(policy: Policy, rec: Recorder) -> None:
    """OpenSMTPD offers AUTH only after STARTTLS, which this build cannot do: no AUTH, no submission ports."""
    if not policy.auth.enabled:
        note(rec, "auth", "off")
        return
    note(rec, "auth", "no-tls")
    if policy.offers_submission:
        note(rec, "auth.submission", "no-tls")
