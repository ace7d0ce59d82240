"""The probe's verdicts on real stock hosts, proven by the MTA's own queue or by a canary (issue 15).

The probe runs in the client namespace (a stranger's address, as in a real probe from outside); the queue
proof's tools (``logread``, ``postsuper``, qmail-send's log) run inside the lab host through the documented
``--queue-via`` command hook, here the lab's own ``nsenter`` prefix (what ``ssh root@host`` is elsewhere).
Closed hosts must come out ``closed`` with ``--policy --mta`` (qmail's RCPT-accepted forms proven
``not-relayed``; each check that fails only where the kind's rendered COVERAGE.md declares its element not
enforced, such as qmail's HELP answer or OpenSMTPD's greeting, ``declared`` with that row's text, and a
finding without ``--mta``), deliberately opened copies of every kind ``open`` with every accepted case proven,
each relayed one at the sink and none proven ``not-relayed`` there (what leaves the host is what relays:
OpenSMTPD hands the percent and bang forms at its own name back to itself), a canary routed by the lab DNS
must see the opened Postfix's tokens and none of closed qmail's, and a probe from inside the policy's
trusted networks is ``inconclusive`` (exit 3), never open.
"""

from __future__ import annotations

import contextlib
import json
import shlex
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mtaharden.probe.cases import CASES
from tests.lab.conftest import Stock, deployed
from tests.lab.coverage import coverage_rows
from tests.lab.kind import registered_kinds
from tests.lab.network import CANARY, TRUSTED, UNTRUSTED, LabNet
from tests.lab.policy import behaviour_policy

FOREIGN = "relaytest.invalid"
SINK_WAIT = 60.0
CANARY_DOMAIN = "canary.lab.test"  # the operator's own domain: its MX (here its address) is the prober


def probe(stock: Stock, *args: str, source: str = UNTRUSTED) -> tuple[int, dict[str, Any]]:
    """Run ``mtaharden probe`` from the client namespace; (exit code, the JSON report's one host)."""
    result = stock.net.client(
        [sys.executable, "-m", "mtaharden", "probe", stock.host.address, "--source-address", source,
         "--external-domain", FOREIGN, "--format", "json", "--timeout", "10", *args], check=False, timeout=300)
    assert result.stdout, result.stderr
    return result.returncode, json.loads(result.stdout)["hosts"][0]


def queue_proof(stock: Stock) -> list[str]:
    return ["--proof", "queue", "--mta", stock.kind.target, "--confirm-wait", "90",  # bounded; slow when loaded
            "--queue-via", shlex.join(stock.host.command([]))]


@pytest.fixture(scope="module", params=sorted(registered_kinds()))
def stock(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stock]:
    with deployed(registered_kinds()[request.param], tmp_path_factory.mktemp(request.param)) as running:
        yield running




def not_enforced(stock: Stock) -> dict[str, str]:
    """Element -> ``status: detail`` of each COVERAGE.md row of the rendered host that is not ``enforced``."""
    return {element: f"{status}: {detail}" for element, (status, detail) in coverage_rows(stock.rendered).items()
            if status != "enforced"}


def declaring_row(stock: Stock, element: str) -> str | None:
    """The most specific COVERAGE.md row for ``element`` (itself, then each parent: ``a.b[HELP]``, ``a.b``,
    ``a``), as ``element status: detail``, when it is not enforced; else None (the element must hold)."""
    rows = not_enforced(stock)
    while element:
        if element in rows:
            return f"{element}: {rows[element]}"
        cut = max(element.rfind("["), element.rfind("."))
        element = element[:cut] if cut > 0 else ""
    return None


def declared_checks(stock: Stock, host: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The probe's checks that did not pass, each one checked to be excused by the kind's COVERAGE.md the
    way the behaviour suite's ``unless_declared`` excuses a failure: ``declared``, its element (or a
    parent) declared not enforced there, and that row's text quoted."""
    unclean = {check["id"]: check for check in host["checks"] if check["status"] != "ok"}
    for check in unclean.values():
        row = declaring_row(stock, check["element"] or "")
        assert row is not None, f"{check['id']} fails where {stock.kind.name} declares nothing: {check}"
        assert check["status"] == "declared", check
        assert check["declared"] == f"{stock.kind.target} coverage of {row}", (check, row)
    return unclean


