"""Sendmail: sendmail.mc (m4), access, relay-domains, local-host-names, Sendmail.conf, -bt checks.

The plan lowers the policy element by element in the contract's order, one module per output or
concern, each step recording its coverage into the plan's one Recorder as it decides (so COVERAGE.md
reads in the policy's order): :mod:`.mc` (the .mc statements), :mod:`.classes` (class w and R),
:mod:`.dnsbl`, :mod:`.access` (the access map; HELO rules and the client re-check in :mod:`.rulesets`),
:mod:`.headers` (regex maps over :mod:`.regex`), then the files: :mod:`.sasl`, :mod:`.helpfile`,
:mod:`.relay_check` (the -bt check step), :mod:`.sender_auth` (the SPF, DKIM and DMARC milters: their
.mc lines, files in ``milter_dir``, checks and restarts). Quoting is :mod:`.m4`; coverage texts are
:mod:`.capabilities`; template contexts :mod:`.contexts`.

Policy text reaches m4 only inside double m4 quotes (so cf.m4's rescans cannot execute it) and never
contains an m4 quote character; free text for the access map goes to a plain file m4 never reads.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping

from ...policy import Policy
from ..base import Folder, Plan, PlannedFile, Service, Step, Target, coverage_file, placed, register
from ..kit.coverage import Recorder
from . import access, classes, dnsbl, headers, mc, relay_check, sasl, screening, sender_auth, smuggling
from .contexts import Items, McFile, Table
from .helpfile import HELP_TOPICS, help_file
from .m4 import m4_line
from .preflight import preflight

DEBIAN_PID_FILE = "/run/sendmail/mta/sendmail.pid"
# the queues as Debian's sendmail-bin creates them (measured in the lab's stock root): sm-mta's and the client's
FOLDERS = (Folder("/var/spool/mqueue", "smmta", 0o2750, "sm-mta's queue", "smmsp"),
           Folder("/var/spool/mqueue-client", "smmsp", 0o2770, "the queue of mail submitted by local programs",
                  "smmsp"))
DEBIAN_INIT = "/etc/init.d/sendmail"  # starts sm-mta as Debian configures it (the only tested layout)


@register
class SendmailTarget(Target):
    name = "sendmail"
    description = "Sendmail 8.15+ (sendmail.mc for m4 + sendmail-cf, access map)"

    def plan(self, policy: Policy) -> Plan:
        coverage = Recorder()
        daemons = mc.daemons(policy, coverage)
        hostname = mc.hostname(policy, coverage)
        names = classes.lower(policy, coverage)
        auth = mc.auth(policy, coverage)
        features = dnsbl.features(policy, coverage)
        rules = access.lower(policy, coverage, names.relay_domains)
        header_rules = headers.lower(policy.header_checks, coverage)
        session = mc.session(policy, coverage)
        bare_newlines = smuggling.lower(policy, coverage)
        tls = mc.tls(policy, coverage)
        screened = screening.lower(policy, coverage)
        milters = sender_auth.lower(policy, coverage)
        statements = mc.statements(policy, mc.Sections(daemons, hostname, auth, [*features, *screened.features],
                                                       session, tls, milters.statements))
        files = [
            PlannedFile("sendmail.mc", "sendmail.mc.j2",
                        McFile(statements, header_rules.config, (*rules.rulesets, *header_rules.rulesets))),
            PlannedFile("access", "table.j2", Table((*rules.lines, *screened.access, *bare_newlines), rules.blocks)),
            PlannedFile("relay-domains", "list.j2", Items(names.relay_domains)),
            PlannedFile("local-host-names", "list.j2", Items(names.local_names)),
            PlannedFile("helpfile", "table.j2", Table(HELP_TOPICS)),
            *relay_check.files(policy),
            *sasl.conf_file(policy),
            *milters.files,
        ]
        files.append(coverage_file(self.name, coverage.items()))
        milter_files = {file.path for file in milters.files}
        return Plan(self.name, placed(files, lambda path: _destination(policy, path, milter_files)),
                    _steps(policy, milters), coverage.items(), apply="restart", service=_service(policy, milters),
                    preflight=(*preflight(policy), *milters.requirements), folders=FOLDERS)

    def filters(self) -> Mapping[str, Callable[..., str]]:
        return {"m4_line": m4_line}


def _destination(policy: Policy, path: str, milter_files: set[str]) -> str:
    """Where an output file is installed: the settings folder, but the help file, Sendmail.conf and the
    milters' files (in ``milter_dir``, where Debian's packages read them)."""
    options = policy.targets.sendmail
    if path == "helpfile":
        return help_file(policy)
    if path in milter_files:
        return f"{options.milter_dir}/{path}"
    return f"{options.sasl_dir}/{path}" if path == sasl.CONF else f"{options.settings_dir}/{path}"


def _steps(policy: Policy, milters: sender_auth.SenderAuth) -> tuple[Step, ...]:
    options, q = policy.targets.sendmail, shlex.quote
    settings = options.settings_dir
    cf = f"{settings}/sendmail.cf"
    return (
        Step(("sh", "-c", f"m4 {q(options.cf_dir + '/m4/cf.m4')} {q(settings + '/sendmail.mc')} > {q(cf)}"),
             "compile sendmail.mc with sendmail-cf (any m4 message is an error)", outputs=(cf,)),
        Step(("sh", "-c", f"{q(options.makemap)} -C {q(cf)} hash {q(settings + '/access')} "
                          f"< {q(settings + '/access')}"), "index the access map into access.db",
             outputs=(f"{settings}/access.db",)),
        relay_check.check_step(policy),
        *smuggling.checks(policy),
        *milters.check_steps(),
        *milters.apply_steps(),  # the milters Sendmail calls, before it re-executes (F=T defers mail without them)
        Step(("sh", "-c", f"kill -HUP \"$(head -n 1 {q(options.pid_file or DEBIAN_PID_FILE)})\""),
             "the daemon re-executes itself and reads the new sendmail.cf", "apply"),
    )


def _service(policy: Policy, milters: sender_auth.SenderAuth) -> Service:
    """Every apply is a full restart (SIGHUP re-executes the daemon): no separate restart key. The milters
    start before Sendmail (which defers mail without them) and stop after it."""
    pid_file = shlex.quote(policy.targets.sendmail.pid_file or DEBIAN_PID_FILE)
    return Service(running=("sh", "-c", f'kill -0 "$(head -n 1 {pid_file} 2>/dev/null)" 2>/dev/null'),
                   start=(*(m.start for m in milters.restart_order), (DEBIAN_INIT, "start")),
                   stop=((DEBIAN_INIT, "stop"), *(m.stop for m in milters.milters)))
