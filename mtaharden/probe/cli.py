"""``mtaharden probe``: prove that mail servers are not open relays, and that they keep their policy.

Exit codes: 0 every host closed (and conforming); 1 any host open (a case proven relayed), suspect (a case
accepted at RCPT, not proven), or deviating from the policy (a software/version leak counts; with --mta, a
deviation the target's coverage declares is ``declared``, no finding); 3 (no finding)
any host inconclusive (deferred cases, or a vantage inside the policy's trusted networks); 2 usage errors,
or hosts that could not be probed while no host had a finding. Findings outrank the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import os
import shlex
import socket
import stat
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from mtaharden.safe_read import UnsafeFile, kind_of, read_regular
from mtaharden.target_names import TARGET_NAMES

from .canary import Canary
from .cases import DEFAULT_FOREIGN
from .conformance import Credentials, Expectations, Vantage
from .declared import Declarations
from .endpoint import Endpoint, parse_endpoint
from .matrix import QueueCheck
from .proof import MTAS, Shell, proof_for
from .runner import DEFAULT_CONCURRENCY, DEFAULT_CONFIRM_WAIT, DEFAULT_DEADLINE, ProbeOptions, probe_fleet, probe_stream
from .session import DEFAULT_EHLO, SessionOptions
from .verdict import EXIT_ERROR, HostResult, HostStatus, exit_code, exit_code_of
from .wire import WireValueError, domain, ehlo_argument

if TYPE_CHECKING:  # the policy (pydantic) and rich load only when a run needs them: see tests/unit/test_startup.py
    from rich.console import Console
    from rich.progress import Progress

    from mtaharden.policy import Policy

MAX_PASSWORD_FILE = 4096
MAX_HOSTS_FILE = 64 * 2**20  # a million HOST:PORT lines fit many times over


def _endpoints(targets: tuple[str, ...], hosts_file: str | None, default_port: int) -> list[Endpoint]:
    endpoints: dict[Endpoint, None] = {}
    for text in filter(None, targets):
        _add_endpoint(endpoints, text, default_port, None)
    if hosts_file:
        try:
            lines = read_regular(hosts_file, MAX_HOSTS_FILE).decode("utf-8").split("\n")
        except UnsafeFile as exc:
            raise click.BadParameter(f"cannot read {hosts_file}: it {exc.reason} (fix: {exc.hint})", param_hint="-i"
                                     ) from None
        except UnicodeDecodeError:
            raise click.BadParameter(f"{hosts_file} is not UTF-8 text (fix: save it as UTF-8)", param_hint="-i"
                                     ) from None
        for number, line in enumerate(lines, start=1):
            text = line.split("#", 1)[0].strip()
            if text:
                _add_endpoint(endpoints, text, default_port, f"{hosts_file}:{number}")
    if not endpoints:
        raise click.UsageError("no host to probe (fix: give HOST[:PORT] arguments or -i hosts.txt)")
    return list(endpoints)


def _add_endpoint(endpoints: dict[Endpoint, None], text: str, default_port: int, where: str | None) -> None:
    """Parse one HOST[:PORT]; a bad line of the -i file is named by its line, never quoted (it may be a secret)."""
    try:
        endpoints[parse_endpoint(text, default_port)] = None
    except ValueError as exc:
        if where is None:
            raise click.BadParameter(str(exc), param_hint="HOST[:PORT]") from None
        raise click.BadParameter(f"{where}:1: this line is not HOST[:PORT] (fix: write one host name, IPv4 address "
                                 "or [IPv6] address per line, optionally with :PORT; # starts a comment)",
                                 param_hint="-i") from None


def _check_report_path(path: str) -> None:
    """Refuse at once, before probing, a --junit path that exists and is not a regular file (a FIFO would hang)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise click.BadParameter(f"cannot write {path}: {exc.strerror}", param_hint="--junit") from None
    if not stat.S_ISREG(mode):
        raise click.BadParameter(f"cannot write {path}: it is {kind_of(mode)}, not a regular file (fix: name a "
                                 "regular file)", param_hint="--junit")


