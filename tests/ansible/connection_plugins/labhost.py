"""Ansible connection into a stock lab host: nsenter into its PID 1's namespaces and root (tests only).

ansible-core ships no nsenter or chroot connection (2.19: local, ssh, paramiko, psrp, winrm) and a
chroot alone would leave the MTA in the controller's network namespace; this keeps the real
ansible-playbook, modules and files, and runs them where the lab's MTA runs.
"""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

from ansible.plugins.connection import ConnectionBase

DOCUMENTATION = """
name: labhost
short_description: run tasks inside a stock lab host (tests/lab)
description: Each command runs with nsenter in the namespaces and root of the host's PID 1.
author: mtaharden tests
options:
  pid:
    description: PID 1 of the lab host, as the machine sees it.
    vars:
      - name: ansible_lab_pid
"""

ENV = ("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8", "HOME=/root")


class Connection(ConnectionBase):  # type: ignore[misc]
    transport = "labhost"
    has_pipelining = True

    def _connect(self) -> Connection:
        self._connected = True
        return self

    def _pid(self) -> str:
        return str(self.get_option("pid"))

    def _outside(self, path: str) -> str:
        return f"/proc/{self._pid()}/root/{path.lstrip('/')}"

    def exec_command(self, cmd: str, in_data: bytes | None = None, sudoable: bool = True) -> tuple[int, bytes, bytes]:
        super().exec_command(cmd, in_data=in_data, sudoable=sudoable)
        argv = ["nsenter", "-t", self._pid(), "--mount", "--uts", "--ipc", "--net", "--pid", "--root", "--wd",
                "--", "/usr/bin/env", "-i", *ENV, "/bin/sh", "-c", cmd]
        done = subprocess.run(argv, input=in_data or b"", capture_output=True, timeout=600, check=False)
        return done.returncode, done.stdout, done.stderr

    def put_file(self, in_path: str, out_path: str) -> None:
        super().put_file(in_path, out_path)
        shutil.copyfile(in_path, self._outside(out_path))

    def fetch_file(self, in_path: str, out_path: str) -> None:
        super().fetch_file(in_path, out_path)
        shutil.copyfile(self._outside(in_path), out_path)

    def close(self, *args: Any) -> None:
        self._connected = False
