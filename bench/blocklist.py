"""``mtaharden blocklist`` on a /24 against ten zones (2,560 lookups), against what a user would otherwise run.

Everything asks the same rbldnsd (tests/dnsbl_server.py, the ten ``z*.bench.test`` zones) on loopback, in turn,
``--rounds`` times (min / median / max wall seconds), and each row says how many listings it found (10):

- ``mtaharden blocklist --no-catalogue --zone … 192.0.2.0/24 --format json``, whole process, at each
  ``--concurrency`` value;
- the lookup engine in-process (lookup.py: dnspython's blocking resolver in a thread pool) against dnspython's
  asyncio resolver with as many queries in flight;
- ``dig -f`` (one process, one query after another) and a shell loop of ``host`` (one process per query, 256
  names; the ten-zone figure is projected, and says so);
- ``rblcheck`` (Debian's package) over the 256 addresses and ten zones: it reads only /etc/resolv.conf, so it
  runs in a network and mount namespace of its own (``unshare``) with rbldnsd on 127.0.0.1:53 there (root).

On loopback rbldnsd answers in microseconds, which no real list does: ``--rtt MS`` puts a relay that delays
every datagram (bench/dns_delay.py; this kernel has no netem) in front of rbldnsd for every tool, and the
sequential tools then run one zone (256 lookups) with the ten-zone figure projected.

    python bench/blocklist.py [--rounds 3] [--concurrency 50,200] [--rtt 20]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import ipaddress
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import dns.asyncresolver  # noqa: E402
import dns.resolver  # noqa: E402

from mtaharden.blocklist.lookup import lookup, nameserver_option  # noqa: E402
from mtaharden.blocklist.reverse import query_name  # noqa: E402
from tests.dnsbl_server import BENCH_ZONES, TEST_ZONES, dnsbl_server  # noqa: E402

MTAHARDEN = str(Path(sys.executable).with_name("mtaharden"))
NETWORK = ipaddress.ip_network("192.0.2.0/24")
NAMES = [query_name(a, zone) for a in NETWORK for zone in BENCH_ZONES]


def _timed(run: Callable[[], int], rounds: int) -> tuple[list[float], int]:
    seconds, found = [], 0
    for _ in range(rounds):
        started = time.perf_counter()
        found = run()
        seconds.append(time.perf_counter() - started)
    return seconds, found


def _row(what: str, seconds: list[float], found: int, lookups: int = len(NAMES), note: str = "") -> None:
    low, mid, high = min(seconds), statistics.median(seconds), max(seconds)
    print(f"{what:<58} {low:7.2f} {mid:7.2f} {high:7.2f} s  {lookups / mid:7.0f} lookups/s  {found:3d} listed"
          + (f"  {note}" if note else ""))


def _command(nameserver: str, concurrency: int) -> int:
    zones = [arg for zone in BENCH_ZONES for arg in ("--zone", zone)]
    result = subprocess.run([MTAHARDEN, "blocklist", "--no-catalogue", *zones, str(NETWORK), "--format", "json",
                             "--concurrency", str(concurrency), "--nameserver", nameserver],
                            capture_output=True, text=True, check=False)
    return result.stdout.count('"status": "listed"')


def _threads(nameserver: str, threads: int) -> int:
    """The command's engine: dnspython's blocking resolver in a pool of threads."""
    replies = lookup(NAMES, nameserver_option(nameserver), threads)
    return sum(r.outcome == "records" for r in replies.values())


def _async(address: str, port: int, concurrency: int) -> int:
    """The alternative measured against it: dnspython's asyncio resolver, ``concurrency`` queries in flight."""
    resolver = dns.asyncresolver.Resolver(configure=False)
    resolver.nameservers, resolver.port, resolver.cache, resolver.lifetime = [address], port, None, 3.0
    pending = iter(NAMES)

    async def worker() -> int:
        found = 0
        for name in pending:
            try:
                await resolver.resolve(name, "A", search=False)
            except dns.resolver.NXDOMAIN:
                continue
            await resolver.resolve(name, "TXT", search=False)
            found += 1
        return found

    async def run() -> int:
        return sum(await asyncio.gather(*(worker() for _ in range(concurrency))))

    return asyncio.run(run())


def _dig(port: int, batch: Path) -> int:
    result = subprocess.run(["dig", "-p", str(port), "@127.0.0.1", "+short", "+tries=1", "+time=3", "-f", str(batch)],
                            capture_output=True, text=True, check=False)
    return result.stdout.count("127.0.0.2")


def _host_loop(port: int, names: list[str]) -> int:
    script = 'for n in "$@"; do host -W 3 -p PORT "$n" 127.0.0.1; done'.replace("PORT", str(port))
    result = subprocess.run(["sh", "-c", script, "sh", *names], capture_output=True, text=True, check=False)
    return result.stdout.count("has address 127.0.0.2")


