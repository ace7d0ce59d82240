"""The stock Sendmail host: Debian 12's ``sendmail`` package, started by Debian's init script.

The render uses the defaults (``OSTYPE(debian)`` with ``DOMAIN(debian-mta)``, settings in /etc/mail,
Debian's binaries and PID file), so the host runs exactly what a user installs. Debian's init script
runs ``make -C /etc/mail`` before it starts the daemon; the plan's build step has just written
sendmail.cf, so make finds it newer than sendmail.mc and keeps it. Only lab-side files are added:
/etc/cron.d (no cron in a minimal root; the init script writes its MSP cron file there) and the
postmaster alias (see ``setup``).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from mtaharden.targets.base import Plan
from tests.lab.kind import DeployError, HostKind, install_plan, register, run_steps
from tests.lab.postfix import start_syslog

if TYPE_CHECKING:
    from tests.lab.host import LabHost

INIT = "/etc/init.d/sendmail"
PID_FILE = "/run/sendmail/mta/sendmail.pid"
STOP_SECONDS = 20.0


class SendmailKind(HostKind):
    name = "sendmail"
    target = "sendmail"
    packages = ("sendmail", "sasl2-bin", "libsasl2-modules", "ca-certificates", "busybox-syslogd")
    # The package leaves /etc/aliases empty, so postmaster@ would be "User unknown": the alias RFC 5321
    # asks for, as Debian's Postfix and Exim packages install it (an admin's step; mtaharden writes no aliases).
    setup = ("mkdir -p /etc/cron.d", "echo 'postmaster: root' >> /etc/aliases")

    def deploy(self, host: LabHost, rendered: Path, plan: Plan) -> None:
        """The plan's files, its build and check steps, then ``/etc/init.d/sendmail restart`` (a stop
        that finds nothing running, then a start: what the role does after changed files)."""
        start_syslog(host)
        install_plan(host, rendered, plan)
        run_steps(host, plan)
        started = host.run([INIT, "restart"], check=False)
        output = started.stdout + started.stderr
        if started.returncode != 0 or "arning" in output:
            raise DeployError(f"{INIT} restart exited {started.returncode}:\n{output}\n{self.log_text(host)}")
        host.wait_for_port(25)

    def stop(self, host: LabHost) -> None:
        host.run([INIT, "stop"], check=False)
        deadline = time.monotonic() + STOP_SECONDS
        while self.running(host):
            if time.monotonic() > deadline:
                raise DeployError("Sendmail did not stop")
            time.sleep(0.2)

    def running(self, host: LabHost) -> bool:
        """The daemon named in Debian's PID file is alive (the PID file names the MTA listener)."""
        pid_file = host.path(PID_FILE)
        if not pid_file.exists():
            return False
        first = pid_file.read_text().split()
        return bool(first) and host.run(["kill", "-0", first[0]], check=False).returncode == 0

    def log_text(self, host: LabHost) -> str:
        """busybox syslogd's ring buffer, read with logread (Sendmail logs to syslog's mail facility)."""
        return host.run(["logread"], check=False).stdout

    def queue_empty(self, host: LabHost) -> bool:
        """``mailq`` of the MTA queue (Debian's /var/spool/mqueue): empty once every delivery ended."""
        listing = host.run(["sendmail", "-bp", "-C", "/etc/mail/sendmail.cf"], check=False).stdout
        return "is empty" in listing and "Total requests: 0" in listing


register(SendmailKind())