def test_closed_stock_host_is_closed_with_queue_proof(stock: Stock) -> None:
    """With --policy and --mta, what the target's coverage declares it cannot enforce (qmail-smtpd's
    compiled-in HELP answer, OpenSMTPD's greeting) is ``declared``, quoted with the coverage text, nothing
    else deviates, and the host is closed."""
    before = len(stock.net.sink_messages())
    code, host = probe(stock, *queue_proof(stock), "--policy", str(stock.policy_file))
    verdicts = {case["id"]: case["verdict"] for case in host["cases"]}
    assert set(verdicts.values()) <= {"refused", "not-tested", "not-relayed"}, json.dumps(host["cases"], indent=1)
    assert len(stock.net.sink_messages()) == before, "a probe message left the host"
    assert host["status"] == "closed" and host["proof"] == "queue" and code == 0, json.dumps(host, indent=1)
    declared_checks(stock, host)


def test_without_mta_a_declared_divergence_is_a_finding(stock: Stock) -> None:
    """The same checks without --mta: each one the coverage excused is a deviation again, with the same
    reply quoted, and the host is not closed."""
    _, host = probe(stock, "--policy", str(stock.policy_file), "--mta", stock.kind.target)
    excused = declared_checks(stock, host)
    if not excused:
        pytest.skip(f"{stock.kind.target} declares no divergence this probe sees")
    code, host = probe(stock, "--policy", str(stock.policy_file))
    checks = {check["id"]: check for check in host["checks"]}
    for check_id, check in excused.items():
        assert checks[check_id]["status"] == "deviation" and checks[check_id]["declared"] == "", checks[check_id]
        assert checks[check_id]["detail"] == check["detail"], (checks[check_id], check)
    assert {check_id for check_id, check in checks.items() if check["status"] != "ok"} == excused.keys(), checks
    assert code == 1 and host["status"] != "closed", host["status"]


def test_trusted_vantage_with_policy_is_inconclusive(stock: Stock) -> None:
    code, host = probe(stock, "--policy", str(stock.policy_file), source=TRUSTED)
    assert host["status"] == "inconclusive" and code == 3, host
    assert any("fix:" in warning for warning in host["warnings"]), host["warnings"]


@contextlib.contextmanager
def opened(kind_name: str, work: Path, net: LabNet | None = None) -> Iterator[Stock]:
    """A host rendered from the behaviour policy with every address trusted: a deliberate open relay, made
    through the policy alone (Postfix's mynetworks, Sendmail's ``Connect:`` RELAY entries, qmail's tcp.smtp
    ``RELAYCLIENT`` for everyone: the policy has no knob that drops qmail's rcpthosts, and RELAYCLIENT is what
    qmail-smtpd then ignores rcpthosts for). ``net``: the lab network to put it on (default: a new one)."""
    policy = behaviour_policy()
    policy["networks"] = {"trusted": ["0.0.0.0/0"], "allow_wide_trusted": True}
    with deployed(registered_kinds()[kind_name], work, policy, net=net) as stock:
        yield stock


def arrived_at_sink(stock: Stock, commands: set[str], before: int = 0) -> str:
    """What reached the sink, waiting (bounded) until a message names every RCPT command in ``commands``."""
    deadline = time.monotonic() + SINK_WAIT
    while True:
        text = "\n".join(message["data"] for message in stock.net.sink_messages()[before:])
        if all(command in text for command in commands) or time.monotonic() > deadline:
            return text
        time.sleep(0.5)


