"""Sendmail's sender authentication (issue 26): the milters' .mc lines, files, steps and coverage, decided in
Python; the .mc compiled by the real m4 with Debian's sendmail-cf (the unpacked tree) where it is present.
What the milters then do is proven on the stock host (tests/lab/test_sender_auth.py)."""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from mtaharden.policy import PolicyError, load_policy_text
from mtaharden.render import render_plan
from mtaharden.targets.base import Plan
from mtaharden.targets.kit.milters import LISTEN_WAIT
from mtaharden.targets.sendmail import SendmailTarget
from mtaharden.targets.sendmail.contexts import McFile
from mtaharden.targets.sendmail.sender_auth import SPF_ACTIONS

CF_DIR = Path(os.environ.get("MTAHARDEN_SENDMAIL_ROOT", "/var/cache/mtaharden/sendmail-root")) / "usr/share/sendmail/cf"
FILTERS = [
    "INPUT_MAIL_FILTER(`opendkim', `S=inet:8891@127.0.0.1, F=T, T=C:10s;S:30s;R:1m;E:5m')",
    "INPUT_MAIL_FILTER(`opendmarc', `S=inet:8893@127.0.0.1, F=T, T=C:10s;S:30s;R:1m;E:5m')",
    "INPUT_MAIL_FILTER(`pyspf-milter', `S=inet:8894@127.0.0.1, F=T, T=C:10s;S:30s;R:1m;E:5m')",
]
MACROS = [
    "define(`confMILTER_MACROS_CONNECT', ``j, _, {daemon_name}, {if_name}, {if_addr}'')",
    "define(`confMILTER_MACROS_ENVFROM', ``i, {auth_type}, {auth_authen}, {auth_ssf}, {auth_author}, {mail_mailer}, "
    "{mail_host}, {mail_addr}'')",
]


def _policy(on_fail: str = "reject", on_softfail: str = "tag", **extra: Any) -> dict[str, Any]:
    return {"hostname": "mx.example.org", "domains": {"local": ["example.org"]},
            "networks": {"trusted": ["192.0.2.0/28", "2001:db8::/64"]},
            "sender_auth": {"spf": {"enabled": True, "on_fail": on_fail, "on_softfail": on_softfail},
                            "dkim": {"enabled": True}, "dmarc": {"enabled": True, "on_quarantine": "hold"}},
            "dkim_signing": [{"domain": "example.org", "selector": "s1", "key": "/etc/dkimkeys/example.org.private"}],
            **extra}


def plan(policy: dict[str, Any]) -> Plan:
    return SendmailTarget().plan(load_policy_text(yaml.safe_dump(policy), "p.yml"))


def statements(result: Plan) -> list[str]:
    context = next(f for f in result.files if f.path == "sendmail.mc").context
    assert isinstance(context, McFile)
    return list(context.statements)


def rendered(result: Plan) -> dict[str, str]:
    return {file.path: file.content for file in render_plan(result, SendmailTarget())}


def status(result: Plan, element: str) -> tuple[str, str]:
    row = next(item for item in result.coverage if item.element == element)
    return row.status, row.detail


def test_the_milters_follow_the_mailers_opendkim_first_then_opendmarc_then_spf() -> None:
    lines = statements(plan(_policy()))
    at = lines.index("MAILER(`smtp')")
    assert lines[at + 1:] == [*MACROS, *FILTERS]


def test_off_means_no_milter_and_each_element_says_off() -> None:
    result = plan({"hostname": "mx.example.org"})
    assert not any("MILTER" in line or "MAIL_FILTER" in line for line in statements(result))
    assert not any(file.path.startswith(("opendkim", "opendmarc", "pyspf")) for file in result.files)
    assert {e: status(result, e)[0] for e in ("sender_auth.spf", "sender_auth.dkim", "sender_auth.dmarc",
                                              "dkim_signing")} == dict.fromkeys(
        ("sender_auth.spf", "sender_auth.dkim", "sender_auth.dmarc", "dkim_signing"), "enforced")


def test_signing_alone_runs_opendkim_alone() -> None:
    result = plan({"domains": {"local": ["example.org"]},
                   "dkim_signing": [{"domain": "example.org", "selector": "s1", "key": "/k/example.org.private"}]})
    assert statements(result)[-1] == FILTERS[0] and FILTERS[1] not in statements(result)
    assert "Mode\ts\n" in rendered(result)["opendkim.conf"]


