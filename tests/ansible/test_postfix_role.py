"""The postfix role, run by the real ansible-playbook against a real Postfix on this machine.

The tests run in file order on one Postfix instance: first deployment, an idempotent second run,
--check --diff, a policy that makes an open relay (rolled back), a policy mtaharden refuses (never
swapped in). The instance starts from a different (minimal) configuration. The role manages LIVE as
rendered; the instance runs from a sandboxed copy that the role's step prefix keeps in step
(tests/ansible/sandbox_step.py), since a policy may not move Postfix's queue, data or log.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.ansible.playbook import BIN, run_role
from tests.conftest import EXAMPLE_POLICY, need_real_mta, render_policy
from tests.realmta.harness import Postfix, daemon_dir, free_port
from tests.realmta.mta_lab import make_certificate
from tests.realmta.smtp_client import converse

pytestmark = pytest.mark.realmta
PROBER = "127.0.0.2"


@dataclass
class Lab:
    base: Path
    server: Postfix
    overrides: list[str]

    @property
    def live(self) -> Path:
        return self.base / "live"

    def variables(self, *more: str, verify: bool = True) -> dict[str, Any]:
        return {
            "mtaharden_policy": str(EXAMPLE_POLICY),
            "mtaharden_set": [*self.overrides, *more],
            "mtaharden_helper_dir": str(self.base / "libexec"),
            "mtaharden_stage_root": str(self.base / "stage"),
            "mtaharden_backup_root": str(self.base / "backups"),
            "mtaharden_verify": verify,
            "mtaharden_probe_endpoints": [f"127.0.0.1:{self.server.port}"],
            "mtaharden_probe_args": ["--source-address", PROBER, "--timeout", "10"],
            "postfix_config_dir": str(self.live),
            "mtaharden_step_prefix": [sys.executable, str(Path(__file__).with_name("sandbox_step.py")),
                                      str(self.live), str(self.server.config_dir)],
            "postfix_install_packages": False,
        }

    def config_digest(self) -> dict[str, str]:
        """The configuration's source files (indexes like .db are rebuilt, so their bytes may differ)."""
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(self.live.rglob("*"))
                if p.is_file() and p.suffix != ".db"}


def sandbox_overrides(base: Path, port: int) -> list[str]:
    """Per-host values for this machine: loopback listeners and a test certificate (the private queue
    is the step prefix's: a policy may not set it)."""
    return [
        f"targets.postfix.smtp_port={port}", "targets.postfix.inet_interfaces=[127.0.0.1]",
        "targets.postfix.inet_protocols=ipv4", "targets.postfix.chroot=false",
        "networks.trusted=[127.0.0.1/32, 202.112.57.0/24]", "dnsbl=[]",
        f"auth.submission={{port: {free_port()}, smtps_port: {free_port()}}}",
        f"tls.cert={base / 'tls/cert.pem'}", f"tls.key={base / 'tls/key.pem'}",
        # no saslauthd runs here: a sasldb the preflight finds (smtpd opens it only at AUTH)
        "auth.cyrus.pwcheck_method=auxprop", f"auth.cyrus.sasldb_path={base / 'sasldb2'}",
    ]


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    need_real_mta("postfix", "script", str(BIN / "ansible-playbook"))
    with daemon_dir("ansible") as base:
        make_certificate(base / "tls")
        (base / "sasldb2").write_bytes(b"")
        (base / "sasldb2").chmod(0o644)
        port = free_port()
        minimal = {"hostname": "mx1.example.edu.cn", "domains": {"local": ["example.edu.cn"]},
                   "networks": {"trusted": ["127.0.0.1/32"]},
                   "targets": {"postfix": {"config_dir": str(base / "etc"), "smtp_port": port, "chroot": False,
                                           "inet_interfaces": ["127.0.0.1"], "inet_protocols": "ipv4"}}}
        plan, rendered = render_policy(minimal, base / "baseline")
        shutil.copytree(rendered, base / "live")
        server = Postfix.install(rendered, base / "etc", port, [s.argv for s in plan.steps])
        with server.running():
            yield Lab(base, server, sandbox_overrides(base, port))


def task_output(output: str, task: str) -> str:
    """What ansible-playbook printed for one task (up to the next TASK header)."""
    start = output.index(f": {task}")
    end = output.find("TASK [", start)
    return output[start:end if end >= 0 else None]


def refuses_relay(lab: Lab) -> bool:
    talk = converse("127.0.0.1", lab.server.port, PROBER,
                    ["EHLO client.test", "MAIL FROM:<a@client.test>", "RCPT TO:<x@relaytest.invalid>"])
    return 500 <= talk.replies[-1][0] < 600


def test_first_run_deploys_the_example_policy_and_verifies_it(lab: Lab) -> None:
    result = run_role(lab.base, "postfix", lab.variables())
    assert result.returncode == 0, result.output[-4000:]
    assert result.recap["changed"] > 0 and result.recap["failed"] == 0
    assert "myhostname = mx1.example.edu.cn" in (lab.server.config_dir / "main.cf").read_text()
    assert "Verify from outside with the relay probe" in result.output
    assert refuses_relay(lab)
    lab.server.assert_log_clean()


def test_second_run_changes_nothing(lab: Lab) -> None:
    before = lab.config_digest()
    result = run_role(lab.base, "postfix", lab.variables())
    assert result.returncode == 0, result.output[-4000:]
    assert result.recap["changed"] == 0, result.output[-4000:]
    for task in ("Start the MTA", "Apply the live configuration", "Build the live configuration"):
        section = task_output(result.output, task)
        assert "skipping" in section and "changed:" not in section, section
    assert lab.config_digest() == before


def test_check_diff_shows_the_change_and_changes_nothing(lab: Lab) -> None:
    before = lab.config_digest()
    result = run_role(lab.base, "postfix", lab.variables("smtp.max_recipients=42"), "--check", "--diff")
    assert result.returncode == 0, result.output[-4000:]
    assert "-smtpd_recipient_limit = 200" in result.output and "+smtpd_recipient_limit = 42" in result.output
    assert lab.config_digest() == before


def test_open_relay_policy_fails_verification_and_is_rolled_back(lab: Lab) -> None:
    before = lab.config_digest()
    result = run_role(lab.base, "postfix", lab.variables(f"networks.trusted=[127.0.0.1/32, {PROBER}/32]"))
    assert result.returncode != 0
    assert "mtaharden probe exit" in result.output, result.output[-4000:]  # 1 (open) or inconclusive
    assert "changed:" in task_output(result.output, "Put the snapshot back")
    assert lab.config_digest() == before
    assert refuses_relay(lab), "the restored configuration is live again"


def test_policy_mtaharden_refuses_is_never_swapped_in(lab: Lab) -> None:
    before = lab.config_digest()
    parameters = {"mydestinaton": "typo.example"}  # a misspelt parameter is off the allow-list
    result = run_role(lab.base, "postfix", lab.variables(f"targets.postfix.parameters={json.dumps(parameters)}"))
    assert result.returncode != 0
    assert "mydestinaton: this parameter is not managed safely by mtaharden" in result.output
    assert "Swap the new files in" not in result.output
    assert lab.config_digest() == before
    assert refuses_relay(lab)


def test_roles_pass_ansible_lint_production_profile() -> None:
    from tests.conftest import REPO

    lint = shutil.which("ansible-lint", path=str(BIN))
    assert lint, "ansible-lint is a test dependency"
    import subprocess

    collection = REPO / "ansible_collections" / "mtaharden" / "mail"
    result = subprocess.run([lint, "--profile", "production", "--offline", "."], cwd=collection,
                            capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
