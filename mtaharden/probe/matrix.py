"""Run the relay matrix over one endpoint's connection.

Why this shape: one case = RSET, MAIL, RCPT (and, only in confirm mode and only after a 2xx at RCPT,
DATA with a canary token). A case whose session breaks is tried once more on a new session; after
``MAX_ERRORS_IN_A_ROW`` failed cases the endpoint is given up, so a dead or hostile server costs a
bounded number of connections. DATA is never sent without a proof mode (a canary, or the queue proof
of the probed host's MTA), and only to the reserved-TLD or operator-controlled foreign domain.
"""

from __future__ import annotations

import email.utils
from collections.abc import Sequence
from dataclasses import dataclass, replace

from .canary import Canary, new_token
from .cases import Case, Placeholders
from .connection import Connection
from .proof import ProofError, QueueProof, Shell, prove
from .session import ProbeError, Reply, ServerClosing, SmtpSession
from .verdict import CaseResult, Verdict, classify


@dataclass(frozen=True)
class QueueCheck:
    """The queue proof of the probed host's MTA and how its tools are reached."""

    proof: QueueProof
    shell: Shell

MAX_ERRORS_IN_A_ROW = 3


@dataclass(frozen=True)
class _Outcome:
    mail: Reply
    rcpt: Reply | None
    data: Reply | None = None
    detail: str = ""


def canary_message(token: str, rcpt_command: str) -> bytes:
    """A short, plainly labelled message whose only job is to carry ``token`` to the canary."""
    lines = [
        "From: mtaharden relay probe <mtaharden-probe@mtaharden.invalid>",
        f"Subject: mtaharden relay probe {token}",
        f"Date: {email.utils.formatdate(localtime=False)}",
        f"Message-ID: <{token}@mtaharden.invalid>",
        "",
        "This message was sent by 'mtaharden probe' (a proof mode) to test whether a server relays",
        f"mail for strangers ({rcpt_command}). If it reached you, it was relayed.",
        f"Token: {token}",
    ]
    return ("\r\n".join(lines) + "\r\n").encode("ascii", "replace")


async def _attempt(session: SmtpSession, mail_line: str, rcpt_line: str, token: str | None) -> _Outcome:
    mail, rcpt = await session.transaction(mail_line, rcpt_line)
    if token is None or rcpt is None or not rcpt.positive:
        return _Outcome(mail, rcpt)
    try:
        data = await session.command("DATA")
        if data.code != 354:
            return _Outcome(mail, rcpt, data, f"DATA refused: {data}")
        final = await session.send_message(canary_message(token, rcpt_line))
    except ProbeError as exc:
        return _Outcome(mail, rcpt, None, f"DATA failed: {exc}")
    detail = "" if final.positive else f"message refused at the end of DATA: {final}"
    return _Outcome(mail, rcpt, final, detail)


def _after_data(verdict: Verdict, data: Reply | None) -> Verdict:
    """A message refused at DATA or at its end was not taken: refused (5xx) or deferred (4xx, e.g. greylisting)."""
    if verdict is not Verdict.ACCEPTED or data is None or data.positive or data.code == 354:
        return verdict
    return Verdict.DEFERRED if data.transient else Verdict.REFUSED