def test_the_milters_files_go_where_debians_packages_read_them_in_milter_dir() -> None:
    result = plan(_policy(targets={"sendmail": {"milter_dir": "/srv/stage"}}))
    places = {file.path: file.dest for file in result.files}
    assert places["opendkim.conf"] == "/srv/stage/opendkim.conf"
    assert places["opendkim/KeyTable"] == "/srv/stage/opendkim/KeyTable"
    assert places["opendmarc/ignore.hosts"] == "/srv/stage/opendmarc/ignore.hosts"
    assert places["pyspf-milter/pyspf-milter.conf"] == "/srv/stage/pyspf-milter/pyspf-milter.conf"
    assert places["sendmail.mc"] == "/etc/mail/sendmail.mc"
    text = rendered(result)["opendkim.conf"]
    assert "KeyTable\tfile:/srv/stage/opendkim/KeyTable\n" in text
    assert "# OpenDKIM itself refuses a key others may read\nRequireSafeKeys\tyes\n" in text  # kit's comments kept


def test_checks_then_the_milters_restart_pyspf_first_before_sendmail_rereads_its_config() -> None:
    result = plan(_policy())
    checks = [step.argv for step in result.steps if step.phase == "check"]
    assert ("opendkim", "-n", "-x", "/etc/opendkim.conf") in checks
    assert ("opendmarc", "-n", "-c", "/etc/opendmarc.conf") in checks
    assert any(argv[:2] == ("sh", "-c") and "/etc/dkimkeys/example.org.private" in argv for argv in checks)
    applied = [step.argv for step in result.steps if step.phase == "apply"]
    assert applied[0][3:6] == ("pyspf-milter", "8894", "sh") and "/etc/init.d/pyspf-milter start" in applied[0][-2]
    assert [argv[3:] for argv in applied[1:3]] == [("opendkim", "8891", "/etc/init.d/opendkim", "restart"),
                                                   ("opendmarc", "8893", "/etc/init.d/opendmarc", "restart")]
    assert all(argv[:3] == ("sh", "-c", LISTEN_WAIT) for argv in applied[:3])  # each waits until it listens
    assert "kill -HUP" in applied[3][2]
    assert result.service is not None
    assert [argv[3] for argv in result.service.start[:3]] == ["pyspf-milter", "opendkim", "opendmarc"]
    assert result.service.start[3] == ("/etc/init.d/sendmail", "start")
    assert result.service.stop[0] == ("/etc/init.d/sendmail", "stop")
    assert any(need.need == "readable" and "/etc/dkimkeys/example.org.private" in need.args
               for need in result.preflight)


def test_the_spf_restart_waits_for_the_old_milter_to_exit(tmp_path: Path) -> None:
    """The restart step's script against a fake init script: it waits for the old PID to exit, then starts."""
    applied = next(step.argv for step in plan(_policy()).steps if step.phase == "apply")
    script = applied[-2].replace("/etc/init.d/pyspf-milter", str(tmp_path / "init"))
    (tmp_path / "init").write_text(f'#!/bin/sh\necho "$1" >> {tmp_path}/calls\n')
    (tmp_path / "init").chmod(0o755)
    # a daemon as Debian's init script leaves one: not this test's child (a child would stay a zombie)
    pid = subprocess.run(["sh", "-c", "sleep 0.7 >/dev/null & echo $!"], capture_output=True, text=True,
                         check=True, timeout=10).stdout.strip()
    (tmp_path / "pid").write_text(f"{pid}\n")
    started = time.monotonic()
    subprocess.run(["sh", "-c", script, str(tmp_path / "pid")], check=True, timeout=30)
    assert time.monotonic() - started > 0.3 and (tmp_path / "calls").read_text() == "stop\nstart\n"
    assert subprocess.run(["kill", "-0", pid], capture_output=True, check=False).returncode != 0


@pytest.mark.parametrize(("on_fail", "on_softfail"), list(SPF_ACTIONS))
def test_each_spf_action_is_said_to_pyspf_milter_or_its_difference_is_declared(on_fail: str, on_softfail: str) -> None:
    result = plan(_policy(on_fail, on_softfail))
    conf = rendered(result)["pyspf-milter/pyspf-milter.conf"]
    mail_from, gap = SPF_ACTIONS[on_fail, on_softfail]
    assert f"\nMail_From_reject = {mail_from}\n" in conf
    assert f"\nHELO_reject = {'False' if mail_from == 'False' else 'Null'}\n" in conf
    row, detail = status(result, "sender_auth.spf")
    assert row == "approximated" and "authenticates on port 25" in detail and gap in detail
    assert ("fail is refused 550, not deferred" in gap) == (on_fail == "defer")
    assert ("softfail is only tagged" in gap) == (on_softfail == "defer")
    assert mail_from != "Softfail", "a softfail is never refused for good"


