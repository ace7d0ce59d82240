"""The control files qmail-smtpd and qmail-send read: the host's name, greeting, size limit and domains.

control/rcpthosts is always written and never empty: without it qmail-smtpd relays for everyone. Every
control file mtaharden manages is written even when it has no entries, so an entry removed from the policy
leaves the server too (a stale morercpthosts.cdb or percenthack would keep accepting or rewriting mail).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ...policy import Policy
from ..base import PlannedFile
from ..kit.coverage import Recorder
from ..kit.placeholders import fill
from .capabilities import note

# qmail-smtpd(8): "put your 50 most commonly used domains into rcpthosts, and the rest into morercpthosts".
RCPTHOSTS_MAX = 50


@dataclass(frozen=True)
class ControlList:
    """A list control file (list.j2): one item per line under a comment saying what the file is for."""

    items: Sequence[str]
    note: str


@dataclass(frozen=True)
class ControlValue:
    """A one-value control file (value.j2), read with control_readline: its first line is the value."""

    value: str


def listing(name: str, items: Sequence[str], why: str) -> PlannedFile:
    return PlannedFile(f"control/{name}", "list.j2", ControlList(list(items), why))


def _value(name: str, text: str) -> PlannedFile:
    return PlannedFile(f"control/{name}", "value.j2", ControlValue(text), comment="none")  # no comment header


def identity_files(policy: Policy, rec: Recorder) -> Iterable[PlannedFile]:
    """control/me, control/smtpgreeting and control/databytes (hostname, smtp.banner, max_message_size)."""
    if policy.hostname:
        note(rec, "hostname", "set")
        yield _value("me", policy.hostname)
    else:
        note(rec, "hostname", "unset")
    greeting = _greeting(policy, rec)
    if greeting is not None:
        yield _value("smtpgreeting", greeting)
    note(rec, "smtp.max_message_size", "databytes")
    yield _value("databytes", str(policy.smtp.max_message_size))


def _greeting(policy: Policy, rec: Recorder) -> str | None:
    """control/smtpgreeting, or None to keep qmail's default (control/me).

    qmail-smtpd appends " ESMTP" to the greeting itself, so a banner ending in it loses that word.
    Without a policy host name the banner cannot be filled in (control files expand nothing).
    """
    banner = policy.smtp.banner
    note(rec, "smtp.banner[HELP]", "always")
    if policy.hostname is None:
        note(rec, "smtp.banner", "default" if banner == "{hostname} ESMTP" else "unfilled")
        return None
    note(rec, "smtp.banner", "esmtp" if banner.endswith(" ESMTP") else "text")
    return fill(banner.removesuffix(" ESMTP"), {"hostname": policy.hostname})  # qmail expands nothing


def domain_files(policy: Policy, rec: Recorder) -> Iterable[PlannedFile]:
    """rcpthosts + morercpthosts (every accepted domain), locals, and an empty percenthack."""
    accepted = accepted_domains(policy)
    where = "rcpthosts" + (f" (the first {RCPTHOSTS_MAX}) and morercpthosts" if len(accepted) > RCPTHOSTS_MAX
                           else "")
    note(rec, "domains.local", "always", where=where)
    for index, domain in enumerate(policy.domains.local):
        if domain.startswith("."):
            note(rec, f"domains.local[{index}]", "wildcard", domain=domain, where=where)
    note(rec, "domains.relay", "always", where=where)
    yield listing("rcpthosts", accepted[:RCPTHOSTS_MAX],
                  "domains qmail-smtpd accepts mail for; a missing rcpthosts would relay for everyone")
    yield listing("morercpthosts", accepted[RCPTHOSTS_MAX:],
                  "more accepted domains; qmail-newmrh compiles this file into morercpthosts.cdb")
    yield listing("locals", local_names(policy), "domains delivered on this host")


def percenthack() -> PlannedFile:
    return listing("percenthack", [], "no domain gets user%host@domain rewriting: it would relay")


def accepted_domains(policy: Policy) -> list[str]:
    """rcpthosts + morercpthosts: the host name, local and relay domains; ``localhost`` if that is all empty."""
    names = [policy.hostname] if policy.hostname else []
    names += [*policy.domains.local, *policy.domains.relay]
    return list(dict.fromkeys(names)) or ["localhost"]


def local_names(policy: Policy) -> list[str]:
    """control/locals: exact names only (qmail-send has no wildcard there); none for a null client."""
    if policy.role == "null-client":
        return []
    names = [policy.hostname] if policy.hostname else []
    names += ["localhost", *(d for d in policy.domains.local if not d.startswith("."))]
    return list(dict.fromkeys(names))
