"""SMTP smuggling on every stock host kind: the CVE-2023-51764/51765/51766 payloads, proven at the sink.

Two policies per kind, each deployed once: ``normalize`` with the trusted networks held to it too, and
``reject`` with the trusted networks exempt. Every payload (one DATA hiding an end-of-DATA variant and a
second transaction to a foreign and a relay-domain recipient) is sent from UNTRUSTED and TRUSTED in one
write, and from UNTRUSTED split right after the hidden end; plain messages with bare LF and bare CR line
ends follow. After the host's queue settled, the sink (what left the host) must hold no message of a
hidden transaction, and the outer message at most once; a host must not answer the smuggled commands.
What the policy says about the line ends (normalised or refused) is checked on the delivered content.
A check that fails on an element the kind's COVERAGE.md declares not enforced is an xfail with that row.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.lab.conftest import Stock, deployed
from tests.lab.contract import agrees, verdict
from tests.lab.kind import registered_kinds
from tests.lab.network import RELAY_DOMAIN, TRUSTED, UNTRUSTED
from tests.lab.policy import behaviour_policy
from tests.lab.rawsmtp import RawConversation, talk
from tests.lab.smuggling import VARIANTS, Payload, delivered, line_ends_session, payloads, smuggled
from tests.lab.test_behaviour import declared, settle

POLICIES = {"normalize": {"bare_newlines": "normalize", "bare_newlines_exempt_trusted": False},
            "reject": {"bare_newlines": "reject", "bare_newlines_exempt_trusted": True}}
LINE_ENDS = {"lf": "\n", "cr": "\r"}
ELEMENTS = ("smtp.bare_newlines", "smtp.bare_newlines_exempt_trusted")
SINK_GRACE = 1.0  # the sink writes each message before it answers 250; this covers the last rename


@dataclass(frozen=True)
class Run:
    """One kind under one policy, after every session was spoken and the queue settled."""

    stock: Stock
    mode: str
    attempts: list[tuple[Payload, bool, RawConversation]]  # payload, split, conversation
    line_ends: dict[tuple[str, str], tuple[str, RawConversation]]  # (source, lf|cr) -> (recipient, talk)
    sink: list[dict[str, Any]]


@pytest.fixture(scope="module", params=[(kind, mode) for kind in sorted(registered_kinds()) for mode in POLICIES],
                ids=lambda p: f"{p[0]}-{p[1]}")
def run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    kind_name, mode = request.param
    kind = registered_kinds()[kind_name]
    policy = behaviour_policy()
    policy["smtp"] |= POLICIES[mode]
    # what a kind cannot keep is read from its COVERAGE.md (the xfails below), so it may render unenforced
    waived = [*kind.policy_targets.get("allow_unsupported", ()), *ELEMENTS]
    policy["targets"] = {kind.target: {**kind.policy_targets, "allow_unsupported": waived}}
    with deployed(kind, tmp_path_factory.mktemp(f"{kind_name}-{mode}"), policy) as stock:
        address = stock.host.address
        tries = [(p, False) for p in payloads(UNTRUSTED) + payloads(TRUSTED)]
        tries += [(p, True) for p in payloads(UNTRUSTED)]
        sources = (UNTRUSTED, TRUSTED)
        ends = {(source, name): f"{name}-{time.time_ns()}@{RELAY_DOMAIN}" for source in sources for name in LINE_ENDS}
        sessions = [p.session(address, split=split) for p, split in tries]
        sessions += [line_ends_session(address, source, recipient, recipient.split("@")[0], LINE_ENDS[name])
                     for (source, name), recipient in ends.items()]
        talks = talk(stock.net, sessions)
        with unless_declared_in(stock, "smtp.bare_newlines"):  # OpenSMTPD 6.8 may die under them (its row says)
            settle(stock)
        time.sleep(SINK_GRACE)
        attempts = [(p, split, t) for (p, split), t in zip(tries, talks, strict=False)]
        line_ends = {key: (recipient, t) for (key, recipient), t in zip(ends.items(), talks[len(tries):], strict=True)}
        yield Run(stock, mode, attempts, line_ends, stock.net.sink_messages())


@contextlib.contextmanager
def unless_declared_in(stock: Stock, element: str) -> Iterator[None]:
    """A failing check whose element COVERAGE.md declares not enforced is an xfail quoting that row."""
    try:
        yield
    except AssertionError:
        rows = declared(stock, element)
        if rows:
            pytest.xfail(f"{stock.kind.name} COVERAGE.md: " + " | ".join(rows))
        raise


def unless_declared(run: Run, element: str) -> contextlib.AbstractContextManager[None]:
    return unless_declared_in(run.stock, element)


def _after_data(conversation: RawConversation) -> list[tuple[int, str]]:
    """Every reply after DATA's 354: the end of the outer message, any smuggled ones, QUIT's."""
    return [reply for chunk in conversation.replies[4:] for reply in chunk]


def _bare(variant: str) -> str:
    """``lf`` when the variant's end holds a bare LF, else ``cr`` (it holds a bare CR only)."""
    return "lf" if re.search(r"(?<!\r)\n", VARIANTS[variant]) else "cr"


def _exempt(run: Run, payload: Payload) -> bool:
    return run.mode == "reject" and payload.source == TRUSTED


def test_nothing_smuggled_leaves_the_host(run: Run) -> None:
    """No message of a hidden transaction reaches the sink, and the outer one at most once."""
    with unless_declared(run, "smtp.bare_newlines"):
        for payload, split, _ in run.attempts:
            assert smuggled(payload, run.sink) == [], (payload, split, run.stock.kind.log_text(run.stock.host)[-2000:])
            assert len(delivered(payload, run.sink)) <= 1, (payload, split)


