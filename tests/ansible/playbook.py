"""Run the shipped roles with the real ansible-playbook against this machine (-c local)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import REPO

BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class PlayResult:
    returncode: int
    output: str

    @property
    def recap(self) -> dict[str, int]:
        match = re.search(r"localhost\s+:\s+(.*)", self.output.split("PLAY RECAP")[-1])
        assert match, self.output[-3000:]
        return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", match.group(1))}


def run_role(base: Path, role: str, variables: dict[str, Any], *extra: str,
             collections: Path = REPO) -> PlayResult:
    """Apply ``role`` to localhost with ``variables``; ansible's state stays under ``base``. The
    collection comes from ``collections`` only (not from sys.path, where the checkout also is)."""
    playbook = base / f"{role}.yml"
    playbook.write_text(json.dumps([{"name": f"apply {role}", "hosts": "localhost", "gather_facts": False,
                                     "roles": [{"role": f"mtaharden.mail.{role}"}]}]))
    extra_vars = base / "vars.json"
    extra_vars.write_text(json.dumps({"mtaharden_command": str(BIN / "mtaharden"), **variables}))
    home = base / "ansible-home"
    env = {**os.environ, "ANSIBLE_HOME": str(home), "ANSIBLE_LOCAL_TEMP": str(home / "tmp"),
           "ANSIBLE_REMOTE_TMP": str(home / "rtmp"), "ANSIBLE_COLLECTIONS_PATH": str(collections),
           "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "0",
           "ANSIBLE_PYTHON_INTERPRETER": sys.executable, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0",
           "ANSIBLE_RETRY_FILES_ENABLED": "0", "ANSIBLE_DEPRECATION_WARNINGS": "0"}
    completed = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", str(playbook), "-e", f"@{extra_vars}",
         *extra], capture_output=True, text=True, env=env, timeout=600, check=False)
    return PlayResult(completed.returncode, completed.stdout + completed.stderr)
