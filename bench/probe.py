"""Benchmark the relay probe; prints figures, asserts nothing.

(b) fleet: N closed fake servers on distinct loopback addresses (127.0.1.1 … , one port), served by
    ``--servers`` separate processes (default 4, each a bare asyncio protocol) so the servers do not share the
    probe's CPU and event loop. ``mtaharden probe -i`` with the full matrix at each ``--concurrency`` and
    ``--formats``, then nmap's smtp-open-relay on the same set if nmap is installed, ``--rounds`` times each,
    interleaved. Per row: hosts/s min / median / max (whole command), the commands the servers answered per
    host, the command's CPU seconds (user + system: what a run costs, whatever else loads the machine) and
    CPU µs per command, its peak RSS, and the servers' CPU seconds (to show they are not what bounds it).
    ``--starttls`` makes every server offer STARTTLS (self-signed certificate), as a real MX does; ``--src DIR``
    adds the same probe rows run from DIR (e.g. ``git archive HEAD mtaharden | tar -x -C DIR``: before a change).
(a) real MTA: :func:`bench_real_mta` runs the full matrix against one HOST:PORT (e.g. a default-config
    Postfix started by the realmta harness) and nmap against the same, and returns the figures.

    python bench/probe.py                     # (b) with 1000 endpoints, concurrency 50 and 200, text and jsonl
    python bench/probe.py --hosts 1000 --concurrency 50,200 --formats text,jsonl --rounds 3 [--src /tmp/before]
    python bench/probe.py --hosts 1000 --concurrency 50 --workers 1,0 --formats jsonl   # one process vs auto
    python bench/probe.py --hosts 300 --concurrency 50 --starttls [--src /tmp/before]
    python bench/probe.py --real 127.0.0.1:2525 [--source-address 127.0.0.2]
    python bench/probe.py --postfix           # (a) against a Postfix rendered by mtaharden, started here:
                                              #     in-process, mtaharden probe's whole process, nmap's
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
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from child import MTAHARDEN, measure

from mtaharden.probe import CASES, Endpoint, ProbeOptions, SessionOptions, parse_endpoint, probe_fleet

NMAP = shutil.which("nmap")
NMAP_NOT_OPEN = "doesn't seem to be an open relay"
COUNTER_TICK = 0.05  # how often a fake server process publishes its command count


class _ClosedSmtp(asyncio.Protocol):
    """A minimal Postfix-like closed server: 250 to everything but foreign RCPTs (554); with ``tls`` it offers
    STARTTLS until the session is encrypted.

    Why a bare protocol and not asyncio streams: a stream server spends a coroutine step per line, and the
    bench must show that its servers are not what bounds the figure (their CPU seconds are printed)."""

    commands = 0  # command lines this server process has answered (published through _closed_server's counter)

    def __init__(self, tls: ssl.SSLContext | None) -> None:
        self.tls, self.encrypted, self.pending = tls, False, b""
        self.transport: asyncio.Transport | None = None
        self.upgrade: asyncio.Task[None] | None = None  # held: the loop keeps only a weak reference to a task

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self._write(b"220 mx.bench.test ESMTP\r\n")

    def _write(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        self.pending += data
        if self.upgrade is not None and not self.upgrade.done():
            return  # TLS data that arrives before start_tls has handed back the TLS transport waits for it
        while b"\n" in self.pending:
            line, _, self.pending = self.pending.partition(b"\n")
            _ClosedSmtp.commands += 1
            verb = line[:4].upper()
            if verb == b"EHLO":
                offer = b"250-STARTTLS\r\n" if self.tls and not self.encrypted else b""
                self._write(b"250-mx.bench.test\r\n250-PIPELINING\r\n" + offer + b"250 8BITMIME\r\n")
            elif verb == b"STAR" and self.tls and not self.encrypted:
                self._write(b"220 2.0.0 Ready to start TLS\r\n")
                self.upgrade = asyncio.ensure_future(self._start_tls(self.tls))
                return
            elif verb == b"RCPT":
                self._write(b"554 5.7.1 Relay access denied\r\n")
            elif verb == b"QUIT":
                self._write(b"221 2.0.0 Bye\r\n")
                assert self.transport is not None
                self.transport.close()
                return
            else:
                self._write(b"250 2.0.0 Ok\r\n")

    async def _start_tls(self, tls: ssl.SSLContext) -> None:
        plain = self.transport
        assert plain is not None
        try:
            upgraded = await asyncio.get_running_loop().start_tls(plain, self, tls, server_side=True)
        except (ConnectionError, ssl.SSLError):
            plain.close()
            return
        assert isinstance(upgraded, asyncio.Transport)
        self.transport = upgraded
        self.encrypted = True
        asyncio.get_running_loop().call_soon(self.data_received, b"")


async def _closed_server(addresses: list[str], port: int, ready: Any, stop: Any, tls: ssl.SSLContext | None,
                         counter: Any) -> None:
    loop = asyncio.get_running_loop()
    servers = [await loop.create_server(lambda: _ClosedSmtp(tls), address, port, backlog=512)
               for address in addresses]
    ready.set()
    while not stop.is_set():
        counter.value = _ClosedSmtp.commands
        await asyncio.sleep(COUNTER_TICK)
    for server in servers:
        server.close()


def _serve(addresses: list[str], port: int, ready: Any, stop: Any, certificate: tuple[str, str] | None,
           counter: Any) -> None:
    tls = None
    if certificate:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(*certificate)
    asyncio.run(_closed_server(addresses, port, ready, stop, tls, counter))


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


def _raise_open_files() -> None:
    """1000 listeners plus 500 sessions need more descriptors than a default soft limit of 1024."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


