"""Benchmark the relay probe; prints figures, asserts nothing.

(b) fleet: N closed fake servers on distinct loopback addresses (127.0.1.1 … , one port), served by a
    separate process so the servers do not share the probe's CPU and event loop; ``mtaharden probe -i``
    with the full matrix at concurrency 50, 200 and 500 (hosts/second and the probe's peak RSS), then
    nmap's smtp-open-relay on the same set if nmap is installed.
(a) real MTA: :func:`bench_real_mta` runs the full matrix against one HOST:PORT (e.g. a default-config
    Postfix started by the realmta harness) and nmap against the same, and returns the figures.

    python bench/probe.py                     # (b) with 1000 endpoints
    python bench/probe.py --hosts 200 --concurrency 1,50,200
    python bench/probe.py --real 127.0.0.1:2525 [--source-address 127.0.0.2]
    python bench/probe.py --postfix           # (a) against a Postfix rendered by mtaharden, started here
    python bench/probe.py --lab               # (c) proof cost: each stock lab host, without and with --proof queue

(c) proof cost: on each stock-host lab kind (tests/lab), the probe from the stranger's address without a
    proof, with ``--proof queue`` (its tools reached through ``--queue-via``) and with the queue proof plus
    ``--policy`` (the verify role's run), seconds per host; then nmap's smtp-open-relay on the same host.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import multiprocessing
import resource
import shutil
import socket
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from child import MTAHARDEN, measure

from mtaharden.probe import CASES, Endpoint, ProbeOptions, SessionOptions, parse_endpoint, probe_fleet

NMAP = shutil.which("nmap")


async def _closed_server(addresses: list[str], port: int, ready: Any, stop: Any) -> None:
    """A minimal Postfix-like closed server: 250 to everything but foreign RCPTs (554)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            writer.write(b"220 mx.bench.test ESMTP\r\n")
            while line := await reader.readline():
                verb = line[:4].upper()
                if verb == b"EHLO":
                    writer.write(b"250-mx.bench.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n")
                elif verb == b"RCPT":
                    writer.write(b"554 5.7.1 Relay access denied\r\n")
                elif verb == b"QUIT":
                    writer.write(b"221 2.0.0 Bye\r\n")
                    break
                else:
                    writer.write(b"250 2.0.0 Ok\r\n")
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    servers = [await asyncio.start_server(handle, address, port, backlog=512) for address in addresses]
    ready.set()
    while not stop.is_set():
        await asyncio.sleep(0.1)
    for server in servers:
        server.close()


def _serve(addresses: list[str], port: int, ready: Any, stop: Any) -> None:
    asyncio.run(_closed_server(addresses, port, ready, stop))


def _free_port(address: str) -> int:
    with socket.socket() as sock:
        sock.bind((address, 0))
        return int(sock.getsockname()[1])


def _nmap_argv(addresses: list[str], port: int, source_address: str | None = None) -> list[str]:
    """nmap's smtp-open-relay over every address; with ``source_address`` it binds there too
    (``-S``; ``-e lo`` for a loopback source)."""
    assert NMAP is not None
    source = ["-S", source_address] if source_address else []
    if source_address and ipaddress.ip_address(source_address).is_loopback:
        source += ["-e", "lo"]
    return [NMAP, "-Pn", "-n", "-p", str(port), *source, "--script", "+smtp-open-relay", *addresses]


def _nmap(addresses: list[str], port: int, source_address: str | None = None) -> tuple[float, int]:
    """Wall time of one nmap run over every address, and how many hosts it reported as not open."""
    started = time.perf_counter()
    done = subprocess.run(_nmap_argv(addresses, port, source_address), capture_output=True, text=True,
                          timeout=1800, check=False)
    elapsed = time.perf_counter() - started
    return elapsed, done.stdout.count("doesn't seem to be an open relay")


