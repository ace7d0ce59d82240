"""The registries a trace asks, started by the tests on 127.0.0.1 (port 0, so parallel runs never meet):
an RDAP server (http.server) answering RFC 9083 JSON shaped like ARIN's, APNIC's and a domain registry's
answers, with the RFC 9224 bootstrap files pointing at itself; a whois server (socketserver) answering as
RIPE and a domain registry do; and dnsmasq serving the DNS-published abuse-contact TXT records."""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import socketserver
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import dns.message
import dns.query
import dns.rdatatype

from tests.conftest import need_real_mta


def _vcard(name: str, email: str) -> list[Any]:
    return ["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", name], ["kind", {}, "text", "group"],
                      ["email", {}, "text", email], ["tel", {"type": ["work", "voice"]}, "text", "+1-555-0100"]]]


# ARIN nests the abuse role under the organisation that holds the block.
ARIN_IP = {
    "rdapConformance": ["rdap_level_0", "cidr0", "arin_originas0"], "objectClassName": "ip network",
    "handle": "NET-203-0-113-0-1", "startAddress": "203.0.113.0", "endAddress": "203.0.113.255", "ipVersion": "v4",
    "name": "DYN-ISP-EXAMPLE", "type": "DIRECT ALLOCATION",
    "entities": [{"objectClassName": "entity", "handle": "DISP-1", "roles": ["registrant"],
                  "vcardArray": _vcard("Dynamic ISP Example", "noc@dyn.isp.example"),
                  "entities": [{"objectClassName": "entity", "handle": "ABUSE5-ARIN", "roles": ["abuse"],
                                "vcardArray": _vcard("Abuse Desk", "abuse@dyn.isp.example")},
                               {"objectClassName": "entity", "handle": "NOC1-ARIN", "roles": ["technical"],
                                "vcardArray": _vcard("NOC", "noc@dyn.isp.example")}]}],
    "notices": [{"title": "Terms of Service", "description": ["By using the ARIN RDAP/Whois service ..."]}],
}
# APNIC puts an IRT entity with the abuse role at the top level.
APNIC_IP = {
    "rdapConformance": ["history_version_0", "nro_rdap_profile_0", "cidr0", "rdap_level_0"],
    "objectClassName": "ip network", "handle": "198.51.100.0 - 198.51.100.255", "startAddress": "198.51.100.0",
    "endAddress": "198.51.100.255", "ipVersion": "v4", "name": "CN-BULK-NET", "country": "CN",
    "entities": [{"objectClassName": "entity", "handle": "IRT-BULKNET-CN", "roles": ["abuse"],
                  "vcardArray": _vcard("IRT-BULKNET-CN", "anti-spam@bulknet.example.cn")},
                 {"objectClassName": "entity", "handle": "BN1-AP", "roles": ["administrative", "technical"],
                  "vcardArray": _vcard("Bulk Net", "hostmaster@bulknet.example.cn")}],
}
# A domain registry names the registrar, whose abuse contact is nested under it.
REGISTRY_DOMAIN = {
    "rdapConformance": ["rdap_level_0", "icann_rdap_technical_implementation_guide_0"],
    "objectClassName": "domain", "handle": "2337_DOMAIN_EXAMPLE", "ldhName": "SPAM-SENDER.EXAMPLE",
    "entities": [{"objectClassName": "entity", "handle": "9999", "roles": ["registrar"],
                  "vcardArray": _vcard("Example Registrar, Inc.", "info@registrar.example"),
                  "entities": [{"objectClassName": "entity", "roles": ["abuse"],
                                "vcardArray": _vcard("", "abuse@registrar.example")}]}],
}
NOT_FOUND = {"errorCode": 404, "title": "Not Found", "description": ["No matching record."]}
WHOIS_ANSWERS = {
    "198.51.100.77": "% This is the RIPE Database query service.\n"
                     "% Abuse contact for '198.51.100.0 - 198.51.100.255' is 'abuse@pool.ripe-style.example'\n\n"
                     "inetnum:        198.51.100.0 - 198.51.100.255\nnetname:        POOL-NET\n"
                     "abuse-mailbox:  abuse@pool.ripe-style.example\n",
    "isp.example": "Domain Name: ISP.EXAMPLE\nRegistrar: Other Registrar\n"
                   "Registrar Abuse Contact Email: abuse@other-registrar.example\n"
                   "Registrar Abuse Contact Phone: +1.5550100\n",
}


