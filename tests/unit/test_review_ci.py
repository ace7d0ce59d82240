"""The pre-commit hooks and the example GitHub Actions workflow run the commands they promise.

``pre-commit try-repo`` installs a ``language: python`` hook with pip from PyPI, so it cannot run
offline; these tests run the very commands the hooks and the workflow's steps call instead, with
the installed console script, in a temporary git repository.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from tests.conftest import EXAMPLE_POLICY, REPO
from tests.unit.test_cli import run

BIN = Path(sys.executable).parent
WORKFLOW = REPO / "examples" / "ci" / "mail-policy.yml"
# the GitHub expressions the workflow may use in step env blocks, as a pull request against main sees them
EXPRESSIONS = {"${{ github.base_ref }}": "main", "${{ github.token }}": "ghs_SECRET-TOKEN",
               "${{ github.repository }}": "site/mail", "${{ github.event.pull_request.number }}": "7"}
# `gh` itself cannot run here (no GitHub): this stand-in records what it was asked to post, nothing else
GH_STUB = """#!/bin/sh
printf '%s\\n' "$@" > "$CAPTURE/gh.args"
while [ $# -gt 0 ]; do [ "$1" = --body-file ] && cp "$2" "$CAPTURE/gh.body"; shift; done
"""


def load(path: Path) -> Any:
    return YAML(typ="safe", pure=True).load(path.read_text())


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args], cwd=repo, check=True,
                   capture_output=True, timeout=60)


def site_repo(root: Path) -> Path:
    """A site's repository on main: the example policy and its rendered output, committed."""
    repo = root / "site"
    repo.mkdir()
    (repo / "policy.yml").write_text(EXAMPLE_POLICY.read_text())
    assert run("render", "policy.yml", "--out", "out", cwd=repo).returncode == 0
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "policy")
    return repo


# --- pre-commit -------------------------------------------------------------------------------


def hook_command(hook: dict[str, Any]) -> list[str]:
    entry = shlex.split(hook["entry"])
    return [str(BIN / entry[0]), *entry[1:], *hook.get("args", [])]


def test_hooks_are_python_hooks_with_the_console_script() -> None:
    hooks = {hook["id"]: hook for hook in load(REPO / ".pre-commit-hooks.yaml")}
    assert set(hooks) == {"mtaharden-validate", "mtaharden-render-check"}
    for hook in hooks.values():
        assert hook["language"] == "python" and hook["pass_filenames"] is False
        assert shlex.split(hook["entry"])[0] == "mtaharden"
    assert hooks["mtaharden-render-check"]["args"] == ["policy.yml", "--check", "out"]


