"""The stock Sendmail host: Debian 12's ``sendmail`` package, started by Debian's init script.

The render uses the defaults (``OSTYPE(debian)`` with ``DOMAIN(debian-mta)``, settings in /etc/mail,
Debian's binaries and PID file), so the host runs exactly what a user installs. Debian's init script
runs ``make -C /etc/mail`` before it starts the daemon; the plan's build step has just written
sendmail.cf, so make finds it newer than sendmail.mc and keeps it. Only lab-side files are added:
/etc/cron.d (no cron in a minimal root; the init script writes its MSP cron file there) and the
postmaster alias (see ``setup``).
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import TYPE_CHECKING

from mtaharden.targets.base import Plan
from tests.lab.kind import DeployError, InitScriptKind, install_plan, register, run_steps
from tests.lab.postfix import start_syslog

if TYPE_CHECKING:
    from tests.lab.host import LabHost



class SendmailKind(InitScriptKind):
    name = "sendmail"
    target = "sendmail"
    init = "/etc/init.d/sendmail"
    pid_file = "/run/sendmail/mta/sendmail.pid"
    packages = ("sendmail", "sasl2-bin", "libsasl2-modules", "ca-certificates", "busybox-syslogd",
                # sender authentication and DKIM signing (issue 26)
                "opendkim", "opendmarc", "pyspf-milter")
    # The package leaves /etc/aliases empty, so postmaster@ would be "User unknown": the alias RFC 5321
    # asks for, as Debian's Postfix and Exim packages install it (an admin's step; mtaharden writes no aliases).
    setup = ("mkdir -p /etc/cron.d", "echo 'postmaster: root' >> /etc/aliases")

    def deploy(self, host: LabHost, rendered: Path, plan: Plan) -> None:
        """The plan's files, its build and check steps, the milters it runs beside Sendmail restarted by
        their init scripts (its apply steps before the SIGHUP, as a role applies them), then
        ``/etc/init.d/sendmail restart`` (a stop that finds nothing running, then a start: what the role
        does after changed files)."""
        start_syslog(host)
        install_plan(host, rendered, plan)
        run_steps(host, plan)
        for step in plan.steps:  # every apply step but the SIGHUP, which the init script's restart stands for
            if step.phase == "apply" and "kill -HUP" not in " ".join(step.argv):
                restarted = host.run(list(step.argv), check=False)
                if restarted.returncode != 0:
                    raise DeployError(f"{shlex.join(step.argv)} exited {restarted.returncode}:\n"
                                      f"{restarted.stdout}{restarted.stderr}\n{self.log_text(host)}")
        self.restart(host, refuse_warnings=True)

    def log_text(self, host: LabHost) -> str:
        """busybox syslogd's ring buffer, read with logread (Sendmail logs to syslog's mail facility)."""
        return host.run(["logread"], check=False).stdout

    def queue_empty(self, host: LabHost) -> bool:
        """``mailq`` of the MTA queue (Debian's /var/spool/mqueue): empty once every delivery ended."""
        listing = host.run(["sendmail", "-bp", "-C", "/etc/mail/sendmail.cf"], check=False).stdout
        return "is empty" in listing and "Total requests: 0" in listing


register(SendmailKind())
