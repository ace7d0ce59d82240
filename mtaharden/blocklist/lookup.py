"""DNS lookups for the query names: concurrently, at most ``concurrency`` in flight, each bounded in time.

dnspython's blocking resolver in a pool of threads: bench/blocklist.py measured it at 2-3x dnspython's asyncio
resolver for the same lookups (which opens an asyncio endpoint per query). A first; TXT only where the A query
returned records, since TXT is where lists put their reasons. Nothing is cached and every name is absolute, so
a resolver's search list cannot turn a miss into someone else's hit.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

import dns.exception
import dns.rdatatype
import dns.resolver

from ..nameserver import Nameserver, resolver

Outcome = Literal["records", "nxdomain", "nodata", "error"]


@dataclass(frozen=True)
class Reply:
    """What the resolver said for one name: A records (and TXT strings), no such name, or why it failed."""

    name: str
    outcome: Outcome
    addresses: tuple[str, ...] = ()
    texts: tuple[str, ...] = ()
    error: str = ""


def _failure(exc: dns.exception.DNSException, timeout: float) -> str:
    if isinstance(exc, dns.exception.Timeout):
        return f"no answer within {timeout:g} s"
    if isinstance(exc, dns.resolver.NoNameservers):
        said = [str(error[3]) for error in exc.kwargs.get("errors", [])]
        return f"the resolver answered {', '.join(dict.fromkeys(said)) or 'nothing usable'}"
    return f"DNS error: {exc}"


def _text(strings: Iterable[bytes]) -> str:
    return b"".join(strings).decode("utf-8", "replace")


def _ask(made: dns.resolver.Resolver, name: str, rdtype: dns.rdatatype.RdataType,
         timeout: float) -> tuple[Outcome, tuple[str, ...], str]:
    try:
        answer = made.resolve(name, rdtype, search=False, raise_on_no_answer=False)
    except dns.resolver.NXDOMAIN:
        return "nxdomain", (), ""
    except dns.exception.DNSException as exc:
        return "error", (), _failure(exc, timeout)
    if answer.rrset is None:
        return "nodata", (), ""
    if rdtype == dns.rdatatype.TXT:
        return "records", tuple(_text(r.strings) for r in answer.rrset), ""
    return "records", tuple(r.to_text() for r in answer.rrset), ""


def _one(made: dns.resolver.Resolver, name: str, timeout: float) -> Reply:
    outcome, addresses, error = _ask(made, name, dns.rdatatype.A, timeout)
    if outcome != "records":
        return Reply(name, outcome, error=error)
    _, texts, _ = _ask(made, name, dns.rdatatype.TXT, timeout)  # no reason is not a failure
    return Reply(name, outcome, addresses, texts)


def lookup(names: Iterable[str], nameserver: Nameserver, concurrency: int = 50,
           timeout: float = 3.0) -> dict[str, Reply]:
    """Each distinct name's reply. A fixed set of workers takes names in turn (not a task per name), so memory
    stays flat for a /16 against ten zones."""
    made = resolver(nameserver, timeout)
    todo = list(dict.fromkeys(names))
    pending, taking, stop = iter(todo), threading.Lock(), threading.Event()
    replies: dict[str, Reply] = {}

    def worker() -> None:
        while not stop.is_set():
            with taking:
                name = next(pending, None)
            if name is None:
                return
            replies[name] = _one(made, name, timeout)

    workers = min(concurrency, len(todo))
    pool = ThreadPoolExecutor(workers or 1, thread_name_prefix="dnsbl")
    try:
        for each in [pool.submit(worker) for _ in range(workers)]:
            each.result()  # a worker's unexpected exception is the run's
    except BaseException:  # Ctrl-C included: the workers end after their current query, not the list
        stop.set()
        raise
    finally:
        pool.shutdown(wait=True)
    return replies


def host_addresses(host: str, nameserver: Nameserver, timeout: float = 3.0) -> dict[str, Reply]:
    """``host``'s A and AAAA replies, through the same resolver as the DNSBL queries."""
    made, name = resolver(nameserver, timeout), host.rstrip(".") + "."
    replies = {}
    for kind, rdtype in (("A", dns.rdatatype.A), ("AAAA", dns.rdatatype.AAAA)):
        outcome, records, error = _ask(made, name, rdtype, timeout)
        replies[kind] = Reply(name, outcome, records, error=error)
    return replies
