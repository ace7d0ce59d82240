"""A real authoritative DNS server (Debian's nsd) on a free loopback port, serving zone texts a test gives."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

from tests.processes import stop

SOA = ("@ 3600 IN SOA ns.{zone}. hostmaster.{zone}. 1 3600 600 86400 300\n"
       "@ 3600 IN NS ns.{zone}.\nns 3600 IN A 127.0.0.1\n")


def full_zone(zone: str, records: str) -> str:
    """``records`` (zone-file lines) inside a loadable zone: $ORIGIN, SOA and NS first."""
    return f"$ORIGIN {zone}.\n$TTL 3600\n" + SOA.format(zone=zone) + records


def check_zone(zone: str, path: Path) -> subprocess.CompletedProcess[str]:
    """``nsd-checkzone``: nsd's own zone parser on the file."""
    return subprocess.run(["nsd-checkzone", zone, str(path)], capture_output=True, text=True, timeout=30)


def _free_port(tries: int = 20) -> int:
    """A loopback port free for both UDP and TCP right now (nsd listens on both)."""
    for _ in range(tries):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp, socket.socket() as tcp:
            udp.bind(("127.0.0.1", 0))
            port = int(udp.getsockname()[1])
            try:
                tcp.bind(("127.0.0.1", port))
            except OSError:
                continue  # taken for TCP by someone else: draw another
            return port
    raise RuntimeError("no loopback port free for both UDP and TCP")


def _answers(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True
    return False


@contextlib.contextmanager
def nsd(folder: Path, zones: Mapping[str, str]) -> Iterator[int]:
    """Serve ``zones`` (name -> full zone text) on 127.0.0.1; yields the port; stops nsd on exit."""
    folder.mkdir(parents=True, exist_ok=True)
    stanzas = []
    for name, text in zones.items():
        (folder / f"{name}.zone").write_text(text)
        stanzas.append(f"zone:\n  name: {name}\n  zonefile: {folder}/{name}.zone\n")
    port = _free_port()
    (folder / "nsd.conf").write_text(
        f"server:\n  ip-address: 127.0.0.1\n  port: {port}\n  username: \"\"\n  chroot: \"\"\n"
        f"  zonesdir: {folder}\n  pidfile: {folder}/nsd.pid\n  database: \"\"\n  xfrdfile: {folder}/xfrd.state\n"
        f"  zonelistfile: {folder}/zone.list\n  logfile: {folder}/nsd.log\n  verbosity: 1\n"
        "remote-control:\n  control-enable: no\n" + "".join(stanzas))
    server = subprocess.Popen(["nsd", "-d", "-c", str(folder / "nsd.conf")], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 15
        while not _answers(port):
            if server.poll() is not None or time.monotonic() > deadline:
                log = (folder / "nsd.log").read_text() if (folder / "nsd.log").exists() else ""
                raise RuntimeError(f"nsd did not start: {server.stderr.read() if server.stderr else ''}{log}")
            time.sleep(0.05)
        yield port
    finally:
        stop(server)
