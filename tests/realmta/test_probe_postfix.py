"""`mtaharden probe` against a real Postfix rendered from a policy that wrongly trusts the prober: the
probe flags it and, with --confirm, the canary proves the relay (the closed case is in tests/lab/test_behaviour)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import need_real_mta, render_policy
from tests.realmta.harness import Postfix, daemon_dir, free_port

pytestmark = pytest.mark.realmta
PROBER = "127.0.0.2"
MTAHARDEN = [sys.executable, "-m", "mtaharden"]


def policy(config_dir: Path, port: int, trusted: list[str]) -> dict[str, Any]:
    return {
        "hostname": "mx.example.test",
        "domains": {"local": ["example.test"], "relay": ["relay.example.test"]},
        "networks": {"trusted": trusted},
        "targets": {"postfix": {"config_dir": str(config_dir), "smtp_port": port, "chroot": False,
                                "inet_interfaces": ["127.0.0.1"], "inet_protocols": "ipv4"}},
    }


def probe(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*MTAHARDEN, "probe", "--source-address", PROBER, "--format", "json", "--timeout", "10",
                           *args], capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def lab() -> Iterator[Path]:
    need_real_mta("postfix", "postconf", "script")
    with daemon_dir("probe") as work:
        yield work


def start(lab: Path, name: str, trusted: list[str], extra: dict[str, str] | None = None) -> tuple[Postfix, Path]:
    port = free_port()
    config_dir = lab / name / "etc"
    plan, rendered = render_policy(policy(config_dir, port, trusted), lab / name / "r")
    instance = Postfix.install(rendered, config_dir, port, [s.argv for s in plan.steps], extra=extra)
    return instance, lab / name / "r" / "policy.yml"


def test_policy_that_trusts_the_prober_is_flagged_and_confirmed_by_the_canary(lab: Path) -> None:
    canary_port = free_port()
    transport = lab / "transport"
    transport.write_text(f"relaytest.invalid smtp:[127.0.0.1]:{canary_port}\n")
    wrong = ["127.0.0.1/32", f"{PROBER}/32"]
    server, _ = start(lab, "open", wrong, extra={"transport_maps": f"texthash:{transport}"})
    right_policy = lab / "right.yml"
    right_policy.write_text(json.dumps(policy(server.config_dir, server.port, ["127.0.0.1/32"])))
    with server.running():
        result = probe(f"127.0.0.1:{server.port}", "--policy", str(right_policy), "--confirm",
                       "--canary", f"127.0.0.1:{canary_port}", "--confirm-wait", "8")
    assert result.returncode == 1, result.stdout + result.stderr
    host = json.loads(result.stdout)["hosts"][0]
    verdicts = [case["verdict"] for case in host["cases"]]
    assert "relayed" in verdicts, verdicts
    assert host["status"] == "open"
