"""Benchmark the relay probe; prints figures, asserts nothing.

(b) fleet: N closed fake servers on distinct loopback addresses (127.0.1.1 … , one port), served by
    ``--servers`` separate processes (default 4) so the servers do not share the probe's CPU and event loop;
    their CPU seconds during each run are printed next to it, to show they are not what bounds the figure.
    ``mtaharden probe -i`` with the full matrix at concurrency 50, 200 and 500 (hosts/second and the probe's
    peak RSS), then nmap's smtp-open-relay on the same set if nmap is installed. ``--starttls`` makes every
    server offer STARTTLS (self-signed certificate), as a real MX does; ``--src DIR`` runs the mtaharden
    found in DIR instead (e.g. ``git archive HEAD mtaharden | tar -x -C DIR``: the figure before a change).
(a) real MTA: :func:`bench_real_mta` runs the full matrix against one HOST:PORT (e.g. a default-config
    Postfix started by the realmta harness) and nmap against the same, and returns the figures.

    python bench/probe.py                     # (b) with 1000 endpoints
    python bench/probe.py --hosts 200 --concurrency 1,50,200
    python bench/probe.py --hosts 300 --concurrency 50 --starttls [--src /tmp/before]
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
import os
import resource
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from child import MTAHARDEN, measure

from mtaharden.probe import CASES, Endpoint, ProbeOptions, SessionOptions, parse_endpoint, probe_fleet

NMAP = shutil.which("nmap")


async def _closed_server(addresses: list[str], port: int, ready: Any, stop: Any, tls: ssl.SSLContext | None) -> None:
    """A minimal Postfix-like closed server: 250 to everything but foreign RCPTs (554); with ``tls`` it offers
    STARTTLS until the session is encrypted."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        encrypted = False
        try:
            writer.write(b"220 mx.bench.test ESMTP\r\n")
            while line := await reader.readline():
                verb = line[:4].upper()
                if verb == b"EHLO":
                    offer = b"250-STARTTLS\r\n" if tls and not encrypted else b""
                    writer.write(b"250-mx.bench.test\r\n250-PIPELINING\r\n" + offer + b"250 8BITMIME\r\n")
                elif verb == b"STAR" and tls and not encrypted:
                    writer.write(b"220 2.0.0 Ready to start TLS\r\n")
                    await writer.drain()
                    await writer.start_tls(tls)
                    encrypted = True
                    continue
                elif verb == b"RCPT":
                    writer.write(b"554 5.7.1 Relay access denied\r\n")
                elif verb == b"QUIT":
                    writer.write(b"221 2.0.0 Bye\r\n")
                    break
                else:
                    writer.write(b"250 2.0.0 Ok\r\n")
                await writer.drain()
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    servers = [await asyncio.start_server(handle, address, port, backlog=512) for address in addresses]
    ready.set()
    while not stop.is_set():
        await asyncio.sleep(0.1)
    for server in servers:
        server.close()


def _serve(addresses: list[str], port: int, ready: Any, stop: Any, certificate: tuple[str, str] | None) -> None:
    tls = None
    if certificate:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(*certificate)
    asyncio.run(_closed_server(addresses, port, ready, stop, tls))


def _certificate(folder: Path) -> tuple[str, str]:
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                    "/CN=mx.bench.test", "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True,
                   timeout=60)
    return str(cert), str(key)