@dataclass
class _Row:
    """One command of the fleet bench and what each of its rounds measured."""

    label: str
    argv: list[str]
    env: dict[str, str] | None = None
    layout: str = ""  # the probe's --format ("" for nmap)
    runs: list[tuple[float, float, float, float]] = field(default_factory=list)  # wall, CPU, MiB, server CPU
    outcome: str = ""
    commands: float = 0.0  # command lines the servers answered per host (the last round)

    def line(self, count: int) -> str:
        rates = sorted(count / wall for wall, _, _, _ in self.runs)
        cpu = statistics.median(run[1] for run in self.runs)
        wall = statistics.median(run[0] for run in self.runs)
        servers = statistics.median(run[3] for run in self.runs)
        peak = max(run[2] for run in self.runs)
        per_command = cpu / (self.commands * count) * 1e6 if self.commands else 0.0
        return (f"    {self.label:56} {rates[0]:6.1f} / {statistics.median(rates):6.1f} / {rates[-1]:6.1f} hosts/s  "
                f"{self.commands:5.1f} commands/host  CPU {cpu:5.2f} s ({cpu / wall:4.0%} of wall, "
                f"{per_command:3.0f} µs/command)  {peak:4.0f} MiB  servers {servers:5.2f} CPU-s  {self.outcome}")


