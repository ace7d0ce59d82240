"""A fleet probe over several worker processes, each with its own event loop.

Why: one event loop is one core; at a fleet's pace the probe spends most of each round trip in Python (the
reply parser, the loop, the socket calls), so idle cores can add what one cannot do (opt-in, ``--workers``:
where the cores are busy, more processes only add pickling and context switches). The host list is dealt
round-robin over forked workers (fork: the probe's modules are loaded already, so a worker starts in
milliseconds and needs nothing pickled but its results); each probes its share with its part of the
concurrency and sends every result back as it finishes. A worker that dies leaves its unfinished hosts as
errors, never as missing. Proof modes (a canary listener, one host's queue) stay in one process.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import sys
from collections.abc import Iterator, Sequence
from multiprocessing.connection import Connection, wait

from .conformance import Expectations
from .endpoint import Endpoint
from .runner import ProbeOptions, probe_stream
from .verdict import HostResult

HOSTS_PER_WORKER = 100  # below this a second process costs more than it saves (auto mode)
MAX_AUTO_WORKERS = 8


def auto_workers(hosts: int) -> int:
    """How many worker processes ``--workers 0`` (auto) uses: one per usable core, for long lists only."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(cores, MAX_AUTO_WORKERS, hosts // HOSTS_PER_WORKER))


def _work(shard: Sequence[Endpoint], options: ProbeOptions, expectations: Expectations | None, concurrency: int,
          results: Connection) -> None:
    async def run() -> None:
        async for result in probe_stream(shard, options, expectations=expectations, concurrency=concurrency):
            results.send(result)

    try:
        asyncio.run(run())
    finally:
        results.close()


def probe_sharded(endpoints: Sequence[Endpoint], options: ProbeOptions, *, expectations: Expectations | None,
                  concurrency: int, workers: int) -> Iterator[HostResult]:
    """Every endpoint's result as it finishes, from ``workers`` processes that share ``concurrency``.

    Endpoints must be distinct (the command line's list is): a worker's results are matched to them by value."""
    context = multiprocessing.get_context("fork")
    sys.stdout.flush()  # a forked child flushes its copy of the buffers when it ends
    sys.stderr.flush()
    started: dict[Connection, tuple[multiprocessing.process.BaseProcess, list[Endpoint]]] = {}
    try:
        for number in range(workers):
            shard = list(endpoints[number::workers])
            if not shard:
                continue
            receiver, sender = context.Pipe(duplex=False)
            share = max(1, concurrency // workers + (number < concurrency % workers))
            worker = context.Process(target=_work, args=(shard, options, expectations, share, sender), daemon=True)
            worker.start()
            sender.close()
            started[receiver] = (worker, shard)
        yield from _collect(started)
    finally:
        for process, _ in started.values():
            if process.is_alive():
                process.terminate()
            process.join(5)


def _collect(started: dict[Connection, tuple[multiprocessing.process.BaseProcess, list[Endpoint]]]
             ) -> Iterator[HostResult]:
    pending = {receiver: set(shard) for receiver, (_, shard) in started.items()}
    while pending:
        for receiver in wait(list(pending)):
            assert isinstance(receiver, Connection)
            try:
                result: HostResult = receiver.recv()
            except EOFError:
                process = started[receiver][0]
                process.join(5)
                with contextlib.suppress(OSError):
                    receiver.close()
                for endpoint in sorted(pending.pop(receiver)):
                    yield HostResult(endpoint, error=f"internal error: the worker process ended (exit code "
                                                     f"{process.exitcode}) before this host was probed")
                continue
            pending[receiver].discard(result.endpoint)
            yield result
