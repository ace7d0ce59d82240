"""The example GitLab CI pipeline runs the commands it promises, in a clone of a site's repository.

GitLab itself cannot run here: the jobs' scripts run as the runner's bash would (``-eo pipefail``), with
the variables GitLab sets for a merge request; only ``curl``, the call that would post the note, is a
stand-in that records what it was given (its config on stdin, its arguments, the body file).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO
from tests.unit.test_cli import run
from tests.unit.test_review_ci import BIN, git, load, site_repo

PIPELINE = REPO / "examples" / "ci" / ".gitlab-ci.yml"
TOKEN = "glpat-SECRET-TOKEN-0123"
MERGE_REQUEST = {"CI_PIPELINE_SOURCE": "merge_request_event", "CI_MERGE_REQUEST_IID": "7",
                 "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main", "CI_API_V4_URL": "https://gitlab.example.org/api/v4",
                 "CI_PROJECT_ID": "42", "MTAHARDEN_NOTE_TOKEN": TOKEN}
CURL_STUB = """#!/bin/sh
cat > "$CAPTURE/curl.config"
printf '%s\\n' "$@" > "$CAPTURE/curl.args"
while [ $# -gt 0 ]; do
  case $1 in --data-urlencode) cp "${2#body@}" "$CAPTURE/curl.body";; esac
  shift
done
"""


def script(job: dict[str, Any]) -> str:
    """The job's script as one bash program, without the pip install (mtaharden is installed here)."""
    lines = [line for line in job["script"] if not line.startswith("python -m pip install")]
    return "\n".join(lines)


def merge_request_clone(root: Path, edit: tuple[str, str]) -> Path:
    """A runner's checkout of a merge request: a clone of ``origin`` (main has the example), one change."""
    site = site_repo(root)
    subprocess.run(["git", "clone", "-q", "--bare", str(site), str(root / "origin.git")], check=True, timeout=60)
    work = root / "work"
    subprocess.run(["git", "clone", "-q", str(root / "origin.git"), str(work)], check=True, timeout=60)
    git(work, "checkout", "-qb", "change")
    policy = work / "policy.yml"
    policy.write_text(policy.read_text().replace(*edit))
    assert run("render", "policy.yml", "--out", "out", cwd=work).returncode == 0
    git(work, "commit", "-qam", "change")
    return work


def run_job(job: dict[str, Any], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script(job)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=180, check=False)


def test_pipeline_shape() -> None:
    pipeline = load(PIPELINE)
    review, gate = pipeline["mail-policy"], pipeline["risky-change"]
    assert pipeline["stages"] == ["review", "approve"] and pipeline["variables"]["GIT_DEPTH"] == "0"
    assert review["artifacts"]["reports"]["dotenv"] == "review/risky.env"
    assert gate["needs"] == ["mail-policy"] and gate["stage"] == "approve"
    assert {"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'} in review["rules"]
    text = PIPELINE.read_text()
    assert text.count("$MTAHARDEN_NOTE_TOKEN") == 1 and 'printf \'header = "PRIVATE-TOKEN: %s"\\n\'' in text, \
        "the token goes to curl on stdin only"


@pytest.mark.parametrize("risky", [True, False])
def test_pipeline_posts_the_note_and_gates_a_risky_change(tmp_path: Path, risky: bool) -> None:
    edit = ("202.112.57.0/24", "202.112.0.0/16") if risky else ("max_recipients: 200", "max_recipients: 150")
    work = merge_request_clone(tmp_path, edit)
    pipeline = load(PIPELINE)
    stubs, capture = tmp_path / "stubs", tmp_path / "capture"
    stubs.mkdir()
    capture.mkdir()
    (stubs / "curl").write_text(CURL_STUB)
    (stubs / "curl").chmod(0o755)
    env = {**os.environ, **pipeline["variables"], **MERGE_REQUEST, "CAPTURE": str(capture),
           "PATH": f"{stubs}{os.pathsep}{BIN}{os.pathsep}{os.environ['PATH']}"}

    done = run_job(pipeline["mail-policy"], work, env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert TOKEN not in done.stdout + done.stderr
    args = (capture / "curl.args").read_text()
    assert TOKEN not in args, "the token is in no command line"
    assert (capture / "curl.config").read_text() == f'header = "PRIVATE-TOKEN: {TOKEN}"\n'
    assert args.endswith("https://gitlab.example.org/api/v4/projects/42/merge_requests/7/notes\n")
    note = (capture / "curl.body").read_text()
    assert note == (work / "review" / "note.md").read_text()
    assert note.startswith("## Policy change: ") and "### What changes on each server\n```diff\n" in note
    assert "## mtaharden explain: policy.yml" in note and "**Relay stance:** this server relays only for" in note
    dotenv = (work / "review" / "risky.env").read_text()
    assert dotenv == f"RISKY={'true' if risky else 'false'}\n"
    if risky:
        assert "| **risky** | `networks.trusted` | trusted network widened: 202.112.57.0/24 → 202.112.0.0/16 |" in note
        readme = (REPO / "README.md").read_text()
        shown = readme[readme.index("````markdown\n") + 13:readme.index("\n````\n")].splitlines()
        lines, at = note.splitlines(), 0
        for line in (line for line in shown if line not in {"", "…"}):  # in order, each after the one before
            at = lines.index(line, at) + 1
        assert len(shown) > 20, "the README shows this very note, cut at …"
    else:
        assert "1 change, none risky." in note and "+ smtpd_recipient_limit = 150\n" in note

    gate = pipeline["risky-change"]
    risky_env = {**env, **dict([dotenv.strip().split("=", 1)])}
    cases = (("", not risky), ("docs,mail-policy-approved", True), ("mail-policy-approved-not", not risky))
    for labels, passes in cases:
        result = run_job(gate, work, {**risky_env, "CI_MERGE_REQUEST_LABELS": labels})
        assert (result.returncode == 0) is passes, (labels, result.stdout, result.stderr)


def test_a_push_to_the_default_branch_only_checks(tmp_path: Path) -> None:
    work = merge_request_clone(tmp_path, ("max_recipients: 200", "max_recipients: 150"))
    pipeline = load(PIPELINE)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CI_MERGE_REQUEST")}
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    (stubs / "curl").write_text("#!/bin/sh\nexit 99\n")  # posting on a push would fail the job
    (stubs / "curl").chmod(0o755)
    env = {**env, **pipeline["variables"], "PATH": f"{stubs}{os.pathsep}{BIN}{os.pathsep}{os.environ['PATH']}"}
    done = run_job(pipeline["mail-policy"], work, env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(p.name for p in (work / "review").iterdir()) == ["explain.md", "risky.env"], "no note posted"
    (work / "out" / "postfix" / "main.cf").write_text("mynetworks = 0.0.0.0/0\n")
    assert run_job(pipeline["mail-policy"], work, env).returncode == 1, "render --check fails the job"
