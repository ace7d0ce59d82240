"""Accepted domains: Authoritative for local domains, InternalRelay for relay domains."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from ...policy import Policy
from ..kit.coverage import Recorder
from .capabilities import WILDCARD_PARENT
from .powershell import Settings


def accepted_domains(policy: Policy, rec: Recorder) -> list[Settings]:
    """One accepted domain per policy domain; ``.example.org`` is ``*.example.org``."""
    _record(rec, "domains.local", "accepted domains of type Authoritative", policy.domains.local)
    _record(rec, "domains.relay", "accepted domains of type InternalRelay; the script warns while no Send "
            "connector routes one (GUIDE.md)", policy.domains.relay)
    kinds = [(d, "Authoritative") for d in policy.domains.local] + [(d, "InternalRelay") for d in policy.domains.relay]
    return [
        (("Name", object_name(d[1:] + " subdomains" if d.startswith(".") else d)),
         ("DomainName", address_space(d)),
         ("DomainType", kind))
        for d, kind in kinds
    ]


def _record(rec: Recorder, element: str, how: str, domains: Sequence[str]) -> None:
    if any(d.startswith(".") for d in domains):
        rec.approximated(element, f"{how}; {WILDCARD_PARENT}")
    else:
        rec.enforced(element, how)


def address_space(domain: str) -> str:
    return "*" + domain if domain.startswith(".") else domain


def object_name(text: str) -> str:
    """An Exchange object name (at most 64 characters), kept unique by a hash when it must be cut."""
    if len(text) <= 64:
        return text
    return text[:55] + "~" + hashlib.sha256(text.encode()).hexdigest()[:8]
