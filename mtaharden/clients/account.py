"""The account settings every client format shares, decided once; and the refusal to send a password in clear.

A client submits with AUTH (PLAIN and LOGIN send the password itself), so settings are produced only when
the policy's server takes AUTH after TLS on a TLS port: ``auth.enabled``, ``auth.require_tls``, a
submission role and a port (the loader already refuses AUTH after TLS without a certificate). Every
server below is TLS by construction (implicit TLS or STARTTLS), so no output can hold a
password-without-TLS setting.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

from ..policy import Policy
from ..policy.finding import Finding

Protocol = Literal["smtp", "imap", "pop3"]
Security = Literal["tls", "starttls"]  # implicit TLS, or STARTTLS before AUTH
Auth = Literal["password-encrypted", "password-cleartext"]  # Mozilla's names; the other formats map them

# The policy's mechanisms as the clients' choices: a challenge-response mechanism never sends the password.
_ENCRYPTED = frozenset({"CRAM-MD5", "DIGEST-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256"})
_CLEARTEXT = frozenset({"PLAIN", "LOGIN"})


class ClientsRefused(Exception):
    """The policy's server would take a password without TLS (or takes none): the findings say where."""

    def __init__(self, findings: list[Finding]) -> None:
        super().__init__("; ".join(f.message for f in findings))
        self.findings = findings


@dataclass(frozen=True)
class Server:
    protocol: Protocol
    host: str
    port: int
    security: Security
    auth: tuple[Auth, ...]  # in the order a client should try them


@dataclass(frozen=True)
class Account:
    domain: str
    display_name: str
    username: Literal["address", "local-part"]
    outgoing: tuple[Server, ...]  # implicit TLS (465) first, as RFC 8314 recommends
    incoming: tuple[Server, ...]

    @property
    def short_name(self) -> str:
        return self.domain.split(".")[0]


def account(policy: Policy) -> Account:
    """The settings, or :class:`ClientsRefused` naming each policy value that stands in the way."""
    findings = list(_refusals(policy))
    if findings:
        raise ClientsRefused(findings)
    assert policy.hostname is not None  # _refusals
    clients, submission = policy.clients, policy.auth.submission
    domain = clients.domain or policy.domains.local[0]
    auth = smtp_auth(policy.auth.mechanisms)
    ports: tuple[tuple[int | None, Security], ...] = ((submission.smtps_port, "tls"), (submission.port, "starttls"))
    outgoing = [Server("smtp", policy.hostname, port, security, auth) for port, security in ports if port is not None]
    incoming = tuple(Server(item.protocol, item.host or policy.hostname, item.chosen_port, item.security,
                            ("password-cleartext",)) for item in clients.incoming)
    return Account(domain, clients.display_name, clients.username, tuple(outgoing), incoming)


def smtp_auth(mechanisms: Sequence[str]) -> tuple[Auth, ...]:
    """What the client may use to log in: challenge-response first when offered, then the password (over TLS)."""
    found: list[Auth] = []
    if _ENCRYPTED.intersection(mechanisms):
        found.append("password-encrypted")
    if _CLEARTEXT.intersection(mechanisms):
        found.append("password-cleartext")
    return tuple(found)


def _refusals(policy: Policy) -> Iterator[Finding]:
    auth = policy.auth
    if not policy.offers_submission:
        yield Finding(("role",), f"role {policy.role} offers no submission, so clients have nowhere to send",
                      "use role submission or mx+submission, or do not render client settings")
    if not auth.enabled:
        yield Finding(("auth", "enabled"), "AUTH is off: clients could only submit without logging in",
                      "set auth.enabled: true")
    if not auth.require_tls:
        yield Finding(("auth", "require_tls"), "the server takes AUTH without TLS: clients would send passwords "
                      "in clear", "set auth.require_tls: true")
    if auth.submission.port is None and auth.submission.smtps_port is None:
        yield Finding(("auth", "submission"), "no submission port: neither 587 (STARTTLS) nor 465 (implicit TLS)",
                      "set auth.submission.port: 587 or smtps_port: 465")
    if policy.hostname is None:
        yield Finding(("hostname",), "no hostname: clients need the submission server's name",
                      "set hostname to the name the certificate is for")
    if policy.clients.domain is None and not policy.domains.local:
        yield Finding(("clients", "domain"), "no mail domain: neither clients.domain nor domains.local is set",
                      "set clients.domain to the users' mail domain")
