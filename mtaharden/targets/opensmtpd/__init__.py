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
from . import screening, sender_auth, signing, smuggling
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
        signed = signing.lower(policy, rec)  # the host's and the trusted networks' mail then takes the sign action
        trusted_tables, trusted_matches = trusted_rules(policy, rec, signing.ACTION if signed else "relay")
        access = access_filters(policy, rec) if policy.accepts_inbound else None
        listen = listeners(policy, rec, access.chain if access else None)
        record_builtin(policy, rec)
        screening.record(policy, rec)
        sender_auth.record(policy, rec)
        smuggling.record(policy, rec)
        local, relay = Value("local", "action"), Value("relay", "action")
        own = Value(signing.ACTION, "action") if signed else relay
        conf = SmtpdConf(
            settings=tuple(settings),
            tables=(Directive(("table", "aliases", Value("file:/etc/aliases", "aliases"))),
                    *domain_tables, *trusted_tables),
            filters=(*(access.directives if access else ()), *(signed.filters if signed else ())),
            listeners=(*listen, *(signed.listeners if signed else ())),
            actions=(Directive(("action", local, "maildir", "alias", "<aliases>")),
                     Directive(("action", relay, "relay")), *(signed.actions if signed else ())),
            # signed mail back from the signing listener, the host's own mail (the sendmail enqueuer), then the
            # contract's relay decision
            rules=(*(signed.rules if signed else ()),
                   Directive(("match", "from", "socket", "for", "local", "action", local)),
                   Directive(("match", "from", "socket", "for", "any", "action", own)),
                   *domain_matches, *trusted_matches),
        )
        coverage = in_table_order(rec.items())
        files = [PlannedFile("smtpd.conf", "smtpd.conf.j2", conf), coverage_file(self.name, coverage)]
        config = opensmtpd_options(policy).config_file
        checks = signed.steps if signed else ()
        return Plan(self.name, placed(files, lambda path: config), steps(policy, checks), coverage, apply="restart",
                    service=service(), preflight=signed.requirements if signed else ())

    def filters(self) -> Mapping[str, Callable[..., str]]:
        return {"smtpd_line": line}