def test_hook_commands_pass_on_a_clean_repo_and_catch_drift(tmp_path: Path) -> None:
    repo = site_repo(tmp_path)
    hooks = {hook["id"]: hook_command(hook) for hook in load(REPO / ".pre-commit-hooks.yaml")}
    for command in hooks.values():
        result = subprocess.run(command, cwd=repo, capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode == 0, result.stderr
    main_cf = repo / "out" / "postfix" / "main.cf"
    main_cf.write_text(main_cf.read_text() + "mynetworks = 0.0.0.0/0\n")
    drift = subprocess.run(hooks["mtaharden-render-check"], cwd=repo, capture_output=True, text=True, timeout=60,
                           check=False)
    assert drift.returncode == 1 and "-mynetworks = 0.0.0.0/0" in drift.stdout
    (repo / "policy.yml").write_text("role: nope\n")
    for command in hooks.values():
        refused = subprocess.run(command, cwd=repo, capture_output=True, text=True, timeout=60, check=False)
        assert refused.returncode == 2 and "policy.yml:1:7: role:" in refused.stderr


# --- the example workflow ---------------------------------------------------------------------


def test_workflow_shape() -> None:
    workflow = load(WORKFLOW)
    review, approval = workflow["jobs"]["review"], workflow["jobs"]["second-approval"]
    assert review["outputs"]["risky"] == "${{ steps.policy-diff.outputs.risky }}"
    assert approval["needs"] == "review" and approval["if"] == "needs.review.outputs.risky == 'true'"
    assert approval["environment"] == "risky-mail-policy"
    for step in review["steps"]:
        assert "${{" not in step.get("run", ""), "expressions go through env:, never into a script"
    assert workflow["permissions"] == {"contents": "read"}
    assert review["permissions"] == {"contents": "read", "pull-requests": "write"}, "the least the comment needs"
    comment = next(step for step in review["steps"] if step.get("name") == "Comment on the pull request")
    assert comment["if"] == "github.event_name == 'pull_request'" and "gh pr comment" in comment["run"]


@pytest.mark.parametrize("risky", [True, False])
def test_workflow_review_steps_run_on_a_pull_request(tmp_path: Path, risky: bool) -> None:
    repo = site_repo(tmp_path)
    git(repo, "update-ref", "refs/remotes/origin/main", "HEAD")
    git(repo, "checkout", "-qb", "change")
    edit = ("202.112.57.0/24", "202.112.0.0/16") if risky else ("max_recipients: 200", "max_recipients: 150")
    text = (repo / "policy.yml").read_text()
    (repo / "policy.yml").write_text(text.replace(*edit))
    assert run("render", "policy.yml", "--out", "out", cwd=repo).returncode == 0
    git(repo, "commit", "-qam", "change")

    workflow = load(WORKFLOW)
    summary, output, runner_temp = tmp_path / "summary.md", tmp_path / "output", tmp_path / "runner"
    runner_temp.mkdir()
    stubs, capture = tmp_path / "stubs", tmp_path / "capture"
    stubs.mkdir()
    capture.mkdir()
    (stubs / "gh").write_text(GH_STUB)
    (stubs / "gh").chmod(0o755)
    env = {**os.environ, **workflow["env"], "PATH": f"{stubs}{os.pathsep}{BIN}{os.pathsep}{os.environ['PATH']}",
           "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_OUTPUT": str(output), "RUNNER_TEMP": str(runner_temp),
           "CAPTURE": str(capture)}
    for step in workflow["jobs"]["review"]["steps"]:
        if "run" not in step or step["name"] == "Install mtaharden":
            continue
        step_env = {name: EXPRESSIONS[value] for name, value in step.get("env", {}).items()}
        result = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]], cwd=repo,
                                env={**env, **step_env}, capture_output=True, text=True, timeout=120, check=False)
        assert result.returncode == 0, f"{step['name']}: {result.stdout}{result.stderr}"
        assert "ghs_SECRET-TOKEN" not in result.stdout + result.stderr

    text = summary.read_text()
    assert (capture / "gh.args").read_text().splitlines()[:3] == ["pr", "comment", "7"]
    comment = (capture / "gh.body").read_text()
    assert comment == text or (len(comment) <= 65000 < len(text) and comment == text[:text.index(
        "## mtaharden explain:")] + "How each target enforces the policy: see the run's job summary.\n"), \
        "the comment is the job summary, or its change part when the whole is too long for GitHub"
    assert text.index("## Policy change:") < text.index("## mtaharden explain:"), "the change comes first"
    assert "**Relay stance:** this server relays only for" in text
    assert "### postfix" in text and "## Policy change:" in text
    assert f"risky={'true' if risky else 'false'}\n" == output.read_text()
    assert "### What changes on each server\n```diff\n# " in text and "\n# exchange: " in text
    if risky:
        assert "| **risky** | `networks.trusted` | trusted network widened: 202.112.57.0/24 → 202.112.0.0/16 |" in text
        assert "+ mynetworks = 127.0.0.0/8, [::1]/128, 202.112.0.0/16\n" in text
    else:
        assert "1 change, none risky." in text
        assert "+ smtpd_recipient_limit = 150\n" in text
