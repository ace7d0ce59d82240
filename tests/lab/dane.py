"""A DANE lab: DNSSEC-signed foreign mail domains, a validating resolver and a STARTTLS sink, on a LabNet.

``with LabNet(reserved=DANE_ADDRESSES, resolver=RESOLVER) as net, DaneLab(net) as dane:`` then hosts on ``net``.

- ``nsd`` on NSD_ADDRESS serves two zones signed with Debian's ldnsutils (``ldns-keygen``, ``ldns-signzone``):
  the lab's own root ``.`` (delegating ``dane.example`` with its DS) and ``dane.example``, where the mail domain
  MATCHING (MX ``mx.dane.example``) publishes ``_25._tcp`` TLSA 3 1 1 of the test's certificate and MISMATCHING
  (MX ``mx.bad.dane.example``) a TLSA that no served key matches; both MX hosts are MX_ADDRESS.
- ``unbound`` on RESOLVER validates from the lab root's trust anchor. Why a lab root and not only an anchor
  for ``dane.example``: Postfix's ``dnssec_probe`` (``ns:.``), which the dane plan's check step runs, needs a
  validated answer for the root. The lab's own names (``test.``, reverse zones) are forwarded to SINK's
  dnsmasq as ``domain-insecure``; any other name is NXDOMAIN in the lab root.
- The TLS sink (``tests.lab.sink --tls-cert --tls-key``) on MX_ADDRESS:25 offers STARTTLS with the certificate
  and records whether each message came over TLS.

Every process is stopped on exit (``tests.processes.stop``); every wait is bounded. The TLS key and the zone
signing keys are 0600 and never printed.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from tests.lab import sink
from tests.lab.host import listening
from tests.lab.network import PREFIX, REPO, SINK, LabNet, started
from tests.lab.roots import LabUnavailable, unavailable
from tests.processes import stop

NSD_ADDRESS, RESOLVER, MX_ADDRESS = (f"{PREFIX}{n}" for n in (55, 56, 57))
DANE_ADDRESSES = (NSD_ADDRESS, RESOLVER, MX_ADDRESS)
ZONE = "dane.example"
MATCHING, MISMATCHING = ZONE, f"bad.{ZONE}"  # mail domains: TLSA matches the served key / matches nothing
MX_MATCHING, MX_MISMATCHING = f"mx.{MATCHING}", f"mx.{MISMATCHING}"
TOOLS = ("nsd", "unbound", "ldns-keygen", "ldns-signzone", "openssl")
WAIT_SECONDS = 20.0
# Names the lab's dnsmasq answers (hosts, clients, the DNSBL, reverse): forwarded, outside the lab root's trust.
INSECURE = ("test.", "in-addr.arpa.", "ip6.arpa.")


def _run(argv: list[str], cwd: Path) -> str:
    """Run a tool with umask 077 (its keys are never readable by others); its stdout."""
    result = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=60, check=False, umask=0o077)
    if result.returncode != 0:
        raise LabUnavailable(f"{argv[0]} exited {result.returncode}: {result.stderr.strip()[-500:]}")
    return result.stdout


def spki_sha256(cert: Path, cwd: Path) -> str:
    """TLSA 3 1 1 data: SHA-256 of the certificate's DER SubjectPublicKeyInfo."""
    pem = _run(["openssl", "x509", "-in", str(cert), "-pubkey", "-noout"], cwd)
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pem.encode(),
                         capture_output=True, timeout=30, check=True).stdout
    return hashlib.sha256(der).hexdigest()


def make_certificate(work: Path) -> tuple[Path, Path]:
    """A self-signed certificate for both MX names (DANE-EE 3 1 1 checks only its key); the key is 0600."""
    cert, key = work / "mx.crt", work / "mx.key"
    _run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
          "-days", "2", "-subj", f"/CN={MX_MATCHING}",
          "-addext", f"subjectAltName=DNS:{MX_MATCHING},DNS:{MX_MISMATCHING}", "-keyout", str(key), "-out", str(cert)],
         work)
    return cert, key