def _write_report(path: str, data: bytes) -> None:
    """Write ``data`` to the regular file ``path``; the open never blocks, and anything else is refused."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise click.BadParameter(f"cannot write {path}: {exc.strerror}", param_hint="--junit") from None
    with os.fdopen(descriptor, "wb") as handle:
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            raise click.BadParameter(f"cannot write {path}: it is {kind_of(mode)}, not a regular file",
                                     param_hint="--junit")
        handle.truncate(0)
        handle.write(data)


def _password(path: str) -> str:
    """The first line of the password file; the password is never taken from argv nor printed."""
    try:
        raw = read_regular(path, MAX_PASSWORD_FILE)
        first = raw.decode("utf-8").splitlines()[0] if raw.strip() else ""
    except UnsafeFile as exc:
        raise click.BadParameter(f"cannot read the password file: it {exc.reason} (fix: {exc.hint})",
                                 param_hint="--auth-password-file") from None
    except UnicodeDecodeError:
        raise click.BadParameter("the password file is not UTF-8 text", param_hint="--auth-password-file") from None
    if not first or len(raw) > MAX_PASSWORD_FILE:
        raise click.BadParameter("the password file must hold the password on its first line (under 4 KiB)",
                                 param_hint="--auth-password-file")
    return first


# RFC 2606 / RFC 6761 names that never resolve on the Internet: the only foreign domains --confirm allows.
RESERVED_TLDS = frozenset({"invalid", "test", "example", "localhost"})


def _checked(value: str, validate: Callable[[str], str], option: str) -> str:
    try:
        return validate(value)
    except WireValueError as exc:
        raise click.BadParameter(f"{exc} (fix: {exc.fix})", param_hint=option) from None


def _source(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an IP address", param_hint="--source-address") from None


def _policy(policy: str | None, overrides: tuple[str, ...], lists_root: str | None) -> Policy | None:
    if policy is None:
        return None
    from mtaharden.policy import PolicyError, load_policy

    try:
        return load_policy(policy, overrides, lists_root)
    except PolicyError as exc:
        click.echo(str(exc), err=True)
        sys.exit(EXIT_ERROR)


def _local_address(host: str) -> bool:
    """Whether every address ``host`` names belongs to this machine (a socket can be bound to it)."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return False
    for family, kind, _, _, address in infos:
        with socket.socket(family, kind) as probe_socket:
            try:
                probe_socket.bind((address[0], 0))
            except OSError:
                return False
    return bool(infos)


def _queue_check(proof: str, mta: str | None, queue_via: str | None, endpoints: list[Endpoint]) -> QueueCheck | None:
    """The queue proof asked for; refused unless it can read the probed host's own queue."""
    if proof == "none":
        if queue_via:
            raise click.UsageError("--queue-via goes with --proof queue")
        return None
    if mta is None or mta not in MTAS:
        raise click.UsageError(f"--proof queue needs --mta ({', '.join(sorted(MTAS))}): the MTA of the probed host")
    if len(endpoints) != 1:
        raise click.UsageError("--proof queue reads one host's queue: give exactly one HOST[:PORT]")
    prefix = tuple(shlex.split(queue_via)) if queue_via else ()
    if not prefix and not _local_address(endpoints[0].host):
        raise click.BadParameter(f"{endpoints[0].host} is not an address of this machine, so its queue cannot be "
                                 "read here (fix: run the probe on that host, or give --queue-via 'ssh root@HOST')",
                                 param_hint="--proof")
    return QueueCheck(proof_for(mta), Shell(prefix))


