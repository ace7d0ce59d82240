"""Bot screening on stock Postfix, Exim and Sendmail hosts: an early talker and a client whose weighted DNSBL
score reaches the threshold are refused; a clean client, an allowed one and a trusted one are admitted.

The lab DNSBL bl.lab.test answers 127.0.0.2 for BLOCKED and 127.0.0.9 for LISTED_OUTSIDE: the policy weighs
the first 2 and the second 1 with threshold 2 (a third filter, listing nobody, weighs -5), so BLOCKED is
screened out and LISTED_OUTSIDE passes, to meet the RCPT stage's own ``dnsbl`` step for 127.0.0.9 (the two
stages one after the other). Each test uses its own client address, since postscreen caches a client that
passed (an early talker is never cached). Sendmail has no DNS list scores, so its policy has none.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.lab.conftest import Stock, deployed
from tests.lab.exim import EximKind
from tests.lab.network import BLOCKED, DNSBL_ZONE, EXEMPT, LISTED_OUTSIDE, REJECTED, TRUSTED, UNTRUSTED
from tests.lab.postfix import PostfixKind
from tests.lab.sendmail import SendmailKind
from tests.lab.smtp import DISCONNECTED, Session, body, talk

WAIT = 2
SMTPD_DNSBL = "Listed at the lab list"


def screening_policy() -> dict[str, Any]:
    return {
        "version": 1,
        "hostname": "mx.example.test",
        "domains": {"local": ["example.test"]},
        "networks": {"trusted": [f"{TRUSTED}/32"]},
        "dnsbl": [{"zone": DNSBL_ZONE, "match": ["127.0.0.9"], "message": SMTPD_DNSBL}],
        "screening": {
            "enabled": True,
            "pregreet": {"wait": WAIT, "action": "reject"},
            "dnsbl": {"threshold": 2, "action": "reject", "sites": [
                {"zone": DNSBL_ZONE, "match": ["127.0.0.2"], "weight": 2},
                {"zone": DNSBL_ZONE, "match": ["127.0.0.[9..11]", "127.0.0.13"], "weight": 1},
                {"zone": DNSBL_ZONE, "match": ["127.0.0.[3..8]"], "weight": -5}]},  # lists nobody: the syntax
            "allow": [f"{REJECTED}/32"],
        },
    }


@pytest.fixture(scope="module")
def screened(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stock]:
    with deployed(PostfixKind(), tmp_path_factory.mktemp("screening"), screening_policy()) as running:
        yield running


def early_talk(stock: Stock, source: str) -> list[tuple[int, str]]:
    result = stock.net.client([sys.executable, "-m", "tests.lab.early_talker", source, stock.host.address],
                              timeout=90)
    return [(code, text) for code, text in json.loads(result.stdout)]


def mail(stock: Stock, source: str) -> list[tuple[int, str]]:
    (conversation,) = talk(stock.net, [Session(stock.host.address, source, [
        "EHLO client.test", "MAIL FROM:<someone@client.test>", "RCPT TO:<postmaster@example.test>", "DATA",
        body(f"Subject: screened from {source}\n\nhello")])])
    return [conversation.banner, *conversation.replies]


def log_lines(stock: Stock, word: str) -> list[str]:
    return [line for line in stock.kind.log_text(stock.host).splitlines() if "postscreen" in line and word in line]


def test_an_early_talker_is_refused_at_rcpt(screened: Stock) -> None:
    replies = early_talk(screened, EXEMPT)
    codes = [code for code, _ in replies]
    assert codes[0] == 220 and codes[3] == 550, replies  # greeting, EHLO, MAIL, RCPT refused
    assert any(EXEMPT in line for line in log_lines(screened, "PREGREET")), log_lines(screened, "")


def test_a_client_whose_weighted_score_reaches_the_threshold_is_refused(screened: Stock) -> None:
    replies = mail(screened, BLOCKED)
    assert [code for code, _ in replies][:4] == [220, 250, 250, 550], replies
    assert any(BLOCKED in line and "rank 2" in line for line in log_lines(screened, "DNSBL")), \
        log_lines(screened, "")


def test_a_clean_client_is_admitted_and_its_mail_accepted(screened: Stock) -> None:
    replies = mail(screened, UNTRUSTED)
    assert [code for code, _ in replies] == [220, 250, 250, 250, 354, 250], replies
    assert any(UNTRUSTED in line for line in log_lines(screened, "PASS NEW")), log_lines(screened, "")
    assert log_lines(screened, "warning") == []  # postscreen read every site (merged filter, negative weight)


def test_a_score_below_the_threshold_passes_postscreen_then_meets_smtpds_dnsbl(screened: Stock) -> None:
    replies = mail(screened, LISTED_OUTSIDE)
    assert replies[3][0] == 554 and SMTPD_DNSBL in replies[3][1], replies
    assert any(LISTED_OUTSIDE in line for line in log_lines(screened, "PASS NEW")), log_lines(screened, "")


@pytest.mark.parametrize("source", [REJECTED, TRUSTED], ids=["allowed", "trusted"])
def test_an_allowed_or_trusted_early_talker_skips_the_tests(screened: Stock, source: str) -> None:
    replies = early_talk(screened, source)
    assert [code for code, _ in replies][:4] == [220, 250, 250, 250], replies
    assert any(source in line for line in log_lines(screened, "WHITELISTED") + log_lines(screened, "ALLOWLISTED"))


def drop_and_log_policy() -> dict[str, Any]:
    """The other two actions: an early talker dropped, a listed client only logged."""
    policy = screening_policy()
    policy["screening"]["pregreet"]["action"] = "drop"
    policy["screening"]["dnsbl"]["action"] = "log"
    return policy


@pytest.fixture(scope="module")
def postfix_drop_and_log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stock]:
    with deployed(PostfixKind(), tmp_path_factory.mktemp("screening-drop"), drop_and_log_policy()) as running:
        yield running


def test_postfix_drops_an_early_talker_with_521(postfix_drop_and_log: Stock) -> None:
    replies = early_talk(postfix_drop_and_log, EXEMPT)
    assert [code for code, _ in replies] == [220, 521, -1], replies  # teaser, 521, hung up


def test_postfix_only_logs_a_listed_client_when_the_action_is_log(postfix_drop_and_log: Stock) -> None:
    replies = mail(postfix_drop_and_log, BLOCKED)
    assert [code for code, _ in replies] == [220, 250, 250, 250, 354, 250], replies
    assert any(BLOCKED in line and "rank 2" in line for line in log_lines(postfix_drop_and_log, "DNSBL"))


@pytest.fixture(scope="module")
def exim_screened(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stock]:
    with deployed(EximKind(), tmp_path_factory.mktemp("exim-screening"), screening_policy()) as running:
        yield running


@pytest.mark.parametrize("screened", ["exim_screened", "exim_drop_and_log"], ids=["reject", "drop"])
def test_exim_refuses_an_early_talker_with_a_synchronization_error(screened: str,
                                                                   request: pytest.FixtureRequest) -> None:
    """Under the reject policy and under drop alike: 554 and hung up."""
    replies = early_talk(request.getfixturevalue(screened), EXEMPT)
    assert replies[0][0] == 554 and "synchronization error" in replies[0][1], replies
    assert replies[-1][0] == DISCONNECTED, replies


def test_exim_refuses_a_client_whose_weighted_score_reaches_the_threshold(exim_screened: Stock) -> None:
    replies = mail(exim_screened, BLOCKED)
    assert replies[0][0] == 550 and f"Screened out: {BLOCKED} scored 2" in replies[0][1], replies


def test_exim_admits_a_clean_client(exim_screened: Stock) -> None:
    replies = mail(exim_screened, UNTRUSTED)
    assert [code for code, _ in replies] == [220, 250, 250, 250, 354, 250], replies


def test_exim_lets_a_score_below_the_threshold_on_to_its_rcpt_dnsbl(exim_screened: Stock) -> None:
    replies = mail(exim_screened, LISTED_OUTSIDE)
    assert replies[0][0] == 220 and replies[3][0] == 550 and SMTPD_DNSBL in replies[3][1], replies


@pytest.mark.parametrize("source", [REJECTED, TRUSTED], ids=["allowed", "trusted"])
def test_exim_does_not_screen_an_allowed_or_trusted_early_talker(exim_screened: Stock, source: str) -> None:
    replies = early_talk(exim_screened, source)
    assert [code for code, _ in replies][:4] == [220, 250, 250, 250], replies


@pytest.fixture(scope="module")
def exim_drop_and_log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stock]:
    with deployed(EximKind(), tmp_path_factory.mktemp("exim-screening-drop"), drop_and_log_policy()) as running:
        yield running


def test_exim_only_logs_a_listed_client_when_the_action_is_log(exim_drop_and_log: Stock) -> None:
    replies = mail(exim_drop_and_log, BLOCKED)
    assert [code for code, _ in replies] == [220, 250, 250, 250, 354, 250], replies
    log = exim_drop_and_log.kind.log_text(exim_drop_and_log.host)
    assert f"Screened out: {BLOCKED} scored 2" in log, log[-3000:]


def test_exim_drops_a_client_whose_score_reaches_the_threshold(tmp_path_factory: pytest.TempPathFactory) -> None:
    """``drop``: refused before the greeting (550, as the coverage row says, not 521) and hung up."""
    policy = screening_policy()
    policy["screening"]["dnsbl"]["action"] = "drop"
    with deployed(EximKind(), tmp_path_factory.mktemp("exim-screening-dnsbl-drop"), policy) as stock:
        replies = mail(stock, BLOCKED)
        assert replies[0][0] == 550 and f"Screened out: {BLOCKED} scored 2" in replies[0][1], replies
        assert [code for code, _ in replies[1:]] == [DISCONNECTED], replies  # EHLO met a closed connection


@pytest.fixture(scope="module")
def sendmail_screened(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stock]:
    policy = screening_policy()
    del policy["screening"]["dnsbl"]  # Sendmail has no DNS list scores (unsupported: rendering would refuse)
    with deployed(SendmailKind(), tmp_path_factory.mktemp("sendmail-screening"), policy) as running:
        yield running


def test_sendmail_refuses_the_mail_of_an_early_talker(sendmail_screened: Stock) -> None:
    replies = early_talk(sendmail_screened, EXEMPT)
    assert replies[0][0] == 554 and "not accepting messages" in replies[0][1], replies
    assert [code for code, _ in replies[1:4]] == [250, 550, 550], replies  # EHLO answered, MAIL and RCPT refused


def test_sendmail_admits_a_clean_client_after_the_pause(sendmail_screened: Stock) -> None:
    replies = mail(sendmail_screened, UNTRUSTED)
    assert [code for code, _ in replies] == [220, 250, 250, 250, 354, 250], replies


@pytest.mark.parametrize("source", [REJECTED, TRUSTED], ids=["allowed", "trusted"])
def test_sendmail_does_not_screen_an_allowed_or_trusted_early_talker(sendmail_screened: Stock, source: str) -> None:
    replies = early_talk(sendmail_screened, source)
    assert [code for code, _ in replies][:4] == [220, 250, 250, 250], replies
