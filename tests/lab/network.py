"""LabNet: the client namespace, the lab network, its DNS (dnsmasq + rbldnsd) and the sink.

Why one client namespace holds everything that is not a host: the client addresses, the DNS server
and the sink share the bridge, so a host sees clients, resolver and "the Internet" on one /24 that
exists only inside namespaces this module creates. dnsmasq answers every name with SINK (so any relayed
mail reaches the sink) except the lab DNSBL zone, which it forwards to rbldnsd, and the lab's own names
(hosts and client addresses, forward and reverse), which it reads from a hosts file.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from tests.lab import sink
from tests.lab.host import LabHost, listening, work_parent
from tests.lab.kind import HostKind
from tests.lab.roots import LabUnavailable, stock_root, unavailable
from tests.processes import stop

REPO = Path(__file__).resolve().parents[2]
PREFIX, PREFIX6 = "192.0.2.", "2001:db8:25::"
TRUSTED, UNTRUSTED, BLOCKED, LISTED_OUTSIDE, REJECTED, EXEMPT, SINK = (
    f"{PREFIX}{n}" for n in (10, 20, 30, 31, 40, 41, 53))
CLIENTS = {TRUSTED: "trusted.client.test", UNTRUSTED: "untrusted.client.test", BLOCKED: "blocked.client.test",
           LISTED_OUTSIDE: "listed.client.test", REJECTED: "rejected.client.test", EXEMPT: "exempt.client.test"}
FIRST_HOST = 25
DNSBL_ZONE = "bl.lab.test"
# The hosts' own zone is answered from the lab's names only (else NXDOMAIN), as on the Internet, so a
# resolver's search-domain retry (x.bl.lab.test.example.test) does not turn an unlisted address into a hit.
OWN_ZONE, RELAY_DOMAIN, MAIL_HOST = "example.test", "relay.example.test", "mx.example.test"  # MX of OWN_ZONE
# rbldnsd ip4set lines: BLOCKED answers 127.0.0.2 (inside a 127.0.0.2 filter), LISTED_OUTSIDE 127.0.0.9.
DNSBL_LISTINGS = {BLOCKED: "127.0.0.2", LISTED_OUTSIDE: "127.0.0.9"}
# Foreign address literals the relay matrix aims at (cases.py): on the bridge too, so a relay to them
# reaches the sink (which listens on every address of the client namespace).
FOREIGN_LITERALS = (f"{PREFIX}1", "2001:db8::1")
# With LabNet(canary_domain=…): that domain resolves here, in the client namespace, where the sink then does
# not listen, so a probe's own canary (--confirm --canary CANARY:25) receives what a host relays to it.
CANARY = f"{PREFIX}54"
RBLDNSD_PORT = 5353
WAIT_SECONDS = 20.0
_counter = itertools.count(1)


def unique(prefix: str) -> str:
    """A name no other run uses at the same time: prefix + pid + counter."""
    return f"{prefix}{os.getpid()}x{next(_counter)}"


def _txt_record(record: tuple[str, str]) -> str:
    """dnsmasq's --txt-record: the strings of one TXT record are comma-separated, each at most 255 bytes."""
    name, text = record
    if "," in text or "\\" in text:
        raise ValueError(f"a lab TXT record cannot hold a comma or backslash: {text!r}")
    return f"--txt-record={name}," + ",".join(text[i:i + 255] for i in range(0, len(text), 255))


def ip(netns: str, *args: str) -> None:
    result = subprocess.run(["ip", "-n", netns, *args], capture_output=True, text=True, timeout=30, check=False)
    if result.returncode != 0:
        raise LabUnavailable(f"ip -n {netns} {' '.join(args)}: {result.stderr.strip()}")


def started(start: Callable[[], None], close: Callable[[], None]) -> None:
    """``start`` a lab service (a context manager's ``__enter__``); on any failure ``close`` what it started,
    then skip (or, in CI, fail) when the lab cannot run here, or raise."""
    try:
        start()
    except LabUnavailable as exc:
        close()
        unavailable(str(exc))
    except BaseException:
        close()
        raise


