"""qmail: control files, tcp.smtp for tcpserver, and daemontools run scripts with rblsmtpd.

One module per output or concern: :mod:`.control` (me, smtpgreeting, databytes, the domain lists),
:mod:`.addresses` (badmailfrom, badrcptto), :mod:`.tcp_smtp` over :mod:`.tcprules` (client rules and
trusted networks as tcprules keys), :mod:`.service` (run scripts, the daemontools service, the steps),
:mod:`.smtpd` (what stock qmail-smtpd does by itself), :mod:`.lines` (qmail's line rules over the kit's
escaping) and :mod:`.capabilities` (the table of what qmail can do with each element). Each lowering step
records coverage in the plan's one :class:`~..kit.coverage.Recorder` where it decides; the plan lists it in
the table's order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from ...policy import Policy, canonical
from ..base import Plan, Target, address_requirement, coverage_file, placed, register
from ..kit.coverage import Recorder
from . import screening, sender_auth, smuggling
from .addresses import lower_envelope
from .capabilities import in_table_order, note
from .control import domain_files, identity_files, percenthack
from .lines import control_line, control_lines
from .options import qmail_options
from .service import RunScript, folders, service, service_files, smtpd_arguments, steps
from .smtpd import record_builtin
from .tcp_smtp import answers_with_text, client_networks, tcp_rules_file, trusted_networks
from .tcprules import tcprules_value

__all__ = ["QmailTarget", "RunScript", "control_line", "control_lines", "tcprules_value"]


@register
class QmailTarget(Target):
    name = "qmail"
    description = "qmail 1.03 / netqmail (control files, tcp.smtp, run scripts for ucspi-tcp 0.88)"

    def plan(self, policy: Policy) -> Plan:
        options, rec = qmail_options(policy), Recorder()
        files = [*identity_files(policy, rec), *domain_files(policy, rec)]
        refused_senders, envelope_files = lower_envelope(policy, rec)
        files += [*envelope_files, percenthack()]
        trusted = trusted_networks(policy, rec)
        arguments = smtpd_arguments(policy, rec)
        if policy.accepts_inbound:
            clients = client_networks(policy, rec, refused_senders)
            rblsmtpd = bool(policy.dnsbl) or answers_with_text(policy)
            files += [tcp_rules_file(policy, clients, trusted, rblsmtpd),
                      *service_files(policy, rec, rblsmtpd, arguments)]
        else:
            _record_no_smtpd(policy, rec)
        record_builtin(policy, rec)
        screening.record(policy, rec)
        sender_auth.record(policy, rec)
        smuggling.record(policy, rec)
        coverage = in_table_order(rec.items())
        files.append(coverage_file(self.name, coverage))

        def where(path: str) -> str:
            if path == "tcp.smtp":
                return options.tcp_rules_file
            if path.startswith("service/"):
                return f"{options.service_dir}/{path.removeprefix('service/')}"
            return f"{options.home}/{path}"

        listen = canonical.address(options.listen)
        preflight = address_requirement([listen] if policy.accepts_inbound and listen != "0.0.0.0" else [])
        return Plan(self.name, placed(files, where), steps(policy), coverage, apply="restart",
                    service=service(policy), preflight=preflight, folders=folders(policy))

    def filters(self) -> Mapping[str, Callable[..., str]]:
        return {"control_line": control_line, "control_lines": control_lines, "tcprules_value": tcprules_value}


def _record_no_smtpd(policy: Policy, rec: Recorder) -> None:
    """Roles without a port-25 service: no client reaches the client-facing rules."""
    note(rec, "role", "null-client" if policy.role == "null-client" else "submission")
    access = policy.access
    if policy.dnsbl:
        note(rec, "dnsbl", "no-smtpd", role=policy.role)
    if access.clients or access.helo or access.senders or access.recipients:
        note(rec, "access", "no-smtpd", role=policy.role)
    note(rec, "smtp.max_connections_per_client", "no-smtpd", role=policy.role)
