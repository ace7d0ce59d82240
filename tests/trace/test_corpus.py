"""The corpus: realistic messages of each MTA and webmail, forged chains and Chinese subjects, each with its
expected trace beside it (``NAME.json``, ``--format json --offline`` against the example policy).
``MTAHARDEN_UPDATE_GOLDEN=1`` rewrites them; the facts below are stated by hand so a rewrite cannot hide a change."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.trace.helpers import CORPUS, corpus_files, trace, trace_json

POLICY = "site-policy.yml"  # the site the corpus was received at

# file: (sending address per message, flag kinds that must be raised, subject of message 1)
FACTS: dict[str, tuple[list[str | None], set[str], str]] = {
    "postfix-spam.eml": (["203.0.113.45"], {"helo-mismatch"}, "发票代开 优惠促销"),
    "sendmail-forged.eml": (["198.51.100.23"], {"helo-mismatch", "rdns-forged", "helo-ours", "private-outside",
                                                "chain-break", "claims-ours", "unverifiable"}, "帳戶安全通知"),
    "qmail.eml": (["198.51.100.77"], {"no-rdns", "unverifiable"}, "恭喜您中奖了！"),  # noqa: RUF001
    "exim.eml": (["203.0.113.9"], {"helo-mismatch"}, "最新股票内幕消息"),
    "exchange.eml": (["203.0.113.80"], set(), "Limited offer just for you"),
    "gmail.eml": (["209.85.220.41"], {"unverifiable"}, "Re: conference visa letter"),
    "coremail-webmail.eml": (["203.0.113.150"], {"no-rdns", "private-outside", "unverifiable"}, "代开增值税发票"),
    "eyou-webmail.eml": (["203.0.113.201"], {"unverifiable"}, "会议通知"),
    "times-backwards.eml": (["203.0.113.66"], {"time-backwards", "private-outside"}, "Cheap pills"),
    "pasted-headers.txt": (["198.51.100.140"], set(), "Your mailbox is full"),
    "spamtrap.mbox": (["203.0.113.11", "203.0.113.12", "203.0.113.13"], set(), "免费试用"),
}


def _trace(name: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.chdir(CORPUS)
    return trace_json("--offline", "--policy", POLICY, name)


def test_every_corpus_message_has_its_facts_stated() -> None:
    assert {path.name for path in corpus_files()} == set(FACTS)


@pytest.mark.parametrize("name", sorted(FACTS))
def test_trace_matches_the_expected_trace(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    answer = _trace(name, monkeypatch)
    expected_file = CORPUS / f"{Path(name).stem}.json"
    if os.environ.get("MTAHARDEN_UPDATE_GOLDEN"):
        expected_file.write_text(json.dumps(answer, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    assert answer == json.loads(expected_file.read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", sorted(FACTS))
def test_sender_flags_and_subject(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    senders, flags, subject = FACTS[name]
    answer = _trace(name, monkeypatch)
    assert answer["schema"] == 1
    messages = answer["messages"]
    assert [message["sender"]["ip"] if message["sender"] else None for message in messages] == senders
    assert flags <= {flag["kind"] for flag in messages[0]["flags"]}
    assert messages[0]["subject"] == subject
    assert messages[0]["boundary"]["known"]


def test_a_clean_chain_raises_no_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _trace("exchange.eml", monkeypatch)["messages"][0]["flags"] == []


def test_without_a_boundary_only_the_top_hop_is_trusted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(CORPUS)
    message = trace_json("--offline", "postfix-spam.eml")["messages"][0]
    assert not message["boundary"]["known"]
    assert [hop["trusted"] for hop in message["hops"]] == [True, False]
    assert message["sender"]["ip"] == "202.112.57.25"  # the site's own MX: wrong, and the output says why
    assert any("no trust boundary is known" in note for note in message["notes"])


def test_trust_option_moves_the_boundary(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(CORPUS)
    message = trace_json("--offline", "--trust", "202.112.57.0/24", "sendmail-forged.eml")["messages"][0]
    assert message["sender"]["ip"] == "198.51.100.23" and message["boundary"]["from"] == ["--trust 202.112.57.0/24"]
    host = trace_json("--offline", "--trust", "mx1.example.edu.cn", "sendmail-forged.eml")["messages"][0]
    assert host["sender"]["ip"] == "202.112.57.30"  # only the name is known: relay.example.edu.cn is outside


def test_delays_and_times(monkeypatch: pytest.MonkeyPatch) -> None:
    hops = _trace("postfix-spam.eml", monkeypatch)["messages"][0]["hops"]
    assert [hop["delay_seconds"] for hop in hops] == [2.0, None]
    assert hops[0]["time"] == "2026-12-02T09:14:07+08:00"


def test_authentication_results_are_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    message = _trace("postfix-spam.eml", monkeypatch)["messages"][0]
    assert message["authentication_results"][0]["results"] == {"spf": "fail", "dkim": "none", "dmarc": "fail"}


def test_mbox_messages_are_located(monkeypatch: pytest.MonkeyPatch) -> None:
    messages = _trace("spamtrap.mbox", monkeypatch)["messages"]
    assert [(m["source"]["line"], m["source"]["message"]) for m in messages] == [(2, 1), (14, 2), (26, 3)]
    assert [m["subject_charsets"] for m in messages] == [["gb2312"], ["big5"], ["utf-8"]]


def test_the_readme_example_is_the_real_output(monkeypatch: pytest.MonkeyPatch) -> None:
    command = "$ mtaharden trace --offline --policy site-policy.yml sendmail-forged.eml\n"
    readme = (CORPUS.parents[2] / "README.md").read_text(encoding="utf-8")
    shown = readme.split(command, 1)[1].split("```", 1)[0]
    monkeypatch.chdir(CORPUS)
    result = trace("--offline", "--policy", POLICY, "sendmail-forged.eml")
    assert result.exit_code == 0 and result.stdout == shown
