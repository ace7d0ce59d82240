"""The reports, parsed back with the email package: an ARF feedback report (RFC 5965) with its three parts and
the original intact, and the plain complaint; English and Chinese text correctly encoded."""

from __future__ import annotations

import email
import email.header
import email.policy
import stat
from email.message import EmailMessage, Message
from pathlib import Path

import pytest

from tests.trace.helpers import CORPUS, trace

POLICY = str(CORPUS / "site-policy.yml")


def _report(tmp_path: Path, kind: str, language: str, name: str = "postfix-spam.eml") -> tuple[Path, EmailMessage]:
    result = trace("--offline", "--policy", POLICY, "--report", kind, "--lang", language, "--report-dir",
                   str(tmp_path), str(CORPUS / name))
    assert result.exit_code == 0, result.output
    path = tmp_path / f"{name}-1.{kind}.{language}.eml"
    assert f"Report written: {path}" in result.stdout
    parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return path, parsed


def _fields(part: Message) -> dict[str, list[str]]:
    """The machine-readable part's fields (the email package reads message/feedback-report as a header block)."""
    payload = part.get_payload()
    block = payload[0] if isinstance(payload, list) else email.message_from_string(str(payload))
    assert isinstance(block, Message)
    return {name: [str(value) for value in block.get_all(name, [])] for name in dict.fromkeys(block.keys())}


@pytest.mark.parametrize("language", ["en", "zh"])
def test_arf_report_has_the_rfc5965_parts(tmp_path: Path, language: str) -> None:
    path, report = _report(tmp_path, "arf", language)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert report.get_content_type() == "multipart/report"
    assert report.get_param("report-type") == "feedback-report"
    parts = list(report.iter_parts())
    assert [part.get_content_type() for part in parts] == ["text/plain", "message/feedback-report",
                                                           "message/rfc822"]
    fields = _fields(parts[1])
    assert fields["Feedback-Type"] == ["abuse"] and fields["Version"] == ["1"]
    assert fields["User-Agent"][0].startswith("mtaharden/")
    assert fields["Source-IP"] == ["203.0.113.45"]
    assert fields["Original-Mail-From"] == ["<bounce-7781@promo.spam-sender.example>"]
    assert fields["Original-Rcpt-To"] == ["<zhang.wei@example.edu.cn>"]
    assert fields["Arrival-Date"] == ["Wed, 02 Dec 2026 09:14:05 +0800"]
    assert fields["Reporting-MTA"] == ["dns; mx1.example.edu.cn"]
    assert fields["Reported-Domain"] == ["isp.example", "spam-sender.example"]
    assert "spf=fail" in fields["Authentication-Results"][0]
    original = (CORPUS / "postfix-spam.eml").read_bytes()
    assert original in path.read_bytes()  # byte for byte
    payload = parts[2].get_payload()
    assert isinstance(payload, list)
    attached = payload[0]
    assert isinstance(attached, Message)
    assert attached["Message-ID"] == "<20261202011358.7781@promo.spam-sender.example>"
    assert str(attached["Subject"]) == "发票代开 优惠促销"
    assert str(report["From"]) == "postmaster@mx1.example.edu.cn"
    assert str(report["To"]) == "abuse@isp.example, abuse@spam-sender.example"
    human = parts[0].get_content()
    if language == "zh":
        assert str(report["Subject"]) == "垃圾邮件投诉：来自 203.0.113.45 的未经请求的邮件"  # noqa: RUF001
        assert "请制止这种滥用行为" in human and "发送主机：203.0.113.45" in human  # noqa: RUF001
        assert report.as_bytes().isascii() is False  # the human part is 8bit UTF-8 …
        assert path.read_bytes().split(b"\n\n")[0].isascii()  # … the header block stays ASCII (encoded words)
    else:
        assert str(report["Subject"]) == "Abuse report: unsolicited mail from 203.0.113.45"
        assert "Sending host:   203.0.113.45" in human


@pytest.mark.parametrize("language", ["en", "zh"])
def test_plain_complaint(tmp_path: Path, language: str) -> None:
    path, complaint = _report(tmp_path, "complaint", language, "coremail-webmail.eml")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().isascii()  # Subject as encoded words, body base64: any relay carries it
    assert complaint.get_content_type() == "text/plain" and complaint.get_content_charset() == "utf-8"
    body = complaint.get_content()
    assert "203.0.113.150" in body and "代开增值税发票" in body  # the decoded subject, in either language
    assert "Received: from mail.spam-isp.example.cn (unknown [203.0.113.150])" in body
    subject = str(complaint["Subject"])
    assert subject.startswith("垃圾邮件投诉" if language == "zh" else "Abuse report")


def test_report_without_a_mail_address_for_the_reporter_is_refused(tmp_path: Path) -> None:
    result = trace("--offline", "--report", "arf", "--reporter", "nobody", "--report-dir", str(tmp_path / "r"),
                   str(CORPUS / "exim.eml"))
    assert result.exit_code == 2 and "--reporter" in result.output and not (tmp_path / "r").exists()
