"""The postfix role, run by the real ansible-playbook against a stock Debian Postfix host of the lab.

The controller is the lab's client namespace (outside the trusted networks, like an admin's laptop);
tasks run inside the host through tests/ansible/connection_plugins/labhost.py. The tests run in file
order on one host: Postfix installed and stopped with no main.cf (what Debian's "No configuration"
leaves) → first run deploys and starts it; a second run changes nothing; an inet_interfaces change
really moves the listener (stop + start, as the plan's restart key says); an open-relay policy and a
reload that fails are both rolled back byte for byte with the previous Postfix still answering.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.ansible.lab_kinds import AnsiblePostfixKind
from tests.ansible.playbook import BIN, PlayResult
from tests.conftest import REPO
from tests.lab.conftest import LAB_TOOLS
from tests.lab.host import LabHost
from tests.lab.network import UNTRUSTED, LabNet
from tests.lab.policy import prepare_auth, render
from tests.lab.postfix import start_syslog
from tests.lab.roots import need_lab

pytestmark = pytest.mark.lab
CONFIG = "/etc/postfix"
BACKUPS = "/var/lib/mtaharden/backups/postfix"
FAIL_RELOAD = "/usr/local/sbin/fail-reload"
PLUGINS = Path(__file__).with_name("connection_plugins")


@dataclass
class Lab:
    net: LabNet
    host: LabHost
    base: Path
    policy: Path

    def play(self, *more: str, prefix: tuple[str, ...] = (), check: bool = False) -> PlayResult:
        """ansible-playbook from the client namespace against the host, the role's defaults but the probe's."""
        inventory = self.base / "inventory.ini"
        inventory.write_text(f"mx ansible_connection=labhost ansible_lab_pid={self.host.pid} "
                             f"ansible_host={self.host.address} ansible_python_interpreter=/usr/bin/python3\n")
        playbook = self.base / "site.yml"
        playbook.write_text(json.dumps([{"name": "harden", "hosts": "mx", "gather_facts": False,
                                         "roles": [{"role": "mtaharden.mail.postfix"}]}]))
        variables: dict[str, Any] = {
            "mtaharden_policy": str(self.policy), "mtaharden_command": str(BIN / "mtaharden"),
            "mtaharden_set": list(more), "mtaharden_step_prefix": list(prefix),
            "mtaharden_probe_endpoints": [f"{self.host.address}:25"],
            "mtaharden_probe_args": ["--source-address", UNTRUSTED, "--timeout", "10"],
            "postfix_install_packages": False,
        }
        (self.base / "vars.json").write_text(json.dumps(variables))
        home = self.base / "ansible-home"
        env = [f"ANSIBLE_HOME={home}", f"ANSIBLE_LOCAL_TEMP={home / 'tmp'}", "ANSIBLE_NOCOLOR=1",
               f"ANSIBLE_COLLECTIONS_PATH={REPO}", f"ANSIBLE_CONNECTION_PLUGINS={PLUGINS}",
               "ANSIBLE_RETRY_FILES_ENABLED=0", "ANSIBLE_DEPRECATION_WARNINGS=0", "ANSIBLE_HOST_KEY_CHECKING=0",
               f"PATH={BIN}:/usr/sbin:/usr/bin:/sbin:/bin"]
        done = self.net.client(["env", *env, str(BIN / "ansible-playbook"), "-i", str(inventory), str(playbook),
                                "-e", f"@{self.base / 'vars.json'}", *(["--check", "--diff"] if check else [])],
                               check=False, timeout=600)
        return PlayResult(done.returncode, done.stdout + done.stderr)

    def files(self) -> dict[str, str]:
        """Every file under /etc/postfix (compiled maps included), by content digest."""
        listing = self.host.run(["find", CONFIG, "-type", "f"]).stdout.split()
        return {p: hashlib.sha256(self.host.path(p).read_bytes()).hexdigest() for p in sorted(listing)}

    def running(self) -> bool:
        return self.host.run(["postfix", "status"], check=False).returncode == 0

    def greeting(self) -> str:
        talk = self.net.client(["bash", "-c", f"exec 3<>/dev/tcp/{self.host.address}/25; head -1 <&3; echo QUIT >&3"],
                               timeout=20, check=False)
        return talk.stdout

    def listeners(self) -> set[str]:
        """Local addresses (hex, as /proc/net/tcp shows them) listening on port 25 inside the host."""
        rows = [line.split() for line in self.host.run(["cat", "/proc/net/tcp"]).stdout.splitlines()[1:]]
        return {row[1].split(":")[0] for row in rows if row[3] == "0A" and row[1].endswith(":0019")}


def recap(result: PlayResult) -> dict[str, int]:
    section = result.output.split("PLAY RECAP")[-1]
    line = next(line for line in section.splitlines() if line.startswith("mx"))
    return {key: int(value) for key, value in (pair.split("=") for pair in line.split()[2:])}


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    need_lab(*LAB_TOOLS, "nsenter")
    kind = AnsiblePostfixKind()
    base = tmp_path_factory.mktemp("postfix-ansible")
    policy, _, _ = render(kind, base / "policy")
    with LabNet() as net, net.host(kind) as host:
        start_syslog(host)
        prepare_auth(host, kind)
        host.run(["rm", "-f", f"{CONFIG}/main.cf"])  # Debian's "No configuration": installed, no main.cf
        host.put(FAIL_RELOAD, b'#!/bin/sh\ncase "$*" in *reload*) echo "injected: reload refused" >&2; exit 1;; '
                              b'esac\nexec "$@"\n', mode=0o755)
        yield Lab(net, host, base, policy)


def test_first_run_on_an_installed_stopped_host_deploys_and_starts(lab: Lab) -> None:
    assert not lab.running() and not lab.host.path(f"{CONFIG}/main.cf").exists()
    result = lab.play()
    assert result.returncode == 0, result.output[-6000:]
    assert recap(result)["changed"] > 0
    assert lab.running() and lab.greeting().startswith("220 "), lab.greeting()
    assert "Verify from outside with the relay probe" in result.output


def test_second_run_changes_nothing_and_keeps_one_snapshot(lab: Lab) -> None:
    before = lab.files()
    result = lab.play()
    assert result.returncode == 0, result.output[-6000:]
    assert recap(result)["changed"] == 0, result.output[-6000:]
    assert lab.files() == before
    assert len(lab.host.run(["ls", BACKUPS]).stdout.split()) == 1, "a run that changed nothing keeps no snapshot"


def test_an_inet_interfaces_change_stops_and_starts_and_moves_the_listener(lab: Lab) -> None:
    assert "00000000" in lab.listeners()
    result = lab.play(f"targets.postfix.inet_interfaces=[{lab.host.address}]")
    assert result.returncode == 0, result.output[-6000:]
    assert "changed:" in result.output.split("Stop the MTA")[1].split("TASK [")[0]
    assert lab.listeners() == {"190200C0"}, lab.listeners()  # 192.0.2.25 only, no more 0.0.0.0
    assert lab.greeting().startswith("220 ")


def test_open_relay_policy_is_rolled_back_byte_for_byte_with_postfix_answering(lab: Lab) -> None:
    before = lab.files()
    result = lab.play(f"targets.postfix.inet_interfaces=[{lab.host.address}]",
                      f"networks.trusted=[{UNTRUSTED}/32]")
    assert result.returncode != 0
    assert "mtaharden probe exit" in result.output and "Put the snapshot back" in result.output
    assert lab.files() == before
    assert lab.running() and lab.greeting().startswith("220 ")


def test_a_failing_reload_is_rolled_back_and_says_why(lab: Lab) -> None:
    before = lab.files()
    result = lab.play(f"targets.postfix.inet_interfaces=[{lab.host.address}]", "smtp.max_recipients=42",
                      prefix=(FAIL_RELOAD,))
    assert result.returncode != 0
    assert 'at the step "Apply the live configuration"' in result.output, result.output[-6000:]
    assert "injected: reload refused" in result.output
    assert lab.files() == before
    assert lab.running() and lab.greeting().startswith("220 ")
    assert len(lab.host.run(["ls", BACKUPS]).stdout.split()) <= 3
