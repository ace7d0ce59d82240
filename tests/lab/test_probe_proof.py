"""The probe's verdicts on real stock hosts, proven by the MTA's own queue (issue 15).

The probe runs in the client namespace (a stranger's address, as in a real probe from outside); the queue
proof's tools (``logread``, ``postsuper``, qmail-send's log) run inside the lab host through the documented
``--queue-via`` command hook, here the lab's own ``nsenter`` prefix (what ``ssh root@host`` is elsewhere).
Closed hosts must come out ``closed`` (qmail's RCPT-accepted forms proven ``not-relayed``), a deliberately
opened Postfix ``open`` with every accepted case proven ``relayed`` (the sink holds the messages), and a
probe from inside the policy's trusted networks ``inconclusive`` (exit 3), never open.
"""

from __future__ import annotations

import contextlib
import json
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mtaharden.policy import load_policy
from mtaharden.probe.cases import CASES
from mtaharden.targets.base import registered
from tests.lab.conftest import LAB_TOOLS, Stock, deployed
from tests.lab.kind import HostKind, registered_kinds
from tests.lab.network import REPO, TRUSTED, UNTRUSTED, LabNet
from tests.lab.policy import behaviour_policy, prepare_auth
from tests.lab.roots import need_lab
from tests.lab.test_behaviour import declared

FOREIGN = "relaytest.invalid"


def probe(stock: Stock, *args: str, source: str = UNTRUSTED) -> tuple[int, dict[str, Any]]:
    """Run ``mtaharden probe`` from the client namespace; (exit code, the JSON report's one host)."""
    result = stock.net.client(
        [sys.executable, "-m", "mtaharden", "probe", stock.host.address, "--source-address", source,
         "--external-domain", FOREIGN, "--format", "json", "--timeout", "10", *args], check=False, timeout=300)
    assert result.stdout, result.stderr
    return result.returncode, json.loads(result.stdout)["hosts"][0]


def queue_proof(stock: Stock) -> list[str]:
    return ["--proof", "queue", "--mta", stock.kind.target, "--confirm-wait", "20",
            "--queue-via", shlex.join(stock.host.command([]))]


@pytest.fixture(scope="module", params=sorted(registered_kinds()))
def stock(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stock]:
    with deployed(registered_kinds()[request.param], tmp_path_factory.mktemp(request.param)) as running:
        yield running


def test_closed_stock_host_is_closed_with_queue_proof(stock: Stock) -> None:
    before = len(stock.net.sink_messages())
    code, host = probe(stock, *queue_proof(stock))
    verdicts = {case["id"]: case["verdict"] for case in host["cases"]}
    assert set(verdicts.values()) <= {"refused", "not-tested", "not-relayed"}, json.dumps(host["cases"], indent=1)
    assert len(stock.net.sink_messages()) == before, "a probe message left the host"
    failed = {check["id"]: check["detail"] for check in host["checks"] if check["status"] != "ok"}
    if declared(stock, "smtp.banner") and "leaks" in failed:
        # a reply the target declares it cannot hide (qmail-smtpd's compiled-in HELP): a finding, quoted
        assert failed.keys() == {"leaks"} and "HELP shows" in failed["leaks"], failed
        assert host["status"] == "deviates" and code == 1, json.dumps(host, indent=1)
    else:
        assert host["status"] == "closed" and host["proof"] == "queue" and code == 0, json.dumps(host, indent=1)


def test_trusted_vantage_with_policy_is_inconclusive(stock: Stock) -> None:
    code, host = probe(stock, "--policy", str(stock.policy_file), source=TRUSTED)
    assert host["status"] == "inconclusive" and code == 3, host
    assert any("fix:" in warning for warning in host["warnings"]), host["warnings"]


@contextlib.contextmanager
def opened_postfix(work: Path) -> Iterator[Stock]:
    """A Postfix rendered from the behaviour policy with every address trusted (a deliberate open relay)."""
    need_lab(*LAB_TOOLS)
    kind: HostKind = registered_kinds()["postfix"]
    policy = behaviour_policy()
    policy["networks"] = {"trusted": ["0.0.0.0/0"], "allow_wide_trusted": True}
    work.mkdir(parents=True, exist_ok=True)
    policy_file = work / "policy.yml"
    policy_file.write_text(json.dumps(policy, indent=1))
    subprocess.run([sys.executable, "-m", "mtaharden", "render", str(policy_file), "--target", "postfix",
                    "--out", str(work / "out")], check=True, capture_output=True, text=True, timeout=120, cwd=REPO)
    plan = registered()["postfix"].plan(load_policy(policy_file))
    with LabNet() as net, net.host(kind) as host:
        prepare_auth(host, kind)
        kind.deploy(host, work / "out" / "postfix", plan)
        try:
            yield Stock(kind, net, host, plan, policy_file, work / "out" / "postfix")
        finally:
            kind.stop(host)


def test_opened_postfix_is_open_and_every_accepted_case_is_proven_relayed(tmp_path: Path) -> None:
    with opened_postfix(tmp_path) as stock:
        code, host = probe(stock, *queue_proof(stock))
        verdicts = {case["id"]: case["verdict"] for case in host["cases"]}
        assert host["status"] == "open" and code == 1, json.dumps(host, indent=1)
        confirmable = {case.id for case in CASES if case.confirmable}
        accepted = {case["id"] for case in host["cases"] if case["rcpt"]["reply"] and
                    200 <= case["rcpt"]["reply"]["code"] < 300}
        assert "nmap-01" in accepted, verdicts
        # every accepted case with a reserved-TLD recipient is proven; only the IP literals stay unproven
        assert {i for i in accepted if verdicts[i] == "relayed"} == accepted & confirmable, verdicts
        assert {verdicts[i] for i in accepted - confirmable} <= {"accepted"}, verdicts
        arrived = "\n".join(message["data"] for message in stock.net.sink_messages())
        for case in host["cases"]:
            if case["verdict"] == "relayed":
                assert case["detail"].startswith("postfix ") and "queued for another host" in case["detail"], case
        assert "mtaharden-probe-" in arrived, "the relayed messages reached the sink (the lab's Internet)"
