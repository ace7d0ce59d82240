"""``targets.qmail``: the qmail target's options."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..strict import TargetOptions
from ..types import AbsolutePath, ListenIPv4


class QmailOptions(TargetOptions):
    home: AbsolutePath = Field("/var/qmail", description="qmail's home: control/ and bin/ live here")
    tcp_rules_file: AbsolutePath = Field(
        "/etc/tcp.smtp", description="tcpserver rules source; tcprules compiles it to the same path + .cdb"
    )
    service_dir: AbsolutePath = Field(
        "/service", description="supervision folder holding the qmail-smtpd and qmail-send services"
    )
    log_dir: AbsolutePath = Field("/var/log/qmail/smtpd", description="multilog folder of qmail-smtpd")
    smtpd_user: str = Field("qmaild", pattern=r"^[a-z_][a-z0-9_-]{0,31}$", description="user qmail-smtpd runs as")
    log_user: str = Field("qmaill", pattern=r"^[a-z_][a-z0-9_-]{0,31}$", description="user multilog runs as")
    listen: ListenIPv4 = Field(
        "0.0.0.0", description="IPv4 address tcpserver binds to (ucspi-tcp 0.88 has no IPv6); 0.0.0.0 means all"
    )
    smtp_port: int = Field(25, ge=1, le=65535, description="port of the qmail-smtpd service")
    concurrency: int = Field(
        40, ge=1, le=10_000, description="tcpserver -c: simultaneous SMTP sessions in total (not per client)"
    )
    auth_patch: Literal["qmail-smtpd-auth"] | None = Field(
        None, description="SMTP AUTH patch built into qmail-smtpd (qmail-smtpd-auth 0.31: hostname checkpassword true)"
    )
    checkpassword: AbsolutePath = Field("/bin/checkpassword", description="checkpassword program for auth_patch")
    badrcptto_patch: bool = Field(False, description="qmail-smtpd has the badrcptto patch (control/badrcptto)")


Options = QmailOptions
