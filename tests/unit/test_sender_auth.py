"""sender_auth and dkim_signing (issue 26), as each target lowers them: what is written, what is recorded.

The behaviour itself is proven on stock hosts (tests/lab/test_sender_auth.py); these pin the lowering: the
SPF action table, where the check sits, which milters run and how, that a key never enters the output, and
that every target records all four elements (off: enforced; on where it cannot: unsupported, so a policy
that states them is refused unless waived).
"""

from __future__ import annotations

import getpass
import grp
import os
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from mtaharden.policy import Policy
from mtaharden.render import render_plan
from mtaharden.targets.base import Target
from mtaharden.targets.exchange import ExchangeTarget
from mtaharden.targets.exim import EximTarget
from mtaharden.targets.kit import milters
from mtaharden.targets.kit.sender_auth import ELEMENTS
from mtaharden.targets.opensmtpd import OpensmtpdTarget
from mtaharden.targets.postfix import PostfixTarget
from mtaharden.targets.postfix.sender_auth import SPF_ACTIONS
from mtaharden.targets.qmail import QmailTarget
from mtaharden.targets.sendmail import SendmailTarget

KEY = "/etc/dkimkeys/mx.private"
BASE: dict[str, Any] = {"hostname": "mx.example.org", "domains": {"local": ["example.org"]},
                        "networks": {"trusted": ["192.0.2.0/28", "2001:db8::/64"]}}


def _policy(spf: dict[str, Any] | None = None, *, dkim: bool = True, dmarc: dict[str, Any] | None = None,
            signing: bool = True) -> Policy:
    auth = {"spf": {"enabled": True, **(spf or {})}, "dkim": {"enabled": dkim},
            "dmarc": {"enabled": dmarc is not None, **(dmarc or {})}}
    keys = [{"domain": "example.org", "selector": "s2026", "key": KEY}] if signing else []
    return Policy.model_validate({**BASE, "sender_auth": auth, "dkim_signing": keys})


# The MTA targets by name (the delivery-filter targets record these elements their own way).
MTAS: dict[str, Target] = {target.name: target for target in (
    PostfixTarget(), SendmailTarget(), EximTarget(), QmailTarget(), OpensmtpdTarget(), ExchangeTarget())}


def _files(policy: Policy, target: str = "postfix") -> dict[str, str]:
    implementation = MTAS[target]
    return {f.path: f.content for f in render_plan(implementation.plan(policy), implementation)}


def _coverage(policy: Policy, target: str) -> dict[str, str]:
    return {c.element: c.status for c in MTAS[target].plan(policy).coverage}


@pytest.mark.parametrize(("on_fail", "on_softfail"), sorted(SPF_ACTIONS))
def test_postfix_spf_action_table(on_fail: str, on_softfail: str) -> None:
    mail_from, defer = SPF_ACTIONS[on_fail, on_softfail]
    files = _files(_policy({"on_fail": on_fail, "on_softfail": on_softfail}))
    assert f"Mail_From_reject = {mail_from}\n" in files["policyd-spf.conf"]
    assert ("HELO_reject = False\n" if mail_from == "False" else "HELO_reject = Null\n") in files["policyd-spf.conf"]
    steps = [line.strip().rstrip(",") for line in files["main.cf"].split("smtpd_recipient_restrictions =")[1]
             .split("\n\n")[0].splitlines()[1:] if line.startswith("    ")]
    spf = steps.index("check_policy_service unix:private/policyd-spf")
    assert steps[spf + 1:] == ["permit"]  # after every other step: the trusted and authenticated never reach it
    assert steps.index("permit_mynetworks") < spf
    assert (steps[spf - 1] == "defer_if_reject") is defer
    expected = "approximated" if (on_fail, on_softfail) in (("reject", "defer"), ("tag", "defer")) else "enforced"
    coverage = _coverage(_policy({"on_fail": on_fail, "on_softfail": on_softfail}), "postfix")
    assert coverage["sender_auth.spf"] == expected