async def _run(endpoints: list[Endpoint], options: ProbeOptions, expectations: Expectations | None,
               canary_at: Endpoint | None, concurrency: int, progress: Progress | None,
               stream: Callable[[HostResult], None] | None) -> list[HostResult]:
    """Every host's result in input order; or, with ``stream``, each handed to it as it finishes (none kept)."""
    task = progress.add_task("probing", total=len(endpoints)) if progress else None

    def done(_: HostResult) -> None:
        if progress is not None and task is not None:
            progress.advance(task)

    async def fleet(canary: Canary | None) -> list[HostResult]:
        if stream is None:
            return await probe_fleet(endpoints, options, expectations=expectations, canary=canary,
                                     concurrency=concurrency, on_done=done)
        async for result in probe_stream(endpoints, options, expectations=expectations, canary=canary,
                                         concurrency=concurrency):
            done(result)
            stream(result)
        return []

    if canary_at is None:
        return await fleet(None)
    try:
        canary = Canary(canary_at.host, canary_at.port)
        await canary.start()
    except OSError as exc:
        raise click.BadParameter(f"cannot listen on {canary_at}: {exc.strerror or exc}",
                                 param_hint="--canary") from None
    try:
        return await fleet(canary)
    finally:
        await canary.stop()


def _sharded(endpoints: list[Endpoint], options: ProbeOptions, expectations: Expectations | None, concurrency: int,
             workers: int, progress: Progress | None, stream: Callable[[HostResult], None] | None) -> list[HostResult]:
    """As :func:`_run`, over ``workers`` processes (no canary: its listener lives in one process)."""
    from .workers import probe_sharded

    task = progress.add_task("probing", total=len(endpoints)) if progress else None
    kept: list[HostResult] = []
    for result in probe_sharded(endpoints, options, expectations=expectations, concurrency=concurrency,
                                workers=workers):
        if progress is not None and task is not None:
            progress.advance(task)
        if stream is None:
            kept.append(result)
        else:
            stream(result)
    order = {endpoint: index for index, endpoint in enumerate(endpoints)}
    return sorted(kept, key=lambda result: order[result.endpoint])


def _worker_count(asked: int, hosts: int, proving: bool) -> int:
    """``--workers``: 0 is one per core for long lists (see :func:`~.workers.auto_workers`); proofs run in one.

    Why one by default: on a shared 2-core machine two workers cost 16% more CPU (results pickled, smaller
    batches per loop turn) and, with the cores busy, ran 3x slower than one process (README, Benchmarks)."""
    if asked > 1 and proving:
        raise click.UsageError("--workers goes without --confirm and --proof: a proof runs in one process")
    if asked or proving:
        return max(asked, 1)
    from .workers import auto_workers

    return auto_workers(hosts)


