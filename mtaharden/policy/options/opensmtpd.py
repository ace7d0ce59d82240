"""``targets.opensmtpd``: the OpenSMTPD target's options."""

from __future__ import annotations

from pydantic import Field

from ..strict import TargetOptions
from ..types import AbsolutePath


class OpensmtpdOptions(TargetOptions):
    config_file: AbsolutePath = Field("/etc/smtpd.conf", description="where smtpd.conf is installed (Debian's place)")
    smtp_port: int = Field(25, ge=1, le=65535, description="port of the public SMTP listeners")
    signing_port: int = Field(10028, ge=1, le=65535, description="with dkim_signing: the loopback port of the "
                              "listener that signs the host's and the trusted networks' outgoing mail")


Options = OpensmtpdOptions
