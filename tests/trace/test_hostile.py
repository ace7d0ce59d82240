"""Hostile input: sizes bounded, nothing crashes, errors are located and quote nothing, no text from the
message reaches a terminal or a report as a control character or a new header line."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from mtaharden.trace.source import MAX_HEADER_BLOCK
from tests.trace.helpers import trace, trace_json

HOP = "Received: from h{n}.example (h{n}.example [203.0.113.{m}]) by mx{n}.example; Tue, 1 Dec 2026 21:00:00 +0000\n"


def _write(path: Path, text: str | bytes) -> str:
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return str(path)


def test_ten_thousand_received_fields_are_cut_and_said(tmp_path: Path) -> None:
    short = "Received: from h{n} ([203.0.113.{m}]) by m{n}; Tue, 1 Dec 2026 21:00:00 +0000\n"  # 10,000 < 1 MiB
    body = "".join(short.format(n=n, m=n % 250) for n in range(10_000)) + "Subject: pad\n\nx\n"
    started = time.monotonic()
    message = trace_json("--offline", _write(tmp_path / "padded.eml", body))["messages"][0]
    assert time.monotonic() - started < 10
    assert len(message["hops"]) == 100
    assert "9900 Received fields below the first 100 were not read" in message["notes"]


def test_a_header_block_of_megabytes_is_read_to_its_bound_and_said(tmp_path: Path) -> None:
    line = "X-Pad: " + "a" * 998 + "\n"
    top = HOP.format(n=1, m=7) + "Subject: big\n"
    name = _write(tmp_path / "huge.eml", top + line * (3 * MAX_HEADER_BLOCK // len(line)) + "Subject: lost\n\nbody\n")
    started = time.monotonic()
    message = trace_json("--offline", name)["messages"][0]
    assert time.monotonic() - started < 10
    assert message["sender"]["ip"] == "203.0.113.7" and message["subject"] == "big"
    assert message["notes"][0] == (f"{name}:{2 + MAX_HEADER_BLOCK // len(line) + 1}: the header block of message 1 "
                                   "is larger than 1 MiB: the fields from this line on were not read")
    assert "aaaa" not in json.dumps(message["notes"])


def test_deeply_nested_mime_is_never_parsed(tmp_path: Path) -> None:
    depth = 20_000
    body = "".join(f'Content-Type: multipart/mixed; boundary="b{n}"\n\n--b{n}\n' for n in range(depth))
    raw = "Received: from a.example (a.example [203.0.113.5]) by mx.example; Tue, 1 Dec 2026 21:00:00 +0000\n" \
          "Subject: nest\nMIME-Version: 1.0\n" + body
    name = _write(tmp_path / "nested.eml", raw)
    started = time.monotonic()
    result = trace("--offline", "--report", "arf", "--report-dir", str(tmp_path), "--reporter", "me@example.org",
                   name)
    assert result.exit_code == 0, result.output
    assert time.monotonic() - started < 10
    report = (tmp_path / "nested.eml-1.arf.en.eml").read_bytes()
    assert raw.encode() in report


@pytest.mark.parametrize("content", [b"", b"\x00\x01\x02\xff" * 100, b"just some words\nand more\n",
                                     b"\n\n\n"])
def test_no_header_is_a_located_error(tmp_path: Path, content: bytes) -> None:
    name = _write(tmp_path / "junk.eml", content)
    result = trace("--offline", name)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"{name}:") and "has no mail header (fix: " in result.stderr


def test_files_that_are_not_regular_are_refused_before_reading(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for name, why in ((str(fifo), "a FIFO"), (str(tmp_path), "a folder"), ("/proc/self/environ", "/proc or /sys"),
                      (str(tmp_path / "missing.eml"), "cannot be opened")):
        result = trace("--offline", name)
        assert result.exit_code == 2 and result.stderr.startswith(f"{name}:1:1: ") and why in result.stderr
        assert "PATH=" not in result.output


def test_standard_input() -> None:
    raw = HOP.format(n=1, m=9).encode() + b"Subject: stdin\n\n"
    message = trace_json("--offline", "-", stdin=raw)["messages"][0]
    assert message["source"]["file"] == "<stdin>"
    assert message["sender"]["ip"] == "203.0.113.9"


def test_control_characters_and_new_lines_never_get_through(tmp_path: Path) -> None:
    raw = (b"Received: from evil\x1b[2J.example (evil.example [203.0.113.5]) by mx.example; Tue, 1 Dec 2026 "
           b"21:00:00 +0000\n"
           b"Subject: =?utf-8?q?hi=1B]0;owned=07=0D=0ABcc:_victim@example.org?=\n"
           b"Return-Path: <x@evil.example>\n"
           b"Authentication-Results: mx.example; spf=fail \x1b[31m\n"
           b"\n") + b"\xff\xfe body\n"
    name = _write(tmp_path / "evil.eml", raw)
    text = trace("--offline", name).stdout
    assert "\x1b" not in text and "\x07" not in text
    message = trace_json("--offline", name)["messages"][0]
    assert message["subject"] == "hi\\x1b]0;owned\\x07\\x0d\\x0aBcc: victim@example.org"
    result = trace("--offline", "--report", "arf", "--report-dir", str(tmp_path), "--reporter", "me@example.org",
                   name)
    assert result.exit_code == 0
    report = (tmp_path / "evil.eml-1.arf.en.eml").read_bytes()
    ours = report.split(b"Content-Type: message/rfc822")[0]
    assert b"\x1b" not in ours and b"\nBcc:" not in ours and b"\r" not in ours
    assert raw in report  # the original is attached as it was, bytes and all


def test_non_utf8_header_bytes_are_shown_as_escapes(tmp_path: Path) -> None:
    name = _write(tmp_path / "latin.eml", b"Subject: caf\xe9\nFrom: a@b.example\n\n")
    assert trace_json("--offline", name)["messages"][0]["subject"] == "caf\\xe9"


def test_a_comment_bomb_is_read_in_linear_time(tmp_path: Path) -> None:
    name = _write(tmp_path / "parens.eml", "Received: from a " + "(" * 200_000 + "\nSubject: x\n\n")
    started = time.monotonic()
    message = trace_json("--offline", name)["messages"][0]
    assert time.monotonic() - started < 10 and message["hops"][0]["from"]["ip"] is None


@pytest.mark.parametrize(("option", "value", "says"), [
    ("--trust", "not a host!", "is neither a network"), ("--nameserver", "dns.example", "given by its address"),
    ("--whois", "a:b:c", "is not HOST[:PORT]"), ("--reporter", "me at example", "is not a mail address"),
])
def test_bad_options_are_usage_errors(tmp_path: Path, option: str, value: str, says: str) -> None:
    name = _write(tmp_path / "ok.eml", HOP.format(n=1, m=1))
    extra = ["--report", "arf", "--report-dir", str(tmp_path / "r")] if option == "--reporter" else []
    result = trace("--offline", option, value, *extra, name)
    assert result.exit_code == 2 and says in result.output
    assert not (tmp_path / "r").exists()


def test_names_from_the_message_reach_lookups_only_through_an_allow_list(tmp_path: Path) -> None:
    raw = ("Received: from x (HELO y) (203.0.113.5) by mx.example; Tue, 1 Dec 2026 21:00:00 +0000\n"
           "Received: from evil\x1b.example\u202e.cn ([203.0.113.6] helo=z) by x; Tue, 1 Dec 2026 21:00:00 +0000\n"
           "From: a@b_c.example\nSubject: s\n\n")
    message = trace_json("--offline", "--trust", "mx.example", "--trust", "203.0.113.5",
                         _write(tmp_path / "names.eml", raw))["messages"][0]
    assert message["sender"]["rdns"] == "evil\\x1b.example\\u202e.cn"  # shown, escaped …
    assert message["domains"] == []  # … but never looked up or reported
