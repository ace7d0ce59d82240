"""Oracle Communications Messaging Server 8.x: a ``mappings`` fragment, channel keywords, a checklist.

Messaging Server keeps its relay and access decisions in mapping tables (:mod:`.mappings` writes
INTERNAL_IP, ORIG_SEND_ACCESS and MAIL_ACCESS entries, quoting every policy string) and its SMTP
behaviour in channel keywords (:mod:`.channels`). There is no daemon here, so no Ansible role (like
Exchange): GUIDE.md says how to merge both with ``msconfig`` and recompile with ``imsimta cnbuild``,
and :mod:`.checker` reads the generated mappings back so a test proves no policy string changed a rule.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ...policy import Policy
from ...render import HEADER_TEXT
from ..base import Coverage, Plan, PlannedFile, Target, coverage_file, register
from ..kit.checklist import md_code
from ..kit.coverage import Recorder
from . import capabilities as cap
from .channels import Channel, channels
from .mappings import Entry, access, internal_ip, relay

TABLES = ("INTERNAL_IP", "ORIG_SEND_ACCESS", "MAIL_ACCESS")  # the file's order


@dataclass(frozen=True)
class Mappings:
    header: str  # written as a '!' comment: the mapping file's own comment syntax
    tables: tuple[tuple[str, tuple[Entry, ...]], ...]  # (name, entries) in TABLES order, empty tables left out


@dataclass(frozen=True)
class Guide:
    host: str
    local_domains: tuple[str, ...]
    channels: tuple[Channel, ...]
    options: tuple[str, ...]  # tcp_local_option lines
    gaps: tuple[Coverage, ...]


@register
class MessagingServerTarget(Target):
    name = "messaging_server"
    description = "Oracle Communications Messaging Server 8.x (mappings fragment, channel keywords, checklist)"

    def plan(self, policy: Policy) -> Plan:
        rec = Recorder()
        entries = [*internal_ip(policy), *relay(policy, rec), *access(policy, rec)]
        found = channels(policy, rec)
        options = _options(policy, rec)
        _record_fixed(policy, rec)
        coverage = rec.items()
        tables = tuple((t, tuple(e for e in entries if e.table == t)) for t in TABLES
                       if any(e.table == t for e in entries))
        guide = Guide(policy.hostname or "mx.example.org", tuple(policy.domains.local), found, options,
                      tuple(c for c in coverage if c.status != "enforced"))
        files = (PlannedFile("mappings", "mappings.j2", Mappings(HEADER_TEXT, tables), comment="none"),
                 PlannedFile("GUIDE.md", "GUIDE.md.j2", guide, comment="markdown"),
                 coverage_file(self.name, coverage))
        return Plan(self.name, files, (), coverage)

    def filters(self) -> Mapping[str, Callable[..., str]]:
        return {"md": md_code}


def _options(policy: Policy, rec: Recorder) -> tuple[str, ...]:
    """tcp_local_option lines: EXPN and the recipient limit."""
    lines = [f"ALLOW_RECIPIENTS_PER_TRANSACTION={policy.smtp.max_recipients}"]
    rec.approximated("smtp.max_recipients", cap.RECIPIENTS)
    if policy.smtp.disable_expn:
        lines.append("DISABLE_EXPAND=1")
        rec.approximated("smtp.disable_expn", cap.EXPN)
    return tuple(lines)


def _record_fixed(policy: Policy, rec: Recorder) -> None:
    """The elements no generated line carries out: the product's gaps and the unverified settings."""
    rec.approximated("role", cap.ROLE)
    rec.approximated("hostname", cap.HOSTNAME)
    rec.approximated("domains.local", cap.LOCAL_DOMAINS)
    if policy.dnsbl:
        rec.unsupported("dnsbl", cap.NO_DNSBL)
    if policy.access.helo:
        rec.unsupported("access.helo", cap.NO_HELO)
    if policy.header_checks:
        rec.unsupported("header_checks", cap.NO_HEADERS)
    for element in ("smtp.banner", "smtp.require_helo", "smtp.strict_envelopes", "smtp.max_connections_per_client",
                    "smtp.bare_newlines", "smtp.bare_newlines_exempt_trusted"):
        rec.unsupported(element, cap.UNVERIFIED)
    if policy.tls is not None:
        rec.unsupported("tls.min_protocol", cap.UNVERIFIED)
    rec.unsupported_rest(policy, cap.UNVERIFIED)  # what no line above writes: said, never dropped
