"""The stock OpenSMTPD host: Debian 12's ``opensmtpd`` package, started by Debian's init script.

The render uses the defaults (``/etc/smtpd.conf``, port 25), so the host runs what a user installs: the plan's
smtpd.conf, its check step (``smtpd -n``), then ``/etc/init.d/opensmtpd restart`` (OpenSMTPD reads its
configuration only at start). Lab-side only: busybox syslogd for the log, and the postmaster alias RFC 5321
asks for (the package leaves /etc/aliases without one).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from mtaharden.targets.base import Plan
from mtaharden.targets.opensmtpd.deploy import service
from tests.lab.kind import DeployError, HostKind, install_plan, register, run_steps, wait_until
from tests.lab.postfix import start_syslog

if TYPE_CHECKING:
    from tests.lab.host import LabHost

INIT = "/etc/init.d/opensmtpd"


class OpensmtpdKind(HostKind):
    name = "opensmtpd"
    target = "opensmtpd"
    # sasl2-bin only because the behaviour suite writes its sasldb on every host (OpenSMTPD checks system accounts);
    # opensmtpd-filter-dkimsign for dkim_signing (tests/lab/test_sender_auth.py).
    packages = ("opensmtpd", "opensmtpd-filter-dkimsign", "sasl2-bin", "ca-certificates", "busybox-syslogd")
    setup = ("grep -q '^postmaster:' /etc/aliases 2>/dev/null || echo 'postmaster: root' >> /etc/aliases",)
    # What stock OpenSMTPD cannot do of the behaviour policy (its COVERAGE.md says why).
    policy_targets: ClassVar[Mapping[str, Any]] = {"allow_unsupported": ["auth", "tls", "dnsbl", "header_checks"]}

    def deploy(self, host: LabHost, rendered: Path, plan: Plan) -> None:
        start_syslog(host)
        install_plan(host, rendered, plan)
        run_steps(host, plan)
        self.stop(host)
        started = host.run([INIT, "start"], check=False)
        if started.returncode != 0:
            raise DeployError(f"{INIT} start exited {started.returncode}:\n{started.stdout}{started.stderr}\n"
                              f"{self.log_text(host)}")
        wait_until(self, host, lambda: self._running(host), "OpenSMTPD did not start")
        if " port 25 " in (rendered / "smtpd.conf").read_text():  # a null-client or submission host has no port 25
            host.wait_for_port(25)

    def stop(self, host: LabHost) -> None:
        """The plan's own stop (init script, then its bounded wait until no smtpd process is left), as a role
        stops it: `init.d stop` alone returns while smtpd still exits, and a start then starts nothing."""
        for argv in service().stop:
            host.run(list(argv), check=False)
        wait_until(self, host, lambda: not self._running(host), "OpenSMTPD did not stop")

    def _running(self, host: LabHost) -> bool:
        """smtpctl reaches the daemon's control socket."""
        return host.run(["smtpctl", "show", "status"], check=False).returncode == 0

    def log_text(self, host: LabHost) -> str:
        """busybox syslogd's ring buffer, read with logread (OpenSMTPD logs to syslog's mail facility)."""
        return host.run(["logread"], check=False).stdout

    def queue_empty(self, host: LabHost) -> bool:
        """``smtpctl show queue`` prints one line per envelope: nothing once every delivery has ended."""
        listing = host.run(["smtpctl", "show", "queue"], check=False)
        return listing.returncode == 0 and not listing.stdout.strip()


register(OpensmtpdKind())