def bench_fleet(count: int, concurrencies: Sequence[int] = (50, 200), *, starttls: bool = False,
                servers: int = 4, layouts: Sequence[str] = ("text", "jsonl"), src: str | None = None,
                rounds: int = 3, workers: Sequence[str] = ("1",)) -> None:
    """(b): each command ``rounds`` times, interleaved (round by round), so that the machine's changing load
    hits every row alike; ``src``: the same probe commands run from that tree too, as the "before" rows;
    ``workers``: the probe's ``--workers`` values to measure ("-": leave the option out)."""
    _raise_open_files()
    addresses = [f"127.0.{1 + i // 250}.{1 + i % 250}" for i in range(count)]
    port = _free_port("127.0.0.1")
    stop = multiprocessing.Event()
    with tempfile.TemporaryDirectory(prefix="mtaharden-bench-") as work:
        certificate = _certificate(Path(work)) if starttls else None
        started, counters = [], [multiprocessing.Value("q", 0) for _ in range(servers)]
        for share in range(servers):
            ready = multiprocessing.Event()
            process = multiprocessing.Process(target=_serve, daemon=True, args=(addresses[share::servers], port,
                                                                                ready, stop, certificate,
                                                                                counters[share]))
            process.start()
            started.append((process, ready))
        try:
            if not all(ready.wait(60) for _, ready in started):
                raise SystemExit("the fake servers did not start")
            pids = [process.pid for process, _ in started if process.pid is not None]
            hosts = Path(work) / "hosts.txt"
            hosts.write_text("".join(f"{address}:{port}\n" for address in addresses))
            trees: list[tuple[str, list[str], dict[str, str] | None, Sequence[str]]] = [
                ("", [MTAHARDEN], None, workers)]
            if src:  # a tree before --workers existed: its one process only
                trees.append((" [before]", [sys.executable, "-m", "mtaharden"], {**os.environ, "PYTHONPATH": src},
                              ["-"]))
            rows = [_Row(f"probe --concurrency {concurrency}{'' if processes == '-' else f' --workers {processes}'} "
                         f"--format {layout}{name}",
                         [*command, "probe", "-i", str(hosts), "--concurrency", str(concurrency), "--timeout", "30",
                          "--format", layout, *(["--workers", processes] if processes != "-" else [])], env, layout)
                    for concurrency in concurrencies for layout in layouts
                    for name, command, env, counts in trees for processes in counts]
            if NMAP:
                rows.append(_Row("nmap --script smtp-open-relay (16 forms, one session)", _nmap_argv(addresses, port)))
            offer = "offering STARTTLS" if starttls else "plain"
            print(f"(b) {count} closed fake endpoints ({offer}) on 127.0.x.y:{port} in {servers} server processes, "
                  f"{len(CASES)} cases each; {rounds} rounds, interleaved: hosts/s min / median / max (whole "
                  "command), its CPU seconds (user + system) and peak RSS, the servers' CPU seconds", flush=True)
            for _ in range(rounds):
                for row in rows:
                    before, answered = _cpu_seconds(pids), sum(counter.value for counter in counters)
                    run = measure(row.argv, ok=(0, 1, 2), env=row.env)
                    time.sleep(3 * COUNTER_TICK)
                    row.commands = (sum(counter.value for counter in counters) - answered) / count
                    row.runs.append((run.seconds, run.cpu_seconds, run.peak_mib, _cpu_seconds(pids) - before))
                    row.outcome = _outcome(run.stdout, row.layout, count)
            for row in rows:
                print(row.line(count), flush=True)
            print(f"    load average {_load()} at the end", flush=True)
            if not NMAP:
                print("    nmap not installed: skipped")
        finally:
            stop.set()
            for process, _ in started:
                process.join(10)
                if process.is_alive():
                    process.terminate()
                    process.join(5)


def _outcome(stdout: str, layout: str, count: int) -> str:
    """What the run reported, to show every host was probed: status counts, or nmap's "not open" count."""
    if not layout:
        return f"({stdout.count(NMAP_NOT_OPEN)}/{count} reported not open)"
    if layout == "text":
        return ""
    return str(dict(Counter(_statuses(stdout, layout))))


def _statuses(stdout: str, layout: str) -> list[str]:
    """Each host's status from a JSON document or from JSON Lines."""
    if layout == "json":
        return [host["status"] for host in json.loads(stdout)["hosts"]]
    records = [json.loads(line) for line in stdout.splitlines() if line]
    return [record["status"] for record in records if record.get("record") == "host"]