def _rblcheck(work: Path, zones: int, rtt: float) -> tuple[list[float], int] | None:
    """rblcheck over the /24 and the first ``zones`` zones in namespaces of its own, where 127.0.0.1:53 is
    rbldnsd (or, with ``rtt``, the delaying relay in front of it); None when that cannot be done."""
    if os.geteuid() != 0 or not all(shutil.which(t) for t in ("rblcheck", "unshare", "rbldnsd")):
        return None
    chosen = [d for d in TEST_ZONES if d[0] in BENCH_ZONES][:zones]
    for index, (zone, _, lines) in enumerate(chosen):
        (work / f"b{index}").write_text(f"$SOA 60 ns.{zone}. h.{zone}. 1 3600 600 86400 60\n" + "\n".join(lines) + "\n")
    os.chmod(work, 0o755)
    (work / "resolv.conf").write_text("nameserver 127.0.0.1\n")
    (work / "addresses").write_text("\n".join(str(a) for a in NETWORK) + "\n")
    specs = " ".join(f"{zone}:ip4set:b{i}" for i, (zone, _, _) in enumerate(chosen))
    services = " ".join(f"-s {zone}" for zone, _, _ in chosen)
    port = 5300 if rtt else 53
    relay = (f"{sys.executable} {Path(__file__).with_name('dns_delay.py')} 53 {port} {rtt} > {work}/relay & "
             f"r=$! && sleep 1 && " if rtt else "r= && ")
    script = (f"ip link set lo up && mount --bind {work}/resolv.conf /etc/resolv.conf && "
              f"rbldnsd -r {work} -b 127.0.0.1/{port} -p {work}/pid {specs} && {relay}sleep 0.3 && "
              f"s=$(date +%s.%N) && rblcheck -q -c {services} - < {work}/addresses > {work}/out; "
              f"e=$(date +%s.%N); kill $(cat {work}/pid) $r; echo \"$s $e\"")
    result = subprocess.run(["unshare", "--net", "--mount", "sh", "-c", script], capture_output=True, text=True,
                            check=False)
    if result.returncode != 0:
        print(f"rblcheck: not measured: {result.stderr.strip()[-300:]}")
        return None
    start, end = (float(x) for x in result.stdout.split()[-2:])
    return [end - start], len((work / "out").read_text().split())


@contextlib.contextmanager
def _relay(upstream: int, rtt: float) -> Iterator[int]:
    """The delaying relay (bench/dns_delay.py) in front of ``upstream``, on a free port, while the block runs."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    process = subprocess.Popen([sys.executable, str(Path(__file__).with_name("dns_delay.py")), str(port),
                                str(upstream), str(rtt)], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "ready"
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", default="50,200", help="comma-separated values")
    parser.add_argument("--rtt", type=float, default=0.0,
                        help="milliseconds of round trip added by a relay (bench/dns_delay.py); the sequential "
                             "tools then run one zone (256 lookups) and the ten-zone figure is projected")
    options = parser.parse_args()
    levels = [int(x) for x in options.concurrency.split(",")]
    with contextlib.ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        server = stack.enter_context(dnsbl_server(folder / "zones"))
        port = stack.enter_context(_relay(server.port, options.rtt)) if options.rtt else server.port
        nameserver = f"127.0.0.1:{port}"
        print(f"{len(NAMES)} lookups: {NETWORK} x {len(BENCH_ZONES)} zones, rbldnsd at {server.nameserver}"
              + (f" behind a {options.rtt:g} ms round-trip relay at {nameserver}" if options.rtt else "")
              + f", {options.rounds} rounds; min / median / max")
        zones = 1 if options.rtt else len(BENCH_ZONES)
        sample = [n for n in NAMES if any(n.endswith(f".{z}.") for z in BENCH_ZONES[:zones])]
        batch = folder / "batch"
        batch.write_text("\n".join(f"{n} A" for n in sample) + "\n")
        for level in levels:
            _row(f"mtaharden blocklist (whole process), concurrency {level}",
                 *_timed(functools.partial(_command, nameserver, level), options.rounds))
        for level in levels:
            _row(f"in-process: lookup.py (dnspython blocking), {level} threads",
                 *_timed(functools.partial(_threads, nameserver, level), options.rounds))
            _row(f"in-process: dnspython asyncio, concurrency {level}",
                 *_timed(functools.partial(_async, "127.0.0.1", port, level), options.rounds))
        sequential: list[tuple[str, Callable[[], int], int]] = [
            (f"dig -f, {len(sample)} names (one process, sequential, A only)", lambda: _dig(port, batch),
             options.rounds),
            ("shell loop of host (one process per lookup), 256 lookups", lambda: _host_loop(port, sample[:256]), 1)]
        for what, run, rounds in sequential:
            seconds, found = _timed(run, rounds)
            lookups = min(len(sample), 256) if "host" in what else len(sample)
            scale = len(NAMES) / lookups
            _row(what, seconds, found, lookups,
                 f"ten zones projected: {statistics.median(seconds) * scale:.1f} s" if scale > 1 else "")
        work = folder / "rblcheck"
        work.mkdir()
        measured = _rblcheck(work, zones, options.rtt)
        if measured is not None:
            _row(f"rblcheck -c -s ZONE x{zones} - < 256 addresses (sequential)", *measured, lookups=256 * zones,
                 note=f"ten zones projected: {measured[0][0] * len(BENCH_ZONES) / zones:.1f} s" if zones < 10 else "")


if __name__ == "__main__":
    main()
