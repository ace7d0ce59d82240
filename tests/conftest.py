"""Shared fixtures: rendering policies for tests, and the gate for tests that need real daemons."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from mtaharden.policy import load_policy
from mtaharden.render import render_plan, write_outputs
from mtaharden.targets.base import Plan, registered
from tests.parallel import default_workers, forget, make_scheduler, tell_worker, write_groups

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_POLICY = REPO / "examples" / "policy.yml"

# CI replays the same generated inputs on every run, so a red run names a change, never the dice; a local
# run draws new ones (and keeps what failed in .hypothesis/), which is where the fuzz tests find new bugs.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


# The parallel run (tests/parallel.py): two xdist workers by default, tests sharing a held fixture kept together.
@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    default_workers(config)  # before xdist reads -n


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    tell_worker(node)


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    return make_scheduler(config, log)  # before xdist's own (None: xdist's)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    write_groups(session)  # before the worker reports its collection


def pytest_unconfigure(config: pytest.Config) -> None:
    forget(config)


def render_policy(data: dict[str, Any], work: Path, target: str = "postfix") -> tuple[Plan, Path]:
    """Write ``data`` as a policy file (JSON is YAML), load it as the CLI does, render ``target``."""
    work.mkdir(parents=True, exist_ok=True)
    policy_file = work / "policy.yml"
    policy_file.write_text(json.dumps(data, indent=1))
    policy = load_policy(policy_file)
    chosen = registered()[target]
    plan = chosen.plan(policy)
    write_outputs(work / "out", {target: render_plan(plan, chosen)})
    return plan, work / "out" / target


def need_real_mta(*commands: str) -> None:
    """Skip outside CI when root or a Debian package is missing; in CI a missing part is a failure."""
    missing = [c for c in commands if shutil.which(c) is None]
    problem = "needs root" if os.geteuid() != 0 else (f"needs {', '.join(missing)}" if missing else "")
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"CI must provide real MTAs: {problem} (see scripts/bootstrap.sh)")
        pytest.skip(problem)


@pytest.fixture
def render(tmp_path: Path) -> Callable[..., tuple[Plan, Path]]:
    def _render(data: dict[str, Any], target: str = "postfix", name: str = "r") -> tuple[Plan, Path]:
        return render_policy(data, tmp_path / name, target)

    return _render
