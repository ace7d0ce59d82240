"""Render as the CLI would, and read the result back with the MTAs' own tools: shared by the fuzz and
the injection suites."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from hypothesis import event

from mtaharden.policy import Policy
from mtaharden.targets.base import Plan, registered
from mtaharden.targets.postfix.main_cf import MainCf
from tests.conftest import render_policy
from tests.realmta.harness import Sendmail, run, settle


def with_options(data: dict[str, Any], target: str, **options: Any) -> dict[str, Any]:
    """``data`` with ``targets.<target>`` options set (what only this test host can supply)."""
    changed = copy.deepcopy(data)
    changed.setdefault("targets", {}).setdefault(target, {}).update(options)
    return changed


def rendered(data: dict[str, Any], target: str, work: Path) -> tuple[Plan, Path] | None:
    """Render ``target`` as the CLI would, or None when the CLI refuses it for a gap the policy states.

    Either way every unsupported element comes with its reason: in the refusal, or in COVERAGE.md."""
    policy = Policy.model_validate(data)
    plan = registered()[target].plan(policy)
    waived = getattr(policy.targets, target).allow_unsupported
    refused = [gap for gap in plan.unwaived_gaps(waived) if policy.states(gap.element)]
    if refused:
        assert all(gap.detail.strip() for gap in refused), refused
        event(f"{target} refuses a stated {refused[0].element.split('[')[0]}")
        return None
    event(f"{target} renders")
    plan, out = render_policy(data, work, target)
    coverage = (out / "COVERAGE.md").read_text()
    for gap in (item for item in plan.coverage if item.status == "unsupported"):
        assert f"| `{gap.element}` | unsupported |" in coverage, gap
    return plan, out


def planned_parameters(plan: Plan, config_dir: Path) -> dict[str, str]:
    """main.cf as the Plan says it, the way postconf -n prints it (lists joined, blanks folded)."""
    (main_cf,) = [f.context for f in plan.files if f.path == "main.cf"]
    assert isinstance(main_cf, MainCf)
    parameters = {name: ", ".join(value) if isinstance(value, list) else value
                  for name, value in main_cf.values().items()}
    parameters["config_directory"] = str(config_dir)  # postconf -c says where it read from
    return {name: " ".join(value.split()) for name, value in parameters.items()}


def shown_parameters(config_dir: Path) -> dict[str, str]:
    """``postconf -n`` as a mapping; any warning, or a parameter set twice, fails."""
    settle(config_dir)
    shown = run(["postconf", "-c", str(config_dir), "-n"])
    assert shown.stderr == "", shown.stderr
    lines = shown.stdout.splitlines()
    parameters = dict(line.partition(" =")[::2] for line in lines)
    assert len(parameters) == len(lines), "a parameter is set twice"
    return {name: value.strip() for name, value in parameters.items()}


def compiled_cf(settings_dir: Path) -> list[str]:
    """sendmail.mc compiled by m4 with the unpacked sendmail-cf (any m4 message fails), as lines."""
    Sendmail(settings_dir, 0).compile()
    return (settings_dir / "sendmail.cf").read_text().splitlines()