@pytest.mark.parametrize("kind_name", sorted(registered_kinds()))
def test_opened_host_is_open_and_every_accepted_case_is_proven(kind_name: str, tmp_path: Path) -> None:
    with opened(kind_name, tmp_path) as stock:
        code, host = probe(stock, *queue_proof(stock))
        verdicts = {case["id"]: case["verdict"] for case in host["cases"]}
        assert host["status"] == "open" and code == 1, \
            f"{json.dumps(host, indent=1)}\n--- the MTA's log:\n{stock.kind.log_text(stock.host)[-6000:]}"
        confirmable = {case.id for case in CASES if case.confirmable}
        accepted = {case["id"] for case in host["cases"] if case["rcpt"]["reply"] and
                    200 <= case["rcpt"]["reply"]["code"] < 300}
        assert "nmap-01" in accepted and verdicts["nmap-01"] == "relayed", verdicts
        # every accepted case with a reserved-TLD recipient is proven one way or the other (qmail delivers the
        # percent hack locally: percenthack is empty); only the IP literals stay unproven
        assert {verdicts[i] for i in accepted & confirmable} <= {"relayed", "not-relayed"}, verdicts
        assert {verdicts[i] for i in accepted - confirmable} <= {"accepted"}, verdicts
        relayed = [case for case in host["cases"] if case["verdict"] == "relayed"]
        for case in relayed:  # the proof names the MTA, the queue ID and the remote delivery
            detail = case["detail"]
            assert detail.startswith(f"{kind_name} ") and ("remote" in detail or "another host" in detail), case
        # the sink (the lab's Internet) holds a message naming each relayed case's RCPT command
        arrived = arrived_at_sink(stock, {case["rcpt"]["command"] for case in relayed})
        missing = [case["id"] for case in relayed if case["rcpt"]["command"] not in arrived]
        assert not missing, f"relayed but not at the sink: {missing}"
        # and what the proof calls not relayed (delivered here, or handed back to the host itself) is not there;
        # a RCPT command a relayed case also sent cannot tell them apart
        kept = [case for case in host["cases"] if case["verdict"] == "not-relayed"
                and case["rcpt"]["command"] not in {relayed_case["rcpt"]["command"] for relayed_case in relayed}]
        left = [case["id"] for case in kept if case["rcpt"]["command"] in arrived]
        assert not left, f"not relayed but at the sink: {left}"


def canary_probe(stock: Stock, *args: str) -> tuple[int, dict[str, Any]]:
    """The operator's canary mode: the canary domain's MX is the prober (here the lab DNS names CANARY, an
    address of the client namespace where the probe runs), and the probe's own listener there must get the
    token."""
    return probe(stock, "--confirm", "--canary", f"{CANARY}:25", "--canary-domain", CANARY_DOMAIN,
                 "--confirm-wait", "20", *args)


def test_closed_qmail_by_a_canary_routed_by_the_lab(tmp_path: Path) -> None:
    """qmail answers 250 at RCPT to the percent hack and other relay-looking forms; DATA to the canary domain
    brings nothing to the canary. A canary's silence proves no absence, so alone it leaves them ``accepted``
    (suspect, never open); with the queue proof beside it they are ``not-relayed`` and qmail is closed."""
    with LabNet(canary_domain=CANARY_DOMAIN) as net, deployed(registered_kinds()["qmail"], tmp_path, net=net) as stock:
        code, host = canary_probe(stock)
        verdicts = {case["id"]: case["verdict"] for case in host["cases"]}
        assert host["proof"] == "canary" and "relayed" not in verdicts.values(), json.dumps(host, indent=1)
        sent = [case for case in host["cases"] if case["data_reply"] and case["data_reply"]["code"] == 250]
        assert sent and all(case["verdict"] == "accepted" and "canary received nothing" in case["detail"]
                            for case in sent), json.dumps(host["cases"], indent=1)
        assert host["status"] == "suspect" and code == 1, host["status"]
        code, host = canary_probe(stock, *queue_proof(stock), "--policy", str(stock.policy_file))
        verdicts = {case["id"]: case["verdict"] for case in host["cases"]}
        assert set(verdicts.values()) <= {"refused", "not-tested", "not-relayed"}, json.dumps(host["cases"], indent=1)
        assert host["proof"] == "queue+canary" and host["status"] == "closed" and code == 0, json.dumps(host, indent=1)
        assert all("canary received nothing" in case["detail"] for case in host["cases"]
                   if case["verdict"] == "not-relayed")
        assert net.sink_messages() == [], "nothing of the probe's left the host"


def test_opened_postfix_is_open_by_a_canary_routed_by_the_lab(tmp_path: Path) -> None:
    with LabNet(canary_domain=CANARY_DOMAIN) as net, opened("postfix", tmp_path, net) as stock:
        code, host = canary_probe(stock)
        relayed = {case["id"] for case in host["cases"] if case["verdict"] == "relayed"}
        assert host["status"] == "open" and code == 1 and "nmap-01" in relayed, json.dumps(host, indent=1)
        assert all(case["detail"] == "the canary received the message" for case in host["cases"]
                   if case["id"] in relayed)
        assert net.sink_messages() == [], "the canary domain's mail went to the probe's canary, not the sink"
