"""The qmail host: notqmail built from the vendored source on a Debian 12 root, run under daemontools.

Debian 12 packages no qmail, so the root's ``setup`` does what notqmail's INSTALL files ask of an
administrator: the users and groups of conf-users/conf-groups, ``make it man``, ``make setup check``,
the aliases of INSTALL.alias (postmaster, mailer-daemon and root to ``~alias/Maildir``), one real
local user (``alice``, ``~alice/Maildir``) and qmail-send under daemontools as Life with qmail sets it
up (``/var/qmail/supervise/qmail-send`` linked into ``/service``, ``qmail-start ./Maildir/``, its log
by multilog in ``/var/log/qmail``). The rendered output then supplies qmail-smtpd's service
(tcpserver, rblsmtpd) and the control files. The build tree stays in the root for ``config-fast``,
which needs the host's FQDN and so runs at the first deploy.

Nothing lab-side beyond the lab's ``/etc/resolv.conf`` and ``/etc/hosts``: remote deliveries follow
DNS, and the lab DNS sends every foreign name to the sink, so no ``control/smtproutes`` is written.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from mtaharden.targets.base import Plan
from tests.lab.kind import DeployError, HostKind, install_plan, register, run_steps, wait_until

if TYPE_CHECKING:
    from tests.lab.host import LabHost

VENDOR = Path(__file__).resolve().parents[3] / "shared" / "vendor"
NOTQMAIL = VENDOR / "notqmail-a7012e4.tar.gz"
SOURCE = "/usr/src/notqmail-a7012e4"
HOME = "/var/qmail"
SERVICE = "/service"
SERVICES = (f"{SERVICE}/qmail-send", f"{SERVICE}/qmail-smtpd")
SEND_LOG, SMTPD_LOG, SVSCAN_LOG = "/var/log/qmail/current", "/var/log/qmail/smtpd/current", "/var/log/svscan.log"
LOCAL_USER = "alice"
MAILBOXES = {"alias": f"{HOME}/alias/Maildir", LOCAL_USER: f"/home/{LOCAL_USER}/Maildir"}

# conf-users lines 1-8: alias, daemon, log, owner (root), passwd, queue, remote, send; conf-groups: qmail, nofiles.
_USERS = f"""
tar xzf /lab-inputs/{NOTQMAIL.name} -C /usr/src
cd {SOURCE}
set -- $(sed -n 1,8p conf-users)
qmail=$(sed -n 1p conf-groups); nofiles=$(sed -n 2p conf-groups); home=$(sed -n 1p conf-qmail)
groupadd -r "$qmail"; groupadd -r "$nofiles"
useradd -r -g "$nofiles" -d "$home/alias" -s /usr/sbin/nologin "$1"
for user in "$2" "$3" "$5"; do useradd -r -g "$nofiles" -d "$home" -s /usr/sbin/nologin "$user"; done
for user in "$6" "$7" "$8"; do useradd -r -g "$qmail" -d "$home" -s /usr/sbin/nologin "$user"; done
"""
_BUILD = f"cd {SOURCE} && make it man && make setup check"
_ALIASES = f"""
{HOME}/bin/maildirmake {MAILBOXES['alias']}
chown -R alias:nofiles {MAILBOXES['alias']}
for name in postmaster mailer-daemon root; do : > {HOME}/alias/.qmail-$name; chmod 644 {HOME}/alias/.qmail-$name; done
useradd -m -s /bin/sh {LOCAL_USER}
{HOME}/bin/maildirmake {MAILBOXES[LOCAL_USER]}
chown -R {LOCAL_USER}:{LOCAL_USER} {MAILBOXES[LOCAL_USER]}
"""
_SUPERVISE = f"""
mkdir -p {HOME}/supervise/qmail-send/log /var/log/qmail {SERVICE}
chown qmaill /var/log/qmail
chmod 750 /var/log/qmail
printf '#!/bin/sh\\nexec env - PATH="{HOME}/bin:$PATH" qmail-start ./Maildir/\\n' > {HOME}/supervise/qmail-send/run
printf '#!/bin/sh\\nexec setuidgid qmaill multilog t /var/log/qmail\\n' > {HOME}/supervise/qmail-send/log/run
chmod 755 {HOME}/supervise/qmail-send/run {HOME}/supervise/qmail-send/log/run
ln -s {HOME}/supervise/qmail-send {SERVICE}/qmail-send
"""


class QmailKind(HostKind):
    name = "qmail"
    target = "qmail"
    # The run scripts call tcpserver and rblsmtpd (ucspi-tcp), setuidgid and multilog, the plan's
    # apply steps svc (daemontools); make man needs nroff (groff-base). sasl2-bin only because the
    # behaviour suite writes its sasldb on every host (stock qmail-smtpd has no AUTH to read it).
    packages = ("build-essential", "groff-base", "ucspi-tcp", "daemontools", "sasl2-bin")
    setup: ClassVar[tuple[str, ...]] = (_USERS, _BUILD, _ALIASES, _SUPERVISE)
    inputs: ClassVar[tuple[Path, ...]] = (NOTQMAIL,) if NOTQMAIL.exists() else ()
    # What stock qmail cannot do of the behaviour policy (its COVERAGE.md says why); the rest are defaults.
    policy_targets: ClassVar[Mapping[str, Any]] = {"allow_unsupported": [
        "auth", "tls", "access.helo", "access.recipients[0]", "header_checks[0]", "smtp.max_recipients"]}

    def deploy(self, host: LabHost, rendered: Path, plan: Plan) -> None:
        """As on a host where qmail already runs: config-fast once (INSTALL's step for the host name)
        and svscan with qmail-send up (what svscanboot does at boot), then the plan's files, its build
        and check steps, its apply steps and its service start, exactly as the role runs them. Returns once the
        tcpserver of this deploy listens (the plan's steps wait for it), so a connection right after sees it."""
        if not host.path(f"{HOME}/control/me").exists():
            _must(host, ["sh", "-c", f"cd {SOURCE} && ./config-fast {shlex.quote(host.fqdn)}"], "config-fast")
        if host.run(["svok", SERVICES[0]], check=False).returncode != 0:
            _must(host, ["sh", "-c", f"setsid svscan {SERVICE} </dev/null >>{SVSCAN_LOG} 2>&1 &"], "svscan")
            wait_until(self, host, lambda: _up(host, SERVICES[0]), "svscan did not start qmail-send")
        install_plan(host, rendered, plan)
        run_steps(host, plan)
        run_steps(host, plan, ("apply",))  # ends when a restarted tcpserver listens: no settling pause
        assert plan.service is not None
        for argv in plan.service.start:  # qmailctl start: up again after a stop; ends when tcpserver listens
            _must(host, list(argv), "the plan's start")
        wait_until(self, host, lambda: all(_up(host, s) for s in SERVICES), "qmail-send and qmail-smtpd are not up")

    def stop(self, host: LabHost) -> None:
        """qmailctl stop: take both services down (supervise stays, so a deploy brings them up)."""
        if host.run(["svok", SERVICES[0]], check=False).returncode != 0:
            return
        host.run(["svc", "-d", *SERVICES], check=False)
        wait_until(self, host, lambda: not any(_up(host, s) for s in SERVICES), "qmail did not stop")

    def log_text(self, host: LabHost) -> str:
        logs = [(name, host.path(name)) for name in (SEND_LOG, SMTPD_LOG, SVSCAN_LOG)]
        return "\n".join(f"--- {name}\n{path.read_text(errors='replace')}" for name, path in logs if path.exists())

    def queue_empty(self, host: LabHost) -> bool:
        """qmail-qstat counts the queue's messages, preprocessed or not: both 0 once every delivery
        (local, remote or bounce) has ended."""
        counts = host.run([f"{HOME}/bin/qmail-qstat"], check=False).stdout
        numbers = [line.rsplit(":", 1)[-1].strip() for line in counts.splitlines()]
        return len(numbers) == 2 and numbers == ["0", "0"]


def mailbox_texts(host: LabHost, user: str) -> list[str]:
    """Every message delivered to ``user``'s Maildir (``alias`` is postmaster's), oldest first."""
    folder = host.path(f"{MAILBOXES[user]}/new")
    return [path.read_text(errors="replace") for path in sorted(folder.iterdir())] if folder.exists() else []


def _up(host: LabHost, service: str) -> bool:
    return host.run(["svstat", service], check=False).stdout.startswith(f"{service}: up")


def _must(host: LabHost, argv: list[str], what: str) -> None:
    result = host.run(argv, check=False)
    if result.returncode != 0:
        raise DeployError(f"{what}: {' '.join(argv)} exited {result.returncode}:\n{result.stdout}{result.stderr}")


register(QmailKind())