def _batch_size(session: SmtpSession | None, reconnect_every: int, remaining: int) -> int:
    """How many cases may go in one write on ``session``: none without PIPELINING, and no more than the errors
    the session may still collect before its reconnect allow at two per case (a refused MAIL and its RCPT)."""
    if session is None or "PIPELINING" not in session.extensions:
        return 0
    return min(remaining, (reconnect_every - session.errors) // 2)


async def _one(conn: Connection, mail_line: str, rcpt_line: str, token: str | None, failed_once: bool) -> _Outcome:
    """One case, tried once more on a new session if it fails; once only when its first try (in a batch) failed."""
    if failed_once:
        return await _attempt(await conn.fresh(), mail_line, rcpt_line, token)
    return await conn.run(_attempt, mail_line, rcpt_line, token)


async def run_matrix(conn: Connection, cases: Sequence[Case], values: Placeholders, results: list[CaseResult],
                     *, canary: Canary | None, confirm_wait: float, queue: QueueCheck | None = None) -> None:
    """Append one result per case to ``results`` (as it goes, so a deadline keeps what was found).

    Without a proof mode, cases go several to a write while the server offers PIPELINING (each judged as
    alone: :meth:`SmtpSession.transactions_of`); a case whose batch broke gets its one retry on a new session."""
    proving = canary is not None or queue is not None
    tokens: dict[str, int] = {}
    errors_in_a_row = 0
    index, failed_once = 0, False
    while index < len(cases):
        case = cases[index]
        mail_line, rcpt_line = case.commands(values)
        if errors_in_a_row >= MAX_ERRORS_IN_A_ROW:
            results.append(CaseResult(case, Verdict.ERROR, mail_line, rcpt_line,
                                      detail=f"not run: {errors_in_a_row} cases in a row failed"))
            index += 1
            continue
        live = None if proving or failed_once or errors_in_a_row else conn.live()
        size = _batch_size(live, conn.reconnect_every, len(cases) - index)
        if live is not None and size >= 2:
            batch = cases[index:index + size]
            pairs = [one.commands(values) for one in batch]
            done: list[tuple[Reply, Reply | None]] = []
            try:
                failure = await live.transactions_of(pairs, done)
            finally:  # a deadline keeps the cases read before it
                for one, (mail, rcpt), (one_mail, one_rcpt) in zip(batch, done, pairs, strict=False):
                    results.append(CaseResult(one, classify(mail, rcpt), one_mail, one_rcpt, mail, rcpt))
            index += len(done)
            failed_once = failure is not None
            continue
        token = new_token() if proving and case.confirmable else None
        retried, failed_once = failed_once, False
        index += 1
        try:
            outcome = await _one(conn, mail_line, rcpt_line, token, retried)
        except ServerClosing as exc:
            errors_in_a_row += 1
            results.append(CaseResult(case, Verdict.DEFERRED, mail_line, rcpt_line,
                                      detail=f"closed twice, last with {exc.reply}"))
            continue
        except ProbeError as exc:
            errors_in_a_row += 1
            results.append(CaseResult(case, Verdict.ERROR, mail_line, rcpt_line, detail=str(exc)))
            continue
        errors_in_a_row = 0
        if token and outcome.data is not None and outcome.data.positive:
            tokens[token] = len(results)
        detail = outcome.detail
        if proving and not case.confirmable and outcome.rcpt is not None and outcome.rcpt.positive:
            detail = "not proven: no message is sent to an IP-literal recipient"
        results.append(CaseResult(case, _after_data(classify(outcome.mail, outcome.rcpt), outcome.data),
                                  mail_line, rcpt_line, outcome.mail, outcome.rcpt, outcome.data, detail))
    if queue is not None and tokens:
        await _queue_proof(queue, results, tokens, confirm_wait)
    if canary and tokens:
        arrived = await canary.wait_for(tokens, confirm_wait)
        for token, index in tokens.items():
            if token in arrived:
                results[index] = replace(results[index], verdict=Verdict.RELAYED,
                                         detail="the canary received the message")
            elif results[index].verdict is Verdict.ACCEPTED:  # absence is no proof: it stays accepted
                results[index] = replace(results[index], detail=f"accepted for delivery, but the canary "
                                         f"received nothing within {confirm_wait:g} s")
            else:  # the queue proof decided it; the canary's silence agrees
                results[index] = replace(results[index], detail=f"{results[index].detail}; the canary received "
                                         f"nothing within {confirm_wait:g} s")


async def _queue_proof(queue: QueueCheck, results: list[CaseResult], tokens: dict[str, int], wait: float) -> None:
    """Replace each DATA-accepted case's verdict with what the MTA's queue and log show."""
    ids: dict[str, str] = {}
    for token, index in tokens.items():
        data = results[index].data_reply
        queue_id = queue.proof.queue_id(data) if data is not None else None
        if queue_id is None:
            results[index] = replace(results[index], detail=f"no {queue.proof.name} queue ID in the reply to DATA")
        else:
            ids[token] = queue_id
    try:
        decided = await prove(queue.proof, queue.shell, ids, wait)
    except ProofError as exc:
        for token in ids:
            results[tokens[token]] = replace(results[tokens[token]], detail=f"queue proof failed: {exc}")
        return
    for token, queue_id in ids.items():
        index = tokens[token]
        if token in decided:
            verdict, why = decided[token]
            results[index] = replace(results[index], verdict=verdict, detail=f"{queue.proof.name} {queue_id}: {why}")
        else:
            results[index] = replace(results[index], detail=f"{queue.proof.name} {queue_id}: no delivery decided "
                                     f"within {wait:g} s")