def _cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU seconds the processes have used so far (from /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


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


def bench_fleet(count: int, concurrencies: Sequence[int] = (50, 200, 500), *, starttls: bool = False,
                servers: int = 4, layouts: Sequence[str] = ("text", "json"), src: str | None = None) -> None:
    _raise_open_files()
    addresses = [f"127.0.{1 + i // 250}.{1 + i % 250}" for i in range(count)]
    port = _free_port("127.0.0.1")
    stop = multiprocessing.Event()
    with tempfile.TemporaryDirectory(prefix="mtaharden-bench-") as work:
        certificate = _certificate(Path(work)) if starttls else None
        started = []
        for share in range(servers):
            ready = multiprocessing.Event()
            process = multiprocessing.Process(target=_serve, daemon=True,
                                              args=(addresses[share::servers], port, ready, stop, certificate))
            process.start()
            started.append((process, ready))
        try:
            if not all(ready.wait(60) for _, ready in started):
                raise SystemExit("the fake servers did not start")
            pids = [process.pid for process, _ in started if process.pid is not None]
            offer = "offering STARTTLS" if starttls else "plain"
            print(f"(b) {count} closed fake endpoints ({offer}) on 127.0.x.y:{port} in {servers} server processes, "
                  f"{len(CASES)} cases each; wall time and peak RSS of the whole command, the servers' CPU seconds")
            command, env = [MTAHARDEN], None
            if src:
                command, env = [sys.executable, "-m", "mtaharden"], {**os.environ, "PYTHONPATH": src}
            hosts = Path(work) / "hosts.txt"
            hosts.write_text("".join(f"{address}:{port}\n" for address in addresses))
            for concurrency in concurrencies:
                for layout in layouts:
                    before = _cpu_seconds(pids)
                    run = measure([*command, "probe", "-i", str(hosts), "--concurrency", str(concurrency),
                                   "--timeout", "30", "--format", layout], ok=(0, 1, 2), env=env)
                    server_cpu = _cpu_seconds(pids) - before
                    outcome = dict(Counter(_statuses(run.stdout, layout))) if layout != "text" else ""
                    print(f"    mtaharden probe -i hosts.txt --concurrency {concurrency:>3} --format {layout:5}: "
                          f"{run.seconds:7.2f} s  {count / run.seconds:8.1f} hosts/s  {run.peak_mib:5.0f} MiB  "
                          f"servers {server_cpu:5.2f} CPU-s  {outcome}", flush=True)
            if NMAP:
                before = _cpu_seconds(pids)
                run = measure(_nmap_argv(addresses, port))
                server_cpu = _cpu_seconds(pids) - before
                closed = run.stdout.count("doesn't seem to be an open relay")
                print(f"    nmap -p {port} --script smtp-open-relay (16 forms): {run.seconds:7.2f} s  "
                      f"{count / run.seconds:8.1f} hosts/s  {run.peak_mib:5.0f} MiB  servers {server_cpu:5.2f} CPU-s  "
                      f"({closed}/{count} reported not open)")
            else:
                print("    nmap not installed: skipped")
        finally:
            stop.set()
            for process, _ in started:
                process.join(10)
                if process.is_alive():
                    process.terminate()
                    process.join(5)


def _statuses(stdout: str, layout: str) -> list[str]:
    """Each host's status from a JSON document or from JSON Lines."""
    if layout == "json":
        return [host["status"] for host in json.loads(stdout)["hosts"]]
    records = [json.loads(line) for line in stdout.splitlines() if line]
    return [record["status"] for record in records if record.get("record") == "host"]


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
    parser.add_argument("--starttls", action="store_true", help="for (b): the fake servers offer STARTTLS")
    parser.add_argument("--servers", type=int, default=4, help="for (b): fake server processes")
    parser.add_argument("--formats", default="text,json", help="for (b): probe output formats to measure")
    parser.add_argument("--src", metavar="DIR", help="for (b): run python -m mtaharden from DIR (a 'before' tree)")
    args = parser.parse_args()
    if args.lab:
        bench_lab_proof(args.rounds)
    elif args.postfix:
        bench_rendered_postfix(args.rounds)
    elif args.real:
        endpoint = parse_endpoint(args.real, 25)
        bench_real_mta(endpoint.host, endpoint.port, rounds=args.rounds, source_address=args.source_address)
    else:
        bench_fleet(args.hosts, [int(n) for n in args.concurrency.split(",")], starttls=args.starttls,
                    servers=args.servers, layouts=args.formats.split(","), src=args.src)


if __name__ == "__main__":
    main()
