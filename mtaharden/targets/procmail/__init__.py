"""procmail 3.23 (Debian 12): the policy's header checks as delivery recipes in one rcfile.

A delivery filter, not an MTA: it runs no daemon and has no Ansible role (like Exchange); the README says
how to install the file. :mod:`.egrep` writes patterns in procmail's regex dialect, :mod:`.recipes` turns
each header check into a recipe; where each rule files a message (an MDA cannot refuse one) and the gaps
of every MTA-stage element are the shared decisions of :mod:`..kit.delivery`, the same as the Sieve target's.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...policy import Policy
from ...policy.options.procmail import ProcmailOptions
from ..base import Plan, PlannedFile, Target, coverage_file, placed, register
from ..kit.coverage import Recorder
from ..kit.delivery import record_mta_elements
from .recipes import Recipe, lower

FORMAIL = "/usr/bin/formail"  # Debian's procmail package ships it


@dataclass(frozen=True)
class Rcfile:
    recipes: tuple[Recipe, ...]
    formail: str


@register
class ProcmailTarget(Target):
    name = "procmail"
    description = "procmail 3.23 delivery recipes (/etc/procmailrc) for the header checks"

    def plan(self, policy: Policy) -> Plan:
        options = policy.targets.procmail
        assert isinstance(options, ProcmailOptions)  # Targets has a procmail field of this model
        rec = Recorder()
        recipes = lower(policy.header_checks, options, rec)
        record_mta_elements(policy, rec, "procmail")
        coverage = rec.items()
        files = [PlannedFile("procmailrc", "procmailrc.j2", Rcfile(recipes, FORMAIL)),
                 coverage_file(self.name, coverage)]
        return Plan(self.name, placed(files, lambda path: options.rc_file), (), coverage)