class _Rdap(BaseHTTPRequestHandler):
    answers: ClassVar[dict[str, Any]] = {}

    def do_GET(self) -> None:
        body = self.answers.get(self.path)
        status = 200 if body is not None else 404
        data = json.dumps(body if body is not None else NOT_FOUND).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json" if self.path.endswith(".json") else
                         "application/rdap+json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        self.server.requests.append(self.path)  # type: ignore[attr-defined]


@contextlib.contextmanager
def rdap_server() -> Iterator[tuple[str, list[str]]]:
    """An RDAP server and the paths it was asked for; its bootstrap folder is the URL yielded."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Rdap)
    server.requests = []  # type: ignore[attr-defined]
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    answers = {
        "/ipv4.json": {"version": "1.0", "publication": "2026-11-30T20:00:02Z", "description": "test bootstrap",
                       "services": [[["203.0.113.0/24", "203.0.0.0/8"], [base + "arin/"]],
                                    [["198.51.100.0/24"], [base + "apnic/"]]]},
        "/ipv6.json": {"version": "1.0", "services": [[["2001:db8::/32"], [base + "apnic/"]]]},
        "/dns.json": {"version": "1.0", "services": [[["example", "test"], [base + "registry/"]]]},
        "/arin/ip/203.0.113.45": ARIN_IP,
        "/apnic/ip/198.51.100.23": APNIC_IP,
        "/registry/domain/spam-sender.example": REGISTRY_DOMAIN,
    }
    handler = type("Handler", (_Rdap,), {"answers": answers})
    server.RequestHandlerClass = handler
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield base, server.requests  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


class _Whois(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        query = self.rfile.readline(1024).decode("ascii", "replace").strip()
        self.server.queries.append(query)  # type: ignore[attr-defined]
        answer = WHOIS_ANSWERS.get(query, f"% No entries found for {query}\n")
        if query == "refer-me.example":  # asked in pairs: first as IANA's server (a referral), then as the registry
            count = self.server.queries.count(query)  # type: ignore[attr-defined]
            answer = ("refer:        localhost\n\ndomain:       EXAMPLE\n" if count % 2 else
                      "Registrar Abuse Contact Email: abuse@referred.example\n")
        self.wfile.write(answer.encode())


@contextlib.contextmanager
def whois_server() -> Iterator[tuple[str, list[str]]]:
    """A whois server as ``127.0.0.1:PORT`` and the queries it got."""
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Whois)
    server.daemon_threads = True
    server.queries = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}", server.queries  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


TXT_RECORDS = {
    "45.113.0.203.abuse-contacts.abusix.zone": "abuse@dyn.isp.example",
    "spam-sender.example.contacts.abuse.net": "abuse@spam-sender.example",
}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _answers(port: int) -> bool:
    query = dns.message.make_query(next(iter(TXT_RECORDS)), dns.rdatatype.TXT)
    try:
        return bool(dns.query.udp(query, "127.0.0.1", timeout=0.5, port=port).answer)
    except (OSError, dns.exception.Timeout):
        return False


@contextlib.contextmanager
def abuse_dns(work: Path) -> Iterator[str]:
    """dnsmasq on 127.0.0.1 answering the abuse-contact TXT records (and REFUSED-free NXDOMAIN for the rest)."""
    need_real_mta("dnsmasq")
    dnsmasq = shutil.which("dnsmasq") or "dnsmasq"
    for _ in range(5):  # a port taken between the probe and dnsmasq's bind is retried
        port = _free_port()
        log = (work / "dnsmasq.log").open("wb")
        process = subprocess.Popen(
            [dnsmasq, "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--no-poll",
             "--user=nobody", "--group=nogroup", f"--pid-file={work}/dnsmasq.pid", "--listen-address=127.0.0.1",
             "--bind-interfaces", f"--port={port}", "--local=/#/",
             *(f"--txt-record={name},{text}" for name, text in TXT_RECORDS.items())],
            stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while process.poll() is None and time.monotonic() < deadline and not _answers(port):
            time.sleep(0.05)
        if process.poll() is None and _answers(port):
            try:
                yield f"127.0.0.1:{port}"
            finally:
                process.terminate()
                process.wait(10)
                log.close()
            return
        process.kill()
        process.wait(10)
        log.close()
    raise RuntimeError(f"dnsmasq did not start: {(work / 'dnsmasq.log').read_text()}")
