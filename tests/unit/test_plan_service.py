"""The Plan decides how a role drives the daemon (issue 16): start, stop, and when a reload is not enough."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from tests.conftest import EXAMPLE_POLICY, REPO


def plan(target: str, *sets: str) -> dict[str, Any]:
    argv = [sys.executable, "-m", "mtaharden", "plan", str(EXAMPLE_POLICY), "--target", target,
            *(arg for value in sets for arg in ("--set", value))]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=True, cwd=REPO)
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def test_postfix_restart_key_follows_inet_interfaces_not_ordinary_parameters() -> None:
    base = plan("postfix")["service"]["restart_key"]
    assert plan("postfix", "smtp.max_recipients=42")["service"]["restart_key"] == base, "a reload applies that"
    assert plan("postfix", "targets.postfix.inet_interfaces=[192.0.2.25]")["service"]["restart_key"] != base
    assert plan("postfix", "targets.postfix.inet_protocols=ipv4")["service"]["restart_key"] != base


def test_postfix_service_and_derived_maps() -> None:
    data = plan("postfix")
    service = data["service"]
    assert service["running"] == ["postfix", "-c", "/etc/postfix", "status"]
    assert service["start"][-1] == ["postfix", "-c", "/etc/postfix", "start"]
    assert service["stop"] == [["postfix", "-c", "/etc/postfix", "stop"]]
    indexed = [step for step in data["steps"] if step["argv"][0] == "postmap"]
    assert indexed and all(step["outputs"] == [step["argv"][-1].split(":", 1)[1] + ".db"] for step in indexed)


def test_other_config_dir_is_not_prepared_as_debians_default_instance() -> None:
    start = plan("postfix", "targets.postfix.config_dir=/srv/postfix")["service"]["start"]
    assert start == [["postfix", "-c", "/srv/postfix", "start"]]


@pytest.mark.parametrize("target", ["sendmail", "qmail"])
def test_targets_whose_apply_restarts_have_no_restart_key(target: str) -> None:
    data = plan(target)
    assert data["service"]["restart_key"] == "" and data["service"]["start"] and data["service"]["stop"]
    assert any(step["outputs"] for step in data["steps"]), "compiled files are listed for the snapshot"


def test_exchange_runs_no_daemon_a_role_manages() -> None:
    assert plan("exchange")["service"] is None