def sign(zone: str, text: str, work: Path) -> Path:
    """Sign ``text`` as ``zone`` with a new KSK and ZSK (ECDSA P-256); the signed file. Writes ``<zone>.ds``."""
    label = zone.rstrip(".") or "root"
    keys = []
    for ksk in (True, False):
        name = _run(["ldns-keygen", "-a", "ECDSAP256SHA256", *(["-k"] if ksk else []), zone], work).strip()
        keys.append(name)
        if ksk:
            (work / f"{label}.ds").write_text((work / f"{name}.ds").read_text())
    source = work / f"{label}.zone"  # the zone files are public (nsd and unbound run as root here anyway)
    source.write_text(text)
    _run(["ldns-signzone", "-o", zone, "-f", str(work / f"{label}.signed"), str(source), *keys[::-1]], work)
    return work / f"{label}.signed"


def zones(work: Path, tlsa: str) -> tuple[Path, Path, str]:
    """The signed ``dane.example`` and root zones and the root's DS (the resolver's trust anchor)."""
    soa = "SOA ns.{z} hostmaster.{z} 1 3600 600 86400 300"
    wrong = hashlib.sha256(b"no certificate the lab serves has this key").hexdigest()
    child = "\n".join([
        "$TTL 300", f"{ZONE}. IN {soa.format(z=ZONE + '.')}", f"{ZONE}. IN NS ns.{ZONE}.",
        f"ns.{ZONE}. IN A {NSD_ADDRESS}",
        f"{MATCHING}. IN MX 10 {MX_MATCHING}.", f"{MX_MATCHING}. IN A {MX_ADDRESS}",
        f"_25._tcp.{MX_MATCHING}. IN TLSA 3 1 1 {tlsa}",
        f"{MISMATCHING}. IN MX 10 {MX_MISMATCHING}.", f"{MX_MISMATCHING}. IN A {MX_ADDRESS}",
        f"_25._tcp.{MX_MISMATCHING}. IN TLSA 3 1 1 {wrong}", ""])
    child_signed = sign(f"{ZONE}.", child, work)
    ds = (work / "dane.example.ds").read_text().strip()
    root = "\n".join([
        "$TTL 300", f". IN {soa.format(z='lab-root.')}",
        ". IN NS ns.lab-root.", f"ns.lab-root. IN A {NSD_ADDRESS}",
        f"{ZONE}. IN NS ns.{ZONE}.", f"ns.{ZONE}. IN A {NSD_ADDRESS}", ds, ""])
    root_signed = sign(".", root, work)
    return child_signed, root_signed, (work / "root.ds").read_text().strip()