class LabNet:
    """The lab network; use as a context manager, then ``host(kind)`` for each stock host on it."""

    def __init__(self, *, ptr: bool = True, canary_domain: str | None = None,
                 txt: Mapping[str, str] | None = None, reserved: Sequence[str] = (),
                 resolver: str | None = None) -> None:
        """``ptr``: give the client addresses forward and reverse names (off: they resolve to nothing).
        ``canary_domain``: a foreign domain whose address is CANARY instead of the sink's.
        ``txt``: TXT records to serve (name -> text, e.g. SPF, DMARC, DKIM keys; split into 255-byte strings).
        ``reserved``: more addresses on the bridge where the sink does not listen (a test serves them, e.g. dane.py).
        ``resolver``: the nameserver of the hosts' /etc/resolv.conf instead of SINK's dnsmasq (a validating
        resolver, e.g. dane.py's unbound; written with ``options trust-ad`` so glibc keeps its AD bit)."""
        self.canary_domain = canary_domain
        self.txt = dict(txt or {})
        self.reserved = tuple(reserved)
        self.resolver = resolver
        self.netns = unique("mtalab-c")
        self.work = Path(tempfile.mkdtemp(prefix="net-", dir=work_parent()))
        os.chmod(self.work, 0o755)
        self.sink_dir = self.work / "sink"
        self.hosts_file = self.work / "hosts"
        self.namespaces: list[str] = []
        self.processes: list[subprocess.Popen[bytes]] = []
        self.next_host = FIRST_HOST
        self.names: dict[str, str] = dict(CLIENTS) if ptr else {}
        self.names[SINK] = RELAY_DOMAIN  # the relay domain's next hop is "the Internet" too

    def __enter__(self) -> LabNet:
        started(self.start, self.close)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        for tool in ("dnsmasq", "rbldnsd"):
            if shutil.which(tool) is None:
                raise LabUnavailable(f"the lab needs {tool} (scripts/bootstrap.sh --test installs it)")
        self._add_netns(self.netns)
        ip(self.netns, "link", "add", "br0", "type", "bridge")
        ip(self.netns, "link", "set", "br0", "up")
        for address in [*CLIENTS, SINK]:
            last = address.rsplit(".", 1)[1]
            ip(self.netns, "address", "add", f"{address}/24", "dev", "br0")
            ip(self.netns, "address", "add", f"{PREFIX6}{last}/64", "dev", "br0", "nodad")
        ip(self.netns, "address", "add", f"{FOREIGN_LITERALS[0]}/24", "dev", "br0")
        ip(self.netns, "address", "add", f"{FOREIGN_LITERALS[1]}/128", "dev", "br0", "nodad")
        if self.canary_domain:
            ip(self.netns, "address", "add", f"{CANARY}/24", "dev", "br0")
        for address in self.reserved:
            ip(self.netns, "address", "add", f"{address}/24", "dev", "br0")
        self._write_hosts()
        self._start_rbldnsd()
        self._start_dnsmasq()
        self._start_sink()

    def _add_netns(self, name: str) -> None:
        result = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True, timeout=30, check=False)
        if result.returncode != 0:
            raise LabUnavailable(f"ip netns add {name}: {result.stderr.strip()}")
        self.namespaces.append(name)
        ip(name, "link", "set", "lo", "up")

    def _spawn(self, argv: Sequence[str], log: str) -> subprocess.Popen[bytes]:
        with (self.work / log).open("wb") as output:
            process = subprocess.Popen(["ip", "netns", "exec", self.netns, *argv], stdin=subprocess.DEVNULL,
                                       stdout=output, stderr=subprocess.STDOUT, cwd=REPO)
        self.processes.append(process)
        return process

    def _start_rbldnsd(self) -> None:
        zone = self.work / "dnsbl"
        zone.mkdir()
        lines = [f"$SOA 60 ns.{DNSBL_ZONE}. hostmaster.{DNSBL_ZONE}. 1 3600 600 86400 60", f"$NS 60 ns.{DNSBL_ZONE}.",
                 *(f"{address} :{answer}:Listed in the lab DNSBL: $" for address, answer in DNSBL_LISTINGS.items())]
        (zone / "zone").write_text("\n".join(lines) + "\n")
        os.chmod(zone, 0o755)
        self._spawn(["rbldnsd", "-n", "-r", str(zone), "-b", f"127.0.0.1/{RBLDNSD_PORT}",
                     f"{DNSBL_ZONE}:ip4set:zone"], "rbldnsd.log")

    def _start_dnsmasq(self) -> None:
        self._spawn(["dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
                     "--no-poll", "--user=nobody", "--group=nogroup", f"--pid-file={self.work}/dnsmasq.pid",
                     f"--listen-address={SINK}", "--bind-interfaces", f"--addn-hosts={self.hosts_file}",
                     f"--address=/#/{SINK}", "--local=/#/", f"--local=/{OWN_ZONE}/",
                     *([f"--address=/{self.canary_domain}/{CANARY}"] if self.canary_domain else []),
                     f"--mx-host={OWN_ZONE},{MAIL_HOST},10", *map(_txt_record, self.txt.items()),
                     f"--server=/{DNSBL_ZONE}/127.0.0.1#{RBLDNSD_PORT}",
                     "--log-queries", "--log-facility=-"], "dnsmasq.log")
        self._wait_for_dns()

    def _wait_for_dns(self) -> None:
        deadline = time.monotonic() + WAIT_SECONDS
        query = ["dig", "+short", "+time=1", "+tries=1", f"@{SINK}", f"30.2.0.192.{DNSBL_ZONE}", "A"]
        while time.monotonic() < deadline:
            if self.client(query, check=False, timeout=5).stdout.strip():
                return
            time.sleep(0.1)
        raise LabUnavailable(f"the lab DNS did not answer:\n{self.logs()}")

    def _start_sink(self) -> None:
        addresses = ["0.0.0.0", "::"]
        if self.canary_domain or self.reserved:  # all but CANARY and reserved (a wildcard would hold their port 25)
            addresses = ["127.0.0.1", *CLIENTS, SINK, FOREIGN_LITERALS[0], "::1", FOREIGN_LITERALS[1],
                         *(f"{PREFIX6}{a.rsplit('.', 1)[1]}" for a in [*CLIENTS, SINK])]
        process = self._spawn([sys.executable, "-m", "tests.lab.sink", "--dir", str(self.sink_dir),
                               *(arg for address in addresses for arg in ("--address", address))], "sink.log")
        deadline = time.monotonic() + WAIT_SECONDS
        while 25 not in listening(process.pid):
            if time.monotonic() > deadline or process.poll() is not None:
                raise LabUnavailable(f"the lab sink did not start:\n{self.logs()}")
            time.sleep(0.1)

    def _write_hosts(self) -> None:
        """The lab's own names for dnsmasq (forward and reverse); SIGHUP makes it reread them."""
        partial = self.hosts_file.with_suffix(".tmp")
        partial.write_text("".join(f"{address} {name}\n" for address, name in self.names.items()))
        os.chmod(partial, 0o644)
        partial.rename(self.hosts_file)
        pid_file = self.work / "dnsmasq.pid"
        if pid_file.exists():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid_file.read_text().strip()), signal.SIGHUP)

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in self.work.glob("*.log"))

    @contextlib.contextmanager
    def host(self, kind: HostKind, fqdn: str = MAIL_HOST) -> Iterator[LabHost]:
        """A stock host of ``kind`` on the lab network (its root built or taken from the cache)."""
        try:
            root = stock_root(kind)
        except LabUnavailable as exc:
            unavailable(str(exc))
        number = self.next_host
        self.next_host += 1
        address, address6 = f"{PREFIX}{number}", f"{PREFIX6}{number}"
        netns = unique("mtalab-h")
        self._add_netns(netns)
        veth = f"vh{number}"
        ip(self.netns, "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", netns)
        ip(self.netns, "link", "set", veth, "master", "br0", "up")
        ip(netns, "address", "add", f"{address}/24", "dev", "eth0")
        ip(netns, "address", "add", f"{address6}/64", "dev", "eth0", "nodad")
        ip(netns, "link", "set", "eth0", "up")
        ip(netns, "route", "add", "default", "via", SINK)
        ip(netns, "-6", "route", "add", "default", "via", f"{PREFIX6}53")
        short = fqdn.split(".", 1)[0]
        with LabHost(root, unique(f"{kind.name}-"), fqdn, netns, address, address6) as host:
            host.put("/etc/hosts", (f"127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
                                    f"{address}\t{fqdn} {short}\n{address6}\t{fqdn} {short}\n").encode())
            resolv = (f"nameserver {SINK}\noptions timeout:2 attempts:2\n" if self.resolver is None
                      else f"nameserver {self.resolver}\noptions timeout:2 attempts:2 trust-ad\n")
            host.put("/etc/resolv.conf", resolv.encode())
            host.put("/etc/mailname", f"{fqdn}\n".encode())
            self.names[address] = fqdn
            self._write_hosts()
            try:
                yield host
            finally:
                del self.names[address]

    def client(self, argv: Sequence[str], *, check: bool = True, timeout: float = 60,
               input_text: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run a command in the client namespace (from the repository, so ``-m tests.…`` works)."""
        result = subprocess.run(["ip", "netns", "exec", self.netns, *argv], capture_output=True, text=True,
                                timeout=timeout, input=input_text, check=False, cwd=REPO)
        if check and result.returncode != 0:
            raise AssertionError(f"client: {' '.join(argv)} exited {result.returncode}:\n{result.stdout}\n"
                                 f"{result.stderr}")
        return result

    def sink_messages(self) -> list[dict[str, Any]]:
        """Every message that reached the sink so far."""
        return sink.messages(self.sink_dir) if self.sink_dir.exists() else []

    def close(self) -> None:
        """Stop every process this net started, delete its namespaces and its folder."""
        for process in reversed(self.processes):
            stop(process)
        self.processes.clear()
        for name in reversed(self.namespaces):
            subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=30, check=False)
        self.namespaces.clear()
        shutil.rmtree(self.work, ignore_errors=True)
