"""SMTP smuggling (``smtp.bare_newlines``) and the version knob: what each target decides, read from its Plan.

The daemons' behaviour is proven in tests/lab/test_smuggling.py; here: the knob's validation, the version
thresholds, the rendered parameters and access lines, the check step run by a real shell, and a coverage row
for both elements on every target.
"""

from __future__ import annotations

import subprocess

import pytest

from mtaharden.policy import PolicyError, load_policy_text
from mtaharden.targets.base import Plan, registered
from mtaharden.targets.kit.version import check_step
from mtaharden.targets.postfix import smuggling as postfix_smuggling
from mtaharden.targets.postfix.main_cf import MainCf
from mtaharden.targets.sendmail import smuggling as sendmail_smuggling
from mtaharden.targets.sendmail.contexts import Table

ELEMENTS = ("smtp.bare_newlines", "smtp.bare_newlines_exempt_trusted")
MTAS = ("exchange", "exim", "opensmtpd", "postfix", "qmail", "sendmail")  # the SMTP servers issue 26 names
TRUSTED = "networks: {trusted: [192.0.2.0/24, '2001:db8::/48']}\n"


def plan(target: str, text: str = "") -> Plan:
    return registered()[target].plan(load_policy_text(TRUSTED + text, "policy.yml"))


def rows(result: Plan) -> dict[str, tuple[str, str]]:
    return {c.element: (c.status, c.detail) for c in result.coverage if c.element in ELEMENTS}


def main_cf(result: Plan) -> dict[str, object]:
    (context,) = [f.context for f in result.files if f.path == "main.cf"]
    assert isinstance(context, MainCf)
    return dict(context.values())


def access_lines(result: Plan) -> list[tuple[str, str]]:
    (context,) = [f.context for f in result.files if f.path == "access"]
    assert isinstance(context, Table)
    return [(key, value) for key, value in context.lines if key.startswith("Srv_Features:")]


@pytest.mark.parametrize("target", ["postfix", "sendmail", "exim"])
@pytest.mark.parametrize("value", ["3.7", "3.7.x", "03.7", "3..7", "1.2.3.4.5.6", "3.7.11-1", ""])
def test_version_knob_takes_dotted_numbers_only(target: str, value: str) -> None:
    with pytest.raises(PolicyError) as failure:
        load_policy_text(f"targets: {{{target}: {{version: {value!r}}}}}\n" if value != "3.7" else
                         f"targets: {{{target}: {{version: 3.7}}}}\n", "policy.yml")
    assert f"targets.{target}.version" in str(failure.value) and "dotted numbers" in str(failure.value)


def test_version_knob_defaults_to_debian_12() -> None:
    targets = load_policy_text("", "policy.yml").targets
    assert (targets.postfix.version, targets.sendmail.version, targets.exim.version) == ("3.7.11", "8.17.1.9", "4.96")


@pytest.mark.parametrize(("release", "knob"), [
    ("3.7.11", "normalize"), ("3.7.10", "normalize"), ("3.7.9", "yes"), ("3.7.8", None), ("3.8.5", "normalize"),
    ("3.8.4", "yes"), ("3.6.14", "normalize"), ("3.6.13", "yes"), ("3.5.24", "normalize"), ("3.5.22", None),
    ("3.9", "normalize"), ("3.10.1", "normalize"), ("3.4.99", None), ("2.11.11", None)])
def test_postfix_knob_by_release(release: str, knob: str | None) -> None:
    assert postfix_smuggling.knob(release) == knob


@pytest.mark.parametrize(("smtp", "expected"), [
    ("", {"smtpd_forbid_bare_newline": "normalize", "smtpd_forbid_bare_newline_exclusions": "$mynetworks"}),
    ("smtp: {bare_newlines: reject, bare_newlines_exempt_trusted: false}\n",
     {"smtpd_forbid_bare_newline": "reject", "smtpd_forbid_bare_newline_exclusions": "",
      "smtpd_forbid_bare_newline_reject_code": "550"}),
])
def test_postfix_renders_forbid_bare_newline(smtp: str, expected: dict[str, str]) -> None:
    values = main_cf(plan("postfix", smtp))
    assert {k: v for k, v in values.items() if k.startswith("smtpd_forbid_bare_newline")} == expected
    assert values["smtpd_data_restrictions"] == "reject_unauth_pipelining"  # the short-term fix stays


def test_postfix_older_versions() -> None:
    yes_only = plan("postfix", "targets: {postfix: {version: 3.7.9}}\n")
    assert main_cf(yes_only)["smtpd_forbid_bare_newline"] == "yes"
    assert rows(yes_only)["smtp.bare_newlines"][0] == "approximated"
    assert "only smtpd_forbid_bare_newline = yes" in rows(yes_only)["smtp.bare_newlines"][1]
    none = plan("postfix", "targets: {postfix: {version: 3.7.8}}\n")
    assert not any(k.startswith("smtpd_forbid") for k in main_cf(none))
    assert {status for status, _ in rows(none).values()} == {"unsupported"}


def test_sendmail_srv_features() -> None:
    assert access_lines(plan("sendmail")) == [("Srv_Features:", "G u2"), ("Srv_Features:192.0.2", "O U G"),
                                              ("Srv_Features:IPv6:2001:db8:0", "O U G")]
    assert access_lines(plan("sendmail", "smtp: {bare_newlines: reject, bare_newlines_exempt_trusted: false}\n")) == []
    old = plan("sendmail", "targets: {sendmail: {version: 8.17.1.8}}\n")
    assert access_lines(old) == [] and {status for status, _ in rows(old).values()} == {"unsupported"}


@pytest.mark.parametrize("target", MTAS)
def test_every_target_records_both_elements(target: str) -> None:
    for text in ("", "smtp: {bare_newlines: reject, bare_newlines_exempt_trusted: false}\n"):
        recorded = rows(plan(target, text))
        assert set(recorded) == set(ELEMENTS), target
        assert all(detail for _, detail in recorded.values())


@pytest.mark.parametrize(("target", "argv_part"), [
    ("postfix", "postconf -c /etc/postfix -h mail_version"), ("sendmail", "/usr/sbin/sendmail -d0.1 -bt"),
    ("exim", "/usr/sbin/exim4 -bV")])
def test_each_plan_checks_the_installed_version(target: str, argv_part: str) -> None:
    checks = [s for s in plan(target).steps if s.phase == "check" and argv_part in " ".join(s.argv)]
    assert len(checks) == 1 and "sort -V -C" in checks[0].argv[2]


@pytest.mark.parametrize(("installed", "ok"), [("3.7.11", True), ("3.7.12", True), ("3.8.1", True),
                                                ("3.7.9", False), ("3.6.20", False), ("", False)])
def test_version_check_step_in_a_real_shell(installed: str, ok: bool) -> None:
    step = check_step(f"echo {installed or 'nothing'}", r"s/^\([0-9][0-9.]*\).*/\1/p", "3.7.11",
                      "targets.postfix.version")
    result = subprocess.run(step.argv, capture_output=True, text=True, timeout=10, check=False)
    assert (result.returncode == 0) == ok
    assert (result.stdout == "") == ok  # a check step is silent when it passes
    if not ok:
        assert result.stdout.startswith("error:") and "targets.postfix.version" in result.stdout


def test_sendmail_checks_the_binary_has_the_bare_lf_check() -> None:
    (step,) = [s for s in sendmail_smuggling.checks(load_policy_text("", "policy.yml")) if "grep" in s.argv[2]]
    assert sendmail_smuggling.CHECK_TEXT in step.argv[2]
