"""The stock Exim host: Debian 12's exim4-daemon-heavy with Cyrus SASL, started by Debian's init script.

The plan writes a complete /etc/exim4/exim4.conf, which Debian's exim binary reads before the file
update-exim4.conf generates (its compiled CONFIGURE_FILE list), so the host runs what a user installs;
Debian's init script still runs update-exim4.conf at start and the generated file is simply unused.
Exim logs to /var/log/exim4/mainlog and rejectlog (Debian's compiled log_file_path).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from mtaharden.targets.base import Plan
from tests.lab.kind import DeployError, HostKind, install_plan, register, run_steps

if TYPE_CHECKING:
    from tests.lab.host import LabHost

INIT = "/etc/init.d/exim4"
PID_FILE = "/run/exim4/exim.pid"
STOP_SECONDS = 20.0


class EximKind(HostKind):
    name = "exim"
    target = "exim"
    packages = ("exim4-daemon-heavy", "sasl2-bin", "libsasl2-modules", "ca-certificates")
    # Debian's README.Debian: Debian-exim joins the sasl group to read the sasldb; the package's
    # /etc/aliases already has postmaster.
    setup = ("adduser --quiet Debian-exim sasl",)
    sasl_owner = "root:sasl"

    def deploy(self, host: LabHost, rendered: Path, plan: Plan) -> None:
        """The plan's files, its build and check steps, then ``/etc/init.d/exim4 restart``.

        Exim reads the TLS key as Debian-exim, so the admin step Debian's README.Debian gives comes first:
        the files the plan's preflight says that user reads get its group and group read permission."""
        for need in plan.preflight:
            if need.need == "readable":
                user, *paths = need.args
                host.run(["chgrp", user, *paths])
                host.run(["chmod", "g+r", *paths])
        install_plan(host, rendered, plan)
        run_steps(host, plan)
        started = host.run([INIT, "restart"], check=False)
        output = started.stdout + started.stderr
        if started.returncode != 0:
            raise DeployError(f"{INIT} restart exited {started.returncode}:\n{output}\n{self.log_text(host)}")
        host.wait_for_port(25)

    def stop(self, host: LabHost) -> None:
        host.run([INIT, "stop"], check=False)
        deadline = time.monotonic() + STOP_SECONDS
        while self.running(host):
            if time.monotonic() > deadline:
                raise DeployError("Exim did not stop")
            time.sleep(0.2)

    def running(self, host: LabHost) -> bool:
        """The daemon named in Debian's PID file is alive."""
        pid_file = host.path(PID_FILE)
        if not pid_file.exists():
            return False
        first = pid_file.read_text().split()
        return bool(first) and host.run(["kill", "-0", first[0]], check=False).returncode == 0

    def log_text(self, host: LabHost) -> str:
        """Exim's main and reject logs."""
        return host.run(["sh", "-c", "cat /var/log/exim4/mainlog /var/log/exim4/rejectlog 2>/dev/null"],
                        check=False).stdout

    def queue_empty(self, host: LabHost) -> bool:
        """``exim -bpc`` counts the messages in the queue."""
        return host.run(["exim", "-bpc"], check=False).stdout.strip() == "0"


register(EximKind())
