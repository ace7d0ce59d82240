"""Run the relay matrix over one endpoint's connection.

Why this shape: one case = RSET, MAIL, RCPT (and, only in confirm mode and only after a 2xx at RCPT,
DATA with a canary token). A case whose session breaks is tried once more on a new session; after
``MAX_ERRORS_IN_A_ROW`` failed cases the endpoint is given up, so a dead or hostile server costs a
bounded number of connections. DATA is never sent unless a canary is given.
"""

from __future__ import annotations

import email.utils
from collections.abc import Sequence
from dataclasses import dataclass, replace

from .canary import Canary, new_token
from .cases import Case, Placeholders
from .connection import Connection
from .session import ProbeError, Reply, ServerClosing, SmtpSession
from .verdict import CaseResult, Verdict, classify

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
        "This message was sent by 'mtaharden probe --confirm' to test whether a server relays",
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


async def run_matrix(conn: Connection, cases: Sequence[Case], values: Placeholders, results: list[CaseResult],
                     *, canary: Canary | None, confirm_wait: float) -> None:
    """Append one result per case to ``results`` (as it goes, so a deadline keeps what was found)."""
    tokens: dict[str, int] = {}
    errors_in_a_row = 0
    for case in cases:
        mail_line, rcpt_line = case.commands(values)
        if errors_in_a_row >= MAX_ERRORS_IN_A_ROW:
            results.append(CaseResult(case, Verdict.ERROR, mail_line, rcpt_line,
                                      detail=f"not run: {errors_in_a_row} cases in a row failed"))
            continue
        token = new_token() if canary and case.confirmable else None
        try:
            outcome = await conn.run(_attempt, mail_line, rcpt_line, token)
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
        if canary and not case.confirmable and outcome.rcpt is not None and outcome.rcpt.positive:
            detail = "not confirmed: --confirm sends no message to an IP-literal recipient"
        results.append(CaseResult(case, classify(outcome.mail, outcome.rcpt), mail_line, rcpt_line,
                                  outcome.mail, outcome.rcpt, outcome.data, detail))
    if canary and tokens:
        arrived = await canary.wait_for(tokens, confirm_wait)
        for token, index in tokens.items():
            if token in arrived:
                results[index] = replace(results[index], verdict=Verdict.RELAYED,
                                         detail="the canary received the message")
            else:
                results[index] = replace(results[index], detail=f"accepted for delivery, but the canary "
                                         f"received nothing within {confirm_wait:g} s")
