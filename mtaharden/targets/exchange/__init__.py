"""Exchange Server 2016/2019/SE: one idempotent Exchange Management Shell script, a checklist, coverage.

Exchange is configured through cmdlets, not files, so the "config" is ``harden.ps1``: every object is
read first and then created or changed, every change goes through ``ShouldProcess`` (so ``-WhatIf``
lists it), and an audit at the end fails on any open-relay configuration it can see. What no cmdlet
sets (SCHANNEL/.NET TLS, VRFY/EXPN) goes to ``GUIDE.md``. Every value in the script is written by
:func:`~.powershell.ps_value`, the one place that quotes for PowerShell; the script's static functions
are the shipped file ``templates/exchange/lib.ps1``.

Modules: :mod:`.capabilities` (Exchange's limits and fixed coverage texts, as data), :mod:`.powershell`
(quoting), :mod:`.dotnet_regex` (the transport rules' regex dialect), :mod:`.connectors` (receive
connectors), :mod:`.domains` (accepted domains), :mod:`.rules` (transport rules), :mod:`.antispam` (agent
lists, DNSBL providers), :mod:`.edge` (the Edge section), :mod:`.guide` (GUIDE.md). Each lowering step
records the coverage of what it decides in the plan's one :class:`~..kit.coverage.Recorder`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ...policy import Policy, canonical
from ..base import Coverage, Plan, PlannedFile, Target, coverage_file, register
from ..kit.checklist import md_code
from ..kit.coverage import Recorder
from . import antispam, connectors, rules, screening, sender_auth, smuggling
from .antispam import MailboxAntispam
from .capabilities import ELEMENT_ORDER, LIST_FILE_MAX
from .connectors import Connector
from .domains import accepted_domains
from .dotnet_regex import dotnet_regex
from .edge import EdgeSection, edge_section
from .guide import guide, record_checklist
from .powershell import Concat, Settings, Variable, ps_value
from .rules import TransportRule

__all__ = ["LIST_FILE_MAX", "Concat", "Connector", "EdgeSection", "ExchangeTarget", "HardenScript", "MailboxAntispam",
           "TransportRule", "Variable", "dotnet_regex", "md_code", "ps_value"]


@dataclass(frozen=True)
class HardenScript:
    """What harden.ps1 sets: the Mailbox section's parts and, in an Edge deployment, the Edge section."""

    servers: tuple[str, ...]
    hostname: str | None  # None: each server's own FQDN
    trusted: tuple[str, ...]  # what the audit allows to relay
    accepted_domains: tuple[Settings, ...]
    relay_name: str
    relay: Settings | None  # None: no relay connector (disabled if present)
    relay_warnings: tuple[str, ...]
    default_frontend: Connector
    client_frontend: Connector
    antispam: MailboxAntispam | None
    size_bytes: int
    transport_rules: tuple[TransportRule, ...]
    edge: EdgeSection | None


@register
class ExchangeTarget(Target):
    name = "exchange"
    description = "Exchange Server 2016/2019/SE (Exchange Management Shell script + checklist)"

    def plan(self, policy: Policy) -> Plan:
        options = policy.targets.exchange
        edge = options.deployment == "edge"
        rec = Recorder()
        shared = connectors.limits(policy, rec)
        relay = connectors.relay(policy, shared, rec)
        default_frontend, client_frontend = connectors.frontends(policy, shared, rec)
        domains = accepted_domains(policy, rec)
        sender_filter = antispam.sender_filter(policy)
        mailbox_antispam = None if edge or sender_filter is None else MailboxAntispam(
            agents=("Sender Filter Agent",), sender_filter=sender_filter)
        headers = rules.header_rules(policy, rec, edge=edge)
        access = rules.access_rules(policy, rec, edge=edge, mailbox_sender_filter=mailbox_antispam is not None)
        providers = antispam.providers(policy, rec, edge=edge)
        record_checklist(policy, rec)
        screening.record(policy, rec)
        sender_auth.record(policy, rec)
        smuggling.record(rec)
        coverage = tuple(sorted(rec.items(), key=_order))
        script = HardenScript(
            servers=tuple(options.servers),
            hostname=policy.hostname,
            trusted=tuple(canonical.network(n) for n in policy.networks.trusted),
            accepted_domains=tuple(domains),
            relay_name=options.relay_connector,
            relay=relay.settings,
            relay_warnings=relay.warnings,
            default_frontend=default_frontend,
            client_frontend=client_frontend,
            antispam=mailbox_antispam,
            size_bytes=shared.size_bytes,
            transport_rules=(*headers.mailbox, *access),
            edge=edge_section(policy, shared, headers.edge, providers, sender_filter) if edge else None,
        )
        checklist = guide(policy, message_size=shared.size_text,
                          agents=mailbox_antispam.agents if mailbox_antispam else (), coverage=coverage)
        files = (
            PlannedFile("harden.ps1", "harden.ps1.j2", script),
            PlannedFile("GUIDE.md", "GUIDE.md.j2", checklist, comment="markdown"),
            coverage_file(self.name, coverage),
        )
        return Plan(self.name, files, (), coverage)

    def filters(self) -> Mapping[str, Callable[..., str]]:
        return {"ps": ps_value, "md": md_code, "network": canonical.network}


_ELEMENT = re.compile(r"(?P<base>[^\[]+)(?:\[(?P<index>\d+)\])?")


def _order(item: Coverage) -> tuple[int, int]:
    """COVERAGE.md's row order: the policy's element order, an element's own row before its [n] rows."""
    found = _ELEMENT.fullmatch(item.element)
    assert found is not None, item.element
    index = found["index"]
    return ELEMENT_ORDER.index(found["base"]), -1 if index is None else int(index)
