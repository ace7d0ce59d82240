"""dkim_signing on OpenSMTPD: the signing listener, its rules and checks, and what filter-dkimsign cannot carry.

What the filter then signs is proven on the stock host (tests/lab/test_sender_auth.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mtaharden.policy import PolicyError, load_policy_text
from mtaharden.targets.base import Plan
from mtaharden.targets.opensmtpd import OpensmtpdTarget, SmtpdConf
from mtaharden.targets.opensmtpd.signing import FILTER, SIGNER
from tests.conftest import render_policy
from tests.unit.test_opensmtpd_check import opensmtpd, smtpd_accepts

KEY = "/etc/mail/dkim/example.key"


def _policy(keys: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"hostname": "mx.example.test", "domains": {"local": ["example.test", "other.test"], "relay": ["gw.test"]},
            "networks": {"trusted": ["192.0.2.0/24"]}, "dkim_signing": keys, **extra}


def _plan(policy: dict[str, Any]) -> Plan:
    return OpensmtpdTarget().plan(load_policy_text(json.dumps(policy)))


def _row(plan: Plan) -> tuple[str, str]:
    return next((item.status, item.detail) for item in plan.coverage if item.element == "dkim_signing")


ONE_KEY = [{"domain": "example.test", "selector": "s1", "key": KEY},
           {"domain": "other.test", "selector": "s1", "key": KEY}]


def test_the_hosts_and_the_trusted_networks_mail_goes_through_the_signing_listener(tmp_path: Path) -> None:
    _, out = render_policy(_policy(ONE_KEY), tmp_path, "opensmtpd")
    conf = (out / "smtpd.conf").read_text()
    lines = [line for line in conf.splitlines() if line and not line.startswith("#")]
    assert (f'filter dkimsign proc-exec "{FILTER} -c relaxed/simple -d example.test -d other.test -s s1 -k {KEY}" '
            f"user {SIGNER} group {SIGNER}") in lines
    assert "listen on 127.0.0.1 port 10028 tag dkim-signed filter dkimsign" in lines
    assert 'action "sign" relay host smtp://127.0.0.1:10028' in lines
    rules = [line for line in lines if line.startswith("match ")]
    assert rules[0] == 'match from local tag dkim-signed for any action "relay"'  # before anything signs again
    assert 'match from socket for any action "sign"' in rules
    assert 'match from src <trusted> for any action "sign"' in rules
    assert 'match from any for domain <relay_domains> action "relay"' in rules  # a relay domain's mail: unsigned
    assert not [line for line in lines if line.startswith("listen on 0.0.0.0") and "dkimsign" in line]
    smtpd_accepts(opensmtpd(), out / "smtpd.conf")
    plan = _plan(_policy(ONE_KEY))
    assert _row(plan)[0] == "approximated" and "signed as example.test (unaligned)" in _row(plan)[1]
    checks = [step.argv for step in plan.steps if step.phase == "check"]
    assert any(FILTER in " ".join(argv) and "apt install opensmtpd-filter-dkimsign" in " ".join(argv)
               for argv in checks)
    assert any(argv[-2:] == (SIGNER, KEY) for argv in checks)  # the key is owner-only (kit.milters.key_check)
    assert [(need.need, need.args) for need in plan.preflight] == [("readable", (SIGNER, KEY))]


def test_a_null_client_still_signs_what_the_host_sends() -> None:
    conf = _plan(_policy(ONE_KEY[:1], role="null-client")).files[0].context
    assert isinstance(conf, SmtpdConf)
    assert "10028" in str(conf.listeners) and "'25'" not in str(conf.listeners)


def test_without_keys_nothing_changes() -> None:
    plan = _plan(_policy([]))
    assert _row(plan) == ("enforced", "off: nothing is signed")
    assert "sign" not in str(plan.files[0].context) and plan.preflight == ()


def test_the_signing_port_is_a_knob_and_never_the_public_one() -> None:
    conf = _plan(_policy(ONE_KEY, targets={"opensmtpd": {"signing_port": 10099}})).files[0].context
    assert isinstance(conf, SmtpdConf)
    assert conf.listeners[-1].words[:5] == ("listen", "on", "127.0.0.1", "port", "10099")
    clash = _plan(_policy(ONE_KEY, targets={"opensmtpd": {"signing_port": 25, "allow_unsupported": ["dkim_signing"]}}))
    assert _row(clash)[0] == "unsupported" and "public SMTP port" in _row(clash)[1]


def test_keys_that_differ_in_file_selector_or_algorithm_are_unsupported_and_render_no_filter() -> None:
    keys = [{"domain": "example.test", "selector": "s1", "key": KEY}, {"domain": "other.test", "selector": "s2",
                                                                       "key": KEY}]
    plan = _plan(_policy(keys, targets={"opensmtpd": {"allow_unsupported": ["dkim_signing"]}}))
    status, detail = _row(plan)
    assert status == "unsupported" and "one key file, selector and algorithm" in detail, detail
    assert "dkimsign" not in str(plan.files[0].context) and plan.preflight == ()


@pytest.mark.parametrize("key", ["/etc/mail/dkim/my key;reboot", "/etc/mail/dkim/$(id).key", "/k`id`"])
def test_a_key_path_with_shell_syntax_never_reaches_the_filters_command_line(key: str) -> None:
    """smtpd runs the filter through /bin/sh -c: the policy's path allow-list refuses these first."""
    with pytest.raises(PolicyError, match=r"dkim_signing\.0\.key"):
        _plan(_policy([{"domain": "example.test", "selector": "s1", "key": key}]))