def test_pyspf_milter_skips_loopback_and_the_trusted_networks_and_checks_port_25_only() -> None:
    conf = rendered(plan(_policy()))["pyspf-milter/pyspf-milter.conf"]
    lines = [line for line in conf.splitlines() if not line.startswith("#")]
    assert all(re.fullmatch(r"[A-Za-z_]+ = [^#=\n]+", line) or line.startswith("MacroList = ") for line in lines)
    assert "InternalHosts = 127.0.0.1,::1,192.0.2.0/28,2001:db8::/64" in lines
    assert "MacroList = daemon_name|MTA" in lines and "Socket = inet:8894@127.0.0.1" in lines
    assert "Authserv_Id = mx.example.org" in lines  # the name OpenDMARC trusts (TrustedAuthservIDs)


@pytest.mark.parametrize("hostile", ["x`dnl'", "x')dnl", "x, F=R", "x\nINPUT_MAIL_FILTER(`evil', `S=inet:1@h')",
                                     "x#y", "x=y"])
@pytest.mark.parametrize("place", ["hostname", "selector", "key"])
def test_a_value_that_could_end_a_milter_line_or_quote_is_refused_by_the_policy(hostile: str, place: str) -> None:
    policy = _policy()
    if place == "hostname":
        policy["hostname"] = hostile
    else:
        policy["dkim_signing"][0][place] = f"/etc/dkimkeys/{hostile}" if place == "key" else hostile
    with pytest.raises(PolicyError):
        plan(policy)


def test_m4_words_in_policy_values_never_reach_the_milter_lines() -> None:
    """The milter lines are this module's constants: names that are m4 and cf.m4 macros stay in OpenDKIM's
    and pyspf-milter's own files."""
    policy = _policy(hostname="dnl.example.org", domains={"local": ["example.org", "esyscmd.example.org"]})
    policy["dkim_signing"] = [{"domain": "esyscmd.example.org", "selector": "divert",
                               "key": "/etc/dkimkeys/dnl"}]
    result = plan(policy)
    lines = statements(result)
    assert lines[lines.index("MAILER(`smtp')") + 1:] == [*MACROS, *FILTERS]
    files = rendered(result)
    assert "divert._domainkey.esyscmd.example.org\tesyscmd.example.org:divert:/etc/dkimkeys/dnl" \
        in files["opendkim/KeyTable"]
    assert "Authserv_Id = dnl.example.org\n" in files["pyspf-milter/pyspf-milter.conf"]


@pytest.mark.skipif(not (CF_DIR / "m4/cf.m4").is_file(), reason="no unpacked sendmail-cf (tests/packages)")
def test_m4_compiles_the_filters_into_x_lines_and_input_mail_filters(tmp_path: Path) -> None:
    mc = tmp_path / "sendmail.mc"
    mc.write_text(rendered(plan(_policy(targets={"sendmail": {"ostype": "linux", "cf_dir": str(CF_DIR)}})))[
        "sendmail.mc"])
    result = subprocess.run(["m4", str(CF_DIR / "m4/cf.m4"), str(mc)], capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr
    cf = result.stdout.splitlines()
    assert [line for line in cf if line.startswith("X")] == [
        "Xopendkim, S=inet:8891@127.0.0.1, F=T, T=C:10s;S:30s;R:1m;E:5m",
        "Xopendmarc, S=inet:8893@127.0.0.1, F=T, T=C:10s;S:30s;R:1m;E:5m",
        "Xpyspf-milter, S=inet:8894@127.0.0.1, F=T, T=C:10s;S:30s;R:1m;E:5m"]
    assert "O InputMailFilters=opendkim, opendmarc, pyspf-milter" in cf
    assert "O Milter.macros.envfrom=i, {auth_type}, {auth_authen}, {auth_ssf}, {auth_author}, {mail_mailer}, " \
           "{mail_host}, {mail_addr}" in cf
    assert "O Milter.macros.connect=j, _, {daemon_name}, {if_name}, {if_addr}" in cf