def _progress() -> Progress:
    """A progress bar on stderr (only when stdout is a terminal: rich.progress costs 10 ms to import)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=Console(stderr=True, emoji=False), transient=True)


@click.command("probe")
@click.argument("targets", nargs=-1, metavar="HOST[:PORT]...")
@click.option("-i", "--input", "hosts_file", type=click.Path(dir_okay=False),
              help="file with one HOST[:PORT] per line (# starts a comment)")
@click.option("--concurrency", type=click.IntRange(1, 10_000), default=DEFAULT_CONCURRENCY, show_default=True,
              help="hosts probed at the same time")
@click.option("--workers", type=click.IntRange(0, 64), default=1, show_default=True,
              help="processes the host list is shared over (they share --concurrency); 0: one per core from "
                   "200 hosts on. More than one pays only on cores nothing else needs")
@click.option("--policy", type=click.Path(dir_okay=False), help="policy file: also check conformance to it")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="override a policy value for this host (as for render), e.g. networks.trusted=[192.0.2.0/24]")
@click.option("--lists-root", metavar="DIR", type=click.Path(exists=True, file_okay=False),
              help="folder tree the --policy's list files may lie in (default: the policy file's folder)")
@click.option("--vantage", type=click.Choice(["untrusted", "trusted"]), default="untrusted", show_default=True,
              help="where the probe stands: untrusted runs the relay matrix; trusted checks that relaying works")
@click.option("--external-domain", default=DEFAULT_FOREIGN, show_default=True,
              help="the foreign domain relaying is attempted to")
@click.option("--ehlo", default=DEFAULT_EHLO, show_default=True, help="EHLO name (a FQDN or [address literal])")
@click.option("--source-address", help="bind the probe's side of each connection to this IP address")
@click.option("--smtps", is_flag=True, help="implicit TLS (default port 465)")
@click.option("--tls-verify", is_flag=True, help="verify the server's certificate (off by default)")
@click.option("--auth-user", help="also check that this user may relay after AUTH")
@click.option("--auth-password-file", type=click.Path(dir_okay=False), help="file holding the AUTH password")
@click.option("--confirm", is_flag=True, help="send DATA for RCPT-accepted cases; relayed only if the canary gets it")
@click.option("--canary", "canary_text", metavar="HOST:PORT", help="where the canary sink listens (with --confirm)")
@click.option("--canary-domain", metavar="DOMAIN",
              help="a domain you control whose MX is the --canary listener: relaying is tried to it (with --confirm)")
@click.option("--proof", type=click.Choice(["none", "queue"]), default="none", show_default=True,
              help="queue: DATA to the reserved-TLD domain, then read the MTA's own queue and log (needs --mta)")
@click.option("--mta", type=click.Choice(sorted(TARGET_NAMES)),
              help="the probed host's target: with --proof queue, whose queue to read (the MTAs, not exchange); "
                   "with --policy, a failed check the target's coverage declares not enforced is 'declared', "
                   "not a finding")
@click.option("--queue-via", metavar="COMMAND",
              help="command prefix that runs the MTA's tools on the probed host (e.g. 'ssh root@mx1'); without "
                   "it --proof queue only probes an address of this machine")
@click.option("--confirm-wait", type=click.FloatRange(0, 3600), default=DEFAULT_CONFIRM_WAIT, show_default=True,
              help="seconds to wait for messages to reach the canary")
@click.option("--timeout", type=click.FloatRange(0.1, 3600), default=30.0, show_default=True,
              help="seconds to wait for the banner and for each reply")
@click.option("--deadline", type=click.FloatRange(1, 86_400), default=DEFAULT_DEADLINE, show_default=True,
              help="seconds allowed for everything on one host")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "jsonl"]), default="text", show_default=True,
              help="text: tables (past 50 hosts one plain line per host, details for hosts not clean); json: one "
                   "document; jsonl: one line per host as it finishes, then a summary line (memory flat in hosts)")
@click.option("--junit", type=click.Path(dir_okay=False), help="also write JUnit XML to this file")
def probe(targets: tuple[str, ...], hosts_file: str | None, concurrency: int, workers: int, policy: str | None,
          overrides: tuple[str, ...], lists_root: str | None, vantage: Vantage, external_domain: str, ehlo: str,
          source_address: str | None, smtps: bool,
          tls_verify: bool, auth_user: str | None, auth_password_file: str | None, confirm: bool,
          canary_text: str | None, canary_domain: str | None, proof: str, mta: str | None,
          queue_via: str | None, confirm_wait: float, timeout: float, deadline: float, fmt: str,
          junit: str | None) -> None:
    """Probe HOST[:PORT]... (default port 25, or 465 with --smtps) for open relaying.

    Exit 0: closed. 1: open, suspect, or deviating from --policy. 3: inconclusive. 2: usage or connection
    errors only."""
    endpoints = _endpoints(targets, hosts_file, 465 if smtps else 25)
    if junit:
        _check_report_path(junit)
    if (auth_user is None) != (auth_password_file is None):
        raise click.UsageError("--auth-user and --auth-password-file go together")
    if confirm != (canary_text is not None):
        raise click.UsageError("--confirm and --canary HOST:PORT go together")
    try:
        canary_at = parse_endpoint(canary_text, None) if canary_text else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--canary") from None
    credentials = Credentials(auth_user, _password(auth_password_file)) if auth_user and auth_password_file else None
    session = SessionOptions(ehlo=_checked(ehlo, ehlo_argument, "--ehlo"), timeout=timeout, banner_timeout=timeout,
                             smtps=smtps, tls_verify=tls_verify, source_address=_source(source_address))
    foreign = _checked(external_domain, domain, "--external-domain")
    if canary_domain is not None:
        if not confirm:
            raise click.UsageError("--canary-domain needs --confirm --canary HOST:PORT (the listener its MX names)")
        foreign = _checked(canary_domain, domain, "--canary-domain")
    queue = _queue_check(proof, mta, queue_via, endpoints)
    if (confirm or queue) and canary_domain is None and foreign.rpartition(".")[2] not in RESERVED_TLDS:
        raise click.BadParameter(
            f"{foreign} is not under a reserved top-level domain ({', '.join(sorted(RESERVED_TLDS))}); with "
            "--confirm a relayed message must never be able to reach a real third party (fix: use e.g. "
            "relaytest.invalid and route it to the canary with a transport map on the server)",
            param_hint="--external-domain")
    loaded = _policy(policy, overrides, lists_root)
    expectations = Expectations.from_policy(loaded) if loaded else None
    declarations = Declarations.for_target(mta, loaded) if loaded and mta else None
    options = ProbeOptions(session=session, external_domain=foreign, queue=queue, declarations=declarations,
                           vantage=vantage, credentials=credentials, deadline=deadline, confirm_wait=confirm_wait)
    from rich.console import Console

    from .report import TABLE_MAX_HOSTS, json_document, render_text, to_junit

    console = Console(highlight=False, soft_wrap=False, emoji=False)
    streamed = fmt == "jsonl" or (fmt == "text" and len(endpoints) > TABLE_MAX_HOSTS)
    kept: list[HostResult] = []  # a streamed run keeps results only for --junit (one XML document)
    statuses: dict[HostStatus, int] = {}

    def emit(result: HostResult) -> None:
        statuses[result.status] = statuses.get(result.status, 0) + 1
        if junit:
            kept.append(result)
        _emit(console, fmt, result)

    progress = _progress() if sys.stdout.isatty() else None
    processes = _worker_count(workers, len(endpoints), canary_at is not None or queue is not None)
    with progress or contextlib.nullcontext():
        if processes > 1:
            results = _sharded(endpoints, options, expectations, concurrency, processes, progress,
                               emit if streamed else None)
        else:
            results = asyncio.run(_run(endpoints, options, expectations, canary_at, concurrency, progress,
                                       emit if streamed else None))
    if streamed:
        code = exit_code_of(set(statuses))
        _emit_summary(console, fmt, statuses, code)
        results = kept
    else:
        code = exit_code(results)
    if fmt == "json":
        for piece in json_document(results, code):
            click.echo(piece, nl=False)
        click.echo()
        for result in results:
            _warn_vantage(result)
    elif not streamed:
        render_text(console, results)
    if junit:
        _write_report(junit, to_junit(results))
    sys.exit(code)


def _warn_vantage(result: HostResult) -> None:
    """The vantage warning must be loud even when stdout goes to a program."""
    if result.vantage_conflict:
        click.echo("\n".join(f"{result.endpoint}: {warning}" for warning in result.warnings), err=True)


def _emit(console: Console, fmt: str, result: HostResult) -> None:
    """One finished host of a streamed run: a JSON Lines record, or its plain line (and details)."""
    from .report import host_record, render_stream_host

    if fmt == "jsonl":
        click.echo(json.dumps(host_record(result)))
        _warn_vantage(result)
    else:
        render_stream_host(console, result)


def _emit_summary(console: Console, fmt: str, statuses: dict[HostStatus, int], code: int) -> None:
    from .report import summary_record

    counts = {status.value: count for status, count in statuses.items()}
    if fmt == "jsonl":
        click.echo(json.dumps(summary_record(counts, code)))
    else:
        tally = ", ".join(f"{count} {status}" for status, count in sorted(counts.items()))
        console.print(f"relay probe of {sum(counts.values())} endpoints: {tally}", markup=False)
