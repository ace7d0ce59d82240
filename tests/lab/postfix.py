"""The stock Postfix host: Debian 12's postfix, postfix-pcre and Cyrus SASL, started by Debian's init script.

The render uses the defaults (config_dir /etc/postfix, port 25, smtpd chrooted, as Debian ships it), so
the chrooted smtpd and smtp resolve through /var/spool/postfix/etc/resolv.conf, which Debian's init
script copies from the host's /etc/resolv.conf at every start.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from mtaharden.targets.base import Plan
from tests.lab.kind import DeployError, HostKind, install_plan, register, run_steps

if TYPE_CHECKING:
    from tests.lab.host import LabHost

STOP_SECONDS = 20.0
CHROOT = "/var/spool/postfix"


class PostfixKind(HostKind):
    name = "postfix"
    target = "postfix"
    packages: ClassVar[tuple[str, ...]] = ("postfix", "postfix-pcre", "libsasl2-modules", "sasl2-bin",
                                           "busybox-syslogd",
                                           # sender authentication and DKIM signing (issue 26)
                                           "postfix-policyd-spf-python", "opendkim", "opendmarc")
    # Debian's SASL notes: the sasldb is root:sasl 0640 and postfix joins the sasl group to read it.
    setup = ("adduser --quiet postfix sasl",)
    sasl_owner = "root:sasl"

    def sasldb_copies(self, path: str) -> tuple[str, ...]:
        """Debian runs smtpd chrooted in /var/spool/postfix, and Cyrus opens sasldb_path after the chroot, so
        Debian's SASL notes put the database at /var/spool/postfix/etc/sasldb2 for sasldb_path /etc/sasldb2."""
        return (f"{CHROOT}{path}",)

    def deploy(self, host: LabHost, rendered: Path, plan: Plan) -> None:
        start_syslog(host)
        install_plan(host, rendered, plan)
        run_steps(host, plan)
        self.stop(host)  # a first deploy finds it stopped; inet_interfaces changes need stop + start anyway
        started = host.run(["/etc/init.d/postfix", "start"], check=False)
        if started.returncode != 0:
            raise DeployError(f"/etc/init.d/postfix start exited {started.returncode}:\n{started.stdout}"
                              f"{started.stderr}\n{self.log_text(host)}")
        if re.search(r"^(smtp|25)\s+inet\b", (rendered / "master.cf").read_text(), re.MULTILINE):
            host.wait_for_port(25)  # a null-client's master.cf runs no smtpd at all
        else:
            host.run(["postfix", "status"])  # then the daemon's own word that it runs
        if any(step.phase == "apply" and step.argv[0] != "postfix" for step in plan.steps):
            run_steps(host, plan, ("apply",))  # the milters the plan runs beside Postfix, as a role applies them

    def stop(self, host: LabHost) -> None:
        host.run(["/etc/init.d/postfix", "stop"], check=False)
        deadline = time.monotonic() + STOP_SECONDS
        while host.run(["postfix", "status"], check=False).returncode == 0:
            if time.monotonic() > deadline:
                raise DeployError("Postfix did not stop")
            time.sleep(0.2)

    def log_text(self, host: LabHost) -> str:
        """busybox syslogd's ring buffer (Debian's default for busybox-syslogd), read with logread."""
        return host.run(["logread"], check=False).stdout

    def queue_empty(self, host: LabHost) -> bool:
        listing = host.run(["postqueue", "-p"], check=False).stdout
        return "Mail queue is empty" in listing


def start_syslog(host: LabHost) -> None:
    """Debian's busybox syslogd, started by its init script: the MTA logs to syslog as on any host."""
    host.run(["/etc/init.d/busybox-syslogd", "start"])


register(PostfixKind())
