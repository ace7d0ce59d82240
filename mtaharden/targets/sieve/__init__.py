"""Sieve (RFC 5228; Dovecot Pigeonhole 0.5 on Debian 12): the policy's header checks as one script.

A delivery filter, not an MTA: no daemon, no Ansible role (like Exchange); the README says how to install
and compile it (``sieve_before``, ``sievec``). :mod:`.script` writes the rules; where each rule files a message
and the gaps of every MTA-stage element are the shared decisions of :mod:`..kit.delivery`, as for procmail.
"""

from __future__ import annotations

from ...policy import Policy
from ...policy.options.sieve import SieveOptions
from ..base import Plan, PlannedFile, Step, Target, coverage_file, placed, register
from ..kit.coverage import Recorder
from ..kit.delivery import record_mta_elements
from .script import lower


@register
class SieveTarget(Target):
    name = "sieve"
    description = "Sieve script (RFC 5228, Dovecot Pigeonhole) for the header checks, run before the user's own"

    def plan(self, policy: Policy) -> Plan:
        options = policy.targets.sieve
        assert isinstance(options, SieveOptions)  # Targets has a sieve field of this model
        rec = Recorder()
        script = lower(policy.header_checks, options, rec)
        record_mta_elements(policy, rec, "Sieve")
        coverage = rec.items()
        files = [PlannedFile("mtaharden.sieve", "mtaharden.sieve.j2", script), coverage_file(self.name, coverage)]
        check = Step(("sievec", options.script_file), "compile the script (Pigeonhole refuses a global script it "
                     "cannot compile, and a sieve_before script must be precompiled)", "check")
        return Plan(self.name, placed(files, lambda path: options.script_file), (check,), coverage)
