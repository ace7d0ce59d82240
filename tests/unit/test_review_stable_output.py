"""Stable output: how a policy is written never changes the rendered files, what it says always does.

Reviewers see rendered files in pull requests, so a reformatted policy (comments, key order, flow or
block style, quoting) must render byte for byte the same for every target, while reordering access
rules (first match wins) must show up. Checked with ``render --check`` against the example's output.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from mtaharden.targets.base import registered
from tests.conftest import EXAMPLE_POLICY
from tests.unit.test_cli import run

TARGETS = sorted(registered())


def as_json(data: Any) -> str:
    """Flow style, double quotes everywhere, keys sorted, no comments (JSON is YAML)."""
    return json.dumps(data, sort_keys=True)


def as_block(data: Any, depth: int = 0) -> str:
    """Block style, every string single-quoted, keys in reverse order, a comment before each key."""
    pad = "  " * depth
    lines: list[str] = []
    if isinstance(data, dict):
        for key in reversed(list(data)):
            value = data[key]
            lines.append(f"{pad}# {key}, reordered and commented")
            if isinstance(value, dict | list) and value:
                lines += [f"{pad}{key}:", as_block(value, depth + 1)]
            else:
                lines.append(f"{pad}{key}: {scalar(value)}")
    else:
        for item in data:
            if isinstance(item, dict | list) and item:
                lines += [f"{pad}-", as_block(item, depth + 1)]
            else:
                lines.append(f"{pad}- {scalar(item)}")
    return "\n".join(lines)


def scalar(value: Any) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)  # numbers, null, {} and []


def example_data() -> Any:
    return json.loads(json.dumps(YAML(typ="safe", pure=True).load(EXAMPLE_POLICY.read_text())))


def swap(text: str, first: str, second: str) -> str:
    assert first + second in text
    return text.replace(first + second, second + first)


@pytest.fixture(scope="module")
def committed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example policy rendered for every target, as a repository would commit it."""
    out = tmp_path_factory.mktemp("committed") / "out"
    result = run("render", str(EXAMPLE_POLICY), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == TARGETS
    return out


@pytest.mark.parametrize("layout", ["json", "block"])
def test_reformatting_the_policy_changes_no_rendered_file(committed: Path, tmp_path: Path, layout: str) -> None:
    text = as_json(example_data()) if layout == "json" else as_block(example_data()) + "\n"
    assert text != EXAMPLE_POLICY.read_text()
    policy = tmp_path / EXAMPLE_POLICY.name  # the headers name the policy file
    policy.write_text(text)
    result = run("render", str(policy), "--check", str(committed))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


def test_reordering_access_rules_changes_every_target(committed: Path, tmp_path: Path) -> None:
    text = swap(EXAMPLE_POLICY.read_text(),
                '    - {match: 192.0.2.0/24, action: reject, message: "Your network is blocked; contact '
                'postmaster@example.edu.cn"}\n', '    - {match: "2001:db8:bad::/48", action: reject}\n')
    text = swap(text, '    - {match: "postmaster@", action: permit}\n', '    - {match: "abuse@", action: permit}\n')
    policy = tmp_path / EXAMPLE_POLICY.name
    policy.write_text(text)
    result = run("render", str(policy), "--check", str(committed))
    assert result.returncode == 1
    changed = {line.split("\t")[0].removeprefix(f"+++ {committed}/") for line in result.stdout.splitlines()
               if line.startswith("+++ ")}
    assert {path.split("/")[0] for path in changed} == set(TARGETS) - {"procmail", "sieve", "imail"}, changed
    # procmail, sieve: no access rules; imail: no field for client and recipient rules, whose order swapped
    assert {"postfix/client_access.cidr", "postfix/recipient_access"} <= changed
    diff_policy = run("diff-policy", str(EXAMPLE_POLICY), str(policy))
    assert diff_policy.returncode == 0, "reordering is reported, but not risky"
    assert "access.clients: reordered (first match wins): now 2001:db8:bad::/48, 192.0.2.0/24" in diff_policy.stdout
