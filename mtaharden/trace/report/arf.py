"""An ARF feedback report (RFC 5965): multipart/report; report-type=feedback-report, with a human
part, the machine-readable message/feedback-report part and the original message attached as
message/rfc822 byte for byte. It is laid out by hand because the email package re-folds and may
re-encode an attached message; every line written here comes from screened, allow-listed values."""

from __future__ import annotations

import email.utils
import secrets
from typing import Any

from mtaharden import __version__

from ..contacts import mailbox
from .wording import summary_lines, words


def arf_report(trace: dict[str, Any], original: bytes, reporter: str, recipients: list[str], language: str,
               reporting_host: str) -> bytes:
    boundary = _boundary(original)
    text = words(language)
    sender = trace["sender"] or {}
    ip = sender.get("ip") or text["unknown"]
    human = "\n".join([text["greeting"], "", text["intro"], "", *summary_lines(trace, language), "",
                       text["attached"], "", text["closing"], ""])
    feedback = _feedback_fields(trace, reporting_host)
    transfer = "7bit" if original.isascii() else "8bit"
    head = [
        f"From: <{reporter}>",
        f"To: {', '.join(f'<{address}>' for address in recipients) or f'<{reporter}>'}",
        f"Subject: {_header_words(text['subject'].format(ip=ip))}",
        f"Date: {email.utils.formatdate(localtime=False)}",
        f"Message-ID: {email.utils.make_msgid('arf', domain=reporting_host)}",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/report; report-type=feedback-report; boundary="{boundary}"',
        "",
        "This is an abuse report in the Abuse Reporting Format (RFC 5965).",
        "",
        f"--{boundary}",
        'Content-Type: text/plain; charset="utf-8"',
        "Content-Transfer-Encoding: 8bit",
        "",
        human,
        f"--{boundary}",
        "Content-Type: message/feedback-report",
        "",
        *feedback,
        "",
        f"--{boundary}",
        "Content-Type: message/rfc822",
        f"Content-Transfer-Encoding: {transfer}",
        "Content-Disposition: inline",
        "",
    ]
    body = original if original.endswith(b"\n") else original + b"\n"
    return "\n".join(head).encode("utf-8") + b"\n" + body + f"--{boundary}--\n".encode("ascii")


def _feedback_fields(trace: dict[str, Any], reporting_host: str) -> list[str]:
    sender = trace["sender"] or {}
    hop = trace["hops"][sender["hop"] - 1] if sender.get("hop") else {}
    fields = ["Feedback-Type: abuse", f"User-Agent: mtaharden/{__version__}", "Version: 1"]
    if trace["return_path"]:
        fields.append(f"Original-Mail-From: <{trace['return_path']}>")
    if hop.get("for") and (recipient := mailbox(hop["for"])) is not None:
        fields.append(f"Original-Rcpt-To: <{recipient}>")
    if hop.get("time"):
        fields.append(f"Arrival-Date: {email.utils.format_datetime(_moment(hop['time']))}")
    fields.append(f"Reporting-MTA: dns; {reporting_host}")
    if sender.get("ip"):
        fields.append(f"Source-IP: {sender['ip']}")
    fields.extend(f"Reported-Domain: {domain}" for domain in trace["domains"])
    fields.extend(f"Authentication-Results: {entry['raw'][:900]}" for entry in trace["authentication_results"])
    return fields


def _moment(text: str) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(text)


def _boundary(original: bytes) -> str:
    while True:
        boundary = f"=_mtaharden_{secrets.token_hex(12)}"
        if boundary.encode("ascii") not in original:
            return boundary


def _header_words(text: str) -> str:
    """``text`` as a header value: ASCII as is, anything else as one UTF-8 encoded word per chunk."""
    if text.isascii():
        return text
    import email.header

    return email.header.Header(text, "utf-8", maxlinelen=76).encode()
