"""Confirm mode: DATA only after a 2xx at RCPT, and `relayed` only when the canary gets the token."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from mtaharden.probe import Canary, Endpoint, HostResult, HostStatus, ProbeOptions, Verdict, probe_host
from tests.probe.fakes import FAST, FakeSmtp, forward_to, open_rcpt

Serve = Callable[[FakeSmtp], FakeSmtp]


def confirm_probe(server: FakeSmtp, *, forward: bool, confirm_wait: float = 3.0) -> HostResult:
    async def go() -> HostResult:
        async with Canary("127.0.0.1", 0) as canary:
            if forward:
                server.on_message = forward_to("127.0.0.1", canary.port)
            options = ProbeOptions(session=FAST, deadline=20, confirm_wait=confirm_wait)
            return await probe_host(Endpoint(server.host, server.port), options, canary=canary)

    return asyncio.run(go())


def test_accept_then_bounce_stays_accepted(serve: Serve) -> None:
    server = serve(FakeSmtp(rcpt=open_rcpt))
    result = confirm_probe(server, forward=False, confirm_wait=0.5)
    found = {case.verdict for case in result.cases}
    assert Verdict.RELAYED not in found and Verdict.ACCEPTED in found
    assert result.status is HostStatus.SUSPECT
    accepted = [case for case in result.cases if case.verdict is Verdict.ACCEPTED]
    confirmable = [case for case in accepted if case.case.confirmable]
    assert all("canary received nothing" in case.detail for case in confirmable)
    assert all("not proven" in case.detail for case in accepted if not case.case.confirmable)
    assert len(server.messages) == len(confirmable) == len(accepted) - 2, "no DATA to the two IP literals"


def test_real_relay_is_relayed(serve: Serve) -> None:
    server = serve(FakeSmtp(rcpt=open_rcpt))
    result = confirm_probe(server, forward=True)
    relayed = [case for case in result.cases if case.verdict is Verdict.RELAYED]
    assert len(relayed) == len(server.messages) > 0
    assert all(case.data_reply is not None and case.data_reply.positive for case in relayed)


def test_data_only_for_cases_accepted_at_rcpt(serve: Serve) -> None:
    def only_percent(path: str) -> str:
        return "250 2.1.5 Ok" if "%" in path else "554 5.7.1 Relay access denied"

    server = serve(FakeSmtp(rcpt=only_percent))
    result = confirm_probe(server, forward=False, confirm_wait=0.2)
    accepted = [case for case in result.cases if case.verdict is Verdict.ACCEPTED]
    assert accepted and all("%" in case.rcpt_command for case in accepted)
    assert server.commands.count("DATA") == len(accepted)
    # every DATA directly follows an accepted (percent-hack) RCPT
    for index, command in enumerate(server.commands):
        if command == "DATA":
            assert "%" in server.commands[index - 1]


def test_greylisting_during_data_is_deferred_and_sends_no_message(serve: Serve) -> None:
    server = serve(FakeSmtp(rcpt=open_rcpt, data="451 4.7.1 Greylisted, come back later"))
    result = confirm_probe(server, forward=True, confirm_wait=0.3)
    confirmable = [case for case in result.cases if case.case.confirmable and case.rcpt_reply]
    assert confirmable and {case.verdict for case in confirmable} == {Verdict.DEFERRED}
    assert all("DATA refused: 451" in case.detail for case in confirmable)
    assert server.messages == [] and result.status is not HostStatus.CLOSED


def test_accept_at_rcpt_then_5xx_at_the_end_of_data_is_refused(serve: Serve) -> None:
    server = serve(FakeSmtp(rcpt=open_rcpt, end_of_data=lambda n: "550 5.7.1 Relaying denied after all"))
    result = confirm_probe(server, forward=False, confirm_wait=0.3)
    confirmable = [case for case in result.cases if case.case.confirmable and case.rcpt_reply]
    assert confirmable and {case.verdict for case in confirmable} == {Verdict.REFUSED}
    assert all("refused at the end of DATA: 550" in case.detail for case in confirmable)
    assert Verdict.RELAYED not in {case.verdict for case in result.cases}
