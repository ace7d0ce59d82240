"""Header checks with non-ASCII text: what the policy accepts and refuses, and what each target writes."""

from __future__ import annotations

import pytest

from mtaharden.engines import header_forms
from mtaharden.policy import PolicyError, load_policy_text
from mtaharden.policy.pattern import parse
from mtaharden.render import render_plan
from mtaharden.targets.exchange import dotnet_regex, ps_value
from mtaharden.targets.postfix import PostfixTarget
from mtaharden.targets.qmail import QmailTarget
from mtaharden.targets.sendmail import SendmailTarget
from mtaharden.targets.sendmail.contexts import McFile
from tests.powershell import Script, verbatim

CAMPUS = """\
header_checks:
  - {header: Subject, pattern: "(?i)(发票|代开)", action: reject, message: "Spam subject"}
  - {header: Subject, pattern: "免費", charsets: [Big5, GB2312]}
targets:
  qmail: {allow_unsupported: [header_checks]}
"""


def coverage(target: PostfixTarget | SendmailTarget | QmailTarget, text: str = CAMPUS) -> dict[str, tuple[str, str]]:
    plan = target.plan(load_policy_text(text, "policy.yml"))
    return {c.element: (c.status, c.detail) for c in plan.coverage}


def refusal(pattern: str, extra: str = "") -> str:
    text = f'header_checks:\n  - {{header: Subject, pattern: "{pattern}"{extra}}}\n'
    with pytest.raises(PolicyError) as refused:
        load_policy_text(text, "site.yml")
    return str(refused.value)


@pytest.mark.parametrize(("pattern", "message"), [
    ("发.票", "a . in a pattern with non-ASCII text"),
    ("发票+", "a repeat"),
    ("^发票", "^ or $ next to non-ASCII text"),
    ("发票\\\\d", "a class \\d"),
    ("[发票]", "inside a class"),
    ("(?i)abcde发票", "32 case spellings"),
])
def test_text_that_cannot_be_encoded_is_refused_at_its_place(pattern: str, message: str) -> None:
    text = refusal(pattern)
    assert text.startswith("site.yml:2:32: header_checks.0.pattern:"), text
    assert message in text and "(fix: " in text


def test_charsets_are_an_allow_list_in_canonical_form() -> None:
    text = refusal("发票", ", charsets: [latin9]")
    assert "header_checks.0.charsets.0: 'latin9' is not a charset" in text and "GB18030" in text
    assert "at least 1" in refusal("发票", ", charsets: []")
    twice = refusal("发票", ", charsets: [GB2312, gb2312]")
    assert "site.yml:2:57: header_checks.0.charsets.1: gb2312 is listed twice" in twice
    policy = load_policy_text('header_checks: [{header: Subject, pattern: "发票", charsets: [GB2312, UTF8]}]\n',
                              "p.yml")
    assert policy.header_checks[0].charsets == ["gb2312", "utf-8"]
    default = load_policy_text('header_checks: [{header: Subject, pattern: "发票"}]\n', "p.yml")
    assert default.header_checks[0].charsets == ["utf-8", "gb18030", "big5"]


def test_text_no_listed_charset_encodes_is_refused() -> None:
    assert "none of the listed charsets can encode the text" in refusal("发票", ", charsets: [Big5]")


def test_literals_multiply_out_groups() -> None:
    assert header_forms.literals(parse("(?i)(发|代)(票|开)")) == ("发票", "发开", "代票", "代开")
    with pytest.raises(header_forms.NotLiteral, match="more than 64"):
        header_forms.literals(parse("(发|代)" * 7))


def test_postfix_writes_a_commented_line_per_form() -> None:
    plan = PostfixTarget().plan(load_policy_text(CAMPUS, "policy.yml"))
    text = {f.path: f.content for f in render_plan(plan, PostfixTarget())}["header_checks.pcre"]
    lines = text.splitlines()[1:]
    comments, rules = lines[0::2], lines[1::2]
    assert len(comments) == len(rules) == 5 + 5 + 5  # rule 0: UTF-8, GB18030; rule 1: Big5 and GB2312
    assert all(c.startswith("# header_checks[") for c in comments)
    assert all(r.startswith("/^(?i:Subject):") and r.isascii() for r in rules)
    assert "# header_checks[0] Subject, GB18030 RFC 2047 B, text at byte 1 of a base64 group: 发票|代开" in comments
    assert "# header_checks[0] Subject, UTF-8 RFC 2047 Q (=XX either case, _ for space): 发票|代开" in comments
    assert rules[0].endswith("\tREJECT Spam subject")


def test_postfix_and_sendmail_report_the_limits_never_enforced() -> None:
    for target in (PostfixTarget(), SendmailTarget()):
        status, detail = coverage(target)["header_checks[0]"]
        assert status == "approximated"
        assert "split across two encoded words" in detail and "UTF-8, GB18030, Big5" in detail
        assert "发票 in Big5" in detail  # simplified characters Big5 has not
    assert "raw 8-bit text (not written into sendmail.cf" in coverage(SendmailTarget())["header_checks[0]"][1]
    assert "raw 8-bit text and RFC 2047" in coverage(PostfixTarget())["header_checks[0]"][1]
    assert coverage(QmailTarget())["header_checks[0]"][0] == "unsupported"


def test_sendmail_writes_a_commented_map_per_encoded_form() -> None:
    plan = SendmailTarget().plan(load_policy_text(CAMPUS, "policy.yml"))
    (mc,) = [f for f in plan.files if f.path == "sendmail.mc"]
    assert isinstance(mc.context, McFile)
    config = list(mc.context.local_config)
    maps = [line for line in config if line.startswith("K")]
    assert len(maps) == 4 + 4 + 4 and all(m.isascii() and "\\" not in m for m in maps)
    assert all(" regex -f -a@MATCH =[?][^?]*[?]" in m for m in maps)
    assert config[0] == "# header_checks[0] Subject, UTF-8 RFC 2047 B, text at byte 0 of a base64 group: 发票|代开"


def test_exchange_matches_decoded_text_in_an_ascii_script() -> None:
    regex = dotnet_regex("(?i)(发票|代开)")
    assert regex == "(?i)(?:\\u53D1\\u7968|\\u4EE3\\u5F00)"
    assert dotnet_regex("\U00020000") == "\\uD840\\uDC00"  # outside the BMP: its UTF-16 pair
    script = Script(f"$p = {ps_value([regex])}\n")
    assert script.text.isascii() and not script.errors()
    assert [verbatim(node) for node in script.string_nodes()] == [regex]
