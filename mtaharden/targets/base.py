"""What every target produces: a typed Plan (files, post-install steps, coverage), and the registry.

A target lowers a :class:`~mtaharden.policy.Policy` into a :class:`Plan`. All decisions happen in
the target's Python; templates under ``templates/<target>/`` only lay the Plan's data out as text.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # the policy model loads with the first target that plans, not with the registry's names
    from _typeshed import DataclassInstance

    from ..policy import Policy

Status = Literal["enforced", "approximated", "unsupported"]
Phase = Literal["build", "check", "apply"]
CommentStyle = Literal["hash", "markdown", "none"]


HOST_ITSELF = "host"  # the coverage place of a client on the MTA host itself (see Coverage)

@dataclass(frozen=True)
class Coverage:
    """How one policy element is carried out by a target.

    ``element`` may name a place in brackets where one element shows in several ways (``smtp.banner[HELP]``),
    or ``networks.trusted[host]`` (:data:`HOST_ITSELF`): how the target treats a client on the host itself.
    """

    element: str
    status: Status
    detail: str


@dataclass(frozen=True)
class PlannedFile:
    """One output file: where it goes (relative to the target's output folder) and what lays it out.

    ``context`` is a frozen dataclass instance (a typed context: render hands the template its fields as
    variables, shallowly) or, for the simplest files, a mapping of variable names.
    """

    path: str
    template: str
    context: DataclassInstance | Mapping[str, Any]
    mode: int = 0o644
    comment: CommentStyle = "hash"
    dest: str | None = None  # where the file is installed on the host; None: documentation only


@dataclass(frozen=True)
class Block:
    """Keys that all get one value, e.g. a list file's entries: laid out in bulk, never one key at a time.

    A block can hold a million keys; the ``key_block`` template filter writes it as
    ``<prefix>key<separator>value`` lines with one join and a few counts, all in C.
    """

    keys: Sequence[str]
    value: str = ""
    separator: str = "\t"
    prefix: str = ""  # written before every key, e.g. Sendmail's "Connect:"


def placed(files: list[PlannedFile], where: Callable[[str], str | None]) -> tuple[PlannedFile, ...]:
    """The files with their install destinations (``where`` maps an output path to an absolute one)."""
    return tuple(replace(f, dest=None if f.path == "COVERAGE.md" else where(f.path)) for f in files)


@dataclass(frozen=True)
class Step:
    """A command to run after the files are installed, and why.

    ``build`` steps derive files (indexes, compiled configs), ``check`` steps must succeed silently
    (any warning is a failure), ``apply`` steps make the running daemon use the files. Roles run
    build and check in a staging folder first, then build and apply on the live files.
    """

    argv: tuple[str, ...]
    why: str
    phase: Phase = "build"
    outputs: tuple[str, ...] = ()  # files a build step derives (e.g. a map's .db): a role snapshots them too


@dataclass(frozen=True)
class Service:
    """How a role drives the daemon, so that no role hard-codes an MTA rule.

    ``restart_key`` digests every setting that only a stop + start applies (Postfix's
    ``inet_interfaces``): a role that finds it changed since its last deploy stops and starts the
    daemon instead of running the apply steps. ``""``: the apply steps always suffice.
    """

    running: tuple[str, ...]  # exits 0 when the daemon runs, non-zero when it does not
    start: tuple[tuple[str, ...], ...]
    stop: tuple[tuple[str, ...], ...]
    restart_key: str = ""


@dataclass(frozen=True)
class Folder:
    """A folder the MTA needs that a fresh host may lack (a queue, a data or log folder): created before the
    first start with this owner and mode, so a first deploy does not depend on a package's postinst having run."""

    path: str
    owner: str
    mode: int
    why: str
    group: str = ""  # "": not set, as ``install -d -o OWNER`` leaves it (the deploying user's group)


Need = Literal["readable", "tls-pair", "any-of", "address", "alias"]


@dataclass(frozen=True)
class Requirement:
    """One thing the host must provide before a role swaps the files in, checked on the host by the
    roles' ``preflight`` helper (``preflight NEED ARGS...``), so a missing certificate or SASL backend
    fails the run with the old configuration untouched instead of deploying an MTA that refuses STARTTLS.

    ``readable``: ``args[0]`` is the user the MTA reads the files ``args[1:]`` as; each must exist and
    be readable by that user. ``tls-pair``: certificate ``args[0]`` and key ``args[1]`` hold the same
    public key (openssl on the host). ``any-of``: at least one of the paths (shell globs) exists (a SASL socket,
    database or library). ``address``: each address is configured on one of the host's interfaces (``ip -o addr``).
    ``alias``: the aliases file ``args[0]`` has an entry for each name ``args[1:]`` (``postmaster``).
    """

    need: Need
    args: tuple[str, ...]
    why: str


def tls_requirements(cert: str, key: str, reader: str) -> tuple[Requirement, ...]:
    """The certificate and key the config names: present, readable as ``reader``, one key pair."""
    return (Requirement("readable", (reader, cert, key), f"the TLS certificate and key exist and {reader} reads them"),
            Requirement("tls-pair", (cert, key), "the TLS certificate and key belong together"))


def address_requirement(addresses: Sequence[str]) -> tuple[Requirement, ...]:
    """The listen addresses the config names are the host's own (an MTA cannot bind any other)."""
    return (Requirement("address", tuple(addresses), "the listen addresses are configured on the host"),) \
        if addresses else ()


def digest(settings: object) -> str:
    """A stable digest of JSON-able ``settings`` (a Service's restart key)."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Plan:
    target: str
    files: tuple[PlannedFile, ...]
    steps: tuple[Step, ...]
    coverage: tuple[Coverage, ...]
    apply: Literal["reload", "restart"] = "reload"
    service: Service | None = None  # None: the target runs no daemon a role manages (Exchange)
    preflight: tuple[Requirement, ...] = ()  # checked on the host after staging, before the swap
    folders: tuple[Folder, ...] = ()  # created (if missing) before the first start; ``service.start`` starts it

    def unwaived_gaps(self, waived: list[str]) -> list[Coverage]:
        """Unsupported elements the policy did not allow this target to leave unenforced."""
        return [
            item
            for item in self.coverage
            if item.status == "unsupported" and not any(_covers(w, item.element) for w in waived)
        ]


def _covers(waiver: str, element: str) -> bool:
    return element == waiver or element.startswith(waiver + ".") or element.startswith(waiver + "[")


def coverage_file(target: str, coverage: tuple[Coverage, ...]) -> PlannedFile:
    """The COVERAGE.md every target writes beside its files."""
    return PlannedFile("COVERAGE.md", "COVERAGE.md.j2", {"target": target, "coverage": coverage}, comment="markdown")


class Target(ABC):
    """A mail server kind mtaharden can render for."""

    name: str
    description: str

    @abstractmethod
    def plan(self, policy: Policy) -> Plan:
        """Lower the policy into this target's Plan."""

    def filters(self) -> Mapping[str, Callable[..., str]]:
        """Jinja filters that quote or escape values for this target's file formats."""
        return {}


_REGISTRY: dict[str, Target] = {}


def register(target_class: type[Target]) -> type[Target]:
    """Class decorator: make a target available to the CLI under its ``name``."""
    _REGISTRY[target_class.name] = target_class()
    return target_class


_NOT_TARGETS = frozenset({"base", "kit"})  # this module and the shared kit: every other module or package is a target


def registered() -> dict[str, Target]:
    """All registered targets by name, in name order (every target module or package here registers itself)."""
    import importlib
    import pkgutil

    package = __name__.rpartition(".")[0]
    for module in pkgutil.iter_modules(importlib.import_module(package).__path__):
        if module.name not in _NOT_TARGETS:
            importlib.import_module(f"{package}.{module.name}")
    return dict(sorted(_REGISTRY.items()))


def registered_target(name: str) -> Target | None:
    """The target ``name``, importing only its own module (a one-target command loads no other target);
    None when there is no such target. A target's module or package is named like the target."""
    import importlib
    import importlib.util

    package = __name__.rpartition(".")[0]
    if name in _NOT_TARGETS or not name.isidentifier() or importlib.util.find_spec(f"{package}.{name}") is None:
        return None
    importlib.import_module(f"{package}.{name}")
    return _REGISTRY.get(name)