class DaneLab:
    """nsd, unbound and the TLS sink on ``net`` (made with ``reserved=DANE_ADDRESSES, resolver=RESOLVER``)."""

    def __init__(self, net: LabNet) -> None:
        if not set(DANE_ADDRESSES) <= set(net.reserved) or net.resolver != RESOLVER:
            raise ValueError("DaneLab needs LabNet(reserved=DANE_ADDRESSES, resolver=RESOLVER)")
        self.net = net
        self.work = net.work / "dane"
        self.sink_dir = self.work / "sink"
        self.processes: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> DaneLab:
        missing = [tool for tool in TOOLS if shutil.which(tool) is None]
        if missing:
            unavailable(f"the DANE lab needs {', '.join(missing)} (scripts/bootstrap.sh --test)")
        started(self.start, self.close)
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def start(self) -> None:
        self.work.mkdir(mode=0o755)
        cert, key = make_certificate(self.work)
        child, root, anchor = zones(self.work, spki_sha256(cert, self.work))
        self._start_nsd(child, root)
        self._start_unbound(anchor)
        self._start_sink(cert, key)

    def _spawn(self, argv: list[str], log: str) -> subprocess.Popen[bytes]:
        with (self.work / log).open("wb") as output:
            process = subprocess.Popen(["ip", "netns", "exec", self.net.netns, *argv], stdin=subprocess.DEVNULL,
                                       stdout=output, stderr=subprocess.STDOUT, cwd=REPO)
        self.processes.append(process)
        return process

    def _start_nsd(self, child: Path, root: Path) -> None:
        conf = self.work / "nsd.conf"
        conf.write_text("\n".join([
            "server:", f"  ip-address: {NSD_ADDRESS}", "  port: 53", '  username: ""', '  chroot: ""',
            f'  zonesdir: "{self.work}"', '  database: ""', f'  zonelistfile: "{self.work}/zone.list"',
            f'  xfrdfile: "{self.work}/xfrd.state"', f'  pidfile: "{self.work}/nsd.pid"', "  verbosity: 1",
            "remote-control:", "  control-enable: no",
            "zone:", '  name: "."', f'  zonefile: "{root}"',
            "zone:", f'  name: "{ZONE}."', f'  zonefile: "{child}"', ""]))
        self._spawn(["nsd", "-d", "-c", str(conf)], "nsd.log")
        self._wait_for_dns(NSD_ADDRESS, f"{MX_MATCHING}", "+norec")

    def _start_unbound(self, anchor: str) -> None:
        conf = self.work / "unbound.conf"
        insecure = [line for name in INSECURE for line in (f'  domain-insecure: "{name}"',
                                                          f'  local-zone: "{name}" nodefault')]
        forwards = [line for name in INSECURE for line in ("forward-zone:", f'  name: "{name}"',
                                                           f"  forward-addr: {SINK}")]
        conf.write_text("\n".join([
            "server:", f"  interface: {RESOLVER}", "  port: 53", "  access-control: 192.0.2.0/24 allow",
            '  username: ""', '  chroot: ""', f'  directory: "{self.work}"', '  pidfile: ""', "  use-syslog: no",
            '  logfile: ""', "  verbosity: 1", "  val-log-level: 2", "  do-ip6: no", "  do-not-query-localhost: no",
            '  local-zone: "2.0.192.in-addr.arpa." nodefault', '  local-zone: "8.b.d.0.1.0.0.2.ip6.arpa." nodefault',
            f'  trust-anchor: "{anchor}"', *insecure,
            "remote-control:", "  control-enable: no",
            "stub-zone:", '  name: "."', f"  stub-addr: {NSD_ADDRESS}", *forwards, ""]))
        _run(["unbound-checkconf", str(conf)], self.work)
        self._spawn(["unbound", "-d", "-c", str(conf)], "unbound.log")
        self._wait_for_dns(RESOLVER, f"{MX_MATCHING}", "+dnssec")
        answer = self.net.client(["dig", "+dnssec", "+time=2", "+tries=1", f"@{RESOLVER}", f"_25._tcp.{MX_MATCHING}",
                                  "TLSA"], check=False, timeout=10).stdout
        if not re.search(r"flags:[^;]*\bad\b", answer):
            raise LabUnavailable(f"unbound does not validate the lab zone:\n{answer}\n{self.logs()}")

    def _wait_for_dns(self, server: str, name: str, flag: str) -> None:
        deadline = time.monotonic() + WAIT_SECONDS
        query = ["dig", "+short", flag, "+time=1", "+tries=1", f"@{server}", name, "A"]
        while time.monotonic() < deadline:
            if MX_ADDRESS in self.net.client(query, check=False, timeout=5).stdout:
                return
            time.sleep(0.1)
        raise LabUnavailable(f"{server} did not answer {name}:\n{self.logs()}")

    def _start_sink(self, cert: Path, key: Path) -> None:
        process = self._spawn([sys.executable, "-m", "tests.lab.sink", "--dir", str(self.sink_dir),
                               "--address", MX_ADDRESS, "--tls-cert", str(cert), "--tls-key", str(key)],
                              "tls-sink.log")
        deadline = time.monotonic() + WAIT_SECONDS
        while 25 not in listening(process.pid):
            if time.monotonic() > deadline or process.poll() is not None:
                raise LabUnavailable(f"the TLS sink did not start:\n{self.logs()}")
            time.sleep(0.1)

    def messages(self) -> list[dict[str, Any]]:
        """Every message that reached the TLS sink (MX_ADDRESS) so far."""
        return sink.messages(self.sink_dir) if self.sink_dir.exists() else []

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in self.work.glob("*.log"))

    def close(self) -> None:
        """Stop every process this lab started (the net removes the folder)."""
        for process in reversed(self.processes):
            stop(process)
        self.processes.clear()