def _load() -> str:
    """The machine's load averages (1, 5, 15 min), printed with each figure: the machine is shared."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def _spread(values: Sequence[float]) -> str:
    ordered = sorted(values)
    return f"{ordered[0]:.3f} / {statistics.median(ordered):.3f} / {ordered[-1]:.3f}"


def bench_real_mta(host: str, port: int, *, rounds: int = 3, source_address: str | None = None) -> dict[str, Any]:
    """(a) The full matrix against one real MTA, and nmap against the same endpoint, ``rounds`` times, interleaved.

    Three rows: the matrix in this process (what the probe itself costs); ``mtaharden probe HOST:PORT`` as a
    user runs it, a child process (start-up, matrix, checks, report); nmap's whole process. The ratio is whole
    process against whole process. Returns the figures and prints them."""
    endpoint = Endpoint(host, port)
    options = ProbeOptions(session=SessionOptions(source_address=source_address), deadline=300)
    figures: dict[str, Any] = {"endpoint": str(endpoint), "cases": len(CASES), "probe_seconds": [],
                               "command_seconds": [], "command_cpu": [], "nmap_seconds": [], "nmap_cpu": []}
    source = ["--source-address", source_address] if source_address else []
    command = [MTAHARDEN, "probe", f"{host}:{port}", *source, "--format", "json", "--timeout", "30"]
    nmap = _nmap_argv([host], port, source_address) if NMAP else None
    for _ in range(rounds):
        started = time.perf_counter()
        [result] = asyncio.run(probe_fleet([endpoint], options, concurrency=1))
        figures["probe_seconds"].append(time.perf_counter() - started)
        figures["status"], figures["counts"] = result.status.value, result.counts()
        run = measure(command, ok=(0, 1, 2))
        figures["command_seconds"].append(run.seconds)
        figures["command_cpu"].append(run.cpu_seconds)
        figures["command_status"] = json.loads(run.stdout)["hosts"][0]["status"]
        if nmap:
            run = measure(nmap)
            figures["nmap_seconds"].append(run.seconds)
            figures["nmap_cpu"].append(run.cpu_seconds)
            figures["nmap_says"] = "not open" if NMAP_NOT_OPEN in run.stdout else "open or no verdict"
    print(f"(a) {endpoint}: full matrix ({len(CASES)} cases), {rounds} rounds interleaved, min / median / max "
          f"(load {_load()} at the end)")
    print(f"    in-process matrix        {_spread(figures['probe_seconds'])} s; status {figures['status']}; "
          f"{figures['counts']}")
    print(f"    mtaharden probe (child)  {_spread(figures['command_seconds'])} s wall, "
          f"{statistics.median(figures['command_cpu']):.3f} CPU-s median; status {figures['command_status']}")
    if nmap:
        ratio = statistics.median(figures["nmap_seconds"]) / statistics.median(figures["command_seconds"])
        figures["ratio"] = ratio
        print(f"    nmap smtp-open-relay     {_spread(figures['nmap_seconds'])} s wall, "
              f"{statistics.median(figures['nmap_cpu']):.3f} CPU-s median; says {figures['nmap_says']}")
        print(f"    whole process against whole process (medians): mtaharden {ratio:.0f}x faster than nmap")
    else:
        print("    nmap not installed: no side-by-side")
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
    parser.add_argument("--concurrency", default="50,200", help="for (b): probe concurrencies to measure")
    parser.add_argument("--real", metavar="HOST:PORT", help="run (a) against a real MTA instead of (b)")
    parser.add_argument("--source-address", help="for (a): bind the probe to this address")
    parser.add_argument("--postfix", action="store_true", help="run (a) against a Postfix started here")
    parser.add_argument("--lab", action="store_true", help="run (c): proof cost on the stock lab hosts (root)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--starttls", action="store_true", help="for (b): the fake servers offer STARTTLS")
    parser.add_argument("--servers", type=int, default=4, help="for (b): fake server processes")
    parser.add_argument("--formats", default="text,jsonl", help="for (b): probe output formats to measure")
    parser.add_argument("--workers", default="1", help="for (b): probe --workers values (0 auto, - none)")
    parser.add_argument("--src", metavar="DIR",
                        help="for (b): also run python -m mtaharden from DIR (a 'before' tree), interleaved")
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
                    servers=args.servers, layouts=args.formats.split(","), src=args.src, rounds=args.rounds,
                    workers=args.workers.split(","))


if __name__ == "__main__":
    main()