def test_postfix_runs_the_milters_in_order_and_signs_local_submissions() -> None:
    plan = PostfixTarget().plan(_policy(dmarc={"honour_reject": True, "on_quarantine": "hold"}))
    files = _files(_policy(dmarc={"honour_reject": True, "on_quarantine": "hold"}))
    assert "smtpd_milters = inet:127.0.0.1:8891, inet:127.0.0.1:8893\n" in files["main.cf"]
    assert "non_smtpd_milters = inet:127.0.0.1:8891\n" in files["main.cf"]
    assert "milter_default_action = tempfail\n" in files["main.cf"]
    assert "policyd-spf unix  -       n       n       -       0       spawn\n" in files["master.cf"]
    assert "argv=/usr/bin/policyd-spf /etc/postfix/policyd-spf.conf" in files["master.cf"]
    assert "Mode\tsv\n" in files["opendkim.conf"]
    assert "RequireSafeKeys\tyes\n" in files["opendkim.conf"]
    assert "RejectFailures\ttrue\n" in files["opendmarc.conf"]
    assert "HoldQuarantinedMessages\ttrue\n" in files["opendmarc.conf"]
    assert files["opendkim/TrustedHosts"].splitlines()[1:] == ["127.0.0.1", "::1", "192.0.2.0/28", "2001:db8::/64"]
    assert "s2026._domainkey.example.org\texample.org:s2026:" + KEY in files["opendkim/KeyTable"]
    assert "*@example.org\ts2026._domainkey.example.org\n" in files["opendkim/SigningTable"]
    apply = [step.argv for step in plan.steps if step.phase == "apply"]
    restarts = [("sh", "-c", milters.LISTEN_WAIT, name, str(port), f"/etc/init.d/{name}", "restart")
                for name, port in (("opendkim", 8891), ("opendmarc", 8893))]  # each restart waits for its port
    assert apply[:-1] == restarts  # Debian's services (systemd's units on a systemd host), before Postfix reloads
    assert apply[-1][-1] == "reload"
    assert plan.service is not None and list(plan.service.start[:2]) == restarts  # before Postfix starts
    assert list(plan.service.stop[1:]) == [("/etc/init.d/opendkim", "stop"), ("/etc/init.d/opendmarc", "stop")]
    checks = [step.argv for step in plan.steps if step.phase == "check"]
    assert ("opendkim", "-n", "-x", "/etc/opendkim.conf") in checks
    assert ("opendmarc", "-n", "-c", "/etc/opendmarc.conf") in checks
    assert any(argv[:2] == ("sh", "-c") and argv[-1] == KEY for argv in checks)
    assert any(need.args == ("opendkim", KEY) for need in plan.preflight)


def test_lenient_dmarc_and_verify_only_opendkim() -> None:
    files = _files(_policy(dmarc={"honour_reject": False, "on_quarantine": "tag"}, signing=False))
    assert "RejectFailures\tfalse\n" in files["opendmarc.conf"]
    assert "HoldQuarantinedMessages\tfalse\n" in files["opendmarc.conf"]
    assert "Mode\tv\n" in files["opendkim.conf"] and "KeyTable" not in files["opendkim.conf"]
    assert "\nnon_smtpd_milters =\n" in files["main.cf"]  # nothing to sign: local submissions pass no milter


def test_all_off_adds_nothing_to_postfix() -> None:
    files = _files(Policy.model_validate(BASE))
    assert not [path for path in files if path.startswith(("opendkim", "opendmarc", "policyd-spf"))]
    assert "milter" not in files["main.cf"] and "policyd-spf" not in files["master.cf"]


def test_no_key_material_reaches_any_output(tmp_path: Path) -> None:
    policy = _policy(dmarc={})
    for target in ("postfix", "exim"):
        for path, content in _files(policy, target).items():
            assert "PRIVATE KEY" not in content and "BEGIN" not in content, (target, path)


@pytest.mark.parametrize("target", sorted(MTAS))
def test_every_target_records_the_four_elements_off_as_enforced(target: str) -> None:
    coverage = _coverage(Policy.model_validate(BASE), target)
    assert {element: coverage.get(element) for element in ELEMENTS} == dict.fromkeys(ELEMENTS, "enforced")


@pytest.mark.parametrize(("target", "expected"), [
    ("postfix", dict.fromkeys(ELEMENTS, "enforced")),
    ("exim", {**dict.fromkeys(ELEMENTS, "enforced"), "sender_auth.dmarc": "unsupported"}),
    ("sendmail", {**dict.fromkeys(ELEMENTS, "enforced"), "sender_auth.spf": "approximated"}),
    ("opensmtpd", {**dict.fromkeys(ELEMENTS, "unsupported"), "dkim_signing": "approximated"}),
    *((name, dict.fromkeys(ELEMENTS, "unsupported")) for name in ("qmail", "exchange")),
])
def test_turned_on_each_target_says_what_it_carries_out(target: str, expected: dict[str, str]) -> None:
    policy = _policy(dmarc={})
    coverage = _coverage(policy, target)
    assert {element: coverage[element] for element in ELEMENTS} == expected
    gaps = {gap.element for gap in MTAS[target].plan(policy).unwaived_gaps([])}
    assert {e for e in ELEMENTS if expected[e] == "unsupported"} <= gaps  # stated: the CLI refuses it unwaived


def test_exim_spf_statements_and_signing_options() -> None:
    conf = _files(_policy({"on_fail": "defer", "on_softfail": "defer"}), "exim")["exim4.conf"]
    rcpt = conf.split("acl_check_rcpt:")[1].split("\nacl_")[0]
    assert rcpt.index("+relay_from_hosts") < rcpt.index("spf = fail") < rcpt.index("spf = softfail")
    assert "  defer\n    spf = fail\n" in rcpt and "  defer\n    spf = softfail\n" in rcpt
    assert "add_header = :at_start:${authresults {$primary_hostname}}" in conf
    assert "dkim_private_key = ${extract{key}{${lookup{$dkim_domain}lsearch{/etc/exim4/dkim_keys}}}}" in conf
    assert _files(_policy(), "exim")["dkim_keys"].splitlines()[1:] == [f"example.org: selector=s2026 key={KEY}"]
    tagged = _files(_policy({"on_fail": "tag"}), "exim")["exim4.conf"]
    assert "spf = fail\n" not in tagged and "spf = pass:fail:softfail" in tagged


