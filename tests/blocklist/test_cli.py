"""``mtaharden blocklist`` as a user runs it (the console script in a subprocess) against the test DNSBL."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.dnsbl_server import BENCH_ZONES, CLEAN4, LISTED4, LISTED4_TWICE, LISTED6, DnsblServer, silent_nameserver

MTAHARDEN = str(Path(sys.executable).with_name("mtaharden"))
TEST_ZONE = "bl.test=127.0.0.[2..4],127.0.0.10"


def blocklist(*args: str, nameserver: str | None = None) -> subprocess.CompletedProcess[str]:
    server = ["--nameserver", nameserver] if nameserver else []
    return subprocess.run([MTAHARDEN, "blocklist", *server, *args], capture_output=True, text=True, timeout=120,
                          check=False)


def as_json(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def statuses(document: dict[str, Any]) -> dict[tuple[str, str], str]:
    return {(r["address"], r["zone"]): r["status"] for r in document["results"]}


def test_listed_addresses_exit_1_with_code_reason_and_delisting_page(dnsbl: DnsblServer) -> None:
    result = blocklist("--only", "zen.spamhaus.org", "--zone", TEST_ZONE, LISTED4, CLEAN4, LISTED6,
                       nameserver=dnsbl.nameserver)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert f"addresses from the command line: {LISTED4}, {CLEAN4}, {LISTED6}" in lines
    assert f"resolver: {dnsbl.nameserver}" in lines
    rows = {tuple(line.split()[:2]): (line, after) for line, after in zip(lines, [*lines[1:], ""], strict=True)}
    row, txt = rows[LISTED4, "bl.test"]
    assert row.split()[2:4] == ["listed", "127.0.0.2:"]
    assert txt.split() == ["TXT:", "Spam", "source", LISTED4, "-", "see", f"https://bl.test/lookup?ip={LISTED4}"]
    assert rows[LISTED6, "bl.test"][0].split()[2] == "listed"
    assert rows[CLEAN4, "bl.test"][0].split()[2:] == ["clean", "not", "listed"]
    row, txt = rows[LISTED4, "zen.spamhaus.org"]
    assert row.split(None, 3)[2:] == ["listed", "127.0.0.4: XBL: an exploited or infected host (bot, open proxy)"]
    assert txt.split() == ["TXT:", f"https://check.spamhaus.org/query/ip/{LISTED4}"]
    assert any(line.startswith("delisting at zen.spamhaus.org: https://check.spamhaus.org/ (free for low-volume")
               for line in lines)
    assert not any(line.startswith("delisting at bl.test") for line in lines)  # --zone: no page known
    assert lines[-1] == "3 address(es) x 2 zone(s): 4 listed, 0 could not be checked, 2 not listed, 0 skipped"


def test_json_document(dnsbl: DnsblServer) -> None:
    result = blocklist("--format", "json", "--no-catalogue", "--zone", TEST_ZONE, "--zone", "refused.test",
                       "--zone", "one.test", "--zone", "outside.test", LISTED4, LISTED4_TWICE,
                       nameserver=dnsbl.nameserver)
    assert result.returncode == 1, result.stderr
    document = as_json(result)
    assert document["schema"] == 1 and document["exit"] == 1
    assert set(document) == {"schema", "resolver", "addresses", "sources", "notes", "zones", "results", "summary",
                             "exit"}
    assert document["summary"] == {"listed": 2, "clean": 1, "error": 5, "skipped": 0}
    by_key = {(r["address"], r["zone"]): r for r in document["results"]}
    twice = by_key[LISTED4_TWICE, "bl.test"]
    assert twice["query"] == "32.2.0.192.bl.test." and sorted(twice["answers"]) == ["127.0.0.10", "127.0.0.2"]
    assert sorted(twice["reasons"]) == [f"Dynamic address {LISTED4_TWICE}", f"Spam source {LISTED4_TWICE}"]
    refused = by_key[LISTED4, "refused.test"]
    assert refused["status"] == "error" and refused["answers"] == ["127.255.255.254"]
    assert "public resolver may be the cause" in refused["hint"]
    assert by_key[LISTED4, "one.test"]["status"] == "error"
    assert "outside 127.0.0.0/8" in by_key[LISTED4, "outside.test"]["why"]
    assert by_key[LISTED4_TWICE, "outside.test"]["status"] == "clean"
    assert document["zones"][0] == {"zone": "bl.test", "name": "", "source": "--zone", "ipv6": True, "delist": "",
                                    "terms": "", "listed": ["127.0.0.[2..4]", "127.0.0.10"]}


def test_clean_exits_0_and_ipv4_only_zones_skip_ipv6(dnsbl: DnsblServer) -> None:
    result = blocklist("--format", "json", "--no-catalogue", "--zone", TEST_ZONE, CLEAN4,
                       nameserver=dnsbl.nameserver)
    assert result.returncode == 0 and as_json(result)["summary"]["clean"] == 1
    skipping = blocklist("--format", "json", "--only", "bl.spamcop.net", LISTED6, nameserver=dnsbl.nameserver)
    assert skipping.returncode == 0
    (only,) = as_json(skipping)["results"]
    assert (only["status"], only["why"], only["query"]) == ("skipped", "bl.spamcop.net lists IPv4 addresses only", "")


def test_refused_answers_are_not_listings_and_exit_3(dnsbl: DnsblServer) -> None:
    result = blocklist("--no-catalogue", "--zone", "refused.test", "--zone", "one.test", LISTED4,
                       nameserver=dnsbl.nameserver)
    assert result.returncode == 3, result.stdout
    assert "note: a public resolver may be the cause" in result.stdout
    assert "0 listed, 2 could not be checked" in result.stdout
    spamhaus = blocklist("--format", "json", "--only", "zen.spamhaus.org", "192.0.2.31", nameserver=dnsbl.nameserver)
    assert spamhaus.returncode == 3
    (only,) = as_json(spamhaus)["results"]
    assert only["status"] == "error" and only["answers"] == ["127.255.255.254"]
    assert only["why"] == ("127.255.255.254: query refused: sent through a public or open resolver "
                           "(an error, not a listing)")
    assert only["reasons"] == ["Error: open resolver; https://check.spamhaus.org/returnc/pub/"]


def test_a_resolver_that_never_answers_is_could_not_check() -> None:
    with silent_nameserver() as address:
        started = time.monotonic()
        result = blocklist("--format", "json", "--timeout", "0.5", "--only", "zen.spamhaus.org", "192.0.2.0/30",
                           nameserver=address)
        took = time.monotonic() - started
    assert result.returncode == 3
    assert {r["why"] for r in as_json(result)["results"]} == {"no answer within 0.5 s"}
    assert took < 10  # four queries in parallel, 0.5 s each, plus start-up


def test_terminal_escapes_in_txt_are_shown_escaped(dnsbl: DnsblServer) -> None:
    result = blocklist("--no-catalogue", "--zone", "hostile.test", LISTED4, nameserver=dnsbl.nameserver)
    assert result.returncode == 1
    assert "\x1b" not in result.stdout and "\r" not in result.stdout
    assert "\\x1b[2J\\x1b[31mcleared" in result.stdout
    as_document = blocklist("--format", "json", "--no-catalogue", "--zone", "hostile.test", LISTED4,
                            nameserver=dnsbl.nameserver)
    assert "\x1b" not in as_document.stdout and "\r" not in as_document.stdout
    assert as_json(as_document)["results"][0]["reasons"] == ["\x1b[2J\x1b[31mcleared\rfake line"]


def test_policy_listen_addresses_and_dnsbl_zones(dnsbl: DnsblServer, tmp_path: Path) -> None:
    policy = tmp_path / "policy.yml"
    policy.write_text("version: 1\nhostname: clean.own.test\ndnsbl:\n  - zone: bl.test\n    match: [127.0.0.2]\n"
                      f"targets:\n  postfix:\n    inet_interfaces: [{LISTED4_TWICE}, 127.0.0.1]\n")
    result = blocklist("--format", "json", "--no-catalogue", "--policy", str(policy), nameserver=dnsbl.nameserver)
    assert result.returncode == 1, result.stderr
    document = as_json(result)
    assert document["addresses"] == [LISTED4_TWICE]
    assert document["sources"] == [f"targets.postfix.inet_interfaces: {LISTED4_TWICE}",
                                   "targets.postfix.inet_interfaces: 127.0.0.1 (left out: loopback: no list holds it)"]
    assert document["zones"][0]["source"] == "policy dnsbl[0]"
    (only,) = document["results"]
    assert only["why"] == "127.0.0.2: listed"  # the policy's filter: 127.0.0.10 is not a listing for this site


def test_policy_without_addresses_uses_its_host_name(dnsbl: DnsblServer, tmp_path: Path) -> None:
    policy = tmp_path / "policy.yml"
    policy.write_text("version: 1\nhostname: mx.own.test\n")
    result = blocklist("--format", "json", "--zone", TEST_ZONE, "--no-catalogue", "--policy", str(policy),
                       nameserver=dnsbl.nameserver)
    assert result.returncode == 1, result.stderr
    document = as_json(result)
    assert document["sources"] == [f"the policy's hostname mx.own.test A: {LISTED4}",
                                   "the policy's hostname mx.own.test AAAA: none"]
    assert statuses(document) == {(LISTED4, "bl.test"): "listed"}
    loopback = tmp_path / "loop.yml"
    loopback.write_text("version: 1\nhostname: loop.own.test\n")
    refused = blocklist("--policy", str(loopback), nameserver=dnsbl.nameserver)
    assert refused.returncode == 2 and refused.stdout == ""
    assert "--policy: loop.own.test: has no address a list could hold" in refused.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["192.0.2.0/15"], "address '192.0.2.0/15': has host bits set (fix: write the network as 192.0.0.0/15)"),
    (["10.0.0.0/15"], "address '10.0.0.0/15': makes more than 65,536 addresses"),
    (["--zone", "bl.test=127.255.255.254", "192.0.2.1"], "127.255.255.x, which lists use for errors"),
    (["--only", "bl.test", "192.0.2.1"], "--only 'bl.test': not a zone of the catalogue"),
    (["--nameserver", "dns.google", "192.0.2.1"], "--nameserver 'dns.google': is not an IP address"),
    (["--no-catalogue", "192.0.2.1"], "blocklist: no zone to check"),
    ([], "blocklist: no address to check"),
])
def test_bad_input_exits_2_with_a_fix_and_queries_nothing(args: list[str], message: str) -> None:
    with silent_nameserver() as address:  # a query would time out, and the run would not exit 2
        result = blocklist("--timeout", "5", *args, nameserver=address)
    assert result.returncode == 2
    assert result.stdout == ""
    assert message in result.stderr and "(fix: " in result.stderr


def test_bad_policy_is_located(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yml"
    policy.write_text("version: 1\nhostname: mx.own.test\ntargets:\n  postfix:\n    inet_interfaces: [192.0.2.300]\n")
    result = blocklist("--policy", str(policy), nameserver="127.0.0.1:9")
    assert result.returncode == 2 and result.stdout == ""
    assert f"{policy}:5:" in result.stderr


def test_a_slash_24_against_ten_zones_in_a_few_seconds(dnsbl: DnsblServer) -> None:
    zones = [arg for zone in BENCH_ZONES for arg in ("--zone", zone)]
    started = time.monotonic()
    result = blocklist("--format", "json", "--no-catalogue", *zones, "192.0.2.0/24", nameserver=dnsbl.nameserver)
    took = time.monotonic() - started
    assert result.returncode == 1
    document = as_json(result)
    assert len(document["results"]) == 2560
    assert document["summary"] == {"listed": 10, "clean": 2550, "error": 0, "skipped": 0}
    assert {(r["address"], r["zone"]) for r in document["results"] if r["status"] == "listed"} == {
        (f"192.0.2.{n * 10 + 1}", zone) for n, zone in enumerate(BENCH_ZONES)}
    assert took < 20, took  # about 2 s on the shared 2-core machine; bench/blocklist.py measures it


def test_a_zone_that_lists_everything_is_an_error_not_a_listing(dnsbl: DnsblServer) -> None:
    result = blocklist("--format", "json", "--no-catalogue", "--zone", "everything.test", "--zone", TEST_ZONE,
                       LISTED4, CLEAN4, nameserver=dnsbl.nameserver)
    assert result.returncode == 1  # bl.test still lists LISTED4
    document = as_json(result)
    assert statuses(document) == {(LISTED4, "everything.test"): "error", (CLEAN4, "everything.test"): "error",
                                  (LISTED4, "bl.test"): "listed", (CLEAN4, "bl.test"): "clean"}
    assert all("lists 127.0.0.1, which no list may hold (RFC 5782 §5)" in r["why"]
               for r in document["results"] if r["zone"] == "everything.test")


def test_a_host_name_that_cannot_be_looked_up_is_could_not_check(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yml"
    policy.write_text("version: 1\nhostname: mx.own.test\n")
    with silent_nameserver() as address:
        result = blocklist("--timeout", "0.3", "--policy", str(policy), nameserver=address)
    assert result.returncode == 3 and result.stdout == ""
    assert result.stderr.startswith("--policy: the addresses of mx.own.test could not be looked up: the policy's "
                                    "hostname mx.own.test A: lookup failed: no answer within 0.3 s")


def _ctrl_c_as_at_a_terminal() -> None:
    """SIGINT's default disposition in the child: a test runner (an xdist worker) may ignore SIGINT, and an
    ignored signal stays ignored across exec, so the command would never see the Ctrl-C a user's shell sends."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_stops_a_long_run_promptly_and_does_not_exit_as_listed() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:  # receives queries, never answers
        silent.bind(("127.0.0.1", 0))
        silent.settimeout(30)
        address = f"127.0.0.1:{silent.getsockname()[1]}"
        process = subprocess.Popen([MTAHARDEN, "blocklist", "--nameserver", address, "--timeout", "1",
                                    "--concurrency", "10", "--only", "bl.spamcop.net", "10.0.0.0/16"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   preexec_fn=_ctrl_c_as_at_a_terminal)
        try:
            silent.recv(512)  # querying now: 65,536 lookups at 10 a second would take hours
            interrupted = time.monotonic()
            process.send_signal(signal.SIGINT)
            out, err = process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert process.returncode == 130 and out == ""
    assert err.strip() == "interrupted: nothing checked is reported"
    assert time.monotonic() - interrupted < 5  # the workers end after their current query
