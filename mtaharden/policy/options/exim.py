"""``targets.exim``: the Exim 4 target's options (Debian's exim4-daemon-light/-heavy layout by default)."""

from __future__ import annotations

from pydantic import Field

from ..strict import TargetOptions
from ..types import AbsolutePath, HostName
from ._version import DEBIAN_12, Version


class EximOptions(TargetOptions):
    version: Version = Field(DEBIAN_12["exim"], description="the Exim version the render assumes (exim -bV); "
                             "the deploy stops on an older one")
    config_dir: AbsolutePath = Field(
        "/etc/exim4", description="where exim4.conf and its list files live (Debian reads exim4.conf first)"
    )
    exim: AbsolutePath = Field("/usr/sbin/exim4", description="the exim binary (for the -bV and -bh checks)")
    user: str = Field("Debian-exim", pattern=r"^[A-Za-z_][A-Za-z0-9_-]{0,31}$",
                      description="the user Exim's SMTP server runs as (reads the TLS key, SASL files)")
    sasl_dir: AbsolutePath = Field(
        "/etc/sasl2", description="folder of libsasl2's application config exim.conf (cyrus backend)"
    )
    dovecot_socket: AbsolutePath = Field(
        "/run/dovecot/auth-client", description="Dovecot's auth socket for Exim's dovecot authenticator"
    )
    dnssec_probe: HostName = Field(
        "org", description="with outbound.tls dane: a DNSSEC-signed name whose NS lookup through the host's "
        "resolver must come back authenticated before a deploy (the org TLD has been signed since 2010)")


Options = EximOptions