def _raise_open_files() -> None:
    """1000 listeners plus 500 sessions need more descriptors than a default soft limit of 1024."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def bench_fleet(count: int, concurrencies: Sequence[int] = (50, 200, 500)) -> None:
    _raise_open_files()
    addresses = [f"127.0.{1 + i // 250}.{1 + i % 250}" for i in range(count)]
    port = _free_port("127.0.0.1")
    ready, stop = multiprocessing.Event(), multiprocessing.Event()
    server = multiprocessing.Process(target=_serve, args=(addresses, port, ready, stop), daemon=True)
    server.start()
    try:
        if not ready.wait(60):
            raise SystemExit("the fake servers did not start")
        print(f"(b) {count} closed fake endpoints on 127.0.x.y:{port}, {len(CASES)} cases each; "
              "wall time and peak RSS of the whole command")
        with tempfile.TemporaryDirectory(prefix="mtaharden-bench-") as work:
            hosts = Path(work) / "hosts.txt"
            hosts.write_text("".join(f"{address}:{port}\n" for address in addresses))
            for concurrency in concurrencies:
                for layout in ("text", "json"):  # the JSON report (about 20 KiB per host) is built in memory
                    run = measure([MTAHARDEN, "probe", "-i", str(hosts), "--concurrency", str(concurrency),
                                   "--timeout", "30", "--format", layout], ok=(0, 1, 2))
                    outcome = (dict(Counter(host["status"] for host in json.loads(run.stdout)["hosts"]))
                               if layout == "json" else "")
                    rate = count / run.seconds
                    print(f"    mtaharden probe -i hosts.txt --concurrency {concurrency:>3} --format {layout:4}: "
                          f"{run.seconds:7.2f} s  {rate:8.1f} hosts/s  {run.peak_mib:5.0f} MiB  {outcome}", flush=True)
        if NMAP:
            run = measure(_nmap_argv(addresses, port))
            closed = run.stdout.count("doesn't seem to be an open relay")
            print(f"    nmap -p {port} --script smtp-open-relay (16 forms): {run.seconds:7.2f} s  "
                  f"{count / run.seconds:8.1f} hosts/s  {run.peak_mib:5.0f} MiB  ({closed}/{count} reported not open)")
        else:
            print("    nmap not installed: skipped")
    finally:
        stop.set()
        server.join(10)
        if server.is_alive():
            server.terminate()
            server.join(5)


def bench_real_mta(host: str, port: int, *, rounds: int = 3, source_address: str | None = None) -> dict[str, Any]:
    """(a) The full matrix against one real MTA, ``rounds`` times, and nmap against the same endpoint.

    Returns the figures (seconds per full matrix, verdict counts, nmap seconds) and prints them."""
    endpoint = Endpoint(host, port)
    options = ProbeOptions(session=SessionOptions(source_address=source_address), deadline=300)
    figures: dict[str, Any] = {"endpoint": str(endpoint), "cases": len(CASES), "probe_seconds": []}
    for _ in range(rounds):
        started = time.perf_counter()
        [result] = asyncio.run(probe_fleet([endpoint], options, concurrency=1))
        figures["probe_seconds"].append(round(time.perf_counter() - started, 3))
        figures["status"], figures["counts"] = result.status.value, result.counts()
    print(f"(a) {endpoint}: full matrix ({len(CASES)} cases) in {figures['probe_seconds']} s; "
          f"status {figures['status']}; {figures['counts']}")
    if NMAP:
        nmap_seconds = []
        for _ in range(rounds):
            elapsed, _closed = _nmap([host], port, source_address)
            nmap_seconds.append(round(elapsed, 3))
        figures["nmap_seconds"] = nmap_seconds
        print(f"    nmap smtp-open-relay (16 tests) in {nmap_seconds} s")
    return figures


def bench_rendered_postfix(rounds: int) -> dict[str, Any]:
    """(a) against a real Postfix rendered from a minimal policy (error sleep left at its 1 s default),
    probed from the untrusted 127.0.0.2; the instance is started and stopped here (needs root)."""
    import json
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.conftest import render_policy
    from tests.realmta.harness import Postfix, daemon_dir

    with daemon_dir("bench") as base:
        port = _free_port("127.0.0.1")
        policy = {"hostname": "mx.bench.test", "domains": {"local": ["bench.test"]},
                  "networks": {"trusted": ["127.0.0.1/32"]},
                  "targets": {"postfix": {"config_dir": str(base / "etc"), "smtp_port": port, "chroot": False,
                                          "inet_interfaces": ["127.0.0.1"], "inet_protocols": "ipv4"}}}
        plan, rendered = render_policy(json.loads(json.dumps(policy)), base / "r")
        postfix = Postfix.install(rendered, base / "etc", port, [step.argv for step in plan.steps])
        with postfix.running():
            return bench_real_mta("127.0.0.1", port, rounds=rounds, source_address="127.0.0.2")


def bench_lab_proof(rounds: int) -> dict[str, Any]:
    """(c) Seconds per host of the probe without proof and with the queue proof, on each stock lab kind."""
    import shlex
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.lab.conftest import deployed
    from tests.lab.kind import registered_kinds
    from tests.lab.network import UNTRUSTED

    figures: dict[str, Any] = {}
    for name, kind in sorted(registered_kinds().items()):
        with tempfile.TemporaryDirectory() as work, deployed(kind, Path(work)) as stock:
            base = [sys.executable, "-m", "mtaharden", "probe", stock.host.address, "--source-address", UNTRUSTED,
                    "--external-domain", "relaytest.invalid", "--format", "json", "--timeout", "10"]
            proof = ["--proof", "queue", "--mta", kind.target, "--confirm-wait", "20",
                     "--queue-via", shlex.join(stock.host.command([]))]
            verify = [*proof, "--policy", str(stock.policy_file)]  # what the verify role runs
            for mode, argv in (("none", base), ("queue", [*base, *proof]), ("queue+policy", [*base, *verify])):
                seconds = []
                for _ in range(rounds):
                    started = time.perf_counter()
                    result = stock.net.client(argv, check=False, timeout=300)
                    seconds.append(round(time.perf_counter() - started, 2))
                host = json.loads(result.stdout)["hosts"][0]
                figures[f"{name}/{mode}"] = {"seconds": seconds, "status": host["status"], "counts": host["counts"]}
                print(f"(c) {name:9} {mode:12}: {seconds} s; status {host['status']}; "
                      f"{ {k: v for k, v in host['counts'].items() if v} }", flush=True)
            if NMAP:  # the same host, from the same stranger's address, in the same run
                argv = [*_nmap_argv([stock.host.address], 25, UNTRUSTED), "-e", "br0"]
                seconds, said = [], ""
                for _ in range(rounds):
                    started = time.perf_counter()
                    done = stock.net.client(argv, check=False, timeout=600)
                    seconds.append(round(time.perf_counter() - started, 2))
                    said = ("open relay" if "Server is an open relay" in done.stdout else "not open"
                            if "doesn't seem to be an open relay" in done.stdout else "no verdict")
                figures[f"{name}/nmap"] = {"seconds": seconds, "verdict": said}
                print(f"(c) {name:9} {'nmap':12}: {seconds} s; smtp-open-relay says {said}", flush=True)
    if not NMAP:
        print("(c) nmap not installed: no side-by-side")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=1000, help="number of fake endpoints for (b)")
    parser.add_argument("--concurrency", default="50,200,500", help="for (b): probe concurrencies to measure")
    parser.add_argument("--real", metavar="HOST:PORT", help="run (a) against a real MTA instead of (b)")
    parser.add_argument("--source-address", help="for (a): bind the probe to this address")
    parser.add_argument("--postfix", action="store_true", help="run (a) against a Postfix started here")
    parser.add_argument("--lab", action="store_true", help="run (c): proof cost on the stock lab hosts (root)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if args.lab:
        bench_lab_proof(args.rounds)
    elif args.postfix:
        bench_rendered_postfix(args.rounds)
    elif args.real:
        endpoint = parse_endpoint(args.real, 25)
        bench_real_mta(endpoint.host, endpoint.port, rounds=args.rounds, source_address=args.source_address)
    else:
        bench_fleet(args.hosts, [int(n) for n in args.concurrency.split(",")])


if __name__ == "__main__":
    main()
