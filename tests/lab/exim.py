"""The stock Exim host: Debian 12's exim4-daemon-heavy with Cyrus SASL, started by Debian's init script.

The plan writes a complete /etc/exim4/exim4.conf, which Debian's exim binary reads before the file
update-exim4.conf generates (its compiled CONFIGURE_FILE list), so the host runs what a user installs;
Debian's init script still runs update-exim4.conf at start and the generated file is simply unused.
Exim logs to /var/log/exim4/mainlog and rejectlog (Debian's compiled log_file_path).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mtaharden.targets.base import Plan
from tests.lab.kind import InitScriptKind, install_plan, register, run_steps

if TYPE_CHECKING:
    from tests.lab.host import LabHost



class EximKind(InitScriptKind):
    name = "exim"
    target = "exim"
    init = "/etc/init.d/exim4"
    pid_file = "/run/exim4/exim.pid"
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
        self.restart(host)

    def log_text(self, host: LabHost) -> str:
        """Exim's main and reject logs."""
        return host.run(["sh", "-c", "cat /var/log/exim4/mainlog /var/log/exim4/rejectlog 2>/dev/null"],
                        check=False).stdout

    def queue_empty(self, host: LabHost) -> bool:
        """``exim -bpc`` counts the messages in the queue."""
        return host.run(["exim", "-bpc"], check=False).stdout.strip() == "0"


register(EximKind())
