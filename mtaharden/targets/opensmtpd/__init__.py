"""OpenSMTPD 6.8 (Debian 12): one smtpd.conf with its tables in place, checked with ``smtpd -n``.

One module per concern: :mod:`.conf` (smtpd.conf's quoting and directives), :mod:`.rules` (the relay decision as
match rules, the access lists as a builtin filter chain), :mod:`.listeners` (limits, listen lines, and why
no TLS, AUTH or submission), :mod:`.deploy` (steps, service, preflight, what stock OpenSMTPD does by itself) and
:mod:`.capabilities` (the table of what OpenSMTPD can do with each element). Each lowering step records coverage in
the plan's one :class:`~..kit.coverage.Recorder` where it decides.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ...policy import Policy
from ..base import Plan, PlannedFile, Target, coverage_file, placed, register
from ..kit.coverage import Recorder
from . import screening, sender_auth, smuggling
from .capabilities import in_table_order
from .conf import Directive, Value, line
from .deploy import record_builtin, service, steps
from .listeners import globals_, listeners
from .options import opensmtpd_options
from .rules import access_filters, domain_rules, trusted_rules


@dataclass(frozen=True)
class SmtpdConf:
    """smtpd.conf's sections in the order OpenSMTPD needs them (a table or filter before its first use)."""

    settings: tuple[Directive, ...]
    tables: tuple[Directive, ...]
    filters: tuple[Directive, ...]
    listeners: tuple[Directive, ...]
    actions: tuple[Directive, ...]
    rules: tuple[Directive, ...]


@register
class OpensmtpdTarget(Target):
    name = "opensmtpd"
    description = "OpenSMTPD 6.8 (smtpd.conf with tables, builtin filters and match rules)"

    def plan(self, policy: Policy) -> Plan:
        rec = Recorder()
        settings = globals_(policy, rec)
        domain_tables, domain_matches = domain_rules(policy, rec)
        trusted_tables, trusted_matches = trusted_rules(policy, rec)
        access = access_filters(policy, rec) if policy.accepts_inbound else None
        listen = listeners(policy, rec, access.chain if access else None)
        record_builtin(policy, rec)
        screening.record(policy, rec)
        sender_auth.record(policy, rec)
        smuggling.record(policy, rec)
        local, relay = Value("local", "action"), Value("relay", "action")
        conf = SmtpdConf(
            settings=tuple(settings),
            tables=(Directive(("table", "aliases", Value("file:/etc/aliases", "aliases"))),
                    *domain_tables, *trusted_tables),
            filters=access.directives if access else (),
            listeners=tuple(listen),
            actions=(Directive(("action", local, "maildir", "alias", "<aliases>")),
                     Directive(("action", relay, "relay"))),
            # the host's own mail (the sendmail enqueuer) first, then the contract's relay decision
            rules=(Directive(("match", "from", "socket", "for", "local", "action", local)),
                   Directive(("match", "from", "socket", "for", "any", "action", relay)),
                   *domain_matches, *trusted_matches),
        )
        coverage = in_table_order(rec.items())
        files = [PlannedFile("smtpd.conf", "smtpd.conf.j2", conf), coverage_file(self.name, coverage)]
        config = opensmtpd_options(policy).config_file
        return Plan(self.name, placed(files, lambda path: config), steps(policy), coverage, apply="restart",
                    service=service())

    def filters(self) -> Mapping[str, Callable[..., str]]:
        return {"smtpd_line": line}
