"""The real ansible-playbook against one stock lab host, and what a test reads of that host afterwards.

The controller is the lab's client namespace (outside the trusted networks, like an admin's laptop);
tasks run inside the host through tests/ansible/connection_plugins/labhost.py. What differs between
MTAs (which files the role manages, how to tell that the MTA runs) comes from the target's own Plan,
so this file knows no MTA.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mtaharden.policy import load_policy
from mtaharden.targets.base import Plan, registered
from tests.ansible.playbook import BIN, PlayResult
from tests.conftest import REPO
from tests.lab.host import LabHost
from tests.lab.network import UNTRUSTED, LabNet

PLUGINS = Path(__file__).with_name("connection_plugins")
PYTHON_HOME = Path((BIN / "python3").resolve()).parents[1]  # the interpreter the venv links to


@dataclass
class Lab:
    """One host of one target, with the policy file the plays deploy and the overrides every play keeps."""

    net: LabNet
    host: LabHost
    base: Path
    policy: Path
    target: str
    keep: list[str] = field(default_factory=list)  # --set overrides later plays start from (e.g. a moved listener)
    defaults: dict[str, Any] = field(default_factory=dict)  # role variables of every play (e.g. the vantage)

    def plan(self) -> Plan:
        return registered()[self.target].plan(load_policy(self.policy))

    def play(self, *more: str, role: str = "", prefix: tuple[str, ...] = (), check: bool = False,
             extra: Mapping[str, Any] | None = None, **variables: Any) -> PlayResult:
        """ansible-playbook from the client namespace against the host: the role's defaults, the lab's probe."""
        inventory = self.base / "inventory.ini"
        inventory.write_text(f"mx ansible_connection=labhost ansible_lab_pid={self.host.pid} "
                             f"ansible_host={self.host.address} ansible_python_interpreter=/usr/bin/python3\n")
        playbook = self.base / "site.yml"
        playbook.write_text(json.dumps([{"name": "harden", "hosts": "mx", "gather_facts": False,
                                         "roles": [{"role": f"mtaharden.mail.{role or self.target}"}]}]))
        settings: dict[str, Any] = {
            "mtaharden_policy": str(self.policy), "mtaharden_command": str(BIN / "mtaharden"),
            "mtaharden_set": [*self.keep, *more], "mtaharden_step_prefix": list(prefix),
            "mtaharden_probe_endpoints": [f"{self.host.address}:25"],
            "mtaharden_probe_args": ["--source-address", UNTRUSTED, "--timeout", "10"],
            **{f"{name}_install_packages": False for name in registered()}, **self.defaults, **(extra or {}),
            **variables,
        }
        (self.base / "vars.json").write_text(json.dumps(settings))
        home = self.base / "ansible-home"
        env = [f"ANSIBLE_HOME={home}", f"ANSIBLE_LOCAL_TEMP={home / 'tmp'}", "ANSIBLE_NOCOLOR=1",
               f"ANSIBLE_COLLECTIONS_PATH={REPO}", f"ANSIBLE_CONNECTION_PLUGINS={PLUGINS}",
               "ANSIBLE_RETRY_FILES_ENABLED=0", "ANSIBLE_DEPRECATION_WARNINGS=0", "ANSIBLE_HOST_KEY_CHECKING=0",
               "ANSIBLE_PIPELINING=1",
               f"PATH={BIN}:/usr/sbin:/usr/bin:/sbin:/bin"]
        done = self.net.client(["env", *env, str(BIN / "ansible-playbook"), "-i", str(inventory), str(playbook),
                                "-e", f"@{self.base / 'vars.json'}", *(["--check", "--diff"] if check else [])],
                               check=False, timeout=600)
        return PlayResult(done.returncode, done.stdout + done.stderr)

    def files(self) -> dict[str, str]:
        """Every file the plan installs or derives that exists on the host, by content digest."""
        plan = self.plan()
        paths = [f.dest for f in plan.files if f.dest] + [o for s in plan.steps for o in s.outputs]
        return {p: hashlib.sha256(self.host.path(p).read_bytes()).hexdigest()
                for p in sorted(paths) if self.host.path(p).is_file()}

    def running(self) -> bool:
        """The plan's own test of whether the MTA runs."""
        service = self.plan().service
        assert service is not None
        return self.host.run(list(service.running), check=False).returncode == 0

    def greeting(self, address: str = "") -> str:
        """The first line the MTA sends at ``address`` (the host's) port 25, as the client sees it."""
        talk = self.net.client(["bash", "-c", f"exec 3<>/dev/tcp/{address or self.host.address}/25; "
                                              "timeout 10 head -1 <&3; echo QUIT >&3"], timeout=20, check=False)
        return talk.stdout

    def listeners(self) -> set[str]:
        """Local addresses (hex, as /proc/net/tcp shows them) listening on port 25 inside the host."""
        rows = [line.split() for line in self.host.run(["cat", "/proc/net/tcp"]).stdout.splitlines()[1:]]
        return {row[1].split(":")[0] for row in rows if row[3] == "0A" and row[1].endswith(":0019")}

    def share_mtaharden(self) -> None:
        """Make this checkout's mtaharden runnable inside the host at the same path (read-only bind mounts
        of the checkout and of the interpreter the venv links to): what `pipx install mtaharden` gives a
        managed host, for the verify role's queue proof on the host."""
        if self.host.path(str(BIN / "mtaharden")).exists():
            return
        merged = self.host.work / "merged"
        script = " && ".join(f"mkdir -p {merged}{p} && mount --bind -o ro {p} {merged}{p}" for p in (REPO, PYTHON_HOME))
        subprocess.run(["nsenter", "-t", str(self.host.pid), "--mount", "--", "sh", "-c", script],
                       check=True, capture_output=True, timeout=30)


def recap(result: PlayResult) -> dict[str, int]:
    section = result.output.split("PLAY RECAP")[-1]
    line = next(line for line in section.splitlines() if line.startswith("mx"))
    return {key: int(value) for key, value in (pair.split("=") for pair in line.split()[2:])}


def task_section(result: PlayResult, task: str) -> str:
    """The output of one task (from its TASK line to the next)."""
    parts = re.split(r"\nTASK \[", result.output)
    return next((p for p in parts if p.split("]", 1)[0].endswith(task)), "")
