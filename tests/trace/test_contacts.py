"""Whom to tell, against registries the tests start: an RDAP server with its bootstrap files, a whois server
and dnsmasq serving the DNS-published abuse contacts. Each contact names its source; failures stand apart."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mtaharden.trace.contacts import LookupFailed
from mtaharden.trace.contacts.rdap import Rdap, _abuse_emails
from mtaharden.trace.contacts.whois import Whois
from tests.trace.helpers import CORPUS, trace_json
from tests.trace.servers import abuse_dns, rdap_server, whois_server

POLICY = str(CORPUS / "site-policy.yml")


@pytest.fixture(scope="module")
def registries(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    work = tmp_path_factory.mktemp("abuse-dns")
    with rdap_server() as (rdap, requests), whois_server() as (whois, queries), abuse_dns(work) as nameserver:
        yield {"args": ["--rdap-bootstrap", rdap, "--whois", whois, "--nameserver", nameserver, "--timeout", "3"],
               "rdap": rdap, "whois": whois, "nameserver": nameserver, "requests": requests, "queries": queries}


def _run(registries: dict[str, Any], name: str, *extra: str) -> dict[str, Any]:
    message: dict[str, Any] = trace_json("--policy", POLICY, *registries["args"], *extra,
                                         str(CORPUS / name))["messages"][0]
    return message


def _found(message: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {(c["address"], c["about"], c["source"].split(" ")[0]) for c in message["contacts"]}


def test_every_source_answers_for_the_sending_address_and_domains(registries: dict[str, Any]) -> None:
    message = _run(registries, "postfix-spam.eml")
    assert _found(message) == {
        ("abuse@dyn.isp.example", "203.0.113.45", "rdap"),       # ARIN: abuse role nested under the org
        ("abuse@dyn.isp.example", "203.0.113.45", "dns"),        # abuse-contacts.abusix.zone TXT
        ("abuse@registrar.example", "spam-sender.example", "rdap"),
        ("abuse@spam-sender.example", "spam-sender.example", "dns"),  # contacts.abuse.net TXT
        ("abuse@other-registrar.example", "isp.example", "whois"),   # RDAP 404, whois fallback
        ("abuse@isp.example", "isp.example", "rfc2142"), ("abuse@spam-sender.example", "spam-sender.example",
                                                           "rfc2142"),
    }
    sources = {c["source"] for c in message["contacts"]}
    assert f"rdap {registries['rdap']}arin/ip/203.0.113.45 (entity ABUSE5-ARIN, role abuse)" in sources
    assert message["contacts"][-1]["source"].startswith("rfc2142")  # unverified roles come last
    failures = {(f["about"], f["source"].split(" ")[0]) for f in message["lookup_failures"]}
    assert failures == {("isp.example", "rdap"), ("isp.example", "dns")}
    assert all(f["reason"] for f in message["lookup_failures"])


def test_top_level_abuse_entity_and_whois_fallback(registries: dict[str, Any]) -> None:
    apnic = _run(registries, "sendmail-forged.eml")
    assert ("anti-spam@bulknet.example.cn", "198.51.100.23", "rdap") in _found(apnic)
    assert ("hostmaster@bulknet.example.cn", "198.51.100.23", "rdap") not in _found(apnic)  # not the abuse role
    ripe = _run(registries, "qmail.eml")
    assert ("abuse@pool.ripe-style.example", "198.51.100.77", "whois") in _found(ripe)
    assert any(f["about"] == "198.51.100.77" and "HTTP 404" in f["reason"] for f in ripe["lookup_failures"])


def test_rdap_override_sends_every_query_to_one_server(registries: dict[str, Any]) -> None:
    before = len(registries["requests"])
    message = _run(registries, "postfix-spam.eml", "--rdap", registries["rdap"] + "arin/")
    asked = registries["requests"][before:]
    assert asked and all(path.startswith("/arin/") for path in asked)  # no bootstrap file fetched
    assert ("abuse@dyn.isp.example", "203.0.113.45", "rdap") in _found(message)


def test_offline_asks_nobody(registries: dict[str, Any]) -> None:
    requests, queries = len(registries["requests"]), len(registries["queries"])
    message = _run(registries, "postfix-spam.eml", "--offline")
    assert {c["source"].split(" ")[0] for c in message["contacts"]} == {"rfc2142"}
    assert message["lookup_failures"] == []
    assert (len(registries["requests"]), len(registries["queries"])) == (requests, queries)


def _closed_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_dead_servers_are_failures_within_the_timeout() -> None:
    tcp, udp = _closed_port(socket.SOCK_STREAM), _closed_port(socket.SOCK_DGRAM)
    started = time.monotonic()
    message = trace_json("--policy", POLICY, "--rdap-bootstrap", f"http://127.0.0.1:{tcp}/", "--whois",
                         f"127.0.0.1:{tcp}", "--nameserver", f"127.0.0.1:{udp}", "--timeout", "1",
                         str(CORPUS / "postfix-spam.eml"))["messages"][0]
    assert time.monotonic() - started < 15
    assert {c["source"].split(" ")[0] for c in message["contacts"]} == {"rfc2142"}
    kinds = {(f["about"], f["source"]) for f in message["lookup_failures"]}
    assert {("203.0.113.45", "rdap ip"), ("203.0.113.45", "whois"), ("203.0.113.45", "dns")} <= kinds


def test_whois_follows_one_referral(registries: dict[str, Any]) -> None:
    host, port = registries["whois"].split(":")
    found, source = Whois((host, int(port)), 3).lookup("refer-me.example")
    assert [c.address for c in found] == ["abuse@referred.example"]
    assert source == f"whois localhost:{port}"


def test_a_slow_whois_server_is_cut_at_the_timeout() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        started = time.monotonic()
        with pytest.raises(LookupFailed):
            Whois(("127.0.0.1", server.getsockname()[1]), 0.5).lookup("192.0.2.1")  # accepted, never answered
        assert time.monotonic() - started < 3


def test_registry_answers_are_screened() -> None:
    entity = {"roles": ["abuse"], "handle": "X\x1b[2J",
              "vcardArray": ["vcard", [["email", {}, "text", "abuse@ok.example"],
                                       ["email", {}, "text", "a@b.example\r\nBcc: c@d.example"],
                                       ["email", {}, "text", "<script>@x"]]]}
    deep: dict[str, Any] = entity
    for _ in range(50):  # nesting past the bound is not walked
        deep = {"roles": ["registrant"], "entities": [deep]}
    assert _abuse_emails({"entities": [entity]}) == [("X\\x1b[2J", "abuse@ok.example")]
    assert _abuse_emails(deep) == []


def test_a_bootstrap_without_the_address_says_so(tmp_path: Path) -> None:
    with rdap_server() as (base, _):
        rdap = Rdap(base, timeout=2)
        with pytest.raises(LookupFailed, match="no RDAP service"):
            rdap.ip("192.0.2.1")
        assert json.dumps(rdap.ip("203.0.113.45")[0][0].address) == '"abuse@dyn.isp.example"'
