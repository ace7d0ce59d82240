"""Sendmail-specific checks: the compiled .cf makes the relay decisions relay-check.bt expects."""

from __future__ import annotations

import pytest

from mtaharden.policy import load_policy
from mtaharden.targets.sendmail import Scenario, relay_check_failures, relay_scenarios
from tests.conftest import need_real_mta, render_policy
from tests.realmta.harness import Sendmail, daemon_dir, free_port
from tests.realmta.mta_lab import behaviour_policy

pytestmark = pytest.mark.realmta


def test_compiled_cf_makes_the_expected_relay_decisions() -> None:
    need_real_mta("m4", "unshare", str(Sendmail.binary))
    with daemon_dir("sendmail-bt") as base:
        port = free_port()
        data = behaviour_policy(targets={"sendmail": Sendmail.options(base, port)})
        _, rendered = render_policy(data, base / "r", "sendmail")
        sendmail = Sendmail.install(rendered, base, port)
        scenarios = relay_scenarios(load_policy(base / "r" / "policy.yml"))
        output = sendmail.address_test((rendered / "relay-check.bt").read_text())
        assert relay_check_failures(output, scenarios) == []
        assert any(s.relays for s in scenarios) and any(not s.relays for s in scenarios)
        # The check can fail: claim the untrusted client should relay and it must complain.
        wrong = [Scenario(s.name, s.client, s.recipient, not s.relays) for s in scenarios]
        assert len(relay_check_failures(output, wrong)) == len(scenarios)
