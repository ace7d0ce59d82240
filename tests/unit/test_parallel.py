"""The suite's own parallel run (tests/parallel.py), with the real pytest-xdist on a small generated suite.

What must hold: plain ``pytest`` runs on two workers; the tests that share a held module fixture run on one
worker, once set up, in file order (per parameter); a failure and a crashed worker are reported and fail the
run (a crash also stops it: no worker replacement, see tests/parallel.py); ``-n 0`` and ``-p no:xdist`` run
everything in one process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

pytest.importorskip("xdist")

CONFTEST = ("from tests.conftest import (pytest_cmdline_main, pytest_collection_finish, pytest_configure_node,  "
            "# noqa: F401\n    pytest_unconfigure, pytest_xdist_make_scheduler)\n")
RECORD = '''
import os

import pytest


def record(*words: str) -> None:
    with open(os.environ["RECORD"], "a") as log:
        log.write(" ".join([os.environ.get("PYTEST_XDIST_WORKER", "serial"), *words]) + "\\n")
'''
SHARED = RECORD + '''

@pytest.fixture(scope="module")
def host():
    record("setup", "host")
    yield "host"


@pytest.fixture(scope="module", params=["exim", "qmail"])
def kind(request):
    record("setup", request.param)
    yield request.param


@pytest.mark.parametrize("step", range(4))
def test_steps_on_one_host(host, step):
    record("host", str(step))


@pytest.mark.parametrize("step", range(3))
def test_steps_per_kind(kind, step):
    record(kind, str(step))


@pytest.mark.parametrize("n", range(8))
def test_independent(n):
    record("independent", str(n))
'''
FAILING = RECORD + '''

def test_fails():
    assert 6 * 7 == 41, "the arithmetic of a failing worker"
'''
CRASHING = RECORD + '''

@pytest.mark.skipif("PYTEST_XDIST_WORKER" not in os.environ, reason="would end a serial run")
def test_crashes():
    os._exit(3)
'''


def run_suite(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], list[list[str]]]:
    """Run the generated suite with the checkout's hooks; its output and what each test recorded."""
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "conftest.py").write_text(CONFTEST)
    (suite / "test_shared.py").write_text(SHARED)
    (suite / "test_failing.py").write_text(FAILING)
    (suite / "test_zz_crashing.py").write_text(CRASHING)  # collected, so scheduled, last: nothing is left unrun
    record = tmp_path / "record"
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
    env.update(RECORD=str(record), PYTHONPATH=str(REPO), PYTHONDONTWRITEBYTECODE="1")
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rfE", *args, str(suite)],
                          cwd=suite, env=env, capture_output=True, text=True, timeout=120, check=False)
    lines = [line.split() for line in record.read_text().splitlines()] if record.exists() else []
    return done, lines


def test_the_default_run_uses_two_workers_keeps_groups_and_reports_failures(tmp_path: Path) -> None:
    done, lines = run_suite(tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "2 workers [20 items]" in output, output
    assert "the arithmetic of a failing worker" in output and "FAILED" in output, output
    assert "crashed while running 'test_zz_crashing.py::test_crashes'" in output, output
    assert "worker restarting disabled" in output and "1 failed" not in output, output  # the crash is a failure too
    assert {line[0] for line in lines} >= {"gw0", "gw1"}, lines  # (a crashed worker's replacement is gw2)
    for group in ("host", "exim", "qmail"):
        steps = [line for line in lines if line[1] == group]
        assert len({line[0] for line in steps}) == 1, f"{group} ran on several workers: {steps}"
        assert [line[2] for line in steps] == [str(n) for n in range(len(steps))], f"{group} out of order: {steps}"
        assert sum(line[1:] == ["setup", group] for line in lines) == 1, f"{group} set up more than once: {lines}"
    assert len([line for line in lines if line[1] == "independent"]) == 8


@pytest.mark.parametrize("serial", [["-n", "0"], ["-p", "no:xdist"]])
def test_serial_runs_stay_in_one_process(tmp_path: Path, serial: list[str]) -> None:
    done, lines = run_suite(tmp_path, *serial)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "workers" not in output and "the arithmetic of a failing worker" in output, output
    assert "1 failed, 18 passed, 1 skipped" in output, output
    assert {line[0] for line in lines} == {"serial"}, lines
