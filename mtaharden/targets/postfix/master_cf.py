"""master.cf: Debian 12's default services as keyword records, plus the listeners the policy's role asks for."""

from __future__ import annotations

from dataclasses import dataclass, replace

from ...policy import Policy
from ..kit.coverage import Recorder
from . import capabilities as facts
from .syntax import yes


@dataclass(frozen=True)
class MasterRow:
    """One master.cf service. ``-`` is Postfix's own default for a column; ``command`` "" runs the program
    named like the service (DebOps' postfix role keeps its master.cf data the same way)."""

    service: str
    type: str
    private: str = "-"
    unpriv: str = "-"
    chroot: str = "-"
    wakeup: str = "-"
    maxproc: str = "-"
    command: str = ""
    args: tuple[str, ...] = ()

    @property
    def program(self) -> str:
        return self.command or self.service


@dataclass(frozen=True)
class MasterCf:
    """master.cf's template context."""

    services: tuple[MasterRow, ...]


def _unix(service: str, *, args: tuple[str, ...] = (), **columns: str) -> MasterRow:
    return MasterRow(service, "unix", args=args, **columns)


# Debian 12's default master.cf services (the optional pipe transports are left out).
DEBIAN_SERVICES: tuple[MasterRow, ...] = (
    _unix("pickup", private="n", chroot="y", wakeup="60", maxproc="1"),
    _unix("cleanup", private="n", chroot="y", maxproc="0"),
    _unix("qmgr", private="n", chroot="n", wakeup="300", maxproc="1"),
    _unix("tlsmgr", chroot="y", wakeup="1000?", maxproc="1"),
    _unix("rewrite", chroot="y", command="trivial-rewrite"),
    _unix("bounce", chroot="y", maxproc="0"),
    _unix("defer", chroot="y", maxproc="0", command="bounce"),
    _unix("trace", chroot="y", maxproc="0", command="bounce"),
    _unix("verify", chroot="y", maxproc="1"),
    _unix("flush", private="n", chroot="y", wakeup="1000?", maxproc="0"),
    _unix("proxymap", chroot="n"),
    _unix("proxywrite", chroot="n", maxproc="1", command="proxymap"),
    _unix("smtp", chroot="y"),
    _unix("relay", chroot="y", command="smtp", args=("-o syslog_name=postfix/$service_name",)),
    _unix("showq", private="n", chroot="y"),
    _unix("error", chroot="y"),
    _unix("retry", chroot="y", command="error"),
    _unix("discard", chroot="y"),
    _unix("local", unpriv="n", chroot="n"),
    _unix("virtual", unpriv="n", chroot="n"),
    _unix("lmtp", chroot="y"),
    _unix("anvil", chroot="y", maxproc="1"),
    _unix("scache", chroot="y", maxproc="1"),
    MasterRow("postlog", "unix-dgram", private="n", chroot="n", maxproc="1", command="postlogd"),
)


def services(policy: Policy, record: Recorder) -> tuple[MasterRow, ...]:
    """The listeners the role asks for, then Debian's services; ``chroot: false`` unchroots every one."""
    options = policy.targets.postfix
    chroot = "y" if options.chroot else "n"
    listeners: list[MasterRow] = []
    if policy.accepts_inbound:
        name = "smtp" if options.smtp_port == 25 else str(options.smtp_port)
        listeners += _screened(name, chroot, policy.tls is not None) if policy.screening.enabled else [
            MasterRow(name, "inet", private="n", chroot=chroot, command="smtpd")]
    if policy.offers_submission:
        submission = policy.auth.submission
        if submission.port is not None:
            name = "submission" if submission.port == 587 else str(submission.port)
            listeners.append(_submission(policy, name, wrapper=False, chroot=chroot))
        if submission.smtps_port is not None:
            name = "smtps" if submission.smtps_port == 465 else str(submission.smtps_port)
            listeners.append(_submission(policy, name, wrapper=True, chroot=chroot))
    record.enforced("role", facts.ROLE.format(role=policy.role))
    internal = DEBIAN_SERVICES if options.chroot else tuple(
        replace(row, chroot="n") if row.chroot == "y" else row for row in DEBIAN_SERVICES)
    return (*listeners, *internal)


def _screened(name: str, chroot: str, tls: bool) -> tuple[MasterRow, ...]:
    """``screening``: port 25 as postscreen (one process), the smtpd it passes clients to, its DNS helper and,
    with TLS, the proxy postscreen's own SMTP engine uses for STARTTLS (POSTSCREEN_README, basic setup)."""
    rows = (MasterRow(name, "inet", private="n", chroot=chroot, maxproc="1", command="postscreen"),
            MasterRow("smtpd", "pass", chroot=chroot, command="smtpd"),
            MasterRow("dnsblog", "unix", chroot=chroot, maxproc="0"))
    return (*rows, MasterRow("tlsproxy", "unix", chroot=chroot, maxproc="0")) if tls else rows


def _submission(policy: Policy, name: str, *, wrapper: bool, chroot: str) -> MasterRow:
    """A submission listener: TLS and AUTH required there, whatever main.cf says for port 25."""
    tls_level = "encrypt" if policy.tls is not None else "none"
    args = [f"-o syslog_name=postfix/{'smtps' if wrapper else 'submission'}"]
    if wrapper:
        args.append("-o smtpd_tls_wrappermode=yes")
    args += [
        f"-o smtpd_tls_security_level={tls_level}",
        "-o smtpd_sasl_auth_enable=yes",
        f"-o smtpd_tls_auth_only={yes(policy.auth.require_tls)}",
        "-o smtpd_client_restrictions=",
        "-o smtpd_helo_restrictions=",
        "-o smtpd_sender_restrictions=",
        "-o smtpd_relay_restrictions=permit_sasl_authenticated,reject",
        "-o smtpd_recipient_restrictions=permit_sasl_authenticated,reject",
    ]
    return MasterRow(name, "inet", private="n", chroot=chroot, command="smtpd", args=tuple(args))
