# ruff: noqa: RUF001 (Chinese text is written with its own full-width punctuation)
"""The words of a complaint in each language; the facts come from the trace, the layout is here."""

from __future__ import annotations

from typing import Any

LANGUAGES = ("en", "zh")

_TEXT = {
    "en": {
        "subject": "Abuse report: unsolicited mail from {ip}",
        "greeting": "Hello,",
        "intro": "We received the unsolicited message below from a host in your network. Please stop this "
                 "abuse and tell us what you did.",
        "source": "Sending host:   {ip} (HELO {helo}, reverse DNS {rdns})",
        "when": "Received:       {time} by {by}",
        "subject_line": "Subject:        {subject}",
        "from_line": "From:           {sender}",
        "auth": "Authentication: {auth}",
        "headers": "The full header block of the message follows.",
        "attached": "The original message is attached in full.",
        "closing": "Thank you.",
        "unknown": "unknown",
    },
    "zh": {
        "subject": "垃圾邮件投诉：来自 {ip} 的未经请求的邮件",
        "greeting": "您好：",
        "intro": "我们收到了下面这封来自贵方网络中主机的垃圾邮件。请制止这种滥用行为，并告知我们处理结果。",
        "source": "发送主机：{ip}（HELO {helo}，反向解析 {rdns}）",
        "when": "接收时间：{time}，接收主机 {by}",
        "subject_line": "邮件主题：{subject}",
        "from_line": "发件人：  {sender}",
        "auth": "认证结果：{auth}",
        "headers": "以下是该邮件的完整信头。",
        "attached": "原始邮件已完整附上。",
        "closing": "谢谢！",
        "unknown": "未知",
    },
}


def words(language: str) -> dict[str, str]:
    return _TEXT[language]


def summary_lines(trace: dict[str, Any], language: str) -> list[str]:
    """The facts of ``trace`` as lines of the complaint, in ``language``."""
    text = words(language)
    sender = trace["sender"] or {}
    unknown = text["unknown"]
    hop = trace["hops"][sender["hop"] - 1] if sender.get("hop") else {}
    auth = "; ".join(f"{method}={result}" for entry in trace["authentication_results"]
                     for method, result in entry["results"].items())
    lines = [text["source"].format(ip=sender.get("ip") or unknown, helo=sender.get("helo") or unknown,
                                   rdns=sender.get("rdns") or unknown),
             text["when"].format(time=hop.get("time") or unknown, by=hop.get("by") or unknown),
             text["subject_line"].format(subject=trace["subject"] or unknown),
             text["from_line"].format(sender=trace["from"] or unknown)]
    if auth:
        lines.append(text["auth"].format(auth=auth))
    return lines
