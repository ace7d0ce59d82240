"""Fuzzed valid policies render into configuration each MTA's own tool accepts, for every target.

Each example is a valid policy from :mod:`tests.robustness.strategies`. When a target reports an
element unsupported that the policy states and does not waive, the CLI refuses to render that target:
the example then skips it, once the reason is known to be in the coverage. Everything else is rendered
and handed to the real tool: ``postconf -n`` (exactly the Plan's parameters, no warning) and
``postfix check`` for Postfix, m4 with sendmail-cf for Sendmail, tcprules for qmail, the PowerShell
grammar for Exchange, the plan's check steps (``exim -bV``, the ``exim -bh`` relay check) for Exim and
``smtpd -n`` for OpenSMTPD.

``MTAHARDEN_FUZZ_EXAMPLES`` sets the number of examples per target (default 200, what CI runs).
"""

from __future__ import annotations

import os
import re
from typing import Any

from hypothesis import HealthCheck, event, given, settings

from mtaharden.targets.exim.outbound import PROBE as DNSSEC_PROBE
from mtaharden.targets.kit.escape import Unexpressible
from tests.filters.harness import need as need_filter_tools
from tests.filters.harness import procmail, sieve_home, sievec
from tests.powershell import Script
from tests.realmta.harness import Postfix, daemon_dir, run
from tests.robustness.readback import compiled_cf, planned_parameters, rendered, shown_parameters, with_options
from tests.robustness.strategies import policies
from tests.unit.exim_chroot import exim_chroot
from tests.unit.test_exchange_script import KNOWN_COMMANDS
from tests.unit.test_opensmtpd_check import opensmtpd, smtpd_accepts

EXAMPLES = int(os.environ.get("MTAHARDEN_FUZZ_EXAMPLES", "200"))
# The delivery filters' files: every procmail line is one a recipe holds; Sieve, outside strings and comments.
RCFILE_LINE = re.compile(r"|#.*|DROPPRIVS=yes|:0(?: D)?|  :0(?: fhw)?|\* .+|  \| /usr/bin/formail -A \"[^\"]+\"|[{}]|"
                         r"(?:  )?(?:\$HOME|/)[A-Za-z0-9._/-]*/\.[A-Za-z0-9_-]+/|(?:  )?/dev/null")
SIEVE_SKIPPED = re.compile(r'"(?:[^"\\]|\\.)*"|#[^\n]*')  # strings and comments, read left to right as sievec does
SIEVE_TOKEN = re.compile(r"[^\s\[\],;{}()]+")
SIEVE_WORDS = {"require", "if", "header", ":contains", ":regex", ":comparator", "addheader", "fileinto", ":create",
               "discard", "stop"}
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def listening_here(data: dict[str, Any]) -> list[str]:
    """The drawn inet_interfaces, unless they name addresses: postfix check wants those on this host."""
    drawn = data.get("targets", {}).get("postfix", {}).get("inet_interfaces", ["all"])
    return drawn if set(drawn) <= {"all", "loopback-only"} else ["loopback-only"]


@FUZZ
@given(data=policies())
def test_postfix_config_is_what_the_plan_says_and_passes_postfix_check(postfix_tools: None,
                                                                       data: dict[str, Any]) -> None:
    with daemon_dir("fuzz-postfix") as work:
        result = rendered(with_options(data, "postfix", config_dir=str(work / "etc"),
                                       inet_interfaces=listening_here(data)), "postfix", work / "r")
        if result is None:
            return
        plan, out = result
        assert shown_parameters(out) == planned_parameters(plan, out)
        Postfix.install(out, work / "etc", 25, [step.argv for step in plan.steps])


@FUZZ
@given(data=policies())
def test_sendmail_mc_compiles_silently(m4_tools: None, data: dict[str, Any]) -> None:
    with daemon_dir("fuzz-sendmail") as work:
        # OSTYPE(debian) includes Debian's autoconf.m4, which the unpacked sendmail-cf here lacks.
        result = rendered(with_options(data, "sendmail", ostype="linux"), "sendmail", work / "r")
        if result is not None:
            compiled_cf(result[1])


@FUZZ
@given(data=policies())
def test_qmail_tcp_rules_compile_and_run_scripts_parse(qmail_tools: None, data: dict[str, Any]) -> None:
    with daemon_dir("fuzz-qmail") as work:
        result = rendered(data, "qmail", work / "r")
        if result is None:
            return
        out = result[1]
        if (out / "tcp.smtp").exists():
            run(["tcprules", str(work / "tcp.smtp.cdb"), str(work / "tcp.smtp.tmp")],
                input_text=(out / "tcp.smtp").read_text())
        for script in out.glob("service/**/run"):
            run(["sh", "-n", str(script)])


