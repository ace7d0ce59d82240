"""A plain complaint for desks that do not read ARF: one text/plain UTF-8 message, the facts first,
then the original header block, in English or Chinese (the email package encodes Subject and body)."""

from __future__ import annotations

import email.policy
import email.utils
from email.message import EmailMessage
from typing import Any

from ..decode import clean
from .wording import summary_lines, words


def complaint(trace: dict[str, Any], header_block: list[tuple[str, str]], reporter: str, recipients: list[str],
              language: str, reporting_host: str) -> bytes:
    text = words(language)
    sender = trace["sender"] or {}
    message = EmailMessage(policy=email.policy.SMTP.clone(linesep="\n"))
    message["From"] = reporter
    message["To"] = ", ".join(recipients) or reporter
    message["Subject"] = text["subject"].format(ip=sender.get("ip") or text["unknown"])
    message["Date"] = email.utils.formatdate(localtime=False)
    message["Message-ID"] = email.utils.make_msgid("complaint", domain=reporting_host)
    headers = [f"{clean(name)}: {clean(value)}" for name, value in header_block]
    body = [text["greeting"], "", text["intro"], "", *summary_lines(trace, language), "", text["headers"], "",
            *headers, "", text["closing"], ""]
    message.set_content("\n".join(body), charset="utf-8")
    return message.as_bytes()
