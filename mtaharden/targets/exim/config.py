"""The typed template context of exim4.conf: main options, ACLs, authenticators, as records in file order."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Statement:
    """One ACL statement: a verb (``accept``, ``deny``, ``defer``, ``discard``, ``warn``, ``require``) and its
    conditions and modifiers in order, as ``(name, value)`` (a name may start with ``!``)."""

    verb: str
    conditions: tuple[tuple[str, str], ...] = ()
    comment: str = ""


@dataclass(frozen=True)
class Acl:
    name: str
    statements: tuple[Statement, ...]


@dataclass(frozen=True)
class Authenticator:
    name: str
    options: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class EximConf:
    """exim4.conf: ``main`` is ``(option, value)`` in order (``domainlist``/``hostlist`` lines included)."""

    main: tuple[tuple[str, str], ...]
    acls: tuple[Acl, ...]
    authenticators: tuple[Authenticator, ...] = field(default_factory=tuple)
    router: tuple[tuple[str, str], ...] = ()  # extra options of the dnslookup router (outbound.tls)
    transport: tuple[tuple[str, str], ...] = ()  # extra options of the remote_smtp transport (outbound.tls)
