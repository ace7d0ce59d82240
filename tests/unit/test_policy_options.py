"""The policy core knows no target: each target's options and checks come from its ``policy/options`` module."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mtaharden.policy import PolicyError, load_policy_text
from mtaharden.policy import options as target_options
from mtaharden.policy.model import Policy, Targets
from mtaharden.targets.base import registered
from tests.conftest import REPO


def _run(code: str) -> subprocess.CompletedProcess[str]:
    """``code`` in a fresh interpreter (nothing imported yet), from the repository."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=REPO, capture_output=True, text=True,
                          timeout=60, check=False)


def test_no_policy_module_loads_a_target() -> None:
    result = _run("""
        import importlib, json, pkgutil, sys
        import mtaharden.engines, mtaharden.policy
        names = [m.name for package in (mtaharden.policy, mtaharden.engines)
                 for m in pkgutil.walk_packages(package.__path__, package.__name__ + ".")]
        for name in names:
            importlib.import_module(name)
        from mtaharden.policy import load_policy_text
        load_policy_text("header_checks: [{header: Subject, pattern: '发票'}]\\n", "policy.yml")
        loaded = sorted(m for m in sys.modules if m.startswith("mtaharden.targets"))
        print(json.dumps({"imported": names, "targets": loaded}))
    """)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert "mtaharden.policy.options.postfix.parameters" in report["imported"]  # the walk reached the options
    assert "mtaharden.engines.header_engines" in report["imported"]
    assert report["targets"] == []


def test_every_registered_target_has_an_options_module_and_nothing_else_does() -> None:
    assert target_options.names() == tuple(registered())
    assert tuple(Targets.model_fields) == target_options.names()
    for name, module in zip(target_options.names(), target_options.modules(), strict=True):
        assert Policy().targets.model_dump()[name] == module.Options().model_dump()
        assert Targets.model_fields[name].annotation is module.Options


def test_an_options_module_is_all_a_new_target_needs_in_the_policy(tmp_path: Path) -> None:
    (tmp_path / "courier.py").write_text(textwrap.dedent('''
        from collections.abc import Iterator
        from mtaharden.policy.finding import Finding
        from mtaharden.policy.strict import TargetOptions

        class CourierOptions(TargetOptions):
            spool: str = "/var/spool/courier"

        Options = CourierOptions

        def findings(policy) -> Iterator[Finding]:
            if policy.targets.courier.spool == "/tmp":
                yield Finding(("targets", "courier", "spool"), "the spool must not be /tmp", "use /var/spool/courier")
    '''))
    result = _run(f"""
        import json
        import mtaharden.policy.options as options
        options.__path__.append({str(tmp_path)!r})
        from mtaharden.policy import PolicyError, load_policy_text
        from mtaharden.policy.model import Targets
        assert load_policy_text("", "p.yml").targets.courier.spool == "/var/spool/courier"
        problems = []
        for text in ("targets:\\n  courier:\\n    spool: /tmp\\n", "targets:\\n  courier:\\n    spol: x\\n"):
            try:
                load_policy_text(text, "p.yml")
            except PolicyError as exc:
                problems += [str(p) for p in exc.problems]
        print(json.dumps({{"fields": list(Targets.model_fields), "problems": problems}}))
    """)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["fields"] == sorted([*target_options.names(), "courier"])
    assert report["problems"][0] == ("p.yml:3:12: targets.courier.spool: the spool must not be /tmp "
                                     "(fix: use /var/spool/courier)")
    assert report["problems"][1] == "p.yml:3:5: targets.courier.spol: unknown key 'spol' (fix: did you mean 'spool'?)"


def test_a_module_without_options_is_refused(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("NAME = 'broken'\n")
    result = _run(f"""
        import mtaharden.policy.options as options
        options.__path__.append({str(tmp_path)!r})
        import mtaharden.policy.model
    """)
    assert result.returncode != 0
    assert "mtaharden.policy.options.broken defines no Options model" in result.stderr


@pytest.mark.parametrize(("text", "expected"), [
    ("targets:\n  postfix:\n    smtp_port: 0\n",
     "policy.yml:3:16: targets.postfix.smtp_port: expected at least 1 here, not 0"),
    ("targets:\n  postfix:\n    inet_interfaces: [all, 192.0.2.1]\n",
     "policy.yml:3:23: targets.postfix.inet_interfaces.0: all stands for a set of addresses and cannot be combined"),
    ("targets:\n  postfix:\n    inet_protocols: ipv4\n    inet_interfaces: ['2001:db8::1']\n",
     "policy.yml:4:23: targets.postfix.inet_interfaces.0: 2001:db8::1 is an ipv6 address, but inet_protocols is ipv4"),
    ("role: mx+submission\nauth: {enabled: true, require_tls: false, submission: {smtps_port: null}}\n"
     "targets:\n  postfix:\n    smtp_port: 587\n",
     "policy.yml:5:16: targets.postfix.smtp_port: port 587 is used both for SMTP and for submission"),
    ("targets:\n  postfix:\n    parameters:\n      biff: 'yes'\n",
     "policy.yml:4:13: targets.postfix.parameters.biff: biff: this parameter is not managed safely by mtaharden; "
     "mtaharden writes it itself"),
    ("targets:\n  sendmail:\n    dont_blame_sendmail: [Nope]\n",
     "policy.yml:3:27: targets.sendmail.dont_blame_sendmail.0: expected 'AssumeSafeChown'"),
    ("targets:\n  qmail:\n    smtpd_user: Root\n",
     "policy.yml:3:17: targets.qmail.smtpd_user: 'Root' does not have the form this key takes"),
    ("targets:\n  exchange:\n    deployment: cloud\n",
     "policy.yml:3:17: targets.exchange.deployment: expected 'mailbox' or 'edge' here, not 'cloud'"),
    ("targets:\n  courier: {}\n",
     "policy.yml:2:3: targets.courier: unknown key 'courier' (fix: remove it; known keys here: domino, exchange, "),
])
def test_target_option_errors_are_located(text: str, expected: str) -> None:
    with pytest.raises(PolicyError) as caught:
        load_policy_text(text, "policy.yml")
    assert str(caught.value.problems[0]).startswith(expected), caught.value.problems


def test_the_cli_prints_the_registered_targets() -> None:
    """What the Ansible flow checks mtaharden_target against (roles/mtaharden/tasks/controller.yml)."""
    result = subprocess.run([sys.executable, "-m", "mtaharden", "targets"], cwd=REPO, capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == list(registered())
