"""Cross-field rules: what a valid policy must satisfy beyond the type of each value.

Each rule yields :class:`Finding` objects naming the path of the offending value, so the loader can
point at its line and column.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from .model import Policy

Path = tuple[str | int, ...]

WIDEST_TRUSTED_PREFIX = {4: 8, 6: 32}


@dataclass(frozen=True)
class Finding:
    path: Path
    message: str
    hint: str


def check(policy: Policy) -> list[Finding]:
    """Every cross-field problem of ``policy``; empty when the policy is usable."""
    rules = (_trusted_networks, _roles, _auth_and_tls, _domains, _access_duplicates, _dnsbl, _ports,
             _postfix_parameters)
    return [finding for rule in rules for finding in rule(policy)]


def _trusted_networks(policy: Policy) -> Iterator[Finding]:
    for index, network in enumerate(policy.networks.trusted):
        widest = WIDEST_TRUSTED_PREFIX[network.version]
        if network.prefixlen < widest and not policy.networks.allow_wide_trusted:
            yield Finding(
                ("networks", "trusted", index),
                f"{network.with_prefixlen} is wider than /{widest}: every client in it may relay, "
                "which makes this server an open relay for that range",
                "list the real networks of your own hosts; if you truly mean it, set "
                "networks.allow_wide_trusted: true",
            )


def _roles(policy: Policy) -> Iterator[Finding]:
    if policy.offers_submission and not policy.auth.enabled:
        yield Finding(
            ("role",),
            f"role {policy.role} offers submission, which needs SMTP AUTH",
            "set auth.enabled: true, or use role: mx",
        )
    submission = policy.auth.submission
    if policy.offers_submission and submission.port is None and submission.smtps_port is None:
        yield Finding(
            ("auth", "submission"),
            f"role {policy.role} offers submission but both submission ports are null",
            "set auth.submission.port (587) or auth.submission.smtps_port (465)",
        )


def _auth_and_tls(policy: Policy) -> Iterator[Finding]:
    auth, tls = policy.auth, policy.tls
    if auth.enabled and auth.require_tls and tls is None:
        yield Finding(
            ("auth", "require_tls"),
            "AUTH is only offered after STARTTLS, but no TLS certificate is configured",
            "add tls.cert and tls.key, or set auth.require_tls: false (passwords would cross the net in clear)",
        )
    if auth.enabled and policy.offers_submission and auth.submission.smtps_port is not None and tls is None:
        yield Finding(
            ("auth", "submission", "smtps_port"),
            "implicit-TLS submission needs a TLS certificate",
            "add tls.cert and tls.key, or set auth.submission.smtps_port: null",
        )
    cyrus = auth.cyrus
    if auth.enabled and auth.backend == "cyrus" and cyrus.pwcheck_method == "auxprop" and cyrus.sasldb_path is None:
        yield Finding(
            ("auth", "cyrus", "sasldb_path"),
            "pwcheck_method auxprop reads a sasldb file, but sasldb_path is not set",
            "set auth.cyrus.sasldb_path, e.g. /etc/sasldb2",
        )


def _domains(policy: Policy) -> Iterator[Finding]:
    local = set(policy.domains.local)
    for index, domain in enumerate(policy.domains.relay):
        if domain in local:
            yield Finding(
                ("domains", "relay", index),
                f"{domain} is both a local and a relay domain",
                "keep it in one list: local for final delivery here, relay for forwarding",
            )
    yield from _duplicates(("domains", "local"), policy.domains.local)
    yield from _duplicates(("domains", "relay"), policy.domains.relay)


def _access_duplicates(policy: Policy) -> Iterator[Finding]:
    for stage in ("clients", "helo", "senders", "recipients"):
        rules = getattr(policy.access, stage)
        seen: dict[object, int] = {}
        for index, rule in enumerate(rules):
            if rule.match in seen:
                yield Finding(
                    ("access", stage, index, "match"),
                    f"{_show(rule.match)} already matched by rule {seen[rule.match]}; first match wins, "
                    "so this rule never applies",
                    "remove one of the two rules",
                )
            else:
                seen[rule.match] = index


def _dnsbl(policy: Policy) -> Iterator[Finding]:
    yield from _duplicates(("dnsbl",), [entry.zone for entry in policy.dnsbl], suffix="zone")


def _ports(policy: Policy) -> Iterator[Finding]:
    submission = policy.auth.submission
    smtp_port = policy.targets.postfix.smtp_port
    if submission.port is not None and submission.port == submission.smtps_port:
        yield Finding(
            ("auth", "submission", "smtps_port"),
            "the STARTTLS and the implicit-TLS submission ports are the same",
            "use 587 for port and 465 for smtps_port",
        )
    if policy.offers_submission and smtp_port in (submission.port, submission.smtps_port):
        yield Finding(
            ("targets", "postfix", "smtp_port"),
            f"port {smtp_port} is used both for SMTP and for submission",
            "give each service its own port",
        )


def _duplicates(path: Path, values: Sequence[object], suffix: str | None = None) -> Iterator[Finding]:
    seen: set[object] = set()
    for index, value in enumerate(values):
        if value in seen:
            where = (*path, index, suffix) if suffix else (*path, index)
            yield Finding(where, f"{_show(value)} is listed twice", "remove the second entry")
        seen.add(value)


def _show(value: object) -> str:
    if isinstance(value, ipaddress.IPv4Network | ipaddress.IPv6Network):
        return value.with_prefixlen
    return str(value)


def _postfix_parameters(policy: Policy) -> Iterator[Finding]:
    from ..targets.postfix import is_managed  # the target knows which parameters it decides

    for name in policy.targets.postfix.parameters:
        if is_managed(name):
            yield Finding(
                ("targets", "postfix", "parameters", name),
                f"{name} is decided by mtaharden (it is written from the policy, or it governs relaying "
                "or accepted domains)",
                "express it through the policy's own keys (see the README's policy reference), not here",
            )
