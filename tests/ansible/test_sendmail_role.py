"""The sendmail role, run by the real ansible-playbook against Debian's Sendmail unpacked with dpkg -x.

Debian's sendmail-bin conflicts with the postfix package the other tests need, so the role is pointed
at the unpacked tree through its path variables (the same knobs serve a non-default install prefix).
Sendmail sleeps a minute when the host name is not fully qualified, so the daemon and the plan's
steps run in a private UTS namespace with an FQDN (mtaharden_step_prefix).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.ansible.playbook import BIN, run_role
from tests.conftest import EXAMPLE_POLICY, need_real_mta, render_policy
from tests.realmta.harness import SANDBOX_PARENT, Sendmail, daemon_dir, free_port
from tests.realmta.mta_lab import make_certificate
from tests.realmta.smtp_client import converse

pytestmark = pytest.mark.realmta
PROBER = "127.0.0.2"


@dataclass
class Lab:
    base: Path
    server: Sendmail
    overrides: list[str]

    def variables(self, *more: str) -> dict[str, Any]:
        return {
            "mtaharden_policy": str(EXAMPLE_POLICY),
            "mtaharden_set": [*self.overrides, *more],
            "mtaharden_helper_dir": str(self.base / "libexec"),
            "mtaharden_stage_root": str(self.base / "stage"),
            "mtaharden_backup_root": str(self.base / "backups"),
            "mtaharden_step_prefix": ["unshare", "--uts", "sh", "-c",
                                      f'hostname {self.server.hostname} && exec "$0" "$@"'],
            "mtaharden_probe_endpoints": [f"127.0.0.1:{self.server.port}"],
            "mtaharden_probe_args": ["--source-address", PROBER, "--timeout", "10"],
            "sendmail_settings_dir": str(self.server.settings_dir),
            "sendmail_cf_dir": str(Sendmail.cf_dir),
            "sendmail_binary": str(Sendmail.binary),
            "sendmail_makemap": str(Sendmail.makemap),
            "sendmail_install_packages": False,
            "sendmail_conflicts": [],  # the unpacked tree is no package: the machine's postfix does not conflict
        }

    def config_digest(self) -> dict[str, str]:
        """The source files (sendmail.cf and .db files are rebuilt; the .cf carries its build date)."""
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(self.server.settings_dir.iterdir())
                if p.is_file() and "~" not in p.name and p.suffix not in (".db", ".cf")}


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    need_real_mta("m4", "unshare", "script", str(Sendmail.binary), str(BIN / "ansible-playbook"))
    with daemon_dir("sendmail-role", parent=SANDBOX_PARENT) as base:
        make_certificate(base / "tls")
        (base / "sasldb2").write_bytes(b"")
        port = free_port()
        options = Sendmail.options(base, port)
        minimal = {"hostname": "mx1.example.edu.cn", "domains": {"local": ["example.edu.cn"]},
                   "networks": {"trusted": ["127.0.0.1/32"]}, "targets": {"sendmail": options}}
        _, rendered = render_policy(minimal, base / "baseline", "sendmail")
        server = Sendmail.install(rendered, base, port)
        overrides = [f"targets.sendmail.{key}={value}" for key, value in options.items()
                     if key not in ("settings_dir", "cf_dir", "sendmail", "makemap")]
        overrides += ["targets.sendmail.accept_unresolvable_domains=true",
                      "networks.trusted=[127.0.0.1/32, 202.112.57.0/24]", "dnsbl=[]",
                      f"auth.submission={{port: {free_port()}, smtps_port: {free_port()}}}",
                      f"tls.cert={base / 'tls/cert.pem'}", f"tls.key={base / 'tls/key.pem'}",
                      # no saslauthd runs here: a sasldb the preflight finds (opened only at AUTH)
                      "auth.cyrus.pwcheck_method=auxprop", f"auth.cyrus.sasldb_path={base / 'sasldb2'}"]
        with server.running():
            yield Lab(base, server, overrides)


def refuses_relay(lab: Lab) -> bool:
    talk = converse("127.0.0.1", lab.server.port, PROBER,
                    ["EHLO client.test", "MAIL FROM:<a@client.test>", "RCPT TO:<x@relaytest.invalid>"])
    return 500 <= talk.replies[-1][0] < 600


def test_first_run_deploys_and_verifies(lab: Lab) -> None:
    result = run_role(lab.base, "sendmail", lab.variables())
    assert result.returncode == 0, result.output[-5000:]
    assert result.recap["changed"] > 0
    assert "mx1.example.edu.cn" in (lab.server.settings_dir / "sendmail.mc").read_text()
    assert refuses_relay(lab)


def test_second_run_changes_nothing(lab: Lab) -> None:
    result = run_role(lab.base, "sendmail", lab.variables())
    assert result.returncode == 0, result.output[-5000:]
    assert result.recap["changed"] == 0, result.output[-5000:]


def test_open_relay_policy_is_rolled_back(lab: Lab) -> None:
    before = lab.config_digest()
    result = run_role(lab.base, "sendmail", lab.variables(f"networks.trusted=[127.0.0.1/32, {PROBER}/32]"))
    assert result.returncode != 0
    assert "mtaharden probe exit" in result.output, result.output[-4000:]  # 1 (open) or inconclusive
    assert lab.config_digest() == before
    assert refuses_relay(lab), "the restored configuration is live again"