def test_no_smuggled_command_is_answered(run: Run) -> None:
    """After the outer message's end the host answers nothing but QUIT: the hidden MAIL, RCPT and DATA
    were never read as commands (a host that answers them is vulnerable, whatever refuses their DATA)."""
    with unless_declared(run, "smtp.bare_newlines"):
        for payload, split, conversation in run.attempts:
            if _exempt(run, payload):
                continue  # the trusted networks keep the MTA's old handling (they may relay anyway)
            replies = _after_data(conversation)
            answered = [reply for reply in replies[1:] if reply[0] not in (221, -1)]
            assert not answered, (payload.variant, payload.source, split, replies)


def test_split_attempt_gets_no_early_answer(run: Run) -> None:
    """Sent in two writes, the hidden end alone draws no 2xx: the host did not take it for the end of DATA."""
    with unless_declared(run, "smtp.bare_newlines"):
        for payload, split, conversation in run.attempts:
            if split and len(conversation.replies) > 4:
                early = conversation.replies[4]
                assert not (early and 200 <= early[0][0] < 300), (payload.variant, early)


@pytest.mark.parametrize("line_end", sorted(LINE_ENDS))
def test_outer_message_as_the_policy_says(run: Run, line_end: str) -> None:
    """normalize: the outer message is accepted and arrives once, the hidden text inside it as content;
    reject: it is refused (nothing arrives). By the bare line end the variant holds (a bare LF, or only a
    bare CR); trusted clients exempt under reject are not judged here."""
    with unless_declared(run, "smtp.bare_newlines"):
        for payload, split, conversation in run.attempts:
            if _exempt(run, payload) or _bare(payload.variant) != line_end:
                continue
            arrived = delivered(payload, run.sink)
            final = _after_data(conversation)[:1]
            if run.mode == "normalize":
                assert final and final[0][0] == 250, (payload.variant, payload.source, split, final)
                assert len(arrived) == 1 and f"smuggled {payload.token}" in str(arrived[0]["data"]), payload
            else:
                assert not (final and final[0][0] == 250) and arrived == [], (payload.variant, split, final)


@pytest.mark.parametrize("line_end", sorted(LINE_ENDS))
def test_line_ends_as_the_policy_says(run: Run, line_end: str) -> None:
    """A message whose lines end in a bare LF (or CR): normalize delivers it with CRLF lines in its
    place; reject refuses it, so nothing arrives."""
    recipient, conversation = run.line_ends[(UNTRUSTED, line_end)]
    token = recipient.split("@")[0]
    arrived = [m for m in run.sink if recipient in m["rcpt_tos"]]
    with unless_declared(run, "smtp.bare_newlines"):
        if run.mode == "normalize":
            assert len(arrived) == 1, (_after_data(conversation), len(arrived))
            assert f"first {token}\r\nsecond {token}\r\nthird {token}\r\n" in str(arrived[0]["data"]), arrived[0]
        else:
            assert arrived == [], _after_data(conversation)
            replies = _after_data(conversation)
            assert replies, f"no reply after DATA (the host: {conversation.banner})"  # an MTA that died declares so
            assert replies[0][0] not in range(200, 300), replies


@pytest.mark.parametrize("line_end", sorted(LINE_ENDS))
def test_trusted_exemption(run: Run, line_end: str) -> None:
    """exempt_trusted (the reject run): TRUSTED's bare-line-end message is taken as the MTA always took it,
    so it arrives; not exempt (the normalize run): TRUSTED fares exactly as UNTRUSTED (same reply class,
    same delivered body)."""
    trusted = _outcome(run, TRUSTED, line_end)
    with unless_declared(run, "smtp.bare_newlines_exempt_trusted"):
        if run.mode == "reject":
            assert trusted[1] is not None, trusted
        else:
            assert trusted == _outcome(run, UNTRUSTED, line_end)


def test_the_contract_gives_each_line_end_message_the_daemons_answer(run: Run) -> None:
    """``mtaharden test --cases``, told each plain message had bare line ends (``bare_newlines: true``), answers
    its end of DATA as the MTA did: refused under reject, accepted under normalize and for exempt trusted
    clients. A row that declares the MTA differs makes it an xfail, as above."""
    cases = [{"name": f"{name} from {source}", "client": source, "helo": "client.test", "from": "probe@client.test",
              "to": [recipient], "bare_newlines": True,
              "expect": {"rcpt": [verdict(conversation.replies[2][0][0])],  # the replies to EHLO, MAIL, RCPT, DATA
                         "data": verdict(_after_data(conversation)[0][0])}}
             for (source, name), (recipient, conversation) in run.line_ends.items() if _after_data(conversation)]
    with unless_declared(run, "smtp.bare_newlines"), unless_declared(run, "smtp.bare_newlines_exempt_trusted"):
        assert len(cases) == len(run.line_ends), "a message got no answer after DATA"
        agrees(run.stock.policy_file, cases)


def _outcome(run: Run, source: str, line_end: str) -> tuple[int, str | None]:
    """The reply class at the end of DATA, and the delivered body with its token made neutral."""
    recipient, conversation = run.line_ends[(source, line_end)]
    token = recipient.split("@")[0]
    replies = _after_data(conversation)
    arrived = [m for m in run.sink if recipient in m["rcpt_tos"]]
    body = str(arrived[0]["data"]).split("\r\n\r\n", 1)[-1].replace(token, "T") if arrived else None
    return (replies[0][0] // 100 if replies else 0), body
