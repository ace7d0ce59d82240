"""Probe one endpoint, or a fleet of them concurrently: the entry points of the probe.

Why a per-host deadline around everything: a tarpit can keep every single read just inside its
timeout. The deadline bounds the whole host; what was learnt before it passed is kept. One host's
failure is recorded in its own result and never stops the others.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field

from .canary import Canary
from .cases import CASES, DEFAULT_FOREIGN, Case, Placeholders, address_literal
from .conformance import Credentials, Expectations, Vantage, judge_vantage, run_checks
from .connection import DEFAULT_RECONNECT_EVERY, Connection
from .declared import Declarations, declare
from .endpoint import Endpoint
from .leaks import leak_checks
from .matrix import QueueCheck, run_matrix
from .session import ProbeError, Reply, SessionOptions, SmtpSession
from .verdict import SUSPECT_ADVICE, CaseResult, HostResult, Verdict

DEFAULT_DEADLINE = 300.0
DEFAULT_CONFIRM_WAIT = 15.0
DEFAULT_CONCURRENCY = 50


@dataclass(frozen=True)
class ProbeOptions:
    session: SessionOptions = field(default_factory=SessionOptions)
    external_domain: str = DEFAULT_FOREIGN
    vantage: Vantage = "untrusted"
    credentials: Credentials | None = None
    reconnect_every: int = DEFAULT_RECONNECT_EVERY
    deadline: float = DEFAULT_DEADLINE
    confirm_wait: float = DEFAULT_CONFIRM_WAIT
    cases: tuple[Case, ...] = CASES
    queue: QueueCheck | None = None
    declarations: Declarations | None = None  # the probed host's target coverage (--policy with --mta)


def _mail_domain(server_name: str | None, expectations: Expectations | None, literal: str) -> str:
    if expectations and expectations.mail_domain:
        return expectations.mail_domain
    if server_name and server_name.count(".") >= 2:
        return server_name.split(".", 1)[1]
    return server_name or literal


def _self_trusted_vantage(source: str, server: str, declarations: Declarations | None) -> str | None:
    """The warning when the probe stands on the host itself (its address, or loopback) of a target that
    declares it relays for clients there whatever the policy trusts (Sendmail: class w); else None."""
    row = declarations.trusts_itself() if declarations is not None else None
    if declarations is None or row is None or not (source == server or ipaddress.ip_address(source).is_loopback):
        return None
    return (f"WARNING: the probe stands on the host itself ({source}) and {declarations.target} "
            f"coverage of {row.element} says: {row.detail} (fix: probe from outside the host, e.g. the "
            "controller, another host, or an address of this machine the host does not own)")


async def _probe(conn: Connection, result: HostResult, options: ProbeOptions,
                 expectations: Expectations | None, canary: Canary | None) -> None:
    try:
        first = await conn.session()
    except ProbeError as exc:
        result.error = str(exc)
        return
    result.address, result.source_address = first.peer_ip, first.local_ip
    result.banner, result.server_name, result.tls = first.banner, first.server_name(), first.tls
    if first.tls_error:
        result.warnings.append(first.tls_error)
    warnings, result.vantage_conflict = judge_vantage(first.local_ip, options.vantage, expectations)
    result.warnings.extend(warnings)
    self_trusted = _self_trusted_vantage(first.local_ip, first.peer_ip, options.declarations)
    if options.vantage == "untrusted" and self_trusted:
        result.warnings.append(self_trusted)
        result.vantage_conflict = True
    literal = address_literal(first.peer_ip)
    values = Placeholders(options.external_domain, first.peer_ip, result.server_name or literal,
                          _mail_domain(result.server_name, expectations, literal))
    seen: list[tuple[str, str, Reply]] = [("banner", "banner", first.banner), ("EHLO", "EHLO", first.greeting)]
    try:
        seen.append(("HELP", "HELP", await conn.run(SmtpSession.command, "HELP")))
    except ProbeError as exc:
        result.warnings.append(f"HELP not read: {exc}")
    if options.vantage == "untrusted":
        result.matrix_run = True
        result.proof = "+".join(name for name, used in (("queue", options.queue), ("canary", canary)) if used) or "none"
        await run_matrix(conn, options.cases, values, result.cases, canary=canary,
                         confirm_wait=options.confirm_wait, queue=options.queue)
    else:
        result.warnings.append("relay matrix not run: from a trusted address relaying is expected")
    result.checks.extend(await run_checks(conn, first, expectations=expectations, vantage=options.vantage,
                                          credentials=options.credentials, foreign=options.external_domain))
    await conn.drop()
    seen.extend(("errors", f"{case.case.id} {stage}", reply) for case in result.cases
                for stage, reply in (("MAIL", case.mail_reply), ("RCPT", case.rcpt_reply), ("DATA", case.data_reply))
                if reply is not None and reply.code >= 400)
    if conn.last_quit is not None:
        seen.append(("QUIT", "QUIT", conn.last_quit))
    result.checks.extend(leak_checks(seen, [result.server_name or "", options.session.ehlo]))


async def probe_host(endpoint: Endpoint, options: ProbeOptions | None = None, *,
                     expectations: Expectations | None = None, canary: Canary | None = None) -> HostResult:
    """Probe one endpoint: relay matrix (from an untrusted vantage), canary confirmation when a canary
    is given, then conformance checks. Never raises for anything the server does."""
    options = options or ProbeOptions()
    result = HostResult(endpoint)
    loop = asyncio.get_running_loop()
    started = loop.time()
    conn = Connection(endpoint, options.session, options.reconnect_every)
    try:
        async with asyncio.timeout(options.deadline):
            await _probe(conn, result, options, expectations, canary)
            await conn.drop()
    except TimeoutError:
        result.error = f"the per-host deadline of {options.deadline:g} s passed"
    finally:
        conn.abort()
        result.duration = loop.time() - started
    result.checks = declare(result.checks, options.declarations)
    if result.matrix_run and any(case.verdict is Verdict.ACCEPTED for case in result.cases):
        result.warnings.append(SUSPECT_ADVICE)
    if options.vantage == "untrusted":
        missing = options.cases[len(result.cases):]
        result.cases.extend(CaseResult(case, Verdict.ERROR, detail=f"not run: {result.error}") for case in missing)
    return result


async def probe_fleet(endpoints: Sequence[Endpoint], options: ProbeOptions | None = None, *,
                      expectations: Expectations | None = None, canary: Canary | None = None,
                      concurrency: int = DEFAULT_CONCURRENCY,
                      on_done: Callable[[HostResult], None] | None = None) -> list[HostResult]:
    """Probe every endpoint, at most ``concurrency`` at a time; results come back in input order."""
    gate = asyncio.Semaphore(concurrency)

    async def one(endpoint: Endpoint) -> HostResult:
        async with gate:
            result = await _guarded(endpoint, options, expectations, canary)
        if on_done:
            on_done(result)
        return result

    return list(await asyncio.gather(*(one(endpoint) for endpoint in endpoints)))


async def _guarded(endpoint: Endpoint, options: ProbeOptions | None, expectations: Expectations | None,
                   canary: Canary | None) -> HostResult:
    try:
        return await probe_host(endpoint, options, expectations=expectations, canary=canary)
    except Exception as exc:  # one host's bug must not stop the fleet; it is reported as that host's error
        return HostResult(endpoint, error=f"internal error: {type(exc).__name__}: {exc}")


async def probe_stream(endpoints: Iterable[Endpoint], options: ProbeOptions | None = None, *,
                       expectations: Expectations | None = None, canary: Canary | None = None,
                       concurrency: int = DEFAULT_CONCURRENCY) -> AsyncIterator[HostResult]:
    """Probe every endpoint, at most ``concurrency`` at a time, yielding each result as it completes.

    Why beside :func:`probe_fleet`: it keeps no result and starts a host only when one finishes, so memory
    stays flat in the number of hosts (``--format jsonl``, the plain summary of a long fleet)."""
    waiting = iter(endpoints)
    running: set[asyncio.Task[HostResult]] = set()

    def fill() -> None:
        for endpoint in waiting:
            running.add(asyncio.ensure_future(_guarded(endpoint, options, expectations, canary)))
            if len(running) >= concurrency:
                return

    fill()
    try:
        while running:
            done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            running.difference_update(done)
            fill()
            for task in done:
                yield task.result()
    finally:
        for task in running:
            task.cancel()