@FUZZ
@given(data=policies())
def test_exchange_script_parses_and_calls_only_known_commands(data: dict[str, Any]) -> None:
    with daemon_dir("fuzz-exchange") as work:
        result = rendered(data, "exchange", work / "r")
        if result is None:
            return
        script = Script((result[1] / "harden.ps1").read_text())
        assert script.errors() == []
        assert {command.name for command in script.commands()} <= KNOWN_COMMANDS


@FUZZ
@given(data=policies())
def test_exim_files_pass_the_plans_check_steps(data: dict[str, Any]) -> None:
    """Every planned file at its destination in a private overlay of the stock Exim root, then the plan's own
    check steps as the role runs them: ``exim -bV`` silent and the ``exim -bh`` relay check."""
    with daemon_dir("fuzz-exim") as work:
        try:  # the binary and its user are the stock host's; the policy's other paths are the plan's own
            result = rendered(with_options(data, "exim", exim="/usr/sbin/exim4", user="Debian-exim"), "exim",
                              work / "r")
        except Unexpressible as refused:  # a value Exim's syntax cannot hold: bad input (exit 2), named
            assert "into an Exim" in str(refused) or "(" in str(refused), refused
            event("exim refuses a value it cannot write")
            return
        if result is None:
            return
        plan, out = result
        exim = exim_chroot(work / "overlay")
        for planned in plan.files:
            if planned.dest is not None:
                exim.put(planned.dest, (out / planned.path).read_text(), planned.mode)
        # DANE's DNSSEC check asks this machine's resolver, which need not validate: tests/lab/test_dane.py proves it
        for argv in (step.argv for step in plan.steps if step.phase == "check" and DNSSEC_PROBE not in step.argv):
            checked = exim.run(list(argv), timeout=120)
            assert checked.returncode == 0 and checked.stdout == checked.stderr == "", \
                f"{argv}: {checked.stdout}{checked.stderr}"


@FUZZ
@given(data=policies())
def test_opensmtpd_config_passes_smtpd_n(data: dict[str, Any]) -> None:
    """smtpd.conf has no safe spelling for a backslash or non-ASCII text: such a value is refused as bad input
    (exit 2) naming its element; everything else smtpd -n accepts."""
    with daemon_dir("fuzz-opensmtpd") as work:
        try:
            result = rendered(data, "opensmtpd", work / "r")
        except Unexpressible as refused:
            assert re.search(r"smtpd\.conf \([a-z_.\[\]0-9]+\)", str(refused)), refused
            event("opensmtpd refuses a value it cannot write")
            return
        if result is not None:
            smtpd_accepts(opensmtpd(), result[1] / "smtpd.conf")


# A quarter of the examples: these two read only header checks (the rest is waived), which FUZZ covers for Postfix
# and Sendmail at full count; the suite's 30-minute budget has no room for two more full-count runs.
DELIVERY_FUZZ = settings(FUZZ, max_examples=max(1, EXAMPLES // 4))
MTA_ELEMENTS = ["hostname", "role", "domains", "networks", "auth", "dnsbl", "access", "smtp", "tls", "published",
                "outbound", "dkim_signing"]  # what a delivery filter leaves to the MTA: waived, so header checks render


@DELIVERY_FUZZ
@given(data=policies())
def test_procmail_runs_the_rcfile_without_a_complaint(data: dict[str, Any]) -> None:
    """procmail itself reads the recipes (no syntax check mode: it delivers a plain message with them, and a
    recipe it cannot parse is a line on stderr); every line is one a recipe holds, so no value made another."""
    need_filter_tools("procmail")
    with daemon_dir("fuzz-procmail") as work:
        result = rendered(with_options(data, "procmail", allow_unsupported=MTA_ELEMENTS), "procmail", work / "r")
        if result is None:
            return
        rcfile = result[1] / "procmailrc"
        assert all(RCFILE_LINE.fullmatch(line) for line in rcfile.read_text().splitlines()), rcfile.read_text()
        delivered = procmail(rcfile, b"From: a@example.org\nSubject: x\n\nhello\n", work / "home")
        assert sum(len(messages) for messages in delivered.values()) == 1


@DELIVERY_FUZZ
@given(data=policies())
def test_sieve_script_compiles_and_holds_only_its_commands(data: dict[str, Any]) -> None:
    """sievec compiles every script; outside its strings (RFC 5228 quoting) it holds only the words mtaharden writes."""
    need_filter_tools("sievec")
    with daemon_dir("fuzz-sieve") as work:
        result = rendered(with_options(data, "sieve", allow_unsupported=MTA_ELEMENTS), "sieve", work / "r")
        if result is None:
            return
        script = result[1] / "mtaharden.sieve"
        words = set(SIEVE_TOKEN.findall(SIEVE_SKIPPED.sub(" ", script.read_text())))
        assert words <= SIEVE_WORDS, words - SIEVE_WORDS
        with sieve_home() as home:
            compiled = sievec(home, script, "+editheader")
        assert compiled.returncode == 0, compiled.stderr
