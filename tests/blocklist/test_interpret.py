"""Reading answers: only a zone's listing codes are listings; refusals, 127.0.0.1 and foreign answers are errors."""

from __future__ import annotations

import pytest

from mtaharden.blocklist import catalogue
from mtaharden.blocklist.interpret import PUBLIC_RESOLVER_HINT, interpret
from mtaharden.blocklist.lookup import Reply

ZEN = catalogue.select(catalogue.catalogue(), ["zen.spamhaus.org"], [])[0]
NAME = "2.0.0.127.zen.spamhaus.org."


def reply(*answers: str) -> Reply:
    return Reply(NAME, "records", answers, ("reason",))


def test_a_documented_code_is_a_listing_with_its_meaning() -> None:
    verdict = interpret("192.0.2.30", ZEN, reply("127.0.0.4", "127.0.0.10"))
    assert verdict.status == "listed"
    assert verdict.why == ("127.0.0.4: XBL: an exploited or infected host (bot, open proxy); "
                           "127.0.0.10: PBL (ISP): an end-user address that should not send mail directly")
    assert verdict.reasons == ("reason",) and not verdict.hint


@pytest.mark.parametrize(("answer", "why"), [
    ("127.255.255.254", "127.255.255.254: query refused: sent through a public or open resolver (an error"),
    ("127.255.255.255", "too many queries"),
    ("127.255.255.1", "127.255.255.0/24, which lists use for errors"),
    ("127.0.0.1", "127.0.0.1 is never a listing"),
    ("203.0.113.9", "answer 203.0.113.9 is outside 127.0.0.0/8"),
])
def test_refusals_and_foreign_answers_are_errors_that_name_the_resolver(answer: str, why: str) -> None:
    verdict = interpret("192.0.2.30", ZEN, reply(answer))
    assert verdict.status == "error"
    assert why in verdict.why
    assert verdict.hint == PUBLIC_RESOLVER_HINT


def test_an_error_answer_outweighs_a_listing_code_in_the_same_reply() -> None:
    assert interpret("192.0.2.30", ZEN, reply("127.0.0.2", "127.255.255.254")).status == "error"


def test_a_code_outside_the_zone_filters_is_an_error_not_a_listing() -> None:
    verdict = interpret("192.0.2.30", ZEN, reply("127.0.0.50"))
    assert verdict.status == "error"
    assert verdict.why == ("127.0.0.50 is not a code zen.spamhaus.org documents as a listing "
                           "(127.0.0.[2..11], 127.0.0.30)")
    assert not verdict.hint


def test_no_such_name_is_clean_and_a_failed_lookup_says_why() -> None:
    assert interpret("192.0.2.30", ZEN, Reply(NAME, "nxdomain")).status == "clean"
    assert interpret("192.0.2.30", ZEN, Reply(NAME, "nodata")).status == "clean"
    failed = interpret("192.0.2.30", ZEN, Reply(NAME, "error", error="no answer within 3 s"))
    assert (failed.status, failed.why) == ("error", "no answer within 3 s")
