"""Postfix: main.cf, master.cf, access maps, header checks, DNSBL replies and Cyrus SASL config.

Every relay-relevant parameter is written explicitly; nothing relies on ``compatibility_level``.
Access rules never enter ``smtpd_relay_restrictions``, so no ``permit`` rule can open a relay.

One module per output or concern: :mod:`.main_cf` (the parameters and their layout), :mod:`.master_cf`
(the services), :mod:`.tables` (what a table is), :mod:`.access` (the access maps), :mod:`.dnsbl`,
:mod:`.header_checks`, :mod:`.sasl`, :mod:`.deploy` (steps, service, preflight), :mod:`.capabilities`
(Postfix's facts as data) and :mod:`.syntax` (how Postfix spells a value). The site-parameter allow-list
is the policy's (``policy/options/postfix/parameters.py``): it is judged before anything is lowered. One
:class:`~mtaharden.targets.kit.coverage.Recorder` per plan: each step records its element as it decides it.
"""

from __future__ import annotations

from ...policy import Policy
from ..base import Plan, PlannedFile, Target, coverage_file, placed, register
from ..kit.coverage import Recorder
from . import deploy, main_cf, master_cf, outbound, sasl, sender_auth, smuggling
from .master_cf import MasterCf


@register
class PostfixTarget(Target):
    name = "postfix"
    description = "Postfix 3.6+ (main.cf, master.cf, maps)"

    def plan(self, policy: Policy) -> Plan:
        record = Recorder()
        services = master_cf.services(policy, record)
        decided = Recorder()  # sender authentication's rows, recorded after main.cf's (COVERAGE.md's order)
        options = policy.targets.postfix
        auth = sender_auth.lower(policy, options.config_dir, options.milter_dir, decided)
        services = (*services, *auth.services)
        main, tables = main_cf.lower(policy, record, auth)
        for item in decided.items():
            record.record(item.element, item.status, item.detail)
        files = [
            PlannedFile("main.cf", "main.cf.j2", main),
            PlannedFile("master.cf", "master.cf.j2", MasterCf(services)),
            *(PlannedFile(table.name, "table.j2", table) for table in tables.values()),
        ]
        cyrus = sasl.cyrus_file(policy)
        if cyrus is not None:
            files.append(cyrus)
        files += auth.files
        coverage = record.items()
        files.append(coverage_file(self.name, coverage))
        config_dir = policy.targets.postfix.config_dir
        checks = (smuggling.version_check(policy), *outbound.checks(policy, config_dir), *auth.check_steps())
        steps = deploy.steps(config_dir, tables.values(), checks,
                             auth.apply_steps())
        milter_files = {file.path for milter in auth.milters for file in milter.files}
        folder = {path: options.milter_dir for path in milter_files}  # where Debian's milter packages read them
        return Plan(self.name, placed(files, lambda path: f"{folder.get(path, config_dir)}/{path}"), steps, coverage,
                    apply="reload",
                    service=deploy.service(config_dir, main, services, auth.milters),
                    preflight=deploy.preflight(policy), folders=deploy.FOLDERS)
