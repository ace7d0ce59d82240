"""Exim's DANE check step: Exim's own dnssec_strict lookup, judged by its answer (Exim -be exits 0 either way)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from mtaharden.policy import PolicyError, load_policy_text
from mtaharden.targets.exim import EximTarget


def _check(policy_text: str) -> tuple[str, ...] | None:
    steps = EximTarget().plan(load_policy_text(policy_text)).steps
    return next((step.argv for step in steps if "dnssec_strict" in " ".join(step.argv)), None)


def test_only_dane_gets_the_check_and_it_names_the_probe_and_the_staged_config() -> None:
    assert _check("outbound: {tls: may}") is None and _check("outbound: {tls: encrypt}") is None
    argv = _check("outbound: {tls: dane}\ntargets: {exim: {dnssec_probe: Signed.Example.}}")
    assert argv is not None and argv[3:] == ("/usr/sbin/exim4", "/etc/exim4/exim4.conf", "signed.example")
    default = _check("outbound: {tls: dane}")
    assert default is not None and default[-1] == "org"


@pytest.mark.parametrize("name", ["org}{yes}", "a b", "x;reboot", "$(id)", "-x"])
def test_a_probe_name_that_is_no_dns_name_is_refused(name: str) -> None:
    with pytest.raises(PolicyError, match="dnssec_probe"):
        load_policy_text(f"outbound: {{tls: dane}}\ntargets: {{exim: {{dnssec_probe: '{name}'}}}}")


@pytest.mark.parametrize(("answer", "passes"), [("authenticated", True), ("insecure or missing", False),
                                                ('Failed: lookup of "dnssec_strict,ns=org" gave DEFER: ', False)])
def test_the_step_passes_only_on_an_authenticated_answer(tmp_path: Path, answer: str, passes: bool) -> None:
    """A stand-in exim that records its arguments and prints what Exim's -be would."""
    exim = tmp_path / "exim"
    exim.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {tmp_path}/args\necho \'{answer}\'\n')
    exim.chmod(0o755)
    argv = _check("outbound: {tls: dane}")
    assert argv is not None
    run = subprocess.run([*argv[:3], str(exim), "/stage/exim4.conf", "org"], capture_output=True, text=True,
                         timeout=30, check=False)
    assert (run.returncode == 0) == passes, run
    assert (tmp_path / "args").read_text().splitlines() == [
        "-C", "/stage/exim4.conf", "-be", "${lookup dnsdb{dnssec_strict,ns=org}{authenticated}{insecure or missing}}"]
    if not passes:
        assert "not authenticated" in run.stdout and "targets.exim.dnssec_probe" in run.stdout
