"""The roles' run-quiet helper: one plan step, its arguments exactly as given, failing on a warning."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from mtaharden.targets.kit.milters import KEY_CHECK
from tests.conftest import REPO

HELPER = REPO / "ansible_collections/mtaharden/mail/roles/mtaharden/files/run-quiet"


def run(*argv: str, shell: str | None) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "SHELL"}
    if shell is not None:
        env["SHELL"] = shell
    return subprocess.run([str(HELPER), *argv], capture_output=True, text=True, timeout=60, check=False, env=env)


@pytest.mark.parametrize("shell", [None, "/bin/sh", "/bin/bash"], ids=["unset", "dash", "bash"])
def test_every_argument_arrives_as_given_whatever_the_login_shell(shell: str | None) -> None:
    """A multi-line sh -c script (the DKIM key check is one) and quotes, blanks and $(...) in arguments: the
    Ansible lab's connection leaves SHELL unset, where script(1) would fall back to /bin/sh."""
    done = run("sh", "-c", 'printf "%s|" "$@"\necho', "sh", "a b", "c'd", "$(id)", '"', "", shell=shell)
    assert done.returncode == 0 and done.stdout.strip() == "a b|c'd|$(id)|\"||", done


def test_the_key_check_runs_through_it_and_still_refuses_a_readable_key(tmp_path: Path) -> None:
    key = tmp_path / "k.pem"
    key.write_text("x")
    key.chmod(0o644)
    user = subprocess.run(["id", "-un"], capture_output=True, text=True, check=True).stdout.strip()
    refused = run("sh", "-c", KEY_CHECK, user, str(key), shell=None)
    assert refused.returncode == 1 and "make it owner-only" in refused.stdout, refused
    key.chmod(0o600)
    assert run("sh", "-c", KEY_CHECK, user, str(key), shell=None).returncode == 0


def test_a_warning_fails_a_step_that_exits_0() -> None:
    warned = run("sh", "-c", "echo 'postconf: warning: unused parameter'", shell=None)
    assert warned.returncode == 1 and "warning" in warned.stdout
    assert run("sh", "-c", "exit 3", shell=None).returncode == 3


def test_a_daemon_the_step_starts_outlives_the_step(tmp_path: Path) -> None:
    """A start step whose daemon forks and is still in the step's session when the step's shell exits (smtpd,
    sendmail and exim call setsid only after the fork): the hang-up of script's terminal must not kill it."""
    mark = tmp_path / "alive"
    started = run("sh", "-c", f"( sleep 0.5; echo up > {mark} ) & exit 0", shell=None)
    assert started.returncode == 0, started
    deadline = time.monotonic() + 10
    while not mark.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert mark.exists(), "the step's background child died with the step's terminal"


def test_the_step_still_writes_to_a_terminal() -> None:
    """postfix(1) reports its warnings only to a terminal: run-quiet must keep giving it one."""
    assert run("sh", "-c", "[ -t 2 ] && echo terminal", shell=None).stdout.strip() == "terminal"