def _key_check(path: Path, signer: str) -> subprocess.CompletedProcess[str]:
    argv = milters.key_check((str(path),), signer).argv
    return subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)


def test_the_key_check_admits_only_the_signer(tmp_path: Path) -> None:
    """Owner-only for the signer, or group-readable for the signer's group; nothing else, and no other bits."""
    me, group = getpass.getuser(), grp.getgrgid(os.getgid()).gr_name
    key = tmp_path / "k.private"
    key.write_text("not a key\n")
    cases = [(0o600, me, True), (0o400, me, True), (0o640, me, me == group), (0o644, me, False),
             (0o660, me, False), (0o640, group, True), (0o600, "nobody-else", False)]
    for mode, signer, admitted in cases:
        key.chmod(mode)
        result = _key_check(key, signer)
        assert (result.returncode == 0) is admitted, (oct(mode), signer, result.stdout)
        if not admitted:
            assert "owner-only" in result.stdout and "not a key" not in result.stdout
    assert _key_check(tmp_path / "missing", me).returncode == 1


def test_the_milter_files_go_where_debians_packages_read_them() -> None:
    """/etc/opendkim.conf and /etc/opendmarc.conf (their tables beside them) with Debian's PID files, so the
    packages' services start them at boot; ``milter_dir`` moves them all (the roles' staging folder)."""
    policy = _policy(dmarc={})
    dests = {f.path: f.dest for f in PostfixTarget().plan(policy).files}
    assert dests["opendkim.conf"] == "/etc/opendkim.conf" and dests["opendmarc.conf"] == "/etc/opendmarc.conf"
    assert dests["opendkim/KeyTable"] == "/etc/opendkim/KeyTable" and dests["main.cf"] == "/etc/postfix/main.cf"
    files = _files(policy)
    assert "PidFile\t/run/opendkim/opendkim.pid\n" in files["opendkim.conf"]
    assert "PidFile\t/run/opendmarc/opendmarc.pid\n" in files["opendmarc.conf"]
    assert "KeyTable\tfile:/etc/opendkim/KeyTable\n" in files["opendkim.conf"]
    staged = Policy.model_validate({**policy.model_dump(mode="json", exclude_unset=True),
                                    "targets": {"postfix": {"config_dir": "/stage", "milter_dir": "/stage"}}})
    plan = PostfixTarget().plan(staged)
    assert all(f.dest == f"/stage/{f.path}" for f in plan.files if f.dest is not None)  # as the roles assert
    assert ("opendkim", "-n", "-x", "/stage/opendkim.conf") in [step.argv for step in plan.steps]
    assert "ResolverConfiguration\t/stage/opendkim/resolvers.conf\n" in _files(staged)["opendkim.conf"]


def test_the_resolver_step_forwards_to_the_hosts_nameservers(tmp_path: Path) -> None:
    milter = milters.opendkim(_policy(), str(tmp_path))
    assert milter is not None
    build = milter.check[0]
    assert build.phase == "build" and build.outputs == (f"{tmp_path}/opendkim/resolvers.conf",)
    (tmp_path / "opendkim").mkdir()
    subprocess.run(build.argv, check=True, timeout=10)
    written = (tmp_path / "opendkim/resolvers.conf").read_text()
    resolv = Path("/etc/resolv.conf")
    lines = resolv.read_text().splitlines() if resolv.exists() else []
    nameservers = [line.split()[1] for line in lines if line.startswith("nameserver") and len(line.split()) > 1]
    assert written.count("forward-addr:") == len(nameservers)
    assert ('forward-zone:\n  name: "."\n' in written) is bool(nameservers)


def test_a_milter_start_returns_once_its_port_listens_and_fails_when_it_never_does() -> None:
    """The wait after a milter's init script, run against real sockets (IPv4 and IPv6) on this machine."""
    def start(port: int, launch: str = "true", script: str = milters.LISTEN_WAIT) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["sh", "-c", script, "demo", str(port), "sh", "-c", launch], capture_output=True,
                              text=True, check=False, timeout=30)

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert start(port).returncode == 0
        assert start(port, "exit 3").returncode == 3  # a failed launch fails the step, with its status
    # nothing listens yet; the launch binds in the background, as a forking daemon does
    late = f"python3 -c 'import socket,time; time.sleep(0.5); s=socket.socket(socket.AF_INET6); " \
           f"s.bind((\"::1\", {port})); s.listen(); time.sleep(3)' >/dev/null 2>&1 &"
    began = time.monotonic()
    assert start(port, late).returncode == 0 and time.monotonic() - began > 0.4
    short = milters.LISTEN_WAIT.replace(f"-lt {milters.LISTEN_SECONDS * 10} ]", "-lt 3 ]")
    time.sleep(3)  # the late listener has gone
    never = start(port, script=short)
    assert never.returncode == 1 and f"demo started but does not listen on port {port}" in never.stdout
