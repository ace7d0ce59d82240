# kit: ready
"""The Cyrus SASL application config (Postfix's ``smtpd.conf``, Sendmail's ``Sendmail.conf``) as typed settings.

Both MTAs link libsasl2, which reads the same ``key: value`` file for the application: what goes in it is one
decision (the policy's pwcheck method and mechanisms; auxprop means the sasldb plugin and its file), while
where the file goes and how it is laid out is each target's. :class:`CyrusConf` is also a template context
as is: its ``lines`` are the file's lines in order. Also here, because both targets check them before a
swap: the sasldb file the config opens and saslauthd's socket paths.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from ...policy.model import Auth

DEFAULT_SASLDB = "/etc/sasldb2"  # libsasl2's sasldb when the config names none
SASLAUTHD_SOCKETS = ("/run/saslauthd/mux", "/var/run/saslauthd/mux")  # where libsasl2 looks for saslauthd


@dataclass(frozen=True)
class CyrusConf:
    """What libsasl2 is told for the MTA: how to check passwords, which mechanisms to offer (see :func:`cyrus_conf`)."""

    pwcheck_method: Literal["saslauthd", "auxprop"]
    sasldb: str | None  # the sasldb file auxprop opens; None with saslauthd
    lines: tuple[tuple[str, str], ...]  # the file's ``key: value`` pairs, in the order they are written


def cyrus_conf(auth: Auth) -> CyrusConf:
    """The Cyrus settings of the policy's ``auth`` section."""
    method = auth.cyrus.pwcheck_method
    lines = [("pwcheck_method", method), ("mech_list", " ".join(auth.mechanisms))]
    sasldb = None
    if method == "auxprop":
        sasldb = auth.cyrus.sasldb_path or DEFAULT_SASLDB
        lines += [("auxprop_plugin", "sasldb"), ("sasldb_path", sasldb)]
    return CyrusConf(method, sasldb, tuple(lines))


def saslauthd_sockets(root: str = "") -> tuple[str, ...]:
    """saslauthd's socket paths as seen from inside ``root`` (a chroot folder; "" for none)."""
    return tuple(f"{root}{path}" for path in SASLAUTHD_SOCKETS)
