"""``targets.postfix``: the Postfix target's options and the checks only Postfix needs.

Postfix reads ``inet_interfaces`` and its site parameters itself, so their rules (``all`` alone,
addresses of ``inet_protocols``' family, the parameter allow-list in :mod:`.parameters`) are
judged here, before anything is rendered.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from ...finding import Finding, duplicates
from ...strict import TargetOptions
from ...types import AbsolutePath, ListenAddress, ParameterName, ParameterValue, PolicyValueError
from .._version import DEBIAN_12, Version

if TYPE_CHECKING:
    from ...model import Policy


class PostfixOptions(TargetOptions):
    config_dir: AbsolutePath = "/etc/postfix"
    milter_dir: AbsolutePath = Field("/etc", description="where Debian's opendkim and opendmarc packages read "
                                     "opendkim.conf and opendmarc.conf (their tables in opendkim/, opendmarc/)")
    version: Version = Field(DEBIAN_12["postfix"], description="the Postfix version the render assumes "
                             "(postconf -h mail_version); the deploy stops on an older one")
    smtp_port: int = Field(25, ge=1, le=65535, description="port of the public smtpd service")
    inet_interfaces: list[ListenAddress] = Field(
        default_factory=lambda: ["all"], description="'all', 'loopback-only' or addresses to listen on"
    )
    inet_protocols: Literal["all", "ipv4", "ipv6"] = "all"
    chroot: bool = Field(True, description="run smtpd services chrooted (Debian's default)")
    parameters: dict[ParameterName, ParameterValue] = Field(
        default_factory=dict,
        description="main.cf parameters from the allow-list in README.md (queue timing, limits, alias_maps, …)",
    )


Options = PostfixOptions


def findings(policy: Policy) -> Iterator[Finding]:
    """Every Postfix-only problem of ``policy``."""
    options: PostfixOptions = policy.targets.postfix
    yield from _smtp_port(policy, options)
    yield from _listeners(options)
    yield from _parameters(options)


def _smtp_port(policy: Policy, options: PostfixOptions) -> Iterator[Finding]:
    submission = policy.auth.submission
    if policy.offers_submission and options.smtp_port in (submission.port, submission.smtps_port):
        yield Finding(
            ("targets", "postfix", "smtp_port"),
            f"port {options.smtp_port} is used both for SMTP and for submission",
            "give each service its own port",
        )


def _listeners(options: PostfixOptions) -> Iterator[Finding]:
    """Postfix takes ``all`` and ``loopback-only`` only on their own, and addresses only of inet_protocols
    (anything else it looks up as a host name, and stops)."""
    interfaces, protocols = options.inet_interfaces, options.inet_protocols
    path = ("targets", "postfix", "inet_interfaces")
    for index, interface in enumerate(interfaces):
        if interface in ("all", "loopback-only"):
            if len(interfaces) > 1:
                yield Finding((*path, index), f"{interface} stands for a set of addresses and cannot be combined "
                              "with other entries", f"write [{interface}] alone, or list only addresses")
                return
            continue
        version = f"ipv{ipaddress.ip_address(interface).version}"
        if protocols not in ("all", version):
            yield Finding((*path, index), f"{interface} is an {version} address, but inet_protocols is {protocols}",
                          "set targets.postfix.inet_protocols: all, or listen on addresses of that protocol")
    yield from duplicates(path, interfaces)


def _parameters(options: PostfixOptions) -> Iterator[Finding]:
    """Site parameters pass only from the allow-list, each value of its kind (the list says why)."""
    if not options.parameters:
        return
    from . import parameters  # the allow-list's patterns load with the first policy that sets one

    for name, value in options.parameters.items():
        try:
            parameters.canonical(name, value, parameters.MANAGED_PARAMETERS)
        except PolicyValueError as exc:
            yield Finding(("targets", "postfix", "parameters", name), str(exc), exc.hint)
