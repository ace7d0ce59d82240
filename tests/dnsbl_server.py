"""A real DNSBL for tests: rbldnsd on 127.0.0.1, a free port, serving zone files the test gives.

Why rbldnsd: it is what many lists run, and Debian packages it; its answers (one A per matching dataset, TXT
with ``$`` replaced by the address, NXDOMAIN for a miss, REFUSED outside its zones) are the real ones, IPv6
(``ip6trie``) included. ``generic`` datasets answer A (and TXT/MX/NS) for ordinary names, e.g. a host name.

``TEST_ZONES`` is the standard set (tests/blocklist and the trace tests may use it): see each zone's comment.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import dns.message
import dns.query
import dns.rcode

from tests.processes import stop

Dataset = tuple[str, str, Sequence[str]]  # zone, rbldnsd dataset type, lines of its file
LISTED4, LISTED4_TWICE, LISTED6, LISTED6_NET = "192.0.2.30", "192.0.2.32", "2001:db8:25::30", "2001:db8:26::"
CLEAN4, CLEAN6 = "192.0.2.99", "2001:db8:25::99"
SOA = "$SOA 60 ns.{zone}. hostmaster.{zone}. 1 3600 600 86400 60"
BENCH_ZONES = tuple(f"z{n}.bench.test" for n in range(10))

TEST_ZONES: tuple[Dataset, ...] = (
    # bl.test: several codes with TXT reasons; 192.0.2.32 is in two datasets, so it gets two A records
    ("bl.test", "ip4set", (f"{LISTED4} :127.0.0.2:Spam source $ - see https://bl.test/lookup?ip=$",
                           "192.0.2.31 :127.0.0.4:Exploited host $", f"{LISTED4_TWICE} :127.0.0.2:Spam source $")),
    ("bl.test", "ip4set", (f"{LISTED4_TWICE} :127.0.0.10:Dynamic address $",)),
    ("bl.test", "ip6trie", (f"{LISTED6} :127.0.0.3:IPv6 spam source $", f"{LISTED6_NET}/48 :127.0.0.2:IPv6 network")),
    # refused.test: what Spamhaus answers to a query through a public resolver, for every test address
    ("refused.test", "ip4set", ("192.0.2.0/24 :127.255.255.254:Query refused: public resolver",)),
    ("refused.test", "ip6trie", ("2001:db8::/32 :127.255.255.254:Query refused: public resolver",)),
    # one.test: answers 127.0.0.1 (a refused query at several lists; never a listing)
    ("one.test", "ip4set", ("192.0.2.0/24 :127.0.0.1:",)),
    # outside.test: an answer outside 127.0.0.0/8 (a resolver rewriting NXDOMAIN)
    ("outside.test", "ip4set", (f"{LISTED4} :198.51.100.7:",)),
    # hostile.test: a TXT reason with terminal escapes and a line break
    ("hostile.test", "ip4set", (f"{LISTED4} :127.0.0.2:\x1b[2J\x1b[31mcleared\rfake line",)),
    # two catalogue zones with their real TXT shapes (the test server stands in for them; nothing leaves it)
    ("zen.spamhaus.org", "ip4set", (f"{LISTED4} :127.0.0.4:https://check.spamhaus.org/query/ip/$",
                                    f"{LISTED4_TWICE} :127.0.0.10:https://check.spamhaus.org/query/ip/$",
                                    "192.0.2.31 :127.255.255.254:Error: open resolver; "
                                    "https://check.spamhaus.org/returnc/pub/")),
    ("zen.spamhaus.org", "ip6trie", (f"{LISTED6} :127.0.0.3:https://check.spamhaus.org/query/ip/$",)),
    ("bl.spamcop.net", "ip4set", (f"{LISTED4} :127.0.0.2:Blocked - see https://www.spamcop.net/bl.shtml?$",)),
    # everything.test: lists every address, 127.0.0.1 included (what some lists did when they shut down)
    ("everything.test", "ip4set", ("127.0.0.0/8 :127.0.0.2:Listed", "192.0.2.0/24 :127.0.0.2:Listed")),
    # own.test: host names for --policy without listen addresses (generic answers A only, not AAAA)
    ("own.test", "generic", (f"mx A {LISTED4}", f"clean A {CLEAN4}", "loop A 127.0.0.1")),
    # ten zones for the /24 benchmark: each lists a few addresses
    *((zone, "ip4set", (f"192.0.2.{n * 10 + 1} :127.0.0.2:bench listing $",)) for n, zone in enumerate(BENCH_ZONES)),
)


@dataclass(frozen=True)
class DnsblServer:
    address: str
    port: int
    work: Path

    @property
    def nameserver(self) -> str:
        """The ``--nameserver`` value that reaches this server."""
        return f"{self.address}:{self.port}"


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _answers(port: int, zone: str) -> bool:
    query = dns.message.make_query(f"{zone}.", "SOA")
    try:
        return dns.query.udp(query, "127.0.0.1", timeout=0.5, port=port).rcode() == dns.rcode.NOERROR
    except (dns.exception.Timeout, OSError):
        return False


def _write(work: Path, datasets: Sequence[Dataset]) -> list[str]:
    """The zone files (one per dataset, the zone's SOA in its first) and rbldnsd's zone arguments."""
    work.mkdir(parents=True, exist_ok=True)
    os.chmod(work, 0o755)  # rbldnsd chroots here and reads as its own user
    specs, first = [], set()
    for index, (zone, kind, lines) in enumerate(datasets):
        name = f"d{index}"
        head = [SOA.format(zone=zone)] if zone not in first and kind != "generic" else []
        first.add(zone)
        (work / name).write_text("\n".join([*head, *lines]) + "\n")
        os.chmod(work / name, 0o644)
        specs.append(f"{zone}:{kind}:{name}")
    return specs


@contextlib.contextmanager
def dnsbl_server(work: Path, datasets: Sequence[Dataset] = TEST_ZONES,
                 env: Mapping[str, str] | None = None) -> Iterator[DnsblServer]:
    """rbldnsd serving ``datasets`` until the block ends; a port taken in the meantime is retried."""
    rbldnsd = shutil.which("rbldnsd")
    if rbldnsd is None:
        raise FileNotFoundError("rbldnsd is not installed (scripts/bootstrap.sh --test installs it)")
    specs = _write(work, datasets)
    probe_zone = datasets[0][0]
    for _attempt in range(5):
        port = _free_udp_port()
        with (work / "rbldnsd.log").open("ab") as log:
            process = subprocess.Popen([rbldnsd, "-n", "-r", str(work), "-b", f"127.0.0.1/{port}", *specs],
                                       cwd=work, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env)
        try:
            deadline = time.monotonic() + 10
            while process.poll() is None and time.monotonic() < deadline and not _answers(port, probe_zone):
                time.sleep(0.05)
            if process.poll() is None and _answers(port, probe_zone):
                yield DnsblServer("127.0.0.1", port, work)
                return
        finally:
            stop(process, timeout=5)
    raise RuntimeError(f"rbldnsd did not start: {(work / 'rbldnsd.log').read_text()[-2000:]}")


@contextlib.contextmanager
def silent_nameserver() -> Iterator[str]:
    """An address:port where a UDP socket is bound but nothing ever answers (queries time out)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink:
        sink.bind(("127.0.0.1", 0))
        yield f"127.0.0.1:{sink.getsockname()[1]}"
